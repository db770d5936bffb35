/*
 * twc: busybox-style dispatch (shared/CLI.md "Dispatch").
 *
 *   twc [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]
 *   twc --help | -h | --version | -V | help COMMAND | --install DIR
 *   twc-COMMAND ...            (argv[0] names the command)
 *
 * Global options given before the command are handed to it by inserting them
 * right after its name: every command accepts them anywhere before "--".
 */
#define _GNU_SOURCE
#include <ares.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <histedit.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/completion.h"

#ifndef TWC_VERSION
#define TWC_VERSION "0.0.0"
#endif

struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    const struct twc_optset *set;
};

static const struct command commands[] = {
#define TWC_CMD(n, s) {#n, s, twc_cmd_##n, &twc_optset_##n},
#include "cmd/commands.def"
#undef TWC_CMD
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct twc_option main_opts[] = {
    {"version", 'V', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "print the version of twc and of its libraries"},
    {"install", 0, TWC_OPT_PATH, 0, "DIR", NULL, NULL, 0, 0,
     "create symlinks DIR/twc-COMMAND to this binary for every command"},
    {"dump-options", 0, TWC_OPT_FLAG, TWC_OPT_HIDDEN, NULL, NULL, NULL, 0, 0,
     "print every option table as JSON (for completions, man pages and tests)"},
    {"gen-completion", 0, TWC_OPT_STRING, TWC_OPT_HIDDEN, "SHELL", NULL, "bash|zsh|fish", 0, 0,
     "print the completion script for SHELL, generated from the option tables"},
};

static const struct twc_optset main_set = {
    "[GLOBAL OPTIONS] COMMAND",
    "[OPTIONS] [ARGS]",
    "Twisted's architecture rebuilt in C: servers and clients for many protocols",
    main_opts,
    sizeof(main_opts) / sizeof(main_opts[0]),
    1,
    NULL,
    NULL,
};

static const struct command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static void usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: twc [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
            "       twc help COMMAND | --version | --install DIR\n"
            "%s\n\ncommands:\n",
            main_set.summary);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\noptions:\n"
               "  -h, --help                   show this help and exit\n"
               "  -V, --version                print the version of twc and of its libraries\n"
               "      --install DIR            create symlinks DIR/twc-COMMAND to this binary\n"
               "\nglobal options (before or after the command):\n");
    twc_opts_help_options(f, &twc_global_optset);
    fprintf(f, "\nRun 'twc COMMAND --help' for the options of a command.\n");
}

static int version(void)
{
    printf("twc %s\n", TWC_VERSION);
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("c-ares %s\n", ares_version(NULL));
    printf("cJSON %s\n", cJSON_Version());
    /* libedit has no runtime version call; this is the API version it was built with. */
    printf("libedit %d.%d\n", LIBEDIT_MAJOR, LIBEDIT_MINOR);
    return ferror(stdout) ? TWC_EXIT_FAILURE : TWC_EXIT_OK;
}

static int dump_options(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cmds;
    char *s;
    size_t i;

    if (o == NULL)
        return TWC_EXIT_SOFTWARE;
    cJSON_AddItemToObject(o, "twc", twc_opts_dump(&main_set));
    cJSON_AddItemToObject(o, "global", twc_opts_dump(&twc_global_optset));
    cmds = cJSON_AddArrayToObject(o, "commands");
    for (i = 0; cmds != NULL && i < NCOMMANDS; i++) {
        cJSON *c = twc_opts_dump(commands[i].set);

        /* The command's name as dispatched, and its summary from commands.def. */
        cJSON_ReplaceItemInObject(c, "name", cJSON_CreateString(commands[i].name));
        cJSON_ReplaceItemInObject(c, "summary", cJSON_CreateString(commands[i].summary));
        cJSON_AddItemToArray(cmds, c);
    }
    s = cJSON_Print(o);
    cJSON_Delete(o);
    if (s == NULL)
        return TWC_EXIT_SOFTWARE;
    puts(s);
    cJSON_free(s);
    return TWC_EXIT_OK;
}

static int gen_completion(const char *shell)
{
    struct twc_cmd_entry e[NCOMMANDS];
    size_t i;

    for (i = 0; i < NCOMMANDS; i++) {
        e[i].name = commands[i].name;
        e[i].summary = commands[i].summary;
        e[i].set = commands[i].set;
    }
    twc_completion_write(stdout, shell, &main_set, e, NCOMMANDS);
    return fflush(stdout) != 0 || ferror(stdout) ? TWC_EXIT_FAILURE : TWC_EXIT_OK;
}

/* Symlink DIR/twc-NAME -> this binary for every command (busybox --install -s). */
static int install(const char *dir)
{
    char self[4096], link[4096 + 64]; /* PATH_MAX (lib/limits.h shadows <limits.h>) */
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct stat st;
    size_t i;

    if (n < 0)
        return twc_fail("--install", TWC_EXIT_SOFTWARE, "cannot find this binary: %s",
                        strerror(errno));
    self[n] = '\0';
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return twc_fail("--install", TWC_EXIT_NOINPUT, "%s: not a folder", dir);
    for (i = 0; i < NCOMMANDS; i++) {
        snprintf(link, sizeof(link), "%s/twc-%s", dir, commands[i].name);
        /* Replace an old link (e.g. to a previous build), but never a real file. */
        if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(link);
        if (symlink(self, link) < 0) {
            int e = errno;

            return twc_fail("--install",
                            e == EACCES || e == EPERM ? TWC_EXIT_NOPERM : TWC_EXIT_FAILURE,
                            "%s: %s", link, strerror(e));
        }
    }
    return TWC_EXIT_OK;
}

/* Run cmd with argv = [name, pre[0..npre), rest[0..nrest)]. */
static int run(const struct command *cmd, char **pre, int npre, char **rest, int nrest)
{
    char **v = calloc((size_t)(npre + nrest + 2), sizeof(*v));
    int i, n = 0, rc;

    if (v == NULL)
        return twc_fail(cmd->name, TWC_EXIT_SOFTWARE, "out of memory");
    v[n++] = (char *)cmd->name;
    for (i = 0; i < npre; i++)
        v[n++] = pre[i];
    for (i = 0; i < nrest; i++)
        v[n++] = rest[i];
    v[n] = NULL;
    rc = cmd->run(n, v);
    free(v);
    return rc;
}

static int unknown_command(const char *name)
{
    char line[256];

    snprintf(line, sizeof(line), "twc: unknown command '%s' (see twc --help)\n", name);
    fputs(line, stderr);
    return TWC_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
    struct twc_opts mo, go;
    struct twc_args args = {NULL, 0, -1};
    const struct command *cmd;
    twc_err err;
    int rc, npre;

    base = base != NULL ? base + 1 : (argc > 0 ? argv[0] : "twc");
    if (strncmp(base, "twc-", 4) == 0 && base[4] != '\0') {
        cmd = find_command(base + 4);
        if (cmd == NULL)
            return unknown_command(base + 4);
        return run(cmd, NULL, 0, argv + 1, argc - 1);
    }
    if (argc < 1)
        return TWC_EXIT_USAGE;

    if (twc_opts_init(&mo, &main_set) < 0 || twc_opts_init(&go, &twc_global_optset) < 0)
        return TWC_EXIT_SOFTWARE;
    twc_err_clear(&err);
    rc = twc_opts_parse(&mo, &go, argc, argv, &args, &err);
    if (rc == TWC_OPTS_HELP) {
        usage(stdout);
        rc = TWC_EXIT_OK;
    } else if (rc < 0) {
        char line[256];

        snprintf(line, sizeof(line), "twc: %s (see twc --help)\n", err.msg);
        fputs(line, stderr);
        rc = TWC_EXIT_USAGE;
    } else if (twc_opts_given(&mo, "version")) {
        rc = version();
    } else if (twc_opts_given(&mo, "dump-options")) {
        rc = dump_options();
    } else if (twc_opts_given(&mo, "gen-completion")) {
        rc = gen_completion(twc_opts_str(&mo, "gen-completion"));
    } else if (twc_opts_given(&mo, "install")) {
        rc = install(twc_opts_str(&mo, "install"));
    } else if (args.n == 0) {
        usage(stderr);
        rc = TWC_EXIT_USAGE;
    } else if (strcmp(args.v[0], "help") == 0) {
        if (args.n < 2) {
            usage(stdout);
            rc = TWC_EXIT_OK;
        } else if ((cmd = find_command(args.v[1])) == NULL) {
            rc = unknown_command(args.v[1]);
        } else {
            char *help[] = {"--help"};

            rc = run(cmd, help, 1, NULL, 0);
        }
    } else if ((cmd = find_command(args.v[0])) == NULL) {
        rc = unknown_command(args.v[0]);
    } else {
        /* The words between argv[0] and the command are global options. */
        npre = 0;
        while (1 + npre < argc && argv[1 + npre] != args.v[0])
            npre++;
        rc = run(cmd, argv + 1, npre, args.v + 1, args.n - 1);
    }
    free(args.v);
    twc_opts_cleanup(&mo);
    twc_opts_cleanup(&go);
    return rc;
}

/*
 * twc serve: run several server commands in one process from a JSON file
 * (shared/CLI.md "serve"; twistd -y, in JSON).
 *
 *   {"services":[{"command":"echo","listen":["tcp:0"]}, ...]}
 *
 * Each object takes exactly the long options of its command as keys, read
 * from the command's option table (the same one that parses its command
 * line): a flag takes true/false, a repeatable option an array, a number a
 * JSON number or a string, anything else a string. Every entry becomes the
 * argv its command would get, parsed by the same code, so a value means the
 * same in a file as on a command line; only the exit code differs (78, naming
 * services[i] and the key). Relative PATH values are relative to the config
 * file's folder.
 *
 * Without -c, the demo config (cmd/serve_demo.def) runs every server command
 * on loopback and prints where to point a client.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "cmd/server.h"
#include "cmd/servers.h"
#include "lib/addr.h"
#include "lib/buf.h"

#define CONFIG_MAX (1024 * 1024) /* bytes of a config file */

static const struct twc_option serve_opts[] = {
    {"config", 'c', TWC_OPT_PATH, 0, "FILE", NULL, NULL, 0, 0,
     "JSON file listing the services to run (default: the built-in demo)"},
    {"ephemeral", 0, TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "listen on free ports (port 0) instead of the configured ones"},
};

const struct twc_optset twc_optset_serve = {
    "serve",
    "[-c FILE] [--ephemeral]",
    "run several servers in one process from a JSON config",
    serve_opts,
    sizeof(serve_opts) / sizeof(serve_opts[0]),
    0,
    NULL,
    "The file is {\"services\":[{\"command\":\"echo\",\"listen\":[\"tcp:8000\"]}, ...]}:\n"
    "each object takes the long options of its command as keys. Without -c, a demo\n"
    "config runs every server on 127.0.0.1 and prints where to point a client.",
};

/* The server commands, from cmd/servers.def. */
struct server_cmd {
    const char *name;
    twc_build_fn build;
    const struct twc_optset *set;
};

static const struct server_cmd server_cmds[] = {
#define TWC_SERVER(n) {#n, twc_build_##n, &twc_optset_##n},
#include "cmd/servers.def"
#undef TWC_SERVER
};
#define NSERVER_CMDS (sizeof(server_cmds) / sizeof(server_cmds[0]))

/* The demo config, from cmd/serve_demo.def. */
struct demo {
    const char *json;
    const char *hint;
};

static const struct demo demos[] = {
#define TWC_DEMO(json, hint) {json, hint},
#include "cmd/serve_demo.def"
#undef TWC_DEMO
};
#define NDEMOS (sizeof(demos) / sizeof(demos[0]))

/* One service entry, turned into an argv for its command. */
struct entry {
    const struct server_cmd *cmd;
    char **argv; /* owned strings: opts borrow them */
    int argc;
    struct twc_opts opts;
    const char *hint; /* demo only */
};

struct serve {
    struct twc_app app;
    const char *file; /* for messages: the config file, or "demo" */
    char dir[4096];   /* its folder, for relative paths */
    int ephemeral;
    struct entry *e;
    size_t n;
};

static const struct server_cmd *find_server(const char *name)
{
    size_t i;

    for (i = 0; i < NSERVER_CMDS; i++) {
        if (strcmp(server_cmds[i].name, name) == 0)
            return &server_cmds[i];
    }
    return NULL;
}

static const struct twc_option *find_option(const struct twc_optset *set, const char *name)
{
    size_t i;

    for (i = 0; i < set->nopts; i++) {
        if (strcmp(set->opts[i].name, name) == 0 && !(set->opts[i].flags & TWC_OPT_HIDDEN))
            return &set->opts[i];
    }
    return NULL;
}

static int push_arg(struct entry *e, char *s)
{
    char **v;

    if (s == NULL)
        return -1;
    v = realloc(e->argv, (size_t)(e->argc + 2) * sizeof(*v));
    if (v == NULL) {
        free(s);
        return -1;
    }
    e->argv = v;
    e->argv[e->argc++] = s;
    e->argv[e->argc] = NULL;
    return 0;
}

/* --ephemeral: the same endpoint on port 0. */
static void zero_port(const char *in, char *out, size_t len)
{
    struct twc_endpoint ep;
    twc_err err;

    if (twc_endpoint_parse_server(&ep, in, &err) < 0 || ep.kind == TWC_EP_UNIX) {
        snprintf(out, len, "%s", in);
        return;
    }
    ep.port = 0;
    twc_endpoint_format(&ep, 0, out, len);
}

/* Append s to out (at *at), escaping ':' and '\\' as endpoint strings need. */
static void put_escaped(char *out, size_t len, size_t *at, const char *s, int escape)
{
    for (; *s != '\0' && *at + 2 < len; s++) {
        if (escape && (*s == ':' || *s == '\\'))
            out[(*at)++] = '\\';
        out[(*at)++] = *s;
    }
    out[*at] = '\0';
}

/* The endpoint in with its relative file names (a unix: path; ssl:'s
 * privateKey, certKey, extraCertChain, sniCerts) made relative to dir. */
static void rebase_endpoint(const char *in, const char *dir, char *out, size_t len)
{
    static const char *const keys[] = {"privateKey=", "certKey=", "extraCertChain=",
                                       "sniCerts=", "path="};
    size_t at = 0, i;
    const char *p = in;
    int first = 1;

    out[0] = '\0';
    while (*p != '\0') {
        /* One field: up to an unescaped ':' (brackets hold IPv6 addresses). */
        const char *f = p, *val = NULL;
        int depth = 0;
        char field[4096];
        size_t n = 0;

        for (; *p != '\0' && !(*p == ':' && depth == 0); p++) {
            if (*p == '\\' && p[1] != '\0') {
                if (n + 2 < sizeof(field)) {
                    field[n++] = *p;
                    field[n++] = p[1];
                }
                p++;
                continue;
            }
            depth += *p == '[' ? 1 : *p == ']' && depth > 0 ? -1 : 0;
            if (n + 1 < sizeof(field))
                field[n++] = *p;
        }
        field[n] = '\0';
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strncmp(field, keys[i], strlen(keys[i])) == 0)
                val = field + strlen(keys[i]);
        }
        /* unix:PATH: the second field of a unix endpoint. */
        if (val == NULL && f != in && strncmp(in, "unix:", 5) == 0 && f == in + 5)
            val = field;
        if (!first)
            put_escaped(out, len, &at, ":", 0);
        first = 0;
        if (val != NULL && val[0] != '/' && val[0] != '\0') {
            char key[32];

            snprintf(key, sizeof(key), "%.*s", (int)(val - field), field);
            put_escaped(out, len, &at, key, 0);
            put_escaped(out, len, &at, dir, 1);
            put_escaped(out, len, &at, "/", 0);
            put_escaped(out, len, &at, val, 0);
        } else {
            put_escaped(out, len, &at, field, 0);
        }
        if (*p == ':')
            p++;
    }
}

/* The string a JSON scalar gives option opt, or NULL (wrong type). */
static char *scalar(struct serve *sv, const struct twc_option *opt, const cJSON *v)
{
    char buf[4096 + 256];

    switch (opt->kind) {
    case TWC_OPT_INT:
    case TWC_OPT_PORT:
    case TWC_OPT_SECONDS:
        if (cJSON_IsNumber(v)) {
            double d = v->valuedouble;

            if (d < 0 || d > 1e15 || (opt->kind != TWC_OPT_SECONDS && (double)(long long)d != d))
                return NULL;
            if (opt->kind == TWC_OPT_SECONDS)
                snprintf(buf, sizeof(buf), "%.3f", d);
            else
                snprintf(buf, sizeof(buf), "%.0f", d);
            if (sv->ephemeral && opt->kind == TWC_OPT_PORT)
                snprintf(buf, sizeof(buf), "0");
            return strdup(buf);
        }
        if (!cJSON_IsString(v))
            return NULL;
        return strdup(sv->ephemeral && opt->kind == TWC_OPT_PORT ? "0" : v->valuestring);
    case TWC_OPT_PATH:
        if (!cJSON_IsString(v))
            return NULL;
        if (v->valuestring[0] != '/' && v->valuestring[0] != '\0' && sv->dir[0] != '\0') {
            snprintf(buf, sizeof(buf), "%s/%s", sv->dir, v->valuestring);
            return strdup(buf);
        }
        return strdup(v->valuestring);
    case TWC_OPT_ENDPOINT:
        if (!cJSON_IsString(v))
            return NULL;
        if (sv->dir[0] != '\0') {
            rebase_endpoint(v->valuestring, sv->dir, buf, sizeof(buf));
            if (!sv->ephemeral)
                return strdup(buf);
            {
                char tmp[sizeof(buf)];

                zero_port(buf, tmp, sizeof(tmp));
                return strdup(tmp);
            }
        }
        if (sv->ephemeral) {
            zero_port(v->valuestring, buf, sizeof(buf));
            return strdup(buf);
        }
        return strdup(v->valuestring);
    default:
        return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    }
}

static const char *kind_wanted(const struct twc_option *opt)
{
    if (opt->kind == TWC_OPT_FLAG)
        return "true or false";
    if (opt->flags & TWC_OPT_REPEAT)
        return "an array";
    if (opt->kind == TWC_OPT_INT || opt->kind == TWC_OPT_PORT || opt->kind == TWC_OPT_SECONDS)
        return "a number";
    return "a string";
}

static int config_error(struct serve *sv, size_t i, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int config_error(struct serve *sv, size_t i, const char *key, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (key != NULL)
        return twc_fail("serve", TWC_EXIT_CONFIG, "%s: services[%zu].%s: %s", sv->file, i, key,
                        what);
    return twc_fail("serve", TWC_EXIT_CONFIG, "%s: services[%zu]: %s", sv->file, i, what);
}

/* Turn services[i] into an entry. Returns -1 or an exit code. */
static int load_entry(struct serve *sv, size_t i, const cJSON *obj, struct entry *e)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(obj, "command");
    const cJSON *kv;
    char opt_arg[256];
    twc_err err;
    int rc;

    if (!cJSON_IsObject(obj))
        return config_error(sv, i, NULL, "%s", "must be an object");
    if (!cJSON_IsString(cmd))
        return config_error(sv, i, "command", "%s", "missing, or not a string");
    e->cmd = find_server(cmd->valuestring);
    if (e->cmd == NULL)
        return config_error(sv, i, "command", "unknown server command '%s'", cmd->valuestring);
    if (push_arg(e, strdup(e->cmd->name)) < 0)
        return twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
    cJSON_ArrayForEach(kv, obj)
    {
        const struct twc_option *opt;
        const cJSON *v;

        if (strcmp(kv->string, "command") == 0)
            continue;
        opt = find_option(e->cmd->set, kv->string);
        if (opt == NULL) {
            snprintf(opt_arg, sizeof(opt_arg), "unknown key for %s", e->cmd->name);
            return config_error(sv, i, kv->string, "%s", opt_arg);
        }
        snprintf(opt_arg, sizeof(opt_arg), "--%s", opt->name);
        if (opt->kind == TWC_OPT_FLAG) {
            if (!cJSON_IsBool(kv))
                return config_error(sv, i, kv->string, "must be %s", kind_wanted(opt));
            if (cJSON_IsTrue(kv) && push_arg(e, strdup(opt_arg)) < 0)
                return twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
            continue;
        }
        if ((opt->flags & TWC_OPT_REPEAT) && !cJSON_IsArray(kv))
            return config_error(sv, i, kv->string, "must be %s", kind_wanted(opt));
        if (!(opt->flags & TWC_OPT_REPEAT) && cJSON_IsArray(kv))
            return config_error(sv, i, kv->string, "must be %s", kind_wanted(opt));
        for (v = cJSON_IsArray(kv) ? kv->child : kv; v != NULL;
             v = cJSON_IsArray(kv) ? v->next : NULL) {
            char *val = scalar(sv, opt, v);

            if (val == NULL)
                return config_error(sv, i, kv->string, "must be %s",
                                    opt->flags & TWC_OPT_REPEAT ? "an array of scalars"
                                                                : kind_wanted(opt));
            if (push_arg(e, strdup(opt_arg)) < 0 || push_arg(e, val) < 0)
                return twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
        }
    }
    /* The command line parser checks the values, as for `twc COMMAND`. */
    if (twc_opts_init(&e->opts, e->cmd->set) < 0)
        return twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
    {
        struct twc_args args;

        twc_err_clear(&err);
        rc = twc_opts_parse(&e->opts, NULL, e->argc, e->argv, &args, &err);
        free(args.v);
    }
    if (rc < 0)
        return config_error(sv, i, NULL, "%s", err.msg);
    return -1;
}

/* FILE:LINE of a JSON syntax error at offset at. */
static int line_of(const char *text, const char *at)
{
    int line = 1;

    for (; text < at && *text != '\0'; text++)
        line += *text == '\n';
    return line;
}

static int read_file(const char *path, char **out)
{
    struct stat st;
    ssize_t n;
    char *buf;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return twc_fail("serve", TWC_EXIT_NOINPUT, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
        close(fd);
        return twc_fail("serve", TWC_EXIT_NOINPUT, "%s: not a regular file of at most %d bytes",
                        path, CONFIG_MAX);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
    }
    n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n < 0) {
        free(buf);
        return twc_fail("serve", TWC_EXIT_NOINPUT, "%s: %s", path, strerror(errno));
    }
    buf[n] = '\0';
    *out = buf;
    return -1;
}

/* The demo config as one JSON text (owned), or NULL when out of memory. */
static char *demo_text(void)
{
    twc_buf b;
    size_t i;
    int rc;
    char *s = NULL;

    twc_buf_init(&b, CONFIG_MAX);
    rc = twc_buf_printf(&b, "{\"services\":[");
    for (i = 0; rc == 0 && i < NDEMOS; i++)
        rc = twc_buf_printf(&b, "%s%s", i > 0 ? "," : "", demos[i].json);
    if (rc == 0)
        rc = twc_buf_printf(&b, "]}");
    if (rc == 0 && (s = malloc(twc_buf_len(&b) + 1)) != NULL) {
        memcpy(s, twc_buf_data(&b), twc_buf_len(&b));
        s[twc_buf_len(&b)] = '\0';
    }
    twc_buf_cleanup(&b);
    return s;
}

static int load(struct serve *sv, const char *text)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    const cJSON *list, *obj;
    size_t i = 0;
    int rc = -1;

    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();

        return twc_fail("serve", TWC_EXIT_DATAERR, "%s:%d: malformed JSON", sv->file,
                        line_of(text, at != NULL ? at : text));
    }
    list = cJSON_GetObjectItemCaseSensitive(root, "services");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(list)) {
        cJSON_Delete(root);
        return twc_fail("serve", TWC_EXIT_CONFIG, "%s: services: missing, or not an array",
                        sv->file);
    }
    for (obj = root->child; obj != NULL; obj = obj->next) {
        if (strcmp(obj->string, "services") != 0) {
            rc = twc_fail("serve", TWC_EXIT_CONFIG, "%s: %s: unknown key (only \"services\")",
                          sv->file, obj->string);
            goto out;
        }
    }
    sv->n = (size_t)cJSON_GetArraySize(list);
    if (sv->n == 0) {
        rc = twc_fail("serve", TWC_EXIT_CONFIG, "%s: services: no service to run", sv->file);
        goto out;
    }
    sv->e = calloc(sv->n, sizeof(*sv->e));
    if (sv->e == NULL) {
        rc = twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(obj, list)
    {
        if ((rc = load_entry(sv, i, obj, &sv->e[i])) >= 0)
            goto out;
        i++;
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* Demo: "echo: tcp 127.0.0.1:8000  ->  twc client tcp 127.0.0.1:8000". */
static void on_bound(void *arg, const char *system, const char *proto, const twc_addr *a,
                     const char *path)
{
    struct serve *sv = arg;
    char host[TWC_ADDR_STRLEN], where[TWC_ADDR_STRLEN + 16], port[8], hint[512];
    const char *tpl = NULL, *p;
    size_t i, len = 0;

    for (i = 0; i < sv->n; i++) {
        size_t cl = strlen(sv->e[i].cmd->name);

        if (strncmp(system, sv->e[i].cmd->name, cl) == 0 &&
            (system[cl] == '\0' || system[cl] == '-')) {
            tpl = sv->e[i].hint;
            break;
        }
    }
    if (path != NULL) {
        snprintf(host, sizeof(host), "%s", path);
        port[0] = '\0';
        snprintf(where, sizeof(where), "%s", path);
    } else {
        twc_addr_host(a, host, sizeof(host));
        snprintf(port, sizeof(port), "%u", (unsigned)twc_addr_port(a));
        snprintf(where, sizeof(where), strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s", host,
                 port);
    }
    /* Expand {proto}, {host} and {port}. */
    for (p = tpl != NULL ? tpl : ""; *p != '\0' && len + 1 < sizeof(hint); p++) {
        const char *sub = NULL;

        if (strncmp(p, "{proto}", 7) == 0)
            sub = proto, p += 6;
        else if (strncmp(p, "{host}", 6) == 0)
            sub = host, p += 5;
        else if (strncmp(p, "{port}", 6) == 0)
            sub = port, p += 5;
        if (sub != NULL)
            len += (size_t)snprintf(hint + len, sizeof(hint) - len, "%s", sub);
        else
            hint[len++] = *p;
        if (len >= sizeof(hint))
            len = sizeof(hint) - 1;
    }
    hint[len] = '\0';
    printf("%s: %s %s%s%s\n", system, proto, where, hint[0] != '\0' ? "  ->  " : "", hint);
    fflush(stdout);
}

int twc_cmd_serve(int argc, char **argv)
{
    struct serve sv;
    struct twc_server_spec *specs = NULL;
    char *text = NULL;
    size_t i;
    int rc, demo;

    memset(&sv, 0, sizeof(sv));
    rc = twc_app_parse(&sv.app, &twc_optset_serve, argc, argv);
    if (rc >= 0)
        goto out;
    if (sv.app.args.n > 0) {
        rc = twc_fail("serve", TWC_EXIT_USAGE, "unexpected argument '%s' (see twc serve --help)",
                      sv.app.args.v[0]);
        goto out;
    }
    sv.ephemeral = twc_opts_given(&sv.app.opts, "ephemeral");
    demo = !twc_opts_given(&sv.app.opts, "config");
    if (demo) {
        sv.file = "demo config";
        text = demo_text();
        if (text == NULL) {
            rc = twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
            goto out;
        }
    } else {
        const char *slash;

        sv.file = twc_opts_str(&sv.app.opts, "config");
        slash = strrchr(sv.file, '/');
        if (slash != NULL)
            snprintf(sv.dir, sizeof(sv.dir), "%.*s", slash == sv.file ? 1 : (int)(slash - sv.file),
                     sv.file);
        if ((rc = read_file(sv.file, &text)) >= 0)
            goto out;
    }
    if ((rc = load(&sv, text)) >= 0)
        goto out;
    specs = calloc(sv.n, sizeof(*specs));
    if (specs == NULL) {
        rc = twc_fail("serve", TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    for (i = 0; i < sv.n; i++) {
        specs[i].command = sv.e[i].cmd->name;
        specs[i].build = sv.e[i].cmd->build;
        specs[i].opts = &sv.e[i].opts;
        sv.e[i].hint = demo && i < NDEMOS ? demos[i].hint : NULL;
    }
    rc = twc_server_main_config(&sv.app, specs, sv.n, 1, demo ? on_bound : NULL, &sv);
out:
    for (i = 0; sv.e != NULL && i < sv.n; i++) {
        int j;

        if (sv.e[i].opts.vals != NULL)
            twc_opts_cleanup(&sv.e[i].opts);
        for (j = 0; j < sv.e[i].argc; j++)
            free(sv.e[i].argv[j]);
        free(sv.e[i].argv);
    }
    free(sv.e);
    free(specs);
    free(text);
    twc_app_cleanup(&sv.app);
    return rc;
}

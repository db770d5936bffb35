/*
 * The option table engine: parsing, --help and the JSON description of every
 * table (see options.h). Values are checked here by kind, so a command only
 * sees well-formed numbers, ports and choices; endpoint strings are checked by
 * the command that knows which endpoint types it accepts.
 */
#include "options.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#define SECONDS_MAX_MS (1000LL * 1000 * 1000) /* about 11 days: ample for any timeout */

static const char *const kind_names[] = {"flag",     "string", "int",    "port",
                                         "endpoint", "path",   "seconds"};

const char *twc_opt_kind_name(twc_opt_kind kind)
{
    return kind_names[kind];
}

const char *twc_opt_metavar(const struct twc_option *opt)
{
    static const char *const metavars[] = {"",         "STRING", "N",      "PORT",
                                           "ENDPOINT", "PATH",   "SECONDS"};

    if (opt->metavar != NULL)
        return opt->metavar;
    if (opt->choices != NULL)
        return opt->choices;
    return metavars[opt->kind];
}

/* "0.5" -> 500; at most three decimals, no sign, no exponent. */
static int parse_seconds(const char *s, long long *ms)
{
    const char *dot = strchr(s, '.');
    size_t ilen = dot != NULL ? (size_t)(dot - s) : strlen(s);
    uint64_t whole = 0, frac = 0;
    size_t flen = 0, i;

    if (ilen == 0 && (dot == NULL || dot[1] == '\0'))
        return TWC_EINVAL;
    if (ilen > 0 && twc_parse_u64(s, ilen, 0, (uint64_t)(SECONDS_MAX_MS / 1000), &whole) < 0)
        return TWC_EINVAL;
    if (dot != NULL) {
        flen = strlen(dot + 1);
        if (flen == 0 || flen > 3 || twc_parse_u64(dot + 1, flen, 0, 999, &frac) < 0)
            return TWC_EINVAL;
        for (i = flen; i < 3; i++)
            frac *= 10;
    }
    *ms = (long long)(whole * 1000 + frac);
    return 0;
}

static int in_choices(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;

    while (p != NULL && *p != '\0') {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);

        if (len == n && strncmp(p, s, n) == 0)
            return 1;
        p = bar != NULL ? bar + 1 : NULL;
    }
    return 0;
}

/* Convert s for opt into v (str/num). Returns 0 or TWC_EINVAL with *err. */
static int convert(const struct twc_option *opt, const char *s, struct twc_optval *v, twc_err *err)
{
    uint64_t u;
    long long lo, hi;

    switch (opt->kind) {
    case TWC_OPT_FLAG:
        break;
    case TWC_OPT_INT:
        lo = opt->min;
        hi = opt->max;
        if (lo == 0 && hi == 0)
            hi = INT32_MAX;
        if (lo < 0)
            lo = 0; /* negative values are not supported by the table */
        if (twc_parse_u64(s, strlen(s), (uint64_t)lo, (uint64_t)hi, &u) < 0)
            return twc_err_set(err, TWC_EINVAL, "--%s: '%s' is not a number from %lld to %lld",
                               opt->name, s, lo, hi);
        v->num = (long long)u;
        break;
    case TWC_OPT_PORT:
        if (twc_parse_u64(s, strlen(s), 0, 65535, &u) < 0)
            return twc_err_set(err, TWC_EINVAL, "--%s: '%s' is not a port number (0-65535)",
                               opt->name, s);
        v->num = (long long)u;
        break;
    case TWC_OPT_SECONDS:
        if (parse_seconds(s, &v->num) < 0)
            return twc_err_set(err, TWC_EINVAL, "--%s: '%s' is not a number of seconds", opt->name,
                               s);
        break;
    case TWC_OPT_STRING:
    case TWC_OPT_ENDPOINT:
    case TWC_OPT_PATH:
        if (opt->choices != NULL && !in_choices(opt->choices, s))
            return twc_err_set(err, TWC_EINVAL, "--%s: '%s' is not one of %s", opt->name, s,
                               opt->choices);
        if (s[0] == '\0' && opt->kind != TWC_OPT_STRING)
            return twc_err_set(err, TWC_EINVAL, "--%s: empty value", opt->name);
        break;
    }
    v->str = s;
    return 0;
}

int twc_opts_init(struct twc_opts *o, const struct twc_optset *set)
{
    size_t i;
    twc_err err;

    o->set = set;
    o->vals = calloc(set->nopts + 1, sizeof(*o->vals));
    if (o->vals == NULL)
        return TWC_ENOMEM;
    for (i = 0; i < set->nopts; i++) {
        const struct twc_option *opt = &set->opts[i];

        /* A table default that does not convert is a bug in the table. */
        if (opt->def != NULL && convert(opt, opt->def, &o->vals[i], &err) < 0) {
            fprintf(stderr, "twc: bad default in option table: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

void twc_opts_cleanup(struct twc_opts *o)
{
    size_t i;

    if (o->vals == NULL)
        return;
    for (i = 0; i < o->set->nopts; i++)
        free(o->vals[i].list);
    free(o->vals);
    o->vals = NULL;
}

static const struct twc_option *find_long(const struct twc_opts *o, const char *name, size_t len,
                                          struct twc_optval **val)
{
    size_t i;

    for (i = 0; o != NULL && i < o->set->nopts; i++) {
        const struct twc_option *opt = &o->set->opts[i];

        if (strlen(opt->name) == len && strncmp(opt->name, name, len) == 0) {
            *val = &o->vals[i];
            return opt;
        }
    }
    return NULL;
}

static const struct twc_option *find_short(const struct twc_opts *o, char c,
                                           struct twc_optval **val)
{
    size_t i;

    for (i = 0; o != NULL && i < o->set->nopts; i++) {
        if (o->set->opts[i].short_name == c) {
            *val = &o->vals[i];
            return &o->set->opts[i];
        }
    }
    return NULL;
}

/* Record one occurrence of opt with value s (NULL for flags). */
static int store(const struct twc_option *opt, struct twc_optval *v, const char *s, twc_err *err)
{
    struct twc_optval tmp = *v;

    if (opt->kind == TWC_OPT_FLAG) {
        v->count++;
        v->num = v->count;
        return 0;
    }
    if (convert(opt, s, &tmp, err) < 0)
        return TWC_EINVAL;
    if (opt->flags & TWC_OPT_REPEAT) {
        const char **l = realloc(tmp.list, (tmp.nlist + 1) * sizeof(*l));

        if (l == NULL)
            return twc_err_set(err, TWC_ENOMEM, "out of memory");
        l[tmp.nlist++] = s;
        tmp.list = l;
    }
    tmp.count++;
    *v = tmp;
    return 0;
}

int twc_opts_parse(struct twc_opts *cmd, struct twc_opts *global, int argc, char **argv,
                   struct twc_args *args, twc_err *err)
{
    int i, rc = 0;

    args->v = calloc((size_t)argc + 1, sizeof(*args->v));
    args->n = 0;
    args->dashdash = -1;
    if (args->v == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct twc_option *opt;
        struct twc_optval *val = NULL;

        if (strcmp(a, "--") == 0) {
            args->dashdash = args->n;
            for (i++; i < argc; i++)
                args->v[args->n++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') { /* an argument ("-" alone is one, e.g. stdin) */
            if (cmd->set->stop_at_arg) {
                for (; i < argc; i++)
                    args->v[args->n++] = argv[i];
                break;
            }
            args->v[args->n++] = argv[i];
            continue;
        }
        if (a[1] == '-') { /* --name, --name=value, --name value */
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);

            opt = find_long(cmd, name, len, &val);
            if (opt == NULL)
                opt = find_long(global, name, len, &val);
            if (opt == NULL) {
                if (len == 4 && strncmp(name, "help", 4) == 0)
                    return TWC_OPTS_HELP;
                return twc_err_set(err, TWC_EINVAL, "unknown option --%.*s", (int)len, name);
            }
            if (opt->kind == TWC_OPT_FLAG) {
                if (eq != NULL)
                    return twc_err_set(err, TWC_EINVAL, "--%s takes no value", opt->name);
                rc = store(opt, val, NULL, err);
            } else if (eq != NULL) {
                rc = store(opt, val, eq + 1, err);
            } else if (i + 1 < argc) {
                rc = store(opt, val, argv[++i], err);
            } else {
                return twc_err_set(err, TWC_EINVAL, "--%s needs a value (%s)", opt->name,
                                   twc_opt_metavar(opt));
            }
            if (rc < 0)
                return rc;
            continue;
        }
        /* -p 80, -p80, -abc */
        for (const char *c = a + 1; *c != '\0'; c++) {
            opt = find_short(cmd, *c, &val);
            if (opt == NULL)
                opt = find_short(global, *c, &val);
            if (opt == NULL) {
                if (*c == 'h')
                    return TWC_OPTS_HELP;
                return twc_err_set(err, TWC_EINVAL, "unknown option -%c", *c);
            }
            if (opt->kind == TWC_OPT_FLAG) {
                rc = store(opt, val, NULL, err);
            } else if (c[1] != '\0') {
                rc = store(opt, val, c + 1, err);
                c += strlen(c) - 1; /* the rest of the word was the value */
            } else if (i + 1 < argc) {
                rc = store(opt, val, argv[++i], err);
            } else {
                return twc_err_set(err, TWC_EINVAL, "-%c needs a value (%s)", *c,
                                   twc_opt_metavar(opt));
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

const struct twc_optval *twc_opts_get(const struct twc_opts *o, const char *name)
{
    struct twc_optval *val = NULL;

    if (find_long(o, name, strlen(name), &val) == NULL) {
        fprintf(stderr, "twc: bug: option --%s is not in the table of '%s'\n", name, o->set->name);
        abort();
    }
    return val;
}

int twc_opts_given(const struct twc_opts *o, const char *name)
{
    return twc_opts_get(o, name)->count > 0;
}

const char *twc_opts_str(const struct twc_opts *o, const char *name)
{
    return twc_opts_get(o, name)->str;
}

long long twc_opts_num(const struct twc_opts *o, const char *name)
{
    return twc_opts_get(o, name)->num;
}

/* "  -p, --port PORT" padded to a column, then the help text. */
static void help_option(FILE *f, const struct twc_option *opt)
{
    char left[96];
    int n;

    if (opt->short_name != 0)
        n = snprintf(left, sizeof(left), "  -%c, --%s", opt->short_name, opt->name);
    else
        n = snprintf(left, sizeof(left), "      --%s", opt->name);
    if (opt->kind != TWC_OPT_FLAG && n > 0 && (size_t)n < sizeof(left))
        snprintf(left + n, sizeof(left) - (size_t)n, " %s", twc_opt_metavar(opt));
    /* A long left column gets the help text on the next line. */
    if (strlen(left) >= 30)
        fprintf(f, "%s\n%-30s %s", left, "", opt->help);
    else
        fprintf(f, "%-30s %s", left, opt->help);
    if (opt->flags & TWC_OPT_REPEAT)
        fprintf(f, " (repeatable)");
    if (opt->def != NULL)
        fprintf(f, " (default: %s)", opt->def);
    fputc('\n', f);
}

void twc_opts_help_options(FILE *f, const struct twc_optset *set)
{
    size_t i;

    for (i = 0; i < set->nopts; i++) {
        if (!(set->opts[i].flags & TWC_OPT_HIDDEN))
            help_option(f, &set->opts[i]);
    }
}

void twc_opts_help(FILE *f, const struct twc_optset *set, const struct twc_optset *global)
{
    size_t i;

    fprintf(f, "usage: twc %s%s%s\n%s\n", set->name, set->usage[0] != '\0' ? " " : "", set->usage,
            set->summary);
    if (set->subs != NULL) {
        fprintf(f, "\ncommands:\n");
        for (i = 0; set->subs[i] != NULL; i++) {
            const char *sub = strrchr(set->subs[i]->name, ' ');

            fprintf(f, "  %-28s %s\n", sub != NULL ? sub + 1 : set->subs[i]->name,
                    set->subs[i]->summary);
        }
    }
    fprintf(f, "\noptions:\n");
    twc_opts_help_options(f, set);
    fprintf(f, "%-30s %s\n", "  -h, --help", "show this help and exit");
    if (global != NULL) {
        fprintf(f, "\nglobal options (before or after the command):\n");
        twc_opts_help_options(f, global);
    }
    if (set->epilog != NULL)
        fprintf(f, "\n%s\n", set->epilog);
}

static cJSON *dump_option(const struct twc_option *opt)
{
    cJSON *o = cJSON_CreateObject();
    char s[2] = {opt->short_name, '\0'};

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "long", opt->name);
    if (opt->short_name != 0)
        cJSON_AddStringToObject(o, "short", s);
    else
        cJSON_AddNullToObject(o, "short");
    cJSON_AddStringToObject(o, "kind", twc_opt_kind_name(opt->kind));
    cJSON_AddBoolToObject(o, "repeatable", (opt->flags & TWC_OPT_REPEAT) != 0);
    cJSON_AddBoolToObject(o, "hidden", (opt->flags & TWC_OPT_HIDDEN) != 0);
    cJSON_AddStringToObject(o, "metavar", opt->kind == TWC_OPT_FLAG ? "" : twc_opt_metavar(opt));
    if (opt->def != NULL)
        cJSON_AddStringToObject(o, "default", opt->def);
    else
        cJSON_AddNullToObject(o, "default");
    if (opt->choices != NULL) {
        cJSON *c = cJSON_AddArrayToObject(o, "choices");
        const char *p = opt->choices;

        while (c != NULL && p != NULL) {
            const char *bar = strchr(p, '|');
            size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
            char word[64];

            snprintf(word, sizeof(word), "%.*s", (int)len, p);
            cJSON_AddItemToArray(c, cJSON_CreateString(word));
            p = bar != NULL ? bar + 1 : NULL;
        }
    }
    cJSON_AddStringToObject(o, "help", opt->help);
    return o;
}

cJSON *twc_opts_dump(const struct twc_optset *set)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *opts, *subs;
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", set->name);
    cJSON_AddStringToObject(o, "summary", set->summary);
    cJSON_AddStringToObject(o, "usage", set->usage);
    opts = cJSON_AddArrayToObject(o, "options");
    for (i = 0; opts != NULL && i < set->nopts; i++)
        cJSON_AddItemToArray(opts, dump_option(&set->opts[i]));
    subs = cJSON_AddArrayToObject(o, "subcommands");
    for (i = 0; subs != NULL && set->subs != NULL && set->subs[i] != NULL; i++)
        cJSON_AddItemToArray(subs, twc_opts_dump(set->subs[i]));
    return o;
}

/*
 * Declarative command-line options (shared/STYLE.md §10).
 *
 * Each command declares its options once, in a table of struct twc_option.
 * The same table drives parsing, `--help`, `twc --dump-options` (JSON, from
 * which tests check the man pages and completions, and which `twc serve` will
 * use to map JSON keys to options), so nothing is listed twice.
 *
 * Syntax accepted (getopt_long's, minus abbreviations):
 *   --name=value  --name value  -p 80  -p80  -abc (clustered flags)  --  (end of options)
 * Options and arguments may be mixed (GNU permutation) unless the set stops at
 * its first argument (commands with subcommands, `twc` itself).
 */
#ifndef TWC_CMD_OPTIONS_H
#define TWC_CMD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"

typedef enum twc_opt_kind {
    TWC_OPT_FLAG,     /* no value; counted */
    TWC_OPT_STRING,   /* any string; with `choices`, one of them */
    TWC_OPT_INT,      /* decimal integer in [min, max] */
    TWC_OPT_PORT,     /* 0..65535 */
    TWC_OPT_ENDPOINT, /* an endpoint string (shared/CLI.md); the command parses it */
    TWC_OPT_PATH,     /* a file or folder name (completions offer files) */
    TWC_OPT_SECONDS,  /* seconds, decimals allowed ("0.5"); stored as milliseconds */
} twc_opt_kind;

enum {
    TWC_OPT_REPEAT = 1u << 0, /* may be given several times; values collect in a list */
    TWC_OPT_HIDDEN = 1u << 1, /* not in --help (still in --dump-options) */
};

struct twc_option {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    twc_opt_kind kind;
    unsigned flags;      /* TWC_OPT_* */
    const char *metavar; /* "PORT"; NULL: derived from the kind */
    const char *def;     /* default as the user would type it; NULL: none */
    const char *choices; /* "text|json" for a closed set of strings; else NULL */
    long long min, max;  /* TWC_OPT_INT bounds (both 0: 0..INT32_MAX) */
    const char *help;    /* one line, lower case, no trailing period */
};

/* One command's (or subcommand's) options. */
struct twc_optset {
    const char *name;    /* "echo", "client wait" */
    const char *usage;   /* after "twc NAME ": "[-p PORT] [--listen ENDPOINT]..." */
    const char *summary; /* one line */
    const struct twc_option *opts;
    size_t nopts;
    int stop_at_arg; /* options end at the first argument (it names a subcommand) */
    const struct twc_optset *const *subs; /* NULL-terminated subcommands, or NULL */
    const char *epilog;                   /* extra --help paragraph, or NULL */
};

/* The value of one option after parsing. str/num hold the last value given, or the
 * table default when count is 0. */
struct twc_optval {
    unsigned count;    /* times given */
    const char *str;   /* borrowed from argv (or the table) */
    long long num;     /* INT, PORT: the number; SECONDS: milliseconds; FLAG: count */
    const char **list; /* REPEAT: every value, in order (owned by twc_opts) */
    size_t nlist;
};

/* Parsed values for one optset. Caller-owned storage: init/cleanup. */
struct twc_opts {
    const struct twc_optset *set;
    struct twc_optval *vals; /* set->nopts entries */
};

/* Positional arguments left after parsing (borrowed from argv). */
struct twc_args {
    char **v;
    int n;
    int dashdash; /* index in v of the first argument after "--", or -1 */
};

/* Returned by twc_opts_parse when --help or -h was given. */
#define TWC_OPTS_HELP 1

/* Prepare values for set (defaults applied). Returns 0 or TWC_ENOMEM. */
int twc_opts_init(struct twc_opts *o, const struct twc_optset *set);
void twc_opts_cleanup(struct twc_opts *o);

/* Parse argv[1..argc) (argv[0] is the command name) against cmd and, for options
 * cmd does not define, against global (may be NULL). args->v is allocated (free
 * it); it holds the arguments in order. Returns 0, TWC_OPTS_HELP, or TWC_EINVAL
 * with err->msg saying which option is wrong ("--port: '80x' is not a number"). */
int twc_opts_parse(struct twc_opts *cmd, struct twc_opts *global, int argc, char **argv,
                   struct twc_args *args, twc_err *err);

/* Look an option up by long name. A name missing from the table is a bug in the
 * caller: it aborts with a message. */
const struct twc_optval *twc_opts_get(const struct twc_opts *o, const char *name);
int twc_opts_given(const struct twc_opts *o, const char *name);
const char *twc_opts_str(const struct twc_opts *o, const char *name);
long long twc_opts_num(const struct twc_opts *o, const char *name);

/* Write `twc NAME --help` for set (plus a pointer to the global options) to f. */
void twc_opts_help(FILE *f, const struct twc_optset *set, const struct twc_optset *global);

/* Just the option lines of set's --help (hidden options left out). */
void twc_opts_help_options(FILE *f, const struct twc_optset *set);

/* The placeholder shown for an option's value ("PORT", "ENDPOINT", "text|json"). */
const char *twc_opt_metavar(const struct twc_option *opt);
/* "flag", "string", "int", "port", "endpoint", "path", "seconds". */
const char *twc_opt_kind_name(twc_opt_kind kind);

/* Describe set (and its subcommands) as JSON:
 * {"name":...,"summary":...,"options":[{"long":"port","short":"p","kind":"port",
 *   "repeatable":false,"hidden":false,"metavar":"PORT","default":"8000",
 *   "choices":[...],"help":"..."}],"subcommands":[...]}
 * Returns an owned cJSON object (cJSON_Delete), or NULL when out of memory. */
struct cJSON;
struct cJSON *twc_opts_dump(const struct twc_optset *set);

#endif

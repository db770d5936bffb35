/*
 * Shell completions generated from the option tables (`twc --gen-completion
 * bash|zsh|fish`). completions/ holds the output, and tests/cli/app.bats
 * fails when the committed files differ from what the tables generate.
 */
#ifndef TWC_CMD_COMPLETION_H
#define TWC_CMD_COMPLETION_H

#include <stddef.h>
#include <stdio.h>

#include "cmd/options.h"

struct twc_cmd_entry {
    const char *name;
    const char *summary;
    const struct twc_optset *set;
};

/* Write the completion script for shell ("bash", "zsh" or "fish") to f, for
 * twc's own options (main_set), the global options and cmds[0..n). Returns 0,
 * or -1 for an unknown shell. */
int twc_completion_write(FILE *f, const char *shell, const struct twc_optset *main_set,
                         const struct twc_cmd_entry *cmds, size_t n);

#endif

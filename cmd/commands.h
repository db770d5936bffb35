/*
 * Declarations of every command's entry point and option table, generated
 * from cmd/commands.def.
 */
#ifndef TWC_CMD_COMMANDS_H
#define TWC_CMD_COMMANDS_H

#include "cmd/options.h"

#define TWC_CMD(name, summary)                                                                     \
    int twc_cmd_##name(int argc, char **argv);                                                     \
    extern const struct twc_optset twc_optset_##name;
#include "cmd/commands.def"
#undef TWC_CMD

#endif

/*
 * Declarations of every server command's builder, generated from
 * cmd/servers.def.
 */
#ifndef TWC_CMD_SERVERS_H
#define TWC_CMD_SERVERS_H

#include "cmd/server.h"

#define TWC_SERVER(name)                                                                           \
    int twc_build_##name(struct twc_server *srv, const struct twc_opts *opts, twc_service *parent,  \
                         twc_err *err);
#include "cmd/servers.def"
#undef TWC_SERVER

#endif

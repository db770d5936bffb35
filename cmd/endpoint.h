/*
 * Endpoint strings for cmd/: the one parser is lib/endpoint.h (tcp, udp, ssl,
 * unix, systemd servers; tcp, tls, unix clients), which also listens on and
 * connects to them. This header stays so that commands keep including
 * "cmd/endpoint.h"; there is no second parser.
 */
#ifndef TWC_CMD_ENDPOINT_H
#define TWC_CMD_ENDPOINT_H

#include "lib/endpoint.h"

#endif

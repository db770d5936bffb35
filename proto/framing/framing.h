/*
 * Framing parsers: definitions shared by the line, netstring and length-prefix
 * framers (proto/framing/line.h, netstring.h, lenprefix.h).
 *
 * Every framer here is a pure, incremental state machine (shared/STYLE.md §8):
 * bytes in, events or a negative TWC_E* code out; no sockets, no reactor, no
 * logging, no globals. Any split of the input gives the same events as the
 * whole input. State lives in an explicit enum, changed only through one
 * set_state() per parser, which reports each transition to an optional trace
 * hook (curl's state names table) so a caller can log "state A -> B".
 */
#ifndef TWC_PROTO_FRAMING_FRAMING_H
#define TWC_PROTO_FRAMING_FRAMING_H

/*
 * Optional state-transition hook: called from inside a feed (or a mode switch)
 * with the parser's kind ("line", "netstring", "lenprefix") and the static
 * names of the old and new states. Must not call back into the parser. All
 * strings are static.
 */
typedef void (*twc_framing_trace_fn)(void *arg, const char *parser, const char *from,
                                     const char *to);

#endif

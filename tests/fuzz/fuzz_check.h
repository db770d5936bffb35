/*
 * What every fuzz target shares: the libFuzzer entry point's prototype and
 * CHECK, an invariant that aborts (so libFuzzer, and the corpus replay, report
 * the input) with the file and line of the broken rule; the seeded generator
 * that picks random splits of the input, and the event log the whole, byte
 * and split feeds are compared by.
 */
#ifndef TWC_TESTS_FUZZ_FUZZ_CHECK_H
#define TWC_TESTS_FUZZ_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* xorshift32: deterministic splits from a seed taken from the input. */
static inline uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Append to an event log; a log that cannot grow is a broken run. */
static inline void log_put(twc_buf *log, const void *p, size_t n)
{
    CHECK(twc_buf_append(log, p, n) == 0);
}

#endif

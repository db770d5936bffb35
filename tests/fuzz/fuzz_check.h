/*
 * What every fuzz target shares: the libFuzzer entry point's prototype and
 * CHECK, an invariant that aborts (so libFuzzer, and the corpus replay, report
 * the input) with the file and line of the broken rule.
 */
#ifndef TWC_TESTS_FUZZ_FUZZ_CHECK_H
#define TWC_TESTS_FUZZ_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

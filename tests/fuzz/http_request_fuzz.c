/*
 * libFuzzer target for the HTTP/1.1 request parser (proto/http/parse.c), and
 * the corpus replay in plain CI. The driver and the invariants it checks are
 * in http_fuzz_common.h: consumed <= len, whole / byte-at-a-time / random
 * splits give the same events, serialize(parse(x)) re-parses the same head.
 */
#include "http_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(data, size, false);
}

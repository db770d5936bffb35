/*
 * libFuzzer target for the HTTP/1.1 response parser (proto/http/
 * response_parse.c), and the corpus replay in plain CI. Byte 0 also picks the
 * request method (other, HEAD, CONNECT); see http_fuzz_common.h for the input
 * layout and the invariants.
 */
#include "http_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(data, size, true);
}

/*
 * Corpus replay for plain CI (c-ares' approach): link a fuzz target's
 * LLVMFuzzerTestOneInput with this main instead of libFuzzer and run every
 * corpus file through it once. A crash or a failed invariant aborts, which the
 * test runner reports as a failure.
 *
 *   tests/fuzz/<name>_replay PATH...   PATH: a file, or a folder of files (not recursive)
 *
 * Arguments starting with '-' are ignored, so libFuzzer-style command lines work.
 * Prints "N files ok" and exits 0, or exits 66 when a path cannot be read and 64
 * without any path.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file; returns 0, or -1 after printing why. */
static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, n;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (size == cap) {
            uint8_t *grown;

            cap = cap ? cap * 2 : 4096;
            grown = realloc(data, cap);
            if (grown == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(data);
                fclose(f);
                return -1;
            }
            data = grown;
        }
        n = fread(data + size, 1, cap - size, f);
        size += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* An exact-size copy, so ASan catches a target reading past the input. */
    {
        uint8_t *exact = malloc(size ? size : 1);

        if (exact == NULL) {
            free(data);
            return -1;
        }
        if (size > 0)
            memcpy(exact, data, size);
        free(data);
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
    }
    (*count)++;
    return 0;
}

static int replay_path(const char *path, size_t *count)
{
    struct stat st;
    struct dirent *de;
    DIR *dir;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, count);
    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *full;

        if (de->d_name[0] == '.')
            continue;
        full = malloc(len);
        if (full == NULL) {
            rc = -1;
            break;
        }
        snprintf(full, len, "%s/%s", path, de->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && replay_file(full, count) != 0)
            rc = -1;
        free(full);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int i, paths = 0, rc = 0;

    for (i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        paths++;
        if (replay_path(argv[i], &count) != 0)
            rc = 66;
    }
    if (paths == 0) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 64;
    }
    if (rc == 0)
        printf("%zu files ok\n", count);
    return rc;
}

/* standalone.h - a plain main() for the fuzz harnesses, so every harness
 * also runs without libFuzzer: each argument is a file or a folder of files
 * (recursively) fed once to LLVMFuzzerTestOneInput; missing paths are
 * skipped.  Used by `make check` to replay the seed corpus and every kept
 * crash input.  GM_FUZZ_VERBOSE=1 names each input on stderr.  Exit 1 when
 * nothing was replayed. */
#ifndef GM_FUZZ_STANDALONE_H
#define GM_FUZZ_STANDALONE_H
#include "gainmap.h"

#include <stdint.h>
#include <stdlib.h>

/* The oracle besides "no crash, no leak, no UB": a failed call leaves a
 * sentence in gainmap_last_error.  A silent failure aborts, so the fuzzer
 * reports it like a crash. */
static inline void gm_fuzz_expect_error(const gainmap_ctx *ctx, gainmap_status st)
{
    if (st != GAINMAP_OK && gainmap_last_error(ctx)[0] == '\0')
        abort();
}

#ifndef GM_LIBFUZZER
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int gm_fuzz_run_file(const char *path)
{
    if (getenv("GM_FUZZ_VERBOSE"))
        fprintf(stderr, "%s\n", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = buf && n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

static int gm_fuzz_run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return gm_fuzz_run_file(path);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        count += gm_fuzz_run_path(child);
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++)
        count += gm_fuzz_run_path(argv[i]);
    /* Reaching here means no input crashed; replaying nothing is a failure
     * (a missing seed folder would otherwise pass silently). */
    printf("%d inputs replayed, 0 crashes\n", count);
    return count > 0 ? 0 : 1;
}
#endif
#endif

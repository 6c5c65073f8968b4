/* standalone.h - a plain main() for the fuzz harnesses, so every harness
 * also runs without libFuzzer: each argument is a file or a folder of files
 * fed once to LLVMFuzzerTestOneInput.  Used by `make check` to replay the
 * seed corpus and every kept crash input. */
#ifndef GM_FUZZ_STANDALONE_H
#define GM_FUZZ_STANDALONE_H
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
    printf("%d inputs replayed, 0 crashes\n", count);
    return 0;
}
#endif
#endif

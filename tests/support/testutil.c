/* testutil.c - helpers for the test programs. */
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GM_CORPUS_DIR
#define GM_CORPUS_DIR "../shared/corpus"
#endif

static char slots[8][4096];
static int slot;

static char *next_slot(void)
{
    slot = (slot + 1) % 8;
    return slots[slot];
}

const char *tu_tmpdir(const char *name)
{
    static char dir[4096];
    const char *base = getenv("GAINMAP_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot make %s\n", dir);
    return dir;
}

const char *tu_path(const char *dir, const char *file)
{
    char *s = next_slot();
    snprintf(s, 4096, "%s/%s", dir, file);
    return s;
}

const char *tu_corpus(const char *rel)
{
    char *s = next_slot();
    const char *base = getenv("GM_CORPUS_DIR");
    snprintf(s, 4096, "%s/%s", base && *base ? base : GM_CORPUS_DIR, rel);
    return s;
}

const char *tu_cli(void)
{
    const char *c = getenv("GAINMAP_CLI");
    return c && *c ? c : "build/gainmap";
}

int tu_run(char **out, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

uint8_t *tu_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (size)
        *size = buf ? (size_t)n : 0;
    return buf;
}

int tu_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return (fclose(f) == 0 && w == size) ? 0 : -1;
}

int tu_exists(const char *path) { return access(path, F_OK) == 0; }

int tu_have(const char *program)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", program);
    return system(cmd) == 0;
}

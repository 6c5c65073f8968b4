/* test_faults.c - nothing is lost when the disk fills or memory runs out.
 *
 *  - Full disk: a child process with RLIMIT_FSIZE (and SIGXFSZ ignored, so
 *    write() fails with EFBIG as on a full disk) writes through
 *    gainmap_write_file and gainmap_image_write in every format: each call
 *    reports an IO error naming the file (gainmap_write_file) and the
 *    system's reason, strerror(EFBIG), and the folder is left exactly as
 *    before - no output, no temporary file.  The same calls under the limit
 *    succeed (the setup is not what fails).
 *  - Replacing: an existing output is replaced by rename, never rewritten in
 *    place (a hard link to the old file keeps the old bytes), and a failed
 *    write leaves the old output untouched.
 *  - Allocation failures: gm_fail_alloc_after(n) for every n from 1 to the
 *    number of allocations an operation makes - opening a gain-map JPEG and
 *    describing it, decoding it, parsing a HEIF, reading each image format -
 *    gives a clean error (NOMEM with an "out of memory" message) or a valid
 *    result, never a crash or a leak (ASan/valgrind runs).  Opening must
 *    never describe the file differently: a HEIF whose tmap payload, XMP,
 *    EXIF or item copy could not be allocated fails with NOMEM naming that
 *    item, instead of losing its gain map or gaining an issue.
 *  - Inputs are opened read-only: reading a file whose permission bits allow
 *    no writing works (as non-root this would fail if anything opened the
 *    input for writing; test_faults_cli.sh repeats it on a read-only mount). */
#include "check.h"
#include "internal.h"
#include "support/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_dir;

/* Names in the folder, sorted, joined by spaces (static). */
static const char *listing(const char *dir)
{
    static char buf[4096];
    char *names[64];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) > 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strncat(buf, " ", sizeof buf - strlen(buf) - 1);
        strncat(buf, names[i], sizeof buf - strlen(buf) - 1);
        free(names[i]);
    }
    return buf;
}

/* A noisy image (does not compress below the file-size limit): linear
 * floats for EXR/PFM, PQ-coded floats in [0,1] for the integer formats. */
static void noisy(gainmap_image *img, uint32_t w, uint32_t h, gainmap_file_format fmt)
{
    bool linear = fmt == GAINMAP_FORMAT_EXR || fmt == GAINMAP_FORMAT_PFM;
    CHECK_INT(gainmap_image_alloc(NULL, img, w, h, 3, GAINMAP_PIXEL_F32), GAINMAP_OK);
    float *p = img->data;
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (float)((s >> 8) & 0xFFFF) / 65535.0f * (linear ? 4.0f : 1.0f);
    }
    img->transfer = linear ? GAINMAP_TRANSFER_LINEAR : GAINMAP_TRANSFER_PQ;
    img->primaries = GAINMAP_PRIMARIES_BT709;
}

static const struct {
    const char *name;
    gainmap_file_format fmt;
} formats[] = {{"out.png", GAINMAP_FORMAT_PNG}, {"out.tif", GAINMAP_FORMAT_TIFF}, {"out.exr", GAINMAP_FORMAT_EXR},
               {"out.pfm", GAINMAP_FORMAT_PFM}, {"out.ppm", GAINMAP_FORMAT_PPM}};
#define NFORMATS (sizeof formats / sizeof formats[0])

/* Runs in the child: every failure printed, the count is the exit status. */
static int disk_full_child(const char *dir)
{
    int failed = 0;
#define CCHECK(cond, ...)                                            \
    do {                                                             \
        if (!(cond)) {                                               \
            failed++;                                                \
            fprintf(stderr, "disk-full child: %s: ", #cond);         \
            fprintf(stderr, __VA_ARGS__);                            \
            fputc('\n', stderr);                                     \
        }                                                            \
    } while (0)
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {64 * 1024, 64 * 1024};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 100;
    gainmap_ctx *ctx = gainmap_ctx_new();
    /* Under the limit: fine. */
    uint8_t small[1000];
    memset(small, 7, sizeof small);
    gainmap_status st = gainmap_write_file(ctx, tu_path(dir, "small.bin"), small, sizeof small, 0);
    CCHECK(st == GAINMAP_OK, "small write: %s", gainmap_last_error(ctx));
    unlink(tu_path(dir, "small.bin"));
    /* Over it: IO error, nothing left. */
    size_t big_n = 300 * 1024;
    uint8_t *big = malloc(big_n);
    memset(big, 0x5A, big_n);
    gainmap_clear_error(ctx);
    st = gainmap_write_file(ctx, tu_path(dir, "big.bin"), big, big_n, 0);
    CCHECK(st == GAINMAP_ERR_IO, "big write gave %s", gainmap_strerror(st));
    CCHECK(strstr(gainmap_last_error(ctx), "big.bin") && strstr(gainmap_last_error(ctx), strerror(EFBIG)),
           "message: %s", gainmap_last_error(ctx));
    printf("  gainmap_write_file, 300 KB over a 64 KB limit: %s\n", gainmap_last_error(ctx));
    CCHECK(listing(dir)[0] == '\0', "left behind: %s", listing(dir));
    free(big);
    /* Every image writer: 160x160 noisy RGB (>= 150 KB in any format). */
    gainmap_image img;
    for (size_t i = 0; i < NFORMATS; i++) {
        noisy(&img, 160, 160, formats[i].fmt);
        gainmap_clear_error(ctx);
        st = gainmap_image_write(ctx, tu_path(dir, formats[i].name), &img, formats[i].fmt);
        CCHECK(st != GAINMAP_OK, "%s was written", formats[i].name);
        CCHECK(gainmap_last_error(ctx)[0] != '\0', "%s: no message", formats[i].name);
        /* the system's reason, not a bare "write error" */
        CCHECK(st == GAINMAP_ERR_IO && strstr(gainmap_last_error(ctx), strerror(EFBIG)), "%s: %s: %s", formats[i].name,
               gainmap_strerror(st), gainmap_last_error(ctx));
        printf("  %s over the limit: %s: %s\n", formats[i].name, gainmap_strerror(st), gainmap_last_error(ctx));
        CCHECK(listing(dir)[0] == '\0', "%s: left behind: %s", formats[i].name, listing(dir));
        gainmap_image_free(&img);
    }
    /* A small image in every format still works under the limit. */
    for (size_t i = 0; i < NFORMATS; i++) {
        noisy(&img, 8, 8, formats[i].fmt);
        gainmap_clear_error(ctx);
        st = gainmap_image_write(ctx, tu_path(dir, formats[i].name), &img, formats[i].fmt);
        CCHECK(st == GAINMAP_OK, "small %s: %s", formats[i].name, gainmap_last_error(ctx));
        unlink(tu_path(dir, formats[i].name));
        gainmap_image_free(&img);
    }
    gainmap_ctx_free(ctx);
    return failed;
#undef CCHECK
}

static void test_disk_full(void)
{
    const char *dir = tu_path(g_dir, "full");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    mkdir(d, 0755);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int failed = disk_full_child(d);
        fflush(stdout);
        _exit(failed);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s %d",
              WIFEXITED(status) ? "failures" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK_STR(listing(d), "");
}

static void test_replace_is_atomic(void)
{
    char out[4096], keep[4096];
    snprintf(out, sizeof out, "%s", tu_path(g_dir, "replace.bin"));
    snprintf(keep, sizeof keep, "%s", tu_path(g_dir, "replace.old"));
    CHECK_INT(tu_write(out, "old contents", 12), 0);
    CHECK_INT(link(out, keep), 0);
    gainmap_ctx *ctx = gainmap_ctx_new();
    /* No overwrite: refused, old file intact. */
    CHECK_INT(gainmap_write_file(ctx, out, (const uint8_t *)"new", 3, 0), GAINMAP_ERR_IO);
    CHECK_CONTAINS(gainmap_last_error(ctx), "already exists");
    size_t n;
    uint8_t *b = tu_read(out, &n);
    CHECK(b && n == 12 && !memcmp(b, "old contents", 12));
    free(b);
    /* Overwrite: the name gets a new file; the old inode keeps the old bytes. */
    gainmap_clear_error(ctx);
    CHECK_INT(gainmap_write_file(ctx, out, (const uint8_t *)"new", 3, 1), GAINMAP_OK);
    b = tu_read(out, &n);
    CHECK(b && n == 3 && !memcmp(b, "new", 3));
    free(b);
    b = tu_read(keep, &n);
    CHECK(b && n == 12 && !memcmp(b, "old contents", 12));
    free(b);
    struct stat a, k;
    CHECK(stat(out, &a) == 0 && stat(keep, &k) == 0 && a.st_ino != k.st_ino);
    gainmap_ctx_free(ctx);
    /* A failed replacement (file-size limit) keeps the old output. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1024, 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        gainmap_ctx *c = gainmap_ctx_new();
        uint8_t big[4096];
        memset(big, 1, sizeof big);
        gainmap_status st = gainmap_write_file(c, out, big, sizeof big, 1);
        gainmap_ctx_free(c);   /* valgrind checks the child's leaks too */
        _exit(st == GAINMAP_ERR_IO ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    b = tu_read(out, &n);
    CHECK(b && n == 3 && !memcmp(b, "new", 3));
    free(b);
    unlink(out);
    unlink(keep);
}

/* ---- allocation failures ---- */

typedef struct op {
    const char *name;
    /* Phrases that some failure's NOMEM message must contain: the optional
     * parts of a HEIF (tmap payload, XMP item, item copies) are reached. */
    const char *must_report[3];
    const uint8_t *data;
    size_t size;
    const gainmap_file *file;   /* for decode */
    gainmap_status (*run)(gainmap_ctx *ctx, const struct op *op);
} op;

/* The JSON of the last successful op_open, to compare a run that tolerated
 * an allocation failure with the undisturbed one. */
static char *g_json;

static gainmap_status op_open(gainmap_ctx *ctx, const op *o)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open_memory(ctx, o->data, o->size, &f);
    if (st != GAINMAP_OK)
        return st;
    char *json = NULL;
    st = gainmap_file_info_json(ctx, f, &json);
    free(g_json);
    g_json = st == GAINMAP_OK ? json : NULL;
    const gainmap_issue *issues;
    gainmap_file_issues(f, &issues);
    gainmap_file_close(f);
    return st;
}

static gainmap_status op_decode(gainmap_ctx *ctx, const op *o)
{
    gainmap_image img;
    gainmap_status st = gainmap_decode(ctx, o->file, NULL, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    return st;
}

static gainmap_status op_heif(gainmap_ctx *ctx, const op *o)
{
    gm_heif *h = NULL;
    gainmap_status st = gm_heif_parse(ctx, o->data, o->size, &h);
    if (st != GAINMAP_OK)
        return st;
    gm_heif_gainmap g;
    st = gm_heif_find_gainmap(ctx, h, &g);
    gm_heif_free(h);
    return st == GAINMAP_ERR_NO_GAINMAP ? GAINMAP_OK : st;
}

static gainmap_status op_image(gainmap_ctx *ctx, const op *o)
{
    gainmap_image img;
    gainmap_status st = gainmap_image_read_memory(ctx, o->data, o->size, &img);
    if (st == GAINMAP_OK)
        gainmap_image_free(&img);
    return st;
}

static gainmap_status op_read_path(gainmap_ctx *ctx, const op *o)
{
    gainmap_file *f = NULL;
    gainmap_status st = gainmap_file_open(ctx, (const char *)o->data, &f);
    gainmap_file_close(f);
    return st;
}

/* How many gm_malloc/gm_calloc calls the operation makes: arm the countdown
 * far away, run, then count probe allocations until it fires. */
static long count_allocations(const op *o)
{
    const long far = 1000000;
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_set_option(ctx, GAINMAP_OPT_THREADS, 1);
    gm_fail_alloc_after(far);
    gainmap_status st = o->run(ctx, o);
    long probes = 0;
    for (;;) {
        void *p = gm_malloc(NULL, 1);
        probes++;
        if (!p || probes > far)
            break;
        free(p);
    }
    gm_fail_alloc_after(0);
    CHECK_MSG(st == GAINMAP_OK, "%s: %s", o->name, gainmap_last_error(ctx));
    gainmap_ctx_free(ctx);
    return far - probes;
}

static void sweep_alloc_failures(const op *o)
{
    long total = count_allocations(o);
    CHECK_MSG(total > 0, "%s makes no counted allocation", o->name);
    char *expect = g_json;   /* the undisturbed description (op_open only) */
    g_json = NULL;
    long nomem = 0, ok = 0;
    bool seen[3] = {false, false, false};
    for (long n = 1; n <= total; n++) {
        gainmap_ctx *ctx = gainmap_ctx_new();
        gainmap_set_option(ctx, GAINMAP_OPT_THREADS, 1);
        gm_fail_alloc_after(n);
        gainmap_status st = o->run(ctx, o);
        gm_fail_alloc_after(0);
        if (st == GAINMAP_OK) {
            ok++;
            /* A tolerated failure must not change the answer (an optional
             * part that ran out of memory is NOMEM, not a different file). */
            bool same = expect && g_json && !strcmp(expect, g_json);
            if (o->run == op_open)
                CHECK_MSG(same, "%s: allocation %ld failed silently and changed the result:\n%s\n--- instead of ---\n%s",
                          o->name, n, g_json ? g_json : "(none)", expect ? expect : "(none)");
        } else {
            CHECK_MSG(gainmap_last_error(ctx)[0] != '\0', "%s, allocation %ld failed: %s without a message",
                      o->name, n, gainmap_strerror(st));
            if (st == GAINMAP_ERR_NOMEM) {
                nomem++;
                CHECK_MSG(strstr(gainmap_last_error(ctx), "out of memory") != NULL, "%s, allocation %ld: NOMEM as \"%s\"",
                          o->name, n, gainmap_last_error(ctx));
                for (int k = 0; k < 3; k++)
                    if (o->must_report[k] && strstr(gainmap_last_error(ctx), o->must_report[k]))
                        seen[k] = true;
            }
        }
        gainmap_ctx_free(ctx);
    }
    free(expect);
    free(g_json);
    g_json = NULL;
    printf("  %-44s %4ld allocations: %4ld reported out of memory, %3ld tolerated", o->name, total, nomem, ok);
    printf("\n");
    for (int k = 0; k < 3; k++)
        CHECK_MSG(!o->must_report[k] || seen[k], "%s: no allocation failure reported \"%s\"", o->name,
                  o->must_report[k]);
    /* Most failures must be reported (an optional buffer may be skipped). */
    CHECK_MSG(nomem * 2 >= total, "%s: only %ld of %ld allocation failures reported", o->name, nomem, total);
}

static void test_alloc_failures(void)
{
    static const char *const jpegs[] = {"ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg",
                                        "apple_jpeg_gainmap/libavif__apple_gainmap_new.jpg",
                                        "ultrahdr_iso21496_jpeg/uhdrrs__minnie_ultrahdr_sys.jpg"};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *d = tu_read(tu_corpus(jpegs[i]), &n);
        CHECK(d != NULL);
        if (!d)
            continue;
        char name[128];
        snprintf(name, sizeof name, "open+info+issues %s", strchr(jpegs[i], '/') + 1);
        op o = {name, {NULL}, d, n, NULL, op_open};
        sweep_alloc_failures(&o);
        gainmap_file *f = NULL;
        CHECK_INT(gainmap_file_open_memory(NULL, d, n, &f), GAINMAP_OK);
        snprintf(name, sizeof name, "decode %s", strchr(jpegs[i], '/') + 1);
        op dec = {name, {NULL}, NULL, 0, f, op_decode};
        if (f)
            sweep_alloc_failures(&dec);
        gainmap_file_close(f);
        free(d);
    }
    op path = {"gainmap_file_open (path)", {NULL}, (const uint8_t *)tu_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg"),
               0, NULL, op_read_path};
    sweep_alloc_failures(&path);

    static const char *const heifs[] = {"avif_tmap/libavif__color_grid_gainmap_different_grid.avif",
                                        "avif_tmap/libavif__seine_sdr_gainmap_srgb.avif",
                                        "apple_heic_gainmap/pillowheif__pug.heic"};
    /* The optional parts that once turned out of memory into a different
     * description: the tmap payload (has_gainmap false), the gain-map item
     * copy (an error issue), the XMP item (HDRGainMapVersion dropped), EXIF. */
    static const char *const heif_parts[3][3] = {
        {"(reading tmap item 27)", "(reading image item 28)", "(reading image item 1)"},
        {"(reading tmap item 2)", "(reading image item 3)", "(reading EXIF item 4)"},
        {"(reading XMP item 53)", "(reading image item 52)", "(reading EXIF item 50)"}};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *d = tu_read(tu_corpus(heifs[i]), &n);
        CHECK(d != NULL);
        if (!d)
            continue;
        char name[128];
        snprintf(name, sizeof name, "heif parse %s", strchr(heifs[i], '/') + 1);
        op o = {name, {NULL}, d, n, NULL, op_heif};
        sweep_alloc_failures(&o);
        snprintf(name, sizeof name, "open+info+issues %s", strchr(heifs[i], '/') + 1);
        op o2 = {name, {heif_parts[i][0], heif_parts[i][1], heif_parts[i][2]}, d, n, NULL, op_open};
        sweep_alloc_failures(&o2);
        free(d);
    }

    /* Every image reader, on the fuzz seeds (tiny files in each format). */
    static const char *const images[] = {"pq.png", "hlg.tif", "linear.exr", "rle.hdr", "rgb.pfm", "rgb16.ppm"};
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/fuzz/seeds/fuzz_image_read/%s", GM_SOURCE_DIR, images[i]);
        size_t n;
        uint8_t *d = tu_read(p, &n);
        CHECK_MSG(d != NULL, "missing %s", p);
        if (!d)
            continue;
        char name[128];
        snprintf(name, sizeof name, "image_read %s", images[i]);
        op o = {name, {NULL}, d, n, NULL, op_image};
        sweep_alloc_failures(&o);
        free(d);
    }
}

static void test_read_only_input(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", tu_path(g_dir, "ro.jpg"));
    size_t n;
    uint8_t *d = tu_read(tu_corpus("ultrahdr_v1_xmp_mpf/gmspec__rgba_uhdr.jpg"), &n);
    CHECK(d && tu_write(p, d, n) == 0);
    CHECK_INT(chmod(p, 0444), 0);
    struct stat before, after;
    CHECK_INT(stat(p, &before), 0);
    gainmap_ctx *ctx = gainmap_ctx_new();
    gainmap_file *f = NULL;
    CHECK_INT(gainmap_file_open(ctx, p, &f), GAINMAP_OK);
    gainmap_image img;
    CHECK_INT(gainmap_decode(ctx, f, NULL, &img), GAINMAP_OK);
    gainmap_image_free(&img);
    gainmap_file_close(f);
    gainmap_ctx_free(ctx);
    CHECK_INT(stat(p, &after), 0);
    CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    size_t n2;
    uint8_t *d2 = tu_read(p, &n2);
    CHECK(d2 && n2 == n && !memcmp(d, d2, n));
    free(d2);
    free(d);
    chmod(p, 0644);
    unlink(p);
}

int main(void)
{
    g_dir = strdup(tu_tmpdir("test_faults"));
    RUN_TEST(test_disk_full);
    RUN_TEST(test_replace_is_atomic);
    RUN_TEST(test_alloc_failures);
    RUN_TEST(test_read_only_input);
    free((void *)g_dir);
    TEST_SUMMARY();
}

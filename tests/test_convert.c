/* test_convert.c - `gainmap convert` end to end: a folder of synthetic
 * masters plus a corrupt and an unsupported file, skips and --force,
 * gain-map JPEG input, misuse, and SIGINT in the middle of a batch. */
#include "check.h"
#include "gainmap.h"
#include "support/synth_master.h"
#include "support/testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const variants[4] = {"HDR_P3_D65_ST2084", "P3_PQ", "HDR_gain_map", "uhdr"};
static const char *const exts[4] = {"heic", "heic", "heic", "jpg"};

/* Names under dir (recursively) containing `needle`; returns the count. */
static int count_named(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_named(p, needle);
        else if (strstr(e->d_name, needle))
            n++;
    }
    closedir(d);
    return n;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A linear-light EXR master: a horizontal ramp 0.01 .. 8 x SDR white with colour. */
static void write_exr(const char *path, uint32_t w, uint32_t h)
{
    gainmap_image img;
    gainmap_image_alloc(NULL, &img, w, h, 3, GAINMAP_PIXEL_F32);
    img.transfer = GAINMAP_TRANSFER_LINEAR;
    img.primaries = GAINMAP_PRIMARIES_BT709;
    for (uint32_t y = 0; y < h; y++) {
        float *row = (float *)(void *)((uint8_t *)img.data + (size_t)y * img.stride);
        for (uint32_t x = 0; x < w; x++) {
            double l = 0.01 * pow(800.0, (double)x / (w - 1));
            row[3 * x + 0] = (float)(l * (0.6 + 0.4 * y / h));
            row[3 * x + 1] = (float)l;
            row[3 * x + 2] = (float)(l * (1.0 - 0.5 * y / h));
        }
    }
    CHECK_INT(gainmap_image_write(NULL, path, &img, GAINMAP_FORMAT_EXR), GAINMAP_OK);
    gainmap_image_free(&img);
}

/* The synthetic PQ P3 master; TIFF carries its colour only as ICC, so attach one. */
static void master(uint32_t w, uint32_t h, gainmap_image *m)
{
    synth_master(w, h, m);
    uint8_t *icc = NULL;
    size_t size = 0;
    CHECK_INT(gainmap_icc_generate(NULL, "p3-pq", &icc, &size), GAINMAP_OK);
    CHECK_INT(gainmap_image_set_icc(m, icc, size), GAINMAP_OK);
    gainmap_free(icc);
}

static void make_masters(const char *dir, int n, uint32_t w, uint32_t h)
{
    gainmap_image m;
    master(w, h, &m);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, i % 2 ? "m%02d.tif" : "m%02d.png", i);
        CHECK_INT(gainmap_image_write(NULL, tu_path(dir, name), &m,
                                      i % 2 ? GAINMAP_FORMAT_TIFF : GAINMAP_FORMAT_PNG),
                  GAINMAP_OK);
    }
    gainmap_image_free(&m);
}

static void test_folder(void)
{
    const char *root = tu_tmpdir("test_convert");
    char dir[4096], out[4096], report[4096];
    snprintf(dir, sizeof dir, "%s/shoot", root);
    snprintf(out, sizeof out, "%s/shoot/converted", root);
    snprintf(report, sizeof report, "%s/report.json", root);
    mkdir(dir, 0755);

    gainmap_image m;
    master(128, 96, &m);
    CHECK_INT(gainmap_image_write(NULL, tu_path(dir, "alpha.png"), &m, GAINMAP_FORMAT_PNG), GAINMAP_OK);
    CHECK_INT(gainmap_image_write(NULL, tu_path(dir, "beta.tif"), &m, GAINMAP_FORMAT_TIFF), GAINMAP_OK);
    gainmap_image_free(&m);
    write_exr(tu_path(dir, "gamma.exr"), 120, 80);
    size_t size;
    uint8_t *png = tu_read(tu_path(dir, "alpha.png"), &size);
    CHECK(png && size > 400);
    tu_write(tu_path(dir, "broken.png"), png, 300);   /* the PNG cut inside its data */
    free(png);
    tu_write(tu_path(dir, "notes.txt"), "shot list\n", 10);
    tu_write(tu_path(dir, ".hidden.png"), "x", 1);    /* hidden: not an input */

    char *o = NULL;
    int rc = tu_run(&o, "'%s' convert '%s' -j 2 --report '%s' 2>&1", tu_cli(), dir, report);
    CHECK_INT(rc, 5);
    CHECK_CONTAINS(o, "Converted 5 files");
    CHECK_CONTAINS(o, "3 done, 0 skipped, 2 failed");
    CHECK_CONTAINS(o, "Outputs: 12 written");
    /* both failures named with their reasons, in the table */
    char want[4300];
    snprintf(want, sizeof want, "failed    %s/broken.png", dir);
    CHECK_CONTAINS(o, want);
    snprintf(want, sizeof want, "failed    %s/notes.txt", dir);
    CHECK_CONTAINS(o, want);
    CHECK_CONTAINS(o, "not a file convert reads (TIFF, PNG, EXR, .hdr, PFM, gain-map JPEG or HEIC)");
    CHECK(!strstr(o, ".hidden"));
    free(o);

    static const char *const stems[3] = {"alpha", "beta", "gamma"};
    for (int s = 0; s < 3; s++)
        for (int v = 0; v < 4; v++) {
            char name[128];
            snprintf(name, sizeof name, "%s_%s.%s", stems[s], variants[v], exts[v]);
            const char *p = tu_path(out, name);
            CHECK_MSG(tu_exists(p), "%s missing", p);
            if (v >= 2) {   /* gain-map outputs: validate finds nothing to report */
                rc = tu_run(NULL, "'%s' validate '%s'", tu_cli(), p);
                CHECK_MSG(rc == 0, "validate %s exit %d", p, rc);
            } else {        /* plain PQ HEICs: readable HEIF with the HDR transfer */
                char *info = NULL;
                rc = tu_run(&info, "'%s' info '%s'", tu_cli(), p);
                CHECK_MSG(rc == 0, "info %s exit %d", p, rc);
                free(info);
            }
        }
    CHECK_INT(count_named(out, ""), 12);          /* nothing else in converted/ */
    CHECK_INT(count_named(root, "gmtmp"), 0);     /* no temporaries anywhere */
    CHECK(!tu_exists(tu_path(out, "broken_uhdr.jpg")));

    uint8_t *json = tu_read(report, &size);
    CHECK(json != NULL);
    if (json) {
        json = realloc(json, size + 1);
        json[size] = 0;
        CHECK_CONTAINS((char *)json, "\"schema\":\"gainmap-convert/1\",\"interrupted\":false");
        CHECK_CONTAINS((char *)json, "\"files\":{\"total\":5,\"done\":3,\"skipped\":0,\"failed\":2,\"not_converted\":0}");
        CHECK_CONTAINS((char *)json, "/notes.txt\",\"status\":\"failed\",\"reason\":\"not a file convert reads");
        CHECK_CONTAINS((char *)json, "{\"variant\":\"uhdr\",\"path\":");
        free(json);
    }

    /* Second run: every output is skipped and left alone. */
    const char *uhdr = tu_path(out, "alpha_uhdr.jpg");
    ino_t before = inode_of(uhdr);
    rc = tu_run(&o, "'%s' convert '%s' 2>&1", tu_cli(), dir);
    CHECK_INT(rc, 5);   /* the two bad files still fail */
    CHECK_CONTAINS(o, "0 done, 3 skipped, 2 failed");
    CHECK_CONTAINS(o, "Outputs: 0 written, 12 skipped");
    free(o);
    CHECK(inode_of(uhdr) == before);

    /* --force rewrites (a new file renamed into place: new inode). */
    rc = tu_run(&o, "'%s' convert '%s' --force --to uhdr -j 1 2>&1", tu_cli(), dir);
    CHECK_INT(rc, 5);
    CHECK_CONTAINS(o, "Outputs: 3 written, 0 skipped");
    free(o);
    CHECK(inode_of(uhdr) != before && inode_of(uhdr) != 0);
    CHECK_INT(count_named(root, "gmtmp"), 0);

    /* Only the good files: exit 0; --recursive does not descend into converted/. */
    char good[4096];
    snprintf(good, sizeof good, "%s/good", root);
    mkdir(good, 0755);
    rc = tu_run(NULL, "cp '%s/alpha.png' '%s/gamma.exr' '%s/'", dir, dir, good);
    rc = tu_run(&o, "'%s' convert -r '%s' --to uhdr,heic-iso 2>&1", tu_cli(), good);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(o, "Converted 2 files");
    free(o);
    rc = tu_run(&o, "'%s' convert -r '%s' --to uhdr,heic-iso 2>&1", tu_cli(), good);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(o, "Converted 2 files");   /* not 6: converted/ is not an input folder */
    CHECK_CONTAINS(o, "0 done, 2 skipped, 0 failed");
    free(o);
    rc = tu_run(NULL, "'%s' validate '%s/converted/gamma_heic-iso.heic'", tu_cli(), good);
    CHECK_INT(rc, 0);
    /* A gain-map HEIC as input: decoded (base kept) and encoded as UltraHDR. */
    char back[4096];
    snprintf(back, sizeof back, "%s/back", root);
    rc = tu_run(&o, "'%s' convert '%s/converted/gamma_heic-iso.heic' -o '%s' --to uhdr 2>&1", tu_cli(), good, back);
    CHECK_INT(rc, 0);
    free(o);
    rc = tu_run(NULL, "'%s' validate '%s/gamma_heic-iso_uhdr.jpg'", tu_cli(), back);
    CHECK_INT(rc, 0);

    /* -o DIR and --quiet: nothing on stdout/stderr for a clean run. */
    char flat[4096];
    snprintf(flat, sizeof flat, "%s/flat", root);
    rc = tu_run(&o, "'%s' convert -q '%s/alpha.png' -o '%s' --to uhdr 2>&1", tu_cli(), good, flat);
    CHECK_INT(rc, 0);
    CHECK_STR(o, "");
    free(o);
    CHECK(tu_exists(tu_path(flat, "alpha_uhdr.jpg")));
}

static void test_gainmap_input(void)
{
    const char *root = tu_tmpdir("test_convert_jpeg");
    char *o = NULL;
    int rc = tu_run(NULL, "cp '%s' '%s/memorial.jpg'", tu_corpus("ultrahdr_v1_xmp_mpf/gainmapjs__memorial.jpg"), root);
    CHECK_INT(rc, 0);
    rc = tu_run(&o, "'%s' convert '%s/memorial.jpg' --to uhdr 2>&1", tu_cli(), root);
    CHECK_INT(rc, 0);
    free(o);
    char p[4096];
    snprintf(p, sizeof p, "%s/converted/memorial_uhdr.jpg", root);
    rc = tu_run(&o, "'%s' info '%s'", tu_cli(), p);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(o, "ISO 21496-1");   /* remuxed to v1.1: XMP + ISO */
    free(o);
    /* The map was not rebuilt: both files carry the same gain-map stream. */
    gainmap_file *a = NULL, *b = NULL;
    snprintf(p, sizeof p, "%s/memorial.jpg", root);
    CHECK_INT(gainmap_file_open(NULL, p, &a), GAINMAP_OK);
    snprintf(p, sizeof p, "%s/converted/memorial_uhdr.jpg", root);
    CHECK_INT(gainmap_file_open(NULL, p, &b), GAINMAP_OK);
    if (a && b) {
        const uint8_t *ma, *mb;
        size_t sa, sb;
        CHECK_INT(gainmap_file_map_stream(a, &ma, &sa), GAINMAP_OK);
        CHECK_INT(gainmap_file_map_stream(b, &mb, &sb), GAINMAP_OK);
        const uint8_t *sos_a = NULL, *sos_b = NULL;   /* coded data from the first SOS on */
        for (size_t i = 0; i + 1 < sa && !sos_a; i++)
            if (ma[i] == 0xFF && ma[i + 1] == 0xDA)
                sos_a = ma + i;
        for (size_t i = 0; i + 1 < sb && !sos_b; i++)
            if (mb[i] == 0xFF && mb[i + 1] == 0xDA)
                sos_b = mb + i;
        CHECK(sos_a && sos_b);
        if (sos_a && sos_b) {
            size_t la = sa - (size_t)(sos_a - ma), lb = sb - (size_t)(sos_b - mb);
            CHECK_INT(la, lb);
            CHECK(la == lb && memcmp(sos_a, sos_b, la) == 0);
        }
    }
    gainmap_file_close(a);
    gainmap_file_close(b);
    /* Converting the output folder's own files is refused by name. */
    rc = tu_run(&o, "'%s' convert '%s/converted/memorial_uhdr.jpg' --to uhdr 2>&1", tu_cli(), root);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(o, "inside an output folder");
    free(o);
}

static void test_misuse(void)
{
    char *o = NULL;
    CHECK_INT(tu_run(&o, "'%s' convert", tu_cli()), 2);
    CHECK_CONTAINS(o, "expects at least one file or folder to convert");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' convert . --to webp", tu_cli()), 2);
    CHECK_CONTAINS(o, "option --to expects a comma-separated list of HDR_P3_D65_ST2084, P3_PQ, HDR_gain_map, uhdr, "
                      "heic-apple, heic-iso or all, not 'webp'");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' convert . -j 0", tu_cli()), 2);
    CHECK_CONTAINS(o, "option --jobs expects a whole number from 1 to 256, not '0'");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' convert . --report out.txt", tu_cli()), 2);
    CHECK_CONTAINS(o, "option --report expects a file name ending in .json");
    free(o);
    CHECK_INT(tu_run(&o, "'%s' convert /nonexistent/x.tif --to uhdr", tu_cli()), 5);
    CHECK_CONTAINS(o, "cannot open: No such file or directory");
    free(o);
}

/* SIGINT after the first output appears: exit 130, no partial or temporary
 * file, every output present is complete, and the batch really was cut short. */
static void test_sigint(void)
{
    const char *root = tu_tmpdir("test_convert_sigint");
    char dir[4096], out[4096], log[4096];
    snprintf(dir, sizeof dir, "%s/in", root);
    snprintf(out, sizeof out, "%s/in/converted", root);
    snprintf(log, sizeof log, "%s/log.txt", root);
    mkdir(dir, 0755);
    make_masters(dir, 16, 256, 192);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *lf = freopen(log, "w", stdout);
        (void)lf;
        dup2(fileno(stdout), 2);
        execl(tu_cli(), "gainmap", "convert", dir, "--to", "all", "-j", "2", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    int waited = 0, status = 0;
    struct timespec ts = {0, 20 * 1000000L};
    for (int i = 0; i < 3000; i++) {   /* up to 60 s for the first output */
        if (count_named(out, ".heic") - count_named(out, "gmtmp") > 0 || count_named(out, "_uhdr.jpg") > 0)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            waited = 1;
            break;
        }
        nanosleep(&ts, NULL);
    }
    CHECK_MSG(!waited, "the batch ended before the first output appeared");
    if (!waited) {
        kill(pid, SIGINT);
        waitpid(pid, &status, 0);
    }
    CHECK(WIFEXITED(status));
    CHECK_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 130);
    CHECK_INT(count_named(root, "gmtmp"), 0);
    int outputs = count_named(out, "_");
    CHECK_MSG(outputs >= 1 && outputs < 16 * 6, "%d outputs after the interrupt", outputs);
    size_t size;
    char *text = (char *)tu_read(log, &size);
    if (text) {
        text = realloc(text, size + 1);
        text[size] = 0;
    }
    CHECK_CONTAINS(text, "Interrupted after ");
    CHECK_CONTAINS(text, "16 files, ");
    CHECK_CONTAINS(text, " not converted\n");
    free(text);
    /* every output left behind is whole */
    DIR *d = opendir(out);
    struct dirent *e;
    int checked = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int rc = tu_run(NULL, "'%s' info '%s/%s' >/dev/null", tu_cli(), out, e->d_name);
        CHECK_MSG(rc == 0, "%s is not a readable file (exit %d)", e->d_name, rc);
        checked++;
    }
    if (d)
        closedir(d);
    CHECK_INT(checked, outputs);
}

int main(void)
{
    RUN_TEST(test_misuse);
    RUN_TEST(test_folder);
    RUN_TEST(test_gainmap_input);
    RUN_TEST(test_sigint);
    TEST_SUMMARY();
}

/* cmd_convert.c - `gainmap convert`: files and folders of HDR masters or
 * gain-map photos -> every output variant, in parallel, with progress. */
#include "batch.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "Usage: gainmap convert PATH... [OPTIONS]\n"
    "\n"
    "Convert files and folders in one go.  Each PATH is a file or a folder (its\n"
    "files; sub-folders too with --recursive).  Inputs are HDR masters (16-bit\n"
    "PQ/HLG PNG or TIFF, OpenEXR, Radiance .hdr, PFM) and gain-map photos\n"
    "(JPEG; HEIC when the library reads it), which are transcoded between\n"
    "containers: a gain-map JPEG becomes UltraHDR v1.1 without rebuilding its\n"
    "map; other pairs are decoded and encoded again, keeping the SDR base.\n"
    "Outputs go into a 'converted' folder beside each input (or -o DIR), named\n"
    "NAME_VARIANT.EXT.  Existing outputs are kept and counted as skipped unless\n"
    "--force.  Inputs are never overwritten; files inside output folders and\n"
    "hidden files are not inputs.  A file that fails never stops the others.\n"
    "\n"
    "Variants (--to, comma-separated; default the first four):\n"
    "  HDR_P3_D65_ST2084   10-bit PQ Display P3 HEIC with the HDR_P3_D65_ST2084\n"
    "                      ICC profile (alias heic-pq)                    .heic\n"
    "  P3_PQ               10-bit PQ HEIC with the P3_PQ ICC profile\n"
    "                      (alias heic-pq-p3)                             .heic\n"
    "  HDR_gain_map        8-bit P3 HEIC with an Apple + ISO 21496-1 gain map\n"
    "                      (alias heic)                                   .heic\n"
    "  uhdr                UltraHDR v1.1 JPEG (XMP + ISO 21496-1)           .jpg\n"
    "  heic-apple          HEIC with an Apple gain map only                .heic\n"
    "  heic-iso            HEIC with an ISO 21496-1 tmap gain map only     .heic\n"
    "  all                 every variant above\n"
    "\n"
    "Options:\n"
    "  -t, --to LIST           variants to write (default\n"
    "                          HDR_P3_D65_ST2084,P3_PQ,HDR_gain_map,uhdr)\n"
    "  -o, --output DIR        write every output into DIR (created if needed)\n"
    "                          instead of a 'converted' folder beside each input\n"
    "  -j, --jobs N            threads to use, 1..256: N files at a time, and\n"
    "                          with fewer files than N the spare threads work\n"
    "                          inside each file (default: the number of\n"
    "                          processors)\n"
    "  -f, --force             rewrite outputs that already exist\n"
    "  -r, --recursive         also convert the files of sub-folders\n"
    "      --report FILE.json  write what happened to each file as JSON\n"
    "  -q, --quiet             no progress and no summary; failures only\n"
    "  -h, --help              this help\n"
    "\n"
    "Progress goes to stderr: one updating line on a terminal (count, file,\n"
    "elapsed time, ETA), one line per file otherwise.  The summary table on\n"
    "stdout lists what was done, skipped and failed, with each failure's reason.\n"
    "Ctrl-C stops cleanly: finished outputs are kept, nothing partial or\n"
    "temporary is left behind.\n"
    "\n"
    "Examples:\n"
    "  gainmap convert masters/                      every variant, into masters/converted/\n"
    "  gainmap convert -r shoot/ --to uhdr -j 4      UltraHDR JPEGs, four at a time\n"
    "  gainmap convert a.tif b.exr -o out/ --force   rewrite existing outputs\n"
    "  gainmap convert photos/ --to uhdr --report r.json\n"
    "\n"
    "Exit status: 0 every output written or already there, 5 some files or\n"
    "outputs failed, 2 misuse, 130 interrupted.\n";

/* ---- variants ---- */
typedef enum { V_HEIC_PQ_ST2084, V_HEIC_PQ_P3PQ, V_HEIC_GAINMAP, V_UHDR, V_HEIC_APPLE, V_HEIC_ISO, NVARIANTS } vid;
static const struct variant {
    const char *name, *alias, *ext;
    int heic;                        /* gainmap_heic_variant, -1 for the JPEG */
} variants[NVARIANTS] = {
    {"HDR_P3_D65_ST2084", "heic-pq", "heic", GAINMAP_HEIC_PQ_HDR_P3_D65_ST2084},
    {"P3_PQ", "heic-pq-p3", "heic", GAINMAP_HEIC_PQ_P3_PQ},
    {"HDR_gain_map", "heic", "heic", GAINMAP_HEIC_BOTH},
    {"uhdr", "jpeg", "jpg", -1},
    {"heic-apple", NULL, "heic", GAINMAP_HEIC_APPLE},
    {"heic-iso", NULL, "heic", GAINMAP_HEIC_ISO},
};

enum { ST_PENDING = 0, ST_DONE, ST_SKIPPED, ST_FAILED, ST_ABANDONED };
static const char *const status_names[] = {"not-started", "done", "skipped", "failed", "interrupted"};

typedef struct out_rec {
    int v;              /* vid */
    char *path;
    int status;
    char *reason;
    size_t bytes;
} out_rec;

typedef struct file_rec {
    char *path;         /* as found: the argument or folder/name */
    char *outdir;
    int nouts;
    out_rec outs[NVARIANTS];
    int status;         /* file level: ST_FAILED when the input itself failed */
    char *reason;
    bool started, finished;
    double seconds;
} file_rec;

typedef struct convert_state {
    file_rec *files;
    size_t nfiles, cap;
    int want[NVARIANTS], nwant;
    const char *outdir;          /* -o DIR or NULL */
    struct stat outdir_st;
    bool have_outdir_st;
    const char *report;
    bool force, recursive;
    gainmap_ctx **ctx;           /* one per worker */
    pthread_mutex_t m;           /* guards the records while workers run */
} convert_state;

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        fprintf(stderr, "gainmap: out of memory\n");
        exit(EXIT_FAIL);
    }
    return d;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) {
        fprintf(stderr, "gainmap: out of memory\n");
        exit(EXIT_FAIL);
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int parse_variants(const char *list, int want[NVARIANTS])
{
    memset(want, 0, sizeof(int) * NVARIANTS);
    int n = 0;
    char *copy = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!strcasecmp(tok, "all")) {
            for (int v = 0; v < NVARIANTS; v++)
                want[v] = 1;
            continue;
        }
        int found = -1;
        for (int v = 0; v < NVARIANTS; v++)
            if (!strcasecmp(tok, variants[v].name) || (variants[v].alias && !strcasecmp(tok, variants[v].alias)))
                found = v;
        if (!strcasecmp(tok, "uhdr.jpg"))
            found = V_UHDR;
        if (found < 0) {
            cli_usage_error("convert",
                            "option --to expects a comma-separated list of HDR_P3_D65_ST2084, P3_PQ, "
                            "HDR_gain_map, uhdr, heic-apple, heic-iso or all, not '%s'",
                            tok);
            free(copy);
            return -1;
        }
        want[found] = 1;
    }
    free(copy);
    for (int v = 0; v < NVARIANTS; v++)
        n += want[v];
    if (!n)
        cli_usage_error("convert", "option --to needs at least one variant");
    return n ? n : -1;
}

/* ---- finding the inputs ---- */

static bool is_output_dir(convert_state *s, const char *path, const char *name)
{
    if (s->outdir) {
        struct stat st;
        return s->have_outdir_st && stat(path, &st) == 0 && st.st_dev == s->outdir_st.st_dev &&
               st.st_ino == s->outdir_st.st_ino;
    }
    return strcmp(name, "converted") == 0;
}

static void add_file(convert_state *s, const char *path)
{
    if (s->nfiles == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        file_rec *f = realloc(s->files, cap * sizeof *f);
        if (!f) {
            fprintf(stderr, "gainmap: out of memory\n");
            exit(EXIT_FAIL);
        }
        s->files = f;
        s->cap = cap;
    }
    file_rec *f = &s->files[s->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void scan_dir(convert_state *s, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        add_file(s, dir);   /* fails later with the reason */
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')   /* hidden files, our own temporaries, . and .. */
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                fprintf(stderr, "gainmap: out of memory\n");
                exit(EXIT_FAIL);
            }
            names = nn;
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n; i++) {
        char *p = dl && dir[dl - 1] == '/' ? xprintf("%s%s", dir, names[i]) : xprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (s->recursive && depth < 64 && !is_output_dir(s, p, names[i]))
                scan_dir(s, p, depth + 1);
        } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (!(s->report && cli_same_file(p, s->report)))
                add_file(s, p);
        }
        free(p);
        free(names[i]);
    }
    free(names);
}

/* The folder part of a path ("." when none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xprintf("%.*s", (int)(slash - path), path);
}

static char *stem_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return xstrdup(base);
    return xprintf("%.*s", (int)(dot - base), base);
}

typedef struct out_key {
    const char *path;
    size_t file;
} out_key;

static int cmp_key(const void *a, const void *b)
{
    const out_key *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->file < y->file ? -1 : x->file > y->file);
}

static void plan(convert_state *s)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        file_rec *f = &s->files[i];
        char *dir = dir_of(f->path), *stem = stem_of(f->path);
        const char *slash = strrchr(dir, '/');
        const char *dirname = slash ? slash + 1 : dir;
        if (is_output_dir(s, dir, dirname)) {
            f->status = ST_SKIPPED;
            f->reason = xstrdup("inside an output folder");
        }
        f->outdir = s->outdir ? xstrdup(s->outdir) : xprintf("%s/converted", dir);
        for (int v = 0; v < NVARIANTS; v++) {
            if (!s->want[v])
                continue;
            out_rec *o = &f->outs[f->nouts++];
            o->v = v;
            o->path = xprintf("%s/%s_%s.%s", f->outdir, stem, variants[v].name, variants[v].ext);
        }
        free(dir);
        free(stem);
    }
    /* Two inputs with the same name (photo.tif, photo.exr) would write the
     * same outputs: the later one fails instead of replacing the other's. */
    size_t n = 0;
    for (size_t i = 0; i < s->nfiles; i++)
        n += (size_t)s->files[i].nouts;
    out_key *k = calloc(n ? n : 1, sizeof *k);
    if (!k)
        return;
    n = 0;
    for (size_t i = 0; i < s->nfiles; i++)
        for (int j = 0; j < s->files[i].nouts; j++)
            k[n++] = (out_key){s->files[i].outs[j].path, i};
    qsort(k, n, sizeof *k, cmp_key);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(k[i].path, k[i - 1].path) != 0 || k[i].file == k[i - 1].file)
            continue;
        file_rec *f = &s->files[k[i].file];
        if (f->status == ST_PENDING) {
            f->status = ST_FAILED;
            f->reason = xprintf("its outputs would have the same names as those of %s", s->files[k[i - 1].file].path);
        }
    }
    free(k);
}

/* ---- converting one file (worker thread) ---- */

typedef struct source {
    gainmap_image hdr, sdr;      /* master or decoded HDR; sdr: the original base when known */
    gainmap_file *gm;            /* gain-map input */
    bool have_hdr, tried;
    gainmap_status st;
    char *why;
} source;

static void set_out(convert_state *s, out_rec *o, int status, char *reason, size_t bytes)
{
    pthread_mutex_lock(&s->m);
    o->status = status;
    free(o->reason);
    o->reason = reason;
    o->bytes = bytes;
    pthread_mutex_unlock(&s->m);
}

static char *ctx_reason(gainmap_ctx *ctx, gainmap_status st)
{
    const char *msg = gainmap_last_error(ctx);
    return xstrdup(msg && *msg ? msg : gainmap_strerror(st));
}

/* The HDR pixels (and SDR base) for re-encoding; loaded once per file. */
static bool load_hdr(gainmap_ctx *ctx, source *src)
{
    if (src->tried)
        return src->have_hdr;
    src->tried = true;
    if (!src->gm)
        return src->have_hdr;
    gainmap_decode_options o;
    gainmap_decode_options_init(&o);
    o.headroom = 0.0;                 /* the full HDR rendition */
    o.transfer = GAINMAP_TRANSFER_PQ;
    o.primaries = GAINMAP_PRIMARIES_P3;
    gainmap_clear_error(ctx);
    src->st = gainmap_decode(ctx, src->gm, &o, &src->hdr);
    if (src->st == GAINMAP_OK) {
        o.headroom = 1.0;             /* the base, to keep its grading */
        o.transfer = GAINMAP_TRANSFER_SRGB;
        o.primaries = GAINMAP_PRIMARIES_P3;   /* what the HEIC bases need; holds sRGB too */
        src->st = gainmap_decode(ctx, src->gm, &o, &src->sdr);
    }
    if (src->st != GAINMAP_OK) {
        src->why = ctx_reason(ctx, src->st);
        gainmap_image_free(&src->hdr);
        gainmap_image_free(&src->sdr);
        return false;
    }
    src->have_hdr = true;
    return true;
}

static void convert_one(void *user, size_t job, int worker)
{
    convert_state *s = user;
    file_rec *f = &s->files[job];
    gainmap_ctx *ctx = s->ctx[worker];
    double t0 = batch_now();
    batch_job_started(job, f->path);
    pthread_mutex_lock(&s->m);
    f->started = true;
    pthread_mutex_unlock(&s->m);

    source src;
    memset(&src, 0, sizeof src);
    int pending = 0;
    char *file_error = NULL;
    if (f->status == ST_PENDING) {
        for (int i = 0; i < f->nouts; i++) {
            out_rec *o = &f->outs[i];
            if (cli_same_file(o->path, f->path))
                set_out(s, o, ST_FAILED, xstrdup("the output would overwrite the input"), 0);
            else if (!s->force && access(o->path, F_OK) == 0)
                set_out(s, o, ST_SKIPPED, xstrdup("already exists"), 0);
            else
                pending++;
        }
    }
    if (pending) {
        uint8_t head[32];
        size_t got = 0;
        FILE *fp = fopen(f->path, "rb");
        if (!fp) {
            file_error = xprintf("cannot open: %s", strerror(errno));
        } else {
            got = fread(head, 1, sizeof head, fp);
            fclose(fp);
        }
        gainmap_file_format fmt = file_error ? GAINMAP_FORMAT_AUTO : gainmap_detect_format(head, got);
        gainmap_status st = GAINMAP_OK;
        gainmap_clear_error(ctx);
        if (file_error) {
        } else if (fmt == GAINMAP_FORMAT_JPEG || fmt == GAINMAP_FORMAT_HEIF) {
            st = gainmap_file_open(ctx, f->path, &src.gm);
            if (st != GAINMAP_OK)
                file_error = ctx_reason(ctx, st);
            else if (!gainmap_file_info(src.gm)->has_gainmap)
                file_error = xprintf("a %s without a gain map is not an HDR master", fmt == GAINMAP_FORMAT_JPEG
                                                                                      ? "JPEG" : "HEIF image");
        } else if (fmt != GAINMAP_FORMAT_AUTO) {
            st = gainmap_image_read(ctx, f->path, &src.hdr);
            if (st != GAINMAP_OK) {
                file_error = ctx_reason(ctx, st);
            } else if (src.hdr.transfer != GAINMAP_TRANSFER_PQ && src.hdr.transfer != GAINMAP_TRANSFER_HLG &&
                       src.hdr.transfer != GAINMAP_TRANSFER_LINEAR) {
                file_error = xprintf("not an HDR master: %u-bit %s image (convert expects PQ or HLG PNG/TIFF, "
                                     "EXR, .hdr or PFM)",
                                     src.hdr.bit_depth, gainmap_transfer_name(src.hdr.transfer));
            } else {
                src.have_hdr = src.tried = true;
            }
        } else {
            file_error = xstrdup("not a file convert reads (TIFF, PNG, EXR, .hdr, PFM, gain-map JPEG or HEIC)");
        }
    }
    if (pending && file_error) {
        pthread_mutex_lock(&s->m);
        f->status = ST_FAILED;
        f->reason = file_error;
        for (int i = 0; i < f->nouts; i++)
            if (f->outs[i].status == ST_PENDING)
                f->outs[i].status = ST_FAILED;
        pthread_mutex_unlock(&s->m);
        pending = 0;
        file_error = NULL;
    }
    if (pending && mkdir(f->outdir, 0777) != 0 && errno != EEXIST) {
        char *why = xprintf("cannot create the folder %s: %s", f->outdir, strerror(errno));
        pthread_mutex_lock(&s->m);
        f->status = ST_FAILED;
        f->reason = why;
        for (int i = 0; i < f->nouts; i++)
            if (f->outs[i].status == ST_PENDING)
                f->outs[i].status = ST_FAILED;
        pthread_mutex_unlock(&s->m);
        pending = 0;
    }

    gainmap_encode_options eo;
    gainmap_encode_options_init(&eo);
    for (int i = 0; pending && i < f->nouts; i++) {
        out_rec *o = &f->outs[i];
        if (o->status != ST_PENDING)
            continue;
        if (batch_stopping())
            break;
        const struct variant *v = &variants[o->v];
        uint8_t *bytes = NULL;
        size_t size = 0;
        gainmap_status st = GAINMAP_OK;
        char *why = NULL;
        gainmap_clear_error(ctx);
        if (v->heic < 0 && src.gm && gainmap_file_info(src.gm)->container == GAINMAP_CONTAINER_JPEG) {
            st = gainmap_remux_jpeg(ctx, src.gm, GAINMAP_METADATA_BOTH, &bytes, &size);
        } else if (!load_hdr(ctx, &src)) {
            why = xstrdup(src.why ? src.why : "cannot decode the input");
            st = src.st ? src.st : GAINMAP_ERR_CODEC;
        } else if (v->heic < 0) {
            st = gainmap_encode_jpeg(ctx, &src.hdr, src.sdr.data ? &src.sdr : NULL, &eo, &bytes, &size);
        } else {
            st = gainmap_encode_heic(ctx, &src.hdr, src.sdr.data ? &src.sdr : NULL, &eo,
                                     (gainmap_heic_variant)v->heic, &bytes, &size);
        }
        if (st == GAINMAP_OK) {
            if (!batch_write_begin()) {
                gainmap_free(bytes);
                break;
            }
            st = gainmap_write_file(ctx, o->path, bytes, size, s->force);
            batch_write_end();
        }
        gainmap_free(bytes);
        if (st == GAINMAP_OK)
            set_out(s, o, ST_DONE, NULL, size);
        else
            set_out(s, o, ST_FAILED, why ? why : ctx_reason(ctx, st), 0);
    }
    gainmap_file_close(src.gm);
    gainmap_image_free(&src.hdr);
    gainmap_image_free(&src.sdr);
    free(src.why);
    if (batch_stopping()) {
        pthread_mutex_lock(&s->m);
        for (int i = 0; i < f->nouts; i++)
            if (f->outs[i].status == ST_PENDING)
                f->outs[i].status = ST_ABANDONED;
        pthread_mutex_unlock(&s->m);
    }

    /* Progress line for this file. */
    int nd = 0, ns = 0, nf = 0;
    pthread_mutex_lock(&s->m);
    f->seconds = batch_now() - t0;
    f->finished = true;
    for (int i = 0; i < f->nouts; i++) {
        nd += f->outs[i].status == ST_DONE;
        ns += f->outs[i].status == ST_SKIPPED;
        nf += f->outs[i].status == ST_FAILED;
    }
    char *line, *error = NULL;
    if (f->status == ST_SKIPPED) {
        line = xprintf("skipped %s (%s)", f->path, f->reason);
    } else if (f->status == ST_FAILED) {
        line = xprintf("FAILED  %s: %s", f->path, f->reason);
        error = xprintf("gainmap: %s: %s", f->path, f->reason);
    } else if (nf) {
        line = xprintf("FAILED  %s: %d written, %d skipped, %d failed (%.1f s)", f->path, nd, ns, nf, f->seconds);
        for (int i = 0; i < f->nouts; i++)
            if (f->outs[i].status == ST_FAILED) {
                error = xprintf("gainmap: %s: %s: %s", f->path, variants[f->outs[i].v].name, f->outs[i].reason);
                break;
            }
    } else if (nd == 0) {
        line = xprintf("skipped %s (%d outputs exist)", f->path, ns);
    } else {
        line = xprintf("done    %s: %d written%s (%.1f s)", f->path, nd, ns ? ", some skipped" : "", f->seconds);
    }
    pthread_mutex_unlock(&s->m);
    batch_job_finished(job, line, error);
    free(line);
    free(error);
}

/* ---- summary and report ---- */

typedef struct totals {
    size_t files_done, files_skipped, files_failed, files_left;
    size_t out_done, out_skipped, out_failed;
} totals;

/* File-level outcome: ST_DONE, ST_SKIPPED, ST_FAILED or ST_PENDING (not finished). */
static int file_outcome(const file_rec *f)
{
    if (f->status == ST_FAILED)
        return ST_FAILED;
    if (f->status == ST_SKIPPED)
        return ST_SKIPPED;
    int nd = 0, nf = 0, np = 0;
    for (int i = 0; i < f->nouts; i++) {
        nd += f->outs[i].status == ST_DONE;
        nf += f->outs[i].status == ST_FAILED;
        np += f->outs[i].status == ST_PENDING || f->outs[i].status == ST_ABANDONED;
    }
    if (nf)
        return ST_FAILED;
    if (np)
        return ST_PENDING;
    return nd ? ST_DONE : ST_SKIPPED;
}

static totals count(const convert_state *s)
{
    totals t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < s->nfiles; i++) {
        const file_rec *f = &s->files[i];
        switch (file_outcome(f)) {
        case ST_DONE: t.files_done++; break;
        case ST_SKIPPED: t.files_skipped++; break;
        case ST_FAILED: t.files_failed++; break;
        default: t.files_left++; break;
        }
        for (int j = 0; j < f->nouts; j++) {
            t.out_done += f->outs[j].status == ST_DONE;
            t.out_skipped += f->outs[j].status == ST_SKIPPED;
            t.out_failed += f->outs[j].status == ST_FAILED;
        }
    }
    return t;
}

static void print_summary(const convert_state *s, double seconds, int jobs, bool interrupted)
{
    totals t = count(s);
    if (interrupted)
        printf("Interrupted after %.1f s (-j %d): %zu file%s, %zu done, %zu skipped, %zu failed, %zu not converted\n",
               seconds, jobs, s->nfiles, s->nfiles == 1 ? "" : "s", t.files_done, t.files_skipped, t.files_failed,
               t.files_left);
    else
        printf("Converted %zu file%s in %.1f s (-j %d): %zu done, %zu skipped, %zu failed\n", s->nfiles,
               s->nfiles == 1 ? "" : "s", seconds, jobs, t.files_done, t.files_skipped, t.files_failed);
    printf("Outputs: %zu written, %zu skipped (already there), %zu failed\n", t.out_done, t.out_skipped,
           t.out_failed);
    if (!s->nfiles)
        return;
    printf("\n%-8s  %-40s  %s\n", "STATUS", "FILE", "OUTPUTS / REASON");
    for (size_t i = 0; i < s->nfiles; i++) {
        const file_rec *f = &s->files[i];
        int oc = file_outcome(f);
        const char *label = oc == ST_DONE ? "done" : oc == ST_SKIPPED ? "skipped" : oc == ST_FAILED ? "failed"
                                                                                                  : "stopped";
        if (f->status == ST_FAILED || f->status == ST_SKIPPED) {
            printf("%-8s  %-40s  %s\n", label, f->path, f->reason);
            continue;
        }
        int nd = 0, ns = 0;
        for (int j = 0; j < f->nouts; j++) {
            nd += f->outs[j].status == ST_DONE;
            ns += f->outs[j].status == ST_SKIPPED;
        }
        printf("%-8s  %-40s  %d written, %d skipped\n", label, f->path, nd, ns);
        for (int j = 0; j < f->nouts; j++)
            if (f->outs[j].status == ST_FAILED)
                printf("%-8s  %-40s    %s: %s\n", "", "", variants[f->outs[j].v].name, f->outs[j].reason);
    }
}

static void json_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

static int write_report(const convert_state *s, double seconds, int jobs, bool interrupted)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);
    if (!fp)
        return EXIT_FAIL;
    totals t = count(s);
    fprintf(fp, "{\"schema\":\"gainmap-convert/1\",\"interrupted\":%s,\"seconds\":%.3f,\"jobs\":%d,",
            interrupted ? "true" : "false", seconds, jobs);
    fprintf(fp, "\"files\":{\"total\":%zu,\"done\":%zu,\"skipped\":%zu,\"failed\":%zu,\"not_converted\":%zu},",
            s->nfiles, t.files_done, t.files_skipped, t.files_failed, t.files_left);
    fprintf(fp, "\"outputs\":{\"done\":%zu,\"skipped\":%zu,\"failed\":%zu},\"results\":[", t.out_done,
            t.out_skipped, t.out_failed);
    for (size_t i = 0; i < s->nfiles; i++) {
        const file_rec *f = &s->files[i];
        int oc = file_outcome(f);
        fprintf(fp, "%s{\"input\":", i ? "," : "");
        json_str(fp, f->path);
        fprintf(fp, ",\"status\":\"%s\"", status_names[oc]);
        if (f->reason) {
            fprintf(fp, ",\"reason\":");
            json_str(fp, f->reason);
        }
        fprintf(fp, ",\"seconds\":%.3f,\"outputs\":[", f->seconds);
        for (int j = 0; j < f->nouts; j++) {
            const out_rec *o = &f->outs[j];
            fprintf(fp, "%s{\"variant\":\"%s\",\"path\":", j ? "," : "", variants[o->v].name);
            json_str(fp, o->path);
            fprintf(fp, ",\"status\":\"%s\"", status_names[o->status]);
            if (o->status == ST_DONE)
                fprintf(fp, ",\"bytes\":%zu", o->bytes);
            if (o->reason && o->status == ST_FAILED) {
                fprintf(fp, ",\"reason\":");
                json_str(fp, o->reason);
            }
            fputc('}', fp);
        }
        fprintf(fp, "]}");
    }
    fprintf(fp, "]}\n");
    fclose(fp);
    gainmap_ctx *ctx = cli_ctx_new();
    gainmap_status st = gainmap_write_file(ctx, s->report, (const uint8_t *)buf, size, 1);
    int rc = st == GAINMAP_OK ? EXIT_OK : cli_fail(s->report, ctx, st);
    gainmap_ctx_free(ctx);
    free(buf);
    return rc;
}

static int run(int argc, char **argv)
{
    enum { O_REPORT = 256 };
    static const struct option longopts[] = {
        {"to", required_argument, 0, 't'},      {"output", required_argument, 0, 'o'},
        {"jobs", required_argument, 0, 'j'},    {"force", no_argument, 0, 'f'},
        {"recursive", no_argument, 0, 'r'},     {"report", required_argument, 0, O_REPORT},
        {"quiet", no_argument, 0, 'q'},         {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    const char *cmd = "convert";
    convert_state s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.m, NULL);
    s.nwant = parse_variants("HDR_P3_D65_ST2084,P3_PQ,HDR_gain_map,uhdr", s.want);
    long jobs = batch_cpu_count();
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:o:j:frqvh", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((s.nwant = parse_variants(optarg, s.want)) < 0)
                return EXIT_USAGE;
            break;
        case 'o': s.outdir = optarg; break;
        case 'j':
            if (!cli_parse_int(cmd, "--jobs", optarg, 1, 256, &jobs))
                return EXIT_USAGE;
            break;
        case 'f': s.force = true; break;
        case 'r': s.recursive = true; break;
        case O_REPORT: s.report = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'v': cli_verbose = 1; break;
        case 'h': return cli_print_help(&cli_cmd_convert, stdout);
        case ':': return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expects at least one file or folder to convert");
    if (s.report) {
        const char *dot = strrchr(s.report, '.');
        if (!dot || strcasecmp(dot, ".json") != 0)
            return cli_usage_error(cmd, "option --report expects a file name ending in .json, not '%s'", s.report);
    }
    if (s.outdir) {
        if (mkdir(s.outdir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "gainmap: %s: cannot create the output folder: %s\n", s.outdir, strerror(errno));
            return EXIT_FAIL;
        }
        if (stat(s.outdir, &s.outdir_st) != 0 || !S_ISDIR(s.outdir_st.st_mode))
            return cli_usage_error(cmd, "option --output expects a folder, and '%s' is not one", s.outdir);
        s.have_outdir_st = true;
    }
    for (int i = optind; i < argc; i++) {
        struct stat st;
        const char *slash = strrchr(argv[i], '/');
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            /* a folder given by name is scanned even if it is called "converted",
             * unless it is the -o folder */
            if (s.outdir && is_output_dir(&s, argv[i], slash ? slash + 1 : argv[i]))
                cli_note("gainmap: %s: skipped, it is the output folder\n", argv[i]);
            else
                scan_dir(&s, argv[i], 0);
        } else {
            add_file(&s, argv[i]);
        }
    }
    /* The same file named twice (a folder and a file in it) is converted once. */
    for (size_t i = 0; i < s.nfiles; i++)
        for (size_t j = i + 1; j < s.nfiles; j++)
            if (cli_same_file(s.files[i].path, s.files[j].path)) {
                free(s.files[j].path);
                memmove(&s.files[j], &s.files[j + 1], (s.nfiles - j - 1) * sizeof *s.files);
                s.nfiles--;
                j--;
            }
    plan(&s);

    int workers = (int)jobs;
    if ((size_t)workers > s.nfiles)
        workers = s.nfiles ? (int)s.nfiles : 1;
    /* -j N is the whole processor budget: N files at a time, or fewer files
     * with the spare threads working inside each file. */
    int budget = (int)jobs;
    s.ctx = calloc((size_t)workers, sizeof *s.ctx);
    if (!s.ctx) {
        fprintf(stderr, "gainmap: out of memory\n");
        return EXIT_FAIL;
    }
    for (int w = 0; w < workers; w++) {
        s.ctx[w] = cli_ctx_new();
        gainmap_set_option(s.ctx[w], GAINMAP_OPT_THREADS, budget / workers > 1 ? budget / workers : 1);
    }
    batch_progress mode = cli_quiet ? BATCH_PROGRESS_NONE
                                    : isatty(STDERR_FILENO) ? BATCH_PROGRESS_LINE : BATCH_PROGRESS_PLAIN;
    double t0 = batch_now();
    bool complete = batch_run(convert_one, &s, s.nfiles, workers, mode);
    double seconds = batch_now() - t0;

    int rc;
    if (!complete) {
        /* Workers may still be busy: read the records under the lock and
         * leave with _exit (the gate keeps every further write out). */
        pthread_mutex_lock(&s.m);
        if (!cli_quiet)
            print_summary(&s, seconds, workers, true);
        if (s.report)
            write_report(&s, seconds, workers, true);
        fflush(stdout);
        fflush(stderr);
        _exit(EXIT_INTERRUPTED);
    }
    if (!cli_quiet)
        print_summary(&s, seconds, workers, false);
    totals t = count(&s);
    rc = t.files_failed || t.out_failed ? EXIT_PARTIAL : EXIT_OK;
    if (s.report && write_report(&s, seconds, workers, false) != EXIT_OK)
        rc = EXIT_PARTIAL;

    for (int w = 0; w < workers; w++)
        gainmap_ctx_free(s.ctx[w]);
    free(s.ctx);
    for (size_t i = 0; i < s.nfiles; i++) {
        file_rec *f = &s.files[i];
        free(f->path);
        free(f->outdir);
        free(f->reason);
        for (int j = 0; j < f->nouts; j++) {
            free(f->outs[j].path);
            free(f->outs[j].reason);
        }
    }
    free(s.files);
    pthread_mutex_destroy(&s.m);
    return rc;
}

const cli_command cli_cmd_convert = {
    "convert",
    "batch: files and folders -> HEIC variants and UltraHDR JPEG, in parallel",
    usage,
    run,
};

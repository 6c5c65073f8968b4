/* cube.c - Adobe/Resolve .cube LUTs: parser (1D and 3D, TITLE, DOMAIN_MIN/MAX,
 * LUT_*_INPUT_RANGE, comments; red varies fastest) and tetrahedral
 * interpolation.  Untrusted text: every line is bounded, sizes are checked
 * before anything is allocated, errors name the line. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CUBE_MAX_1D 65536
#define CUBE_MAX_3D 256
#define CUBE_LINE_MAX 1024

struct gainmap_lut {
    int dim;            /* 1 or 3 */
    uint32_t size;      /* entries per axis */
    float dmin[3], dmax[3];
    float *data;        /* size (1D) or size^3 (3D) RGB triples, red fastest */
};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Parse up to n numbers from s; returns how many, -1 on a malformed or
 * non-finite token. */
static int parse_numbers(const char *s, double *v, int n)
{
    int k = 0;
    for (;;) {
        while (is_space(*s))
            s++;
        if (!*s)
            return k;
        if (k == n)
            return n + 1;
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || (*end && !is_space(*end)) || !isfinite(d))
            return -1;
        v[k++] = d;
        s = end;
    }
}

static bool keyword(const char *line, const char *kw, const char **rest)
{
    size_t n = strlen(kw);
    if (strncmp(line, kw, n) != 0 || (line[n] && !is_space(line[n])))
        return false;
    *rest = line + n;
    return true;
}

gainmap_status gainmap_lut_parse(gainmap_ctx *ctx, const char *text, size_t size, gainmap_lut **out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_lut_parse needs an output pointer");
    *out = NULL;
    if (!text && size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_lut_parse got no text");
    gainmap_lut lut = {0, 0, {0, 0, 0}, {1, 1, 1}, NULL};
    size_t expected = 0, count = 0;
    char line[CUBE_LINE_MAX + 1];
    size_t pos = 0;
    unsigned lineno = 0;
    gainmap_status st = GAINMAP_OK;
    while (pos < size) {
        lineno++;
        size_t start = pos;
        while (pos < size && text[pos] != '\n')
            pos++;
        size_t len = pos - start;
        if (pos < size)
            pos++;   /* the newline */
        if (len > CUBE_LINE_MAX) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: longer than %d characters", lineno, CUBE_LINE_MAX);
            goto fail;
        }
        memcpy(line, text + start, len);
        line[len] = 0;
        if (memchr(line, 0, len)) {
            st = gm_error(ctx, GAINMAP_ERR_FORMAT, "line %u: a NUL byte (not a text .cube file)", lineno);
            goto fail;
        }
        char *p = line;
        while (is_space(*p))
            p++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        if (!*p)
            continue;
        const char *rest;
        double v[3];
        int n;
        if (keyword(p, "TITLE", &rest)) {
            if (lut.data) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: TITLE after the table started", lineno);
                goto fail;
            }
            continue;   /* free text, possibly quoted; not needed */
        }
        bool is1 = keyword(p, "LUT_1D_SIZE", &rest), is3 = !is1 && keyword(p, "LUT_3D_SIZE", &rest);
        if (is1 || is3) {
            if (lut.dim) {
                st = gm_error(ctx, lut.dim == (is1 ? 1 : 3) ? GAINMAP_ERR_CORRUPT : GAINMAP_ERR_UNSUPPORTED,
                              "line %u: %s", lineno,
                              lut.dim == (is1 ? 1 : 3) ? "a second LUT size"
                                                       : "both LUT_1D_SIZE and LUT_3D_SIZE (shaper + cube) are not "
                                                         "supported");
                goto fail;
            }
            n = parse_numbers(rest, v, 1);
            uint32_t max = is1 ? CUBE_MAX_1D : CUBE_MAX_3D;
            if (n != 1 || v[0] != floor(v[0]) || v[0] < 2 || v[0] > max) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: %s expects a whole number from 2 to %u", lineno,
                              is1 ? "LUT_1D_SIZE" : "LUT_3D_SIZE", (unsigned)max);
                goto fail;
            }
            lut.dim = is1 ? 1 : 3;
            lut.size = (uint32_t)v[0];
            expected = is1 ? lut.size : (size_t)lut.size * lut.size * lut.size;
            size_t bytes;
            if (!gm_mul_size(expected, 3 * sizeof(float), &bytes)) {
                st = gm_error(ctx, GAINMAP_ERR_LIMIT, "line %u: the LUT is too large", lineno);
                goto fail;
            }
            if (!(lut.data = gm_malloc(ctx, bytes))) {
                st = GAINMAP_ERR_NOMEM;
                goto fail;
            }
            continue;
        }
        bool dmin = keyword(p, "DOMAIN_MIN", &rest), dmax = !dmin && keyword(p, "DOMAIN_MAX", &rest);
        if (dmin || dmax) {
            if ((n = parse_numbers(rest, v, 3)) != 3) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: %s expects 3 numbers", lineno,
                              dmin ? "DOMAIN_MIN" : "DOMAIN_MAX");
                goto fail;
            }
            for (int c = 0; c < 3; c++)
                (dmin ? lut.dmin : lut.dmax)[c] = (float)v[c];
            continue;
        }
        if (keyword(p, "LUT_1D_INPUT_RANGE", &rest) || keyword(p, "LUT_3D_INPUT_RANGE", &rest)) {
            if ((n = parse_numbers(rest, v, 2)) != 2) {
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: the input range expects 2 numbers", lineno);
                goto fail;
            }
            for (int c = 0; c < 3; c++) {
                lut.dmin[c] = (float)v[0];
                lut.dmax[c] = (float)v[1];
            }
            continue;
        }
        char *num_end;
        (void)strtod(p, &num_end);
        if (((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) && num_end == p) {
            size_t k = 0;
            while (p[k] && !is_space(p[k]) && k < 40)
                k++;
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: unknown keyword %.*s", lineno, (int)k, p);
            goto fail;
        }
        /* a table row */
        if (!lut.dim) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: table data before LUT_1D_SIZE or LUT_3D_SIZE", lineno);
            goto fail;
        }
        n = parse_numbers(p, v, 3);
        if (n != 3) {
            if (n < 0)
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: not a finite number", lineno);
            else if (n > 3)
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: expected 3 numbers, found more", lineno);
            else
                st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: expected 3 numbers, found %d", lineno, n);
            goto fail;
        }
        if (count == expected) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "line %u: more than the %zu entries the size allows", lineno,
                          expected);
            goto fail;
        }
        for (int c = 0; c < 3; c++)
            lut.data[3 * count + c] = (float)v[c];
        count++;
    }
    if (!lut.dim) {
        st = gm_error(ctx, GAINMAP_ERR_FORMAT, "no LUT_1D_SIZE or LUT_3D_SIZE line (not a .cube LUT)");
        goto fail;
    }
    if (count != expected) {
        st = gm_error(ctx, GAINMAP_ERR_TRUNCATED, "the LUT has %zu entries but LUT_%dD_SIZE %u needs %zu", count,
                      lut.dim, (unsigned)lut.size, expected);
        goto fail;
    }
    for (int c = 0; c < 3; c++)
        if (!(lut.dmax[c] > lut.dmin[c])) {
            st = gm_error(ctx, GAINMAP_ERR_CORRUPT, "DOMAIN_MAX must exceed DOMAIN_MIN in every channel");
            goto fail;
        }
    if (!(*out = gm_malloc(ctx, sizeof **out))) {
        st = GAINMAP_ERR_NOMEM;
        goto fail;
    }
    **out = lut;
    return GAINMAP_OK;
fail:
    free(lut.data);
    return st;
}

gainmap_status gainmap_lut_load(gainmap_ctx *ctx, const char *path, gainmap_lut **out)
{
    if (!out)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "gainmap_lut_load needs an output pointer");
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    gainmap_status st = gainmap_read_file(ctx, path, &data, &size);
    if (st != GAINMAP_OK)
        return st;
    st = gainmap_lut_parse(ctx, (const char *)data, size, out);
    free(data);
    return st;
}

void gainmap_lut_free(gainmap_lut *lut)
{
    if (!lut)
        return;
    free(lut->data);
    free(lut);
}

/* Position of v on an axis of n entries: index i and fraction f. */
static inline void axis(float v, float lo, float hi, uint32_t n, uint32_t *i, float *f)
{
    float t = (v - lo) / (hi - lo) * (float)(n - 1);
    if (!(t > 0.0f))   /* also NaN */
        t = 0.0f;
    if (t >= (float)(n - 1)) {
        *i = n - 2;
        *f = 1.0f;
        return;
    }
    *i = (uint32_t)t;
    *f = t - (float)*i;
}

void gainmap_lut_apply(const gainmap_lut *lut, const float in[3], float out[3])
{
    if (lut->dim == 1) {
        for (int c = 0; c < 3; c++) {
            uint32_t i;
            float f;
            axis(in[c], lut->dmin[c], lut->dmax[c], lut->size, &i, &f);
            out[c] = lut->data[3 * i + c] + f * (lut->data[3 * (i + 1) + c] - lut->data[3 * i + c]);
        }
        return;
    }
    uint32_t n = lut->size, ir, ig, ib;
    float fr, fg, fb;
    axis(in[0], lut->dmin[0], lut->dmax[0], n, &ir, &fr);
    axis(in[1], lut->dmin[1], lut->dmax[1], n, &ig, &fg);
    axis(in[2], lut->dmin[2], lut->dmax[2], n, &ib, &fb);
    /* strides of the red-fastest table, in floats */
    size_t sr = 3, sg = 3 * (size_t)n, sb = 3 * (size_t)n * n;
    const float *c000 = lut->data + ir * sr + ig * sg + ib * sb;
    const float *c111 = c000 + sr + sg + sb;
    /* tetrahedral: walk from c000 to c111 along the axes in order of the
     * largest fraction first (six tetrahedra of the cell) */
    const float *a, *b;
    float w0, w1, w2, w3;
    if (fr >= fg) {
        if (fg >= fb) {        /* r > g > b */
            a = c000 + sr; b = c000 + sr + sg;
            w0 = 1 - fr; w1 = fr - fg; w2 = fg - fb; w3 = fb;
        } else if (fr >= fb) { /* r > b > g */
            a = c000 + sr; b = c000 + sr + sb;
            w0 = 1 - fr; w1 = fr - fb; w2 = fb - fg; w3 = fg;
        } else {               /* b > r > g */
            a = c000 + sb; b = c000 + sr + sb;
            w0 = 1 - fb; w1 = fb - fr; w2 = fr - fg; w3 = fg;
        }
    } else {
        if (fb >= fg) {        /* b > g > r */
            a = c000 + sb; b = c000 + sg + sb;
            w0 = 1 - fb; w1 = fb - fg; w2 = fg - fr; w3 = fr;
        } else if (fb >= fr) { /* g > b > r */
            a = c000 + sg; b = c000 + sg + sb;
            w0 = 1 - fg; w1 = fg - fb; w2 = fb - fr; w3 = fr;
        } else {               /* g > r > b */
            a = c000 + sg; b = c000 + sr + sg;
            w0 = 1 - fg; w1 = fg - fr; w2 = fr - fb; w3 = fb;
        }
    }
    for (int c = 0; c < 3; c++)
        out[c] = w0 * c000[c] + w1 * a[c] + w2 * b[c] + w3 * c111[c];
}

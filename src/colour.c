/* colour.c - primaries, RGB<->XYZ and gamut matrices, luminance weights.
 * Matrices are computed from the chromaticities in double precision
 * (FORMATS.md 6.4/6.5 lists the expected values). */
#include "internal.h"

#include <math.h>
#include <string.h>

static const double xy_table[][8] = {
    /* R x, y      G x, y      B x, y      white (D65) */
    {0.640, 0.330, 0.300, 0.600, 0.150, 0.060, 0.3127, 0.3290},  /* BT.709 */
    {0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290},  /* Display P3 */
    {0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290},  /* BT.2020 */
};

static int table_index(gainmap_primaries p)
{
    switch (p) {
    case GAINMAP_PRIMARIES_BT709: return 0;
    case GAINMAP_PRIMARIES_P3: return 1;
    case GAINMAP_PRIMARIES_BT2020: return 2;
    case GAINMAP_PRIMARIES_UNKNOWN: break;
    }
    return -1;
}

int gainmap_primaries_xy(gainmap_primaries p, double xy[8])
{
    int i = table_index(p);
    if (i < 0)
        return -1;
    memcpy(xy, xy_table[i], sizeof xy_table[i]);
    return 0;
}

static double det3(const double m[9])
{
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

static int invert3(const double m[9], double out[9])
{
    double d = det3(m);
    if (d == 0.0)
        return -1;
    double r[9] = {
        m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
    };
    for (int i = 0; i < 9; i++)
        out[i] = r[i] / d;
    return 0;
}

static void mul3(const double a[9], const double b[9], double out[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(out, r, sizeof r);
}

int gainmap_rgb_to_xyz(gainmap_primaries p, double m[9])
{
    double xy[8];
    if (gainmap_primaries_xy(p, xy) != 0)
        return -1;
    /* columns: XYZ of each primary with Y = 1, scaled so that R+G+B = white */
    double prim[9];
    for (int c = 0; c < 3; c++) {
        double x = xy[2 * c], y = xy[2 * c + 1];
        prim[0 * 3 + c] = x / y;
        prim[1 * 3 + c] = 1.0;
        prim[2 * 3 + c] = (1.0 - x - y) / y;
    }
    double wx = xy[6], wy = xy[7];
    double white[3] = {wx / wy, 1.0, (1.0 - wx - wy) / wy};
    double inv[9];
    if (invert3(prim, inv) != 0)
        return -1;
    double s[3];
    for (int i = 0; i < 3; i++)
        s[i] = inv[i * 3] * white[0] + inv[i * 3 + 1] * white[1] + inv[i * 3 + 2] * white[2];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            m[r * 3 + c] = prim[r * 3 + c] * s[c];
    return 0;
}

int gainmap_xyz_to_rgb(gainmap_primaries p, double m[9])
{
    double f[9];
    if (gainmap_rgb_to_xyz(p, f) != 0)
        return -1;
    return invert3(f, m);
}

int gainmap_gamut_matrix(gainmap_primaries src, gainmap_primaries dst, double m[9])
{
    if (src == dst && table_index(src) >= 0) {
        static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(m, id, sizeof id);
        return 0;
    }
    double a[9], b[9];
    if (gainmap_rgb_to_xyz(src, a) != 0 || gainmap_xyz_to_rgb(dst, b) != 0)
        return -1;
    mul3(b, a, m);
    return 0;
}

int gainmap_luma_weights(gainmap_primaries p, double w[3])
{
    double m[9];
    if (gainmap_rgb_to_xyz(p, m) != 0)
        return -1;
    w[0] = m[3];
    w[1] = m[4];
    w[2] = m[5];
    return 0;
}

static const struct {
    gainmap_primaries p;
    const char *name;
    int cicp;
} prims[] = {
    {GAINMAP_PRIMARIES_BT709, "srgb", 1},
    {GAINMAP_PRIMARIES_P3, "p3", 12},
    {GAINMAP_PRIMARIES_BT2020, "bt2020", 9},
};

const char *gainmap_primaries_name(gainmap_primaries p)
{
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i].p == p)
            return prims[i].name;
    return "unknown";
}

gainmap_primaries gainmap_primaries_from_name(const char *name)
{
    if (!name)
        return GAINMAP_PRIMARIES_UNKNOWN;
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (!strcmp(prims[i].name, name))
            return prims[i].p;
    if (!strcmp(name, "bt709") || !strcmp(name, "rec709"))
        return GAINMAP_PRIMARIES_BT709;
    if (!strcmp(name, "display-p3") || !strcmp(name, "p3d65"))
        return GAINMAP_PRIMARIES_P3;
    if (!strcmp(name, "rec2020") || !strcmp(name, "bt2100"))
        return GAINMAP_PRIMARIES_BT2020;
    return GAINMAP_PRIMARIES_UNKNOWN;
}

gainmap_primaries gainmap_primaries_from_cicp(int cp)
{
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i].cicp == cp)
            return prims[i].p;
    return GAINMAP_PRIMARIES_UNKNOWN;
}

int gainmap_primaries_to_cicp(gainmap_primaries p)
{
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i].p == p)
            return prims[i].cicp;
    return 0;   /* header contract: 0 when not representable */
}

/* ------------------------------------------------------------------ */
/* Internal helpers: 3x3 maths, Oklab, ICtCp (internal.h, "colour.c")  */
/* ------------------------------------------------------------------ */
void gm_mat3_mul(const double a[9], const double b[9], double out[9]) { mul3(a, b, out); }
int gm_mat3_invert(const double m[9], double out[9]) { return invert3(m, out); }

/* Oklab (B. Ottosson 2020): XYZ (D65, Y = 1 white) -> LMS -> cube root -> Lab. */
static const double OK_M1[9] = {0.8189330101, 0.3618667424, -0.1288597137, 0.0329845436, 0.9293118715,
                                0.0361456387, 0.0482003018, 0.2643662691, 0.6338517070};
static const double OK_M2[9] = {0.2104542553, 0.7936177850,  -0.0040720468, 1.9779984951, -2.4285922050,
                                0.4505937099, 0.0259040371, 0.7827717662, -0.8086757660};

int gm_oklab_matrix(gainmap_primaries p, double rgb_to_lms[9])
{
    double m[9];
    if (gainmap_rgb_to_xyz(p, m) != 0)
        return -1;
    mul3(OK_M1, m, rgb_to_lms);
    return 0;
}

void gm_oklab_from_lms(const double lms[3], double lab[3])
{
    double c[3];
    for (int i = 0; i < 3; i++)
        c[i] = cbrt(lms[i]);
    gm_mat3_apply(OK_M2, c, lab);
}

void gm_oklab_to_lms_cbrt(const double lab[3], double lms_cbrt[3])
{
    /* inverse of OK_M2 (Ottosson's published coefficients) */
    lms_cbrt[0] = lab[0] + 0.3963377774 * lab[1] + 0.2158037573 * lab[2];
    lms_cbrt[1] = lab[0] - 0.1055613458 * lab[1] - 0.0638541728 * lab[2];
    lms_cbrt[2] = lab[0] - 0.0894841775 * lab[1] - 1.2914855480 * lab[2];
}

int gm_oklab_from_linear(gainmap_primaries p, const double rgb[3], double lab[3])
{
    double m[9], lms[3];
    if (gm_oklab_matrix(p, m) != 0)
        return -1;
    gm_mat3_apply(m, rgb, lms);
    gm_oklab_from_lms(lms, lab);
    return 0;
}

/* ICtCp (BT.2100): BT.2020 linear -> LMS -> PQ -> ICtCp. */
int gm_ictcp_from_linear(gainmap_primaries p, const double rgb[3], double nits_per_unit, double itp[3])
{
    static const double LMS[9] = {1688 / 4096.0, 2146 / 4096.0, 262 / 4096.0, 683 / 4096.0, 2951 / 4096.0,
                                  462 / 4096.0,  99 / 4096.0,   309 / 4096.0, 3688 / 4096.0};
    static const double ICTCP[9] = {0.5,           0.5,            0.0,          6610 / 4096.0, -13613 / 4096.0,
                                    7003 / 4096.0, 17933 / 4096.0, -17390 / 4096.0, -543 / 4096.0};
    double m[9], v[3], lms[3];
    if (gainmap_gamut_matrix(p, GAINMAP_PRIMARIES_BT2020, m) != 0)
        return -1;
    gm_mat3_apply(m, rgb, v);
    gm_mat3_apply(LMS, v, lms);
    for (int i = 0; i < 3; i++)
        lms[i] = gainmap_pq_inverse_eotf(lms[i] * nits_per_unit);
    gm_mat3_apply(ICTCP, lms, itp);
    return 0;
}

double gm_delta_e_itp(const double a[3], const double b[3])
{
    /* ITU-R BT.2124: T = 0.5 Ct */
    double di = a[0] - b[0], dt = 0.5 * (a[1] - b[1]), dp = a[2] - b[2];
    return 720.0 * sqrt(di * di + dt * dt + dp * dp);
}

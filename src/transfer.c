/* transfer.c - transfer functions: PQ (SMPTE ST 2084), HLG (BT.2100), sRGB,
 * BT.709, pure gamma.  Constants: FORMATS.md section 6. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define PQ_M1 (2610.0 / 16384.0)
#define PQ_M2 (2523.0 / 4096.0 * 128.0)
#define PQ_C1 (3424.0 / 4096.0)
#define PQ_C2 (2413.0 / 4096.0 * 32.0)
#define PQ_C3 (2392.0 / 4096.0 * 32.0)

#define HLG_A 0.17883277
#define HLG_B 0.28466892   /* 1 - 4a */
#define HLG_C 0.55991073   /* 0.5 - a ln(4a) */

#define HLG_NOMINAL_PEAK 1000.0

double gainmap_pq_eotf(double e)
{
    if (!(e > 0.0))
        return 0.0;
    if (e > 1.0)
        e = 1.0;
    double p = pow(e, 1.0 / PQ_M2);
    double num = p - PQ_C1;
    if (num < 0.0)
        num = 0.0;
    return 10000.0 * pow(num / (PQ_C2 - PQ_C3 * p), 1.0 / PQ_M1);
}

double gainmap_pq_inverse_eotf(double nits)
{
    if (!(nits > 0.0))
        return pow(PQ_C1, PQ_M2);   /* signal of 0 nits: c1^m2 ~ 7.3e-7 */
    double y = nits / 10000.0;
    if (y > 1.0)
        y = 1.0;
    double p = pow(y, PQ_M1);
    return pow((PQ_C1 + PQ_C2 * p) / (1.0 + PQ_C3 * p), PQ_M2);
}

double gainmap_hlg_oetf(double e)
{
    if (!(e > 0.0))
        return 0.0;
    if (e <= 1.0 / 12.0)
        return sqrt(3.0 * e);
    return HLG_A * log(12.0 * e - HLG_B) + HLG_C;
}

double gainmap_hlg_inverse_oetf(double s)
{
    if (!(s > 0.0))
        return 0.0;
    if (s <= 0.5)
        return s * s / 3.0;
    return (exp((s - HLG_C) / HLG_A) + HLG_B) / 12.0;
}

double gainmap_hlg_system_gamma(double peak_nits)
{
    if (!(peak_nits > 0.0))
        peak_nits = HLG_NOMINAL_PEAK;
    return 1.2 + 0.42 * log10(peak_nits / 1000.0);
}

/* BT.2100 HLG OOTF: F_D = alpha * Y_S^(gamma-1) * E, with BT.2020 luminance. */
void gainmap_hlg_ootf(const double scene[3], double peak_nits, double out[3])
{
    double g = gainmap_hlg_system_gamma(peak_nits);
    double ys = 0.2627 * scene[0] + 0.6780 * scene[1] + 0.0593 * scene[2];
    double k = ys > 0.0 ? peak_nits * pow(ys, g - 1.0) : 0.0;
    for (int i = 0; i < 3; i++)
        out[i] = k * scene[i];
}

void gainmap_hlg_inverse_ootf(const double disp[3], double peak_nits, double out[3])
{
    double g = gainmap_hlg_system_gamma(peak_nits);
    double yd = 0.2627 * disp[0] + 0.6780 * disp[1] + 0.0593 * disp[2];
    if (!(yd > 0.0)) {
        out[0] = out[1] = out[2] = 0.0;
        return;
    }
    double ys = pow(yd / peak_nits, 1.0 / g);
    double k = 1.0 / (peak_nits * pow(ys, g - 1.0));
    for (int i = 0; i < 3; i++)
        out[i] = disp[i] * k;
}

double gainmap_srgb_to_linear(double v)
{
    if (v <= 0.04045)
        return v / 12.92;
    return pow((v + 0.055) / 1.055, 2.4);
}

double gainmap_srgb_from_linear(double l)
{
    if (l <= 0.0031308)
        return 12.92 * l;
    return 1.055 * pow(l, 1.0 / 2.4) - 0.055;
}

/* BT.709 / BT.2020 OETF with the unrounded constants of BT.2020 Table 4
 * (alpha = 1.0993, beta = 0.0181 rounded): with the rounded 1.099/0.018 the
 * two segments do not meet (0.0810 vs 0.0812 at L = 0.018), so signals in
 * that gap would not round-trip.  Values differ from the rounded curve by
 * less than 2e-4. */
#define BT709_ALPHA 1.09929682680944
#define BT709_BETA 0.018053968510807

double gainmap_bt709_to_linear(double v)
{
    if (v < 4.5 * BT709_BETA)
        return v / 4.5;
    return pow((v + (BT709_ALPHA - 1.0)) / BT709_ALPHA, 1.0 / 0.45);
}

double gainmap_bt709_from_linear(double l)
{
    if (l < BT709_BETA)
        return 4.5 * l;
    return BT709_ALPHA * pow(l, 0.45) - (BT709_ALPHA - 1.0);
}

static double spow(double v, double e) { return v > 0.0 ? pow(v, e) : 0.0; }

double gainmap_to_linear(gainmap_transfer tf, double s)
{
    switch (tf) {
    case GAINMAP_TRANSFER_PQ: return gainmap_pq_eotf(s) / GM_SDR_WHITE_NITS;
    case GAINMAP_TRANSFER_HLG:
        /* achromatic HLG EOTF on a 1000-nit display: 1000 * E^1.2 */
        return HLG_NOMINAL_PEAK * spow(gainmap_hlg_inverse_oetf(s), 1.2) / GM_SDR_WHITE_NITS;
    case GAINMAP_TRANSFER_SRGB: return gainmap_srgb_to_linear(s);
    case GAINMAP_TRANSFER_BT709: return gainmap_bt709_to_linear(s);
    case GAINMAP_TRANSFER_GAMMA22: return spow(s, 2.2);
    case GAINMAP_TRANSFER_GAMMA24: return spow(s, 2.4);
    case GAINMAP_TRANSFER_LINEAR:
    case GAINMAP_TRANSFER_UNKNOWN: return s;
    }
    return s;
}

double gainmap_from_linear(gainmap_transfer tf, double l)
{
    switch (tf) {
    case GAINMAP_TRANSFER_PQ: return gainmap_pq_inverse_eotf(l * GM_SDR_WHITE_NITS);
    case GAINMAP_TRANSFER_HLG:
        return gainmap_hlg_oetf(spow(l * GM_SDR_WHITE_NITS / HLG_NOMINAL_PEAK, 1.0 / 1.2));
    case GAINMAP_TRANSFER_SRGB: return gainmap_srgb_from_linear(l);
    case GAINMAP_TRANSFER_BT709: return gainmap_bt709_from_linear(l);
    case GAINMAP_TRANSFER_GAMMA22: return spow(l, 1.0 / 2.2);
    case GAINMAP_TRANSFER_GAMMA24: return spow(l, 1.0 / 2.4);
    case GAINMAP_TRANSFER_LINEAR:
    case GAINMAP_TRANSFER_UNKNOWN: return l;
    }
    return l;
}

static const struct {
    gainmap_transfer tf;
    const char *name;
    int cicp;
} transfers[] = {
    {GAINMAP_TRANSFER_PQ, "pq", 16},       {GAINMAP_TRANSFER_HLG, "hlg", 18},
    {GAINMAP_TRANSFER_SRGB, "srgb", 13},   {GAINMAP_TRANSFER_LINEAR, "linear", 8},
    {GAINMAP_TRANSFER_GAMMA22, "gamma2.2", 4}, {GAINMAP_TRANSFER_GAMMA24, "gamma2.4", 0},
    {GAINMAP_TRANSFER_BT709, "bt709", 1},
};

const char *gainmap_transfer_name(gainmap_transfer tf)
{
    for (size_t i = 0; i < sizeof transfers / sizeof transfers[0]; i++)
        if (transfers[i].tf == tf)
            return transfers[i].name;
    return "unknown";
}

gainmap_transfer gainmap_transfer_from_name(const char *name)
{
    if (!name)
        return GAINMAP_TRANSFER_UNKNOWN;
    for (size_t i = 0; i < sizeof transfers / sizeof transfers[0]; i++)
        if (!strcmp(transfers[i].name, name))
            return transfers[i].tf;
    if (!strcmp(name, "st2084"))
        return GAINMAP_TRANSFER_PQ;
    if (!strcmp(name, "gamma22") || !strcmp(name, "2.2"))
        return GAINMAP_TRANSFER_GAMMA22;
    if (!strcmp(name, "gamma24") || !strcmp(name, "2.4"))
        return GAINMAP_TRANSFER_GAMMA24;
    return GAINMAP_TRANSFER_UNKNOWN;
}

gainmap_transfer gainmap_transfer_from_cicp(int tc)
{
    switch (tc) {
    case 1: case 6: case 14: case 15: return GAINMAP_TRANSFER_BT709;
    case 4: return GAINMAP_TRANSFER_GAMMA22;
    case 8: return GAINMAP_TRANSFER_LINEAR;
    case 13: return GAINMAP_TRANSFER_SRGB;
    case 16: return GAINMAP_TRANSFER_PQ;
    case 18: return GAINMAP_TRANSFER_HLG;
    }
    return GAINMAP_TRANSFER_UNKNOWN;
}

int gainmap_transfer_to_cicp(gainmap_transfer tf)
{
    for (size_t i = 0; i < sizeof transfers / sizeof transfers[0]; i++)
        if (transfers[i].tf == tf)
            return transfers[i].cicp;
    return 0;
}

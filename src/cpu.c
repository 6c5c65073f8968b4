/* cpu.c - which optional instruction sets the kernels may use (issue 8).
 *
 * The AVX2 kernels compute exactly what the SSE2 ones do (same operations,
 * same order, no FMA contraction), so a file encodes to the same bytes on
 * every x86-64 machine; they only take fewer instructions.  Tests switch
 * the AVX2 kernels off to compare the two paths; GAINMAP_NO_AVX2=1 in the
 * environment does the same for a whole process (benchmarks, bug reports). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int avx2_off;   /* set by tests only, before any work starts */

bool gm_cpu_avx2(void)
{
#if GM_HAVE_AVX2_TARGET
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        const char *no = getenv("GAINMAP_NO_AVX2");
        h = __builtin_cpu_supports("avx2") && !(no && *no && strcmp(no, "0") != 0) ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h && !avx2_off;
#else
    return false;
#endif
}

void gm_cpu_avx2_disable(bool off) { avx2_off = off; }

const char *gainmap_cpu_kernels(void)
{
#ifdef __SSE2__
    return gm_cpu_avx2() ? "avx2" : "sse2";
#else
    return "portable";
#endif
}

/* cpu.c - which optional instruction sets the kernels may use (issue 8).
 *
 * The AVX2 kernels compute exactly what the SSE2 ones do (same operations,
 * same order, no FMA contraction), so a file encodes to the same bytes on
 * every x86-64 machine; they only take fewer instructions.  Tests switch
 * the AVX2 kernels off to compare the two paths. */
#include "internal.h"

static int avx2_off;   /* set by tests only, before any work starts */

bool gm_cpu_avx2(void)
{
#if GM_HAVE_AVX2_TARGET
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h && !avx2_off;
#else
    return false;
#endif
}

void gm_cpu_avx2_disable(bool off) { avx2_off = off; }

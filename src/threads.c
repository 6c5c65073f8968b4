/* threads.c - row strips shared out to a few threads.
 *
 * Each call starts its helper threads, and every thread (the caller too)
 * claims the next strip of rows from an atomic counter until none is left,
 * so a slow strip or a thread that could not be started only costs its own
 * share.  Threads are created per call: a 12 MP picture is a few hundred
 * strips, and thread start-up (~20 us) is noise against that. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define GM_MAX_THREADS 64

int gm_thread_count(const gainmap_ctx *ctx, uint32_t rows, uint32_t strip)
{
    long n = ctx ? (long)ctx->threads : 0;
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
            n = 1;
    }
    if (strip == 0)
        strip = 1;
    long strips = (long)((rows + strip - 1) / strip);
    n = GM_MIN(n, (long)GM_MAX_THREADS);
    n = GM_MIN(n, strips);
    return n < 1 ? 1 : (int)n;
}

typedef struct strip_pool {
    gm_strip_fn fn;
    void *arg;
    uint32_t rows, strip;
    atomic_uint next;
} strip_pool;

typedef struct strip_worker {
    strip_pool *pool;
    int index;
} strip_worker;

static void *strip_run(void *p)
{
    strip_worker *w = p;
    strip_pool *pool = w->pool;
    for (;;) {
        unsigned s = atomic_fetch_add(&pool->next, 1u);
        uint64_t y0 = (uint64_t)s * pool->strip;
        if (y0 >= pool->rows)
            break;
        uint32_t y1 = (uint32_t)GM_MIN((uint64_t)pool->rows, y0 + pool->strip);
        pool->fn(pool->arg, w->index, (uint32_t)y0, y1);
    }
    return NULL;
}

void gm_parallel_strips(int workers, uint32_t rows, uint32_t strip, gm_strip_fn fn, void *arg)
{
    if (rows == 0)
        return;
    if (strip == 0)
        strip = 1;
    workers = GM_CLAMP(workers, 1, GM_MAX_THREADS);
    strip_pool pool = {fn, arg, rows, strip, 0};
    strip_worker w[GM_MAX_THREADS];
    pthread_t tid[GM_MAX_THREADS];
    int started = 0;
    for (int i = 0; i < workers; i++) {
        w[i].pool = &pool;
        w[i].index = i;
    }
    for (int i = 1; i < workers; i++) {
        if (pthread_create(&tid[i], NULL, strip_run, &w[i]) != 0)
            break;   /* the threads already running (and this one) do the rest */
        started = i;
    }
    strip_run(&w[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
}

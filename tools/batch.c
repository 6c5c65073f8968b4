/* batch.c - worker pool, progress and interruption for batch commands. */
#define _GNU_SOURCE
#include "batch.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Under LeakSanitizer: x265 (behind libheif's HEIC encoder) keeps small
 * per-thread allocations it never frees once encoders ran on several of our
 * worker threads.  Not ours to fix; keep them out of the leak report. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }

static struct {
    pthread_mutex_t m;
    pthread_cond_t cv;          /* progress changed, a job finished, a writer left, a signal came */
    batch_fn fn;
    void *user;
    size_t njobs, next, finished;
    int running;                /* worker threads not yet returned */
    batch_progress mode;
    bool stopping;              /* a signal came: start nothing new */
    int writers;                /* threads between write_begin and write_end */
    char current[256];          /* the most recently started job's name */
    double t0;
    bool line_shown;            /* a progress line is on the terminal */
} B = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

double batch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int batch_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void clock_text(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* With B.m held. */
static void clear_line(void)
{
    if (B.line_shown) {
        fputs("\r\033[K", stderr);
        B.line_shown = false;
    }
}

static void draw_line(void)
{
    if (B.mode != BATCH_PROGRESS_LINE)
        return;
    double el = batch_now() - B.t0;
    char elapsed[32], eta[32] = "--:--";
    clock_text(el, elapsed, sizeof elapsed);
    if (B.finished > 0 && B.finished < B.njobs)
        clock_text(el / (double)B.finished * (double)(B.njobs - B.finished), eta, sizeof eta);
    else if (B.finished == B.njobs)
        snprintf(eta, sizeof eta, "0:00");
    fprintf(stderr, "\r\033[K[%zu/%zu] %3d%%  %.40s  elapsed %s  ETA %s", B.finished, B.njobs,
            B.njobs ? (int)(100 * B.finished / B.njobs) : 100, B.current, elapsed, eta);
    fflush(stderr);
    B.line_shown = true;
}

void batch_job_started(size_t job, const char *name)
{
    (void)job;
    pthread_mutex_lock(&B.m);
    snprintf(B.current, sizeof B.current, "%s", name ? name : "");
    pthread_cond_broadcast(&B.cv);
    pthread_mutex_unlock(&B.m);
}

void batch_job_finished(size_t job, const char *line, const char *error)
{
    (void)job;
    pthread_mutex_lock(&B.m);
    B.finished++;
    if (!B.stopping && (error || (line && B.mode == BATCH_PROGRESS_PLAIN))) {
        clear_line();
        if (B.mode == BATCH_PROGRESS_PLAIN && line)   /* the line names the failure too */
            fprintf(stderr, "[%zu/%zu] %s\n", B.finished, B.njobs, line);
        else if (error)
            fprintf(stderr, "%s\n", error);
        fflush(stderr);
    }
    pthread_cond_broadcast(&B.cv);
    pthread_mutex_unlock(&B.m);
}

bool batch_write_begin(void)
{
    pthread_mutex_lock(&B.m);
    bool ok = !B.stopping;
    if (ok)
        B.writers++;
    pthread_mutex_unlock(&B.m);
    return ok;
}

void batch_write_end(void)
{
    pthread_mutex_lock(&B.m);
    B.writers--;
    pthread_cond_broadcast(&B.cv);
    pthread_mutex_unlock(&B.m);
}

bool batch_stopping(void)
{
    pthread_mutex_lock(&B.m);
    bool s = B.stopping;
    pthread_mutex_unlock(&B.m);
    return s;
}

typedef struct worker_arg {
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    int index = ((worker_arg *)p)->index;
    for (;;) {
        pthread_mutex_lock(&B.m);
        if (B.stopping || B.next >= B.njobs) {
            B.running--;
            pthread_cond_broadcast(&B.cv);
            pthread_mutex_unlock(&B.m);
            return NULL;
        }
        size_t job = B.next++;
        pthread_mutex_unlock(&B.m);
        B.fn(B.user, job, index);
    }
}

static void *signal_main(void *p)
{
    sigset_t *set = p;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        pthread_mutex_lock(&B.m);
        B.stopping = true;
        pthread_cond_broadcast(&B.cv);
        pthread_mutex_unlock(&B.m);
    }
    return NULL;
}

bool batch_run(batch_fn fn, void *user, size_t njobs, int workers, batch_progress mode)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);   /* inherited by every thread created below */
    pthread_t sig_thread;
    bool have_sig_thread = pthread_create(&sig_thread, NULL, signal_main, &set) == 0;

    pthread_mutex_lock(&B.m);
    B.fn = fn;
    B.user = user;
    B.njobs = njobs;
    B.next = B.finished = 0;
    B.mode = mode;
    B.stopping = false;
    B.writers = 0;
    B.current[0] = '\0';
    B.t0 = batch_now();
    pthread_mutex_unlock(&B.m);

    if (workers < 1)
        workers = 1;
    if ((size_t)workers > njobs)
        workers = njobs ? (int)njobs : 1;
    pthread_t *tids = calloc((size_t)workers, sizeof *tids);
    worker_arg *args = calloc((size_t)workers, sizeof *args);
    int started = 0;
    pthread_mutex_lock(&B.m);
    for (int i = 0; tids && args && i < workers; i++) {
        args[i].index = i;
        B.running++;
        if (pthread_create(&tids[i], NULL, worker_main, &args[i]) != 0) {
            B.running--;
            break;
        }
        started++;
    }
    pthread_mutex_unlock(&B.m);
    if (started == 0) {   /* no threads: run the jobs here (still interruptible between jobs) */
        worker_arg a = {0};
        pthread_mutex_lock(&B.m);
        B.running++;
        pthread_mutex_unlock(&B.m);
        worker_main(&a);
    }

    pthread_mutex_lock(&B.m);
    while (B.running > 0 && !B.stopping) {
        draw_line();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&B.cv, &B.m, &ts);
    }
    bool complete = !B.stopping;
    if (complete) {
        draw_line();
    } else {
        /* Interrupted: wait only for writes in progress; the gate stays closed. */
        while (B.writers > 0)
            pthread_cond_wait(&B.cv, &B.m);
    }
    if (B.line_shown) {
        fputc('\n', stderr);
        B.line_shown = false;
    }
    pthread_mutex_unlock(&B.m);

    if (complete) {
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        free(tids);
        free(args);
        if (have_sig_thread) {
            pthread_cancel(sig_thread);
            pthread_join(sig_thread, NULL);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    /* Interrupted: workers keep their memory until the caller's _exit(). */
    return complete;
}

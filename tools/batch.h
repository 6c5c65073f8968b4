/* batch.h - the CLI's worker pool for batch commands: threads, progress on
 * stderr, Ctrl-C handling and a gate that keeps the process from exiting in
 * the middle of an atomic write.  No gain-map logic here. */
#ifndef GAINMAP_BATCH_H
#define GAINMAP_BATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum batch_progress {
    BATCH_PROGRESS_NONE = 0,   /* --quiet */
    BATCH_PROGRESS_LINE,       /* a terminal: one line rewritten in place */
    BATCH_PROGRESS_PLAIN       /* a file or pipe: one line per finished job */
} batch_progress;

/* Work on job `job` with worker `worker` (0..workers-1).  Called on a
 * worker thread; call batch_job_started/batch_job_finished from inside. */
typedef void (*batch_fn)(void *user, size_t job, int worker);

/* Run jobs 0..njobs-1 on `workers` threads.  SIGINT and SIGTERM are caught
 * for the duration: no new job starts, writes in progress finish, and the
 * call returns false with the gate closed (batch_write_begin refuses from
 * then on) while workers may still be running -- the caller reports and
 * leaves with _exit().  Returns true when every job ran. */
bool batch_run(batch_fn fn, void *user, size_t njobs, int workers, batch_progress mode);

/* Progress: `name` is shown while the job runs; `line` (may be NULL) is
 * printed for the finished job in PLAIN mode, `error` (may be NULL) in the
 * other modes (above the progress line on a terminal). */
void batch_job_started(size_t job, const char *name);
void batch_job_finished(size_t job, const char *line, const char *error);

/* The write gate: call begin before an atomic write and end after it.
 * begin returns false once the batch is being interrupted: do not write. */
bool batch_write_begin(void);
void batch_write_end(void);
/* True once Ctrl-C (or SIGTERM) was received. */
bool batch_stopping(void);

/* Processors this process may run on (sched affinity), at least 1. */
int batch_cpu_count(void);
/* Seconds since an arbitrary fixed point (monotonic). */
double batch_now(void);

#endif

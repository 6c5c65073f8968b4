/* testutil.h - helpers for tests: temp folders, running the CLI, corpus paths. */
#ifndef GM_TESTUTIL_H
#define GM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh, empty folder for this test program (under $GAINMAP_TMP or /tmp);
 * `name` distinguishes programs.  Returned string is static. */
const char *tu_tmpdir(const char *name);
/* Join dir and file into a static rotating buffer (8 slots). */
const char *tu_path(const char *dir, const char *file);
/* Corpus file path (GM_CORPUS_DIR/rel), static rotating buffer. */
const char *tu_corpus(const char *rel);
/* Path of the gainmap CLI ($GAINMAP_CLI or build/gainmap). */
const char *tu_cli(void);
/* Run a shell command; stdout+stderr captured into a malloc'd string (*out,
 * may be NULL to discard).  Returns the exit status (or -1). */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whole file into memory (malloc'd); NULL when unreadable. */
uint8_t *tu_read(const char *path, size_t *size);
int tu_write(const char *path, const void *data, size_t size);
int tu_exists(const char *path);
/* Is an external program on PATH? */
int tu_have(const char *program);

#endif

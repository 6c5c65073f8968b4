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

/* The tests' random numbers: a 32-bit LCG on *state, top 24 bits. */
uint32_t tu_lcg(uint32_t *state);

/* A pair for the gain-map computation: an 8-bit sRGB Display P3 base and
 * an HDR rendition (16-bit PQ, or linear float when float_hdr) whose
 * samples are the base's times 2^gain(user, x, y).  Base samples are
 * 16 + r % 200, or r % 256 with full_range; one HDR sample in zero_every
 * (0: none) is 0, as in a saturated primary.  r comes from tu_lcg(rng).
 * Returns 0, or -1 when an image cannot be allocated. */
typedef double (*tu_gain_fn)(void *user, uint32_t x, uint32_t y);
/* what tests pass as user: their own kind of gains over a w x h picture */
typedef struct tu_gain_kind {
    int kind;
    uint32_t w, h;
} tu_gain_kind;
/* The usual gain of pixel x, y: steps in [-1, 4] stops plus noise below
 * 1/4 stop drawn from tu_lcg(rng). */
double tu_gain_steps(uint32_t *rng, uint32_t x, uint32_t y);
struct gainmap_image;
/* Encoder options with the gain-map settings the computation tests vary
 * (the rest as gainmap_encode_options_init leaves them). */
struct gainmap_encode_options tu_map_options(int channels, int scale, int dither, double gamma, double offset);
int tu_gain_pair(struct gainmap_image *sdr, struct gainmap_image *hdr, uint32_t w, uint32_t h, int float_hdr,
                 tu_gain_fn gain, void *user, uint32_t *rng, int full_range, uint32_t zero_every);

#endif

/* check.h - the tiny test harness used by every tests/test_*.c program.
 * Each CHECK counts one assertion; main ends with TEST_SUMMARY(), which
 * prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef GM_CHECK_H
#define GM_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gm_t_passed, gm_t_failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            gm_t_passed++;                                                          \
        } else {                                                                    \
            gm_t_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        if (cond) {                                                                \
            gm_t_passed++;                                                         \
        } else {                                                                   \
            gm_t_failed++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long gm_a_ = (long long)(a), gm_b_ = (long long)(b);                                  \
        CHECK_MSG(gm_a_ == gm_b_, "%s = %lld, expected %s = %lld", #a, gm_a_, #b, gm_b_);          \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double gm_a_ = (double)(a), gm_b_ = (double)(b);                                          \
        CHECK_MSG(fabs(gm_a_ - gm_b_) <= (tol), "%s = %.12g, expected %.12g (tol %g)", #a, gm_a_, \
                  gm_b_, (double)(tol));                                                          \
    } while (0)

/* relative error |a - b| / max(|b|, tiny) <= rel */
#define CHECK_REL(a, b, rel)                                                                          \
    do {                                                                                              \
        double gm_a_ = (double)(a), gm_b_ = (double)(b);                                              \
        double gm_d_ = fabs(gm_a_ - gm_b_) / fmax(fabs(gm_b_), 1e-300);                               \
        CHECK_MSG(gm_d_ <= (rel), "%s = %.12g, expected %.12g (rel err %g > %g)", #a, gm_a_, gm_b_, gm_d_, \
                  (double)(rel));                                                                     \
    } while (0)

#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *gm_a_ = (a), *gm_b_ = (b);                                            \
        CHECK_MSG(gm_a_ && gm_b_ && strcmp(gm_a_, gm_b_) == 0, "%s = \"%s\", expected \"%s\"", #a, \
                  gm_a_ ? gm_a_ : "(null)", gm_b_ ? gm_b_ : "(null)");                    \
    } while (0)

/* haystack contains needle */
#define CHECK_CONTAINS(hay, needle)                                                              \
    do {                                                                                         \
        const char *gm_h_ = (hay), *gm_n_ = (needle);                                            \
        CHECK_MSG(gm_h_ && strstr(gm_h_, gm_n_), "\"%s\" does not contain \"%s\"", gm_h_ ? gm_h_ : "(null)", \
                  gm_n_);                                                                        \
    } while (0)

#define RUN_TEST(fn)                          \
    do {                                      \
        int gm_f0_ = gm_t_failed;             \
        fn();                                 \
        printf("%s %s\n", gm_t_failed == gm_f0_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define TEST_SUMMARY()                                          \
    do {                                                        \
        printf("%d passed, %d failed\n", gm_t_passed, gm_t_failed); \
        return gm_t_failed ? 1 : 0;                             \
    } while (0)

#endif

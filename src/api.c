/* api.c - context, options, errors, versions. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned gainmap_version(void) { return GAINMAP_VERSION_NUMBER; }
const char *gainmap_version_string(void) { return GAINMAP_VERSION_STRING; }

const char *gainmap_strerror(gainmap_status s)
{
    switch (s) {
    case GAINMAP_OK: return "success";
    case GAINMAP_ERR_INVALID_ARG: return "invalid argument";
    case GAINMAP_ERR_NOMEM: return "out of memory";
    case GAINMAP_ERR_IO: return "input/output error";
    case GAINMAP_ERR_TRUNCATED: return "truncated data";
    case GAINMAP_ERR_FORMAT: return "unrecognised format";
    case GAINMAP_ERR_CORRUPT: return "corrupt data";
    case GAINMAP_ERR_UNSUPPORTED: return "unsupported feature";
    case GAINMAP_ERR_LIMIT: return "limit exceeded";
    case GAINMAP_ERR_NO_GAINMAP: return "no gain map";
    case GAINMAP_ERR_CODEC: return "codec error";
    case GAINMAP_ERR_STATE: return "context unusable after an earlier error";
    }
    return "unknown status";
}

gainmap_ctx *gainmap_ctx_new(void)
{
    gainmap_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->max_pixels = 268435456;
    ctx->max_dimension = 65535;
    ctx->max_metadata_bytes = 16 << 20;
    ctx->max_alloc_bytes = (int64_t)4 << 30;
    ctx->max_file_bytes = (int64_t)1 << 30;
    ctx->threads = 0;
    return ctx;
}

void gainmap_ctx_free(gainmap_ctx *ctx) { free(ctx); }

const char *gainmap_last_error(const gainmap_ctx *ctx)
{
    return ctx ? ctx->error : "";
}

void gainmap_clear_error(gainmap_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->first_status = GAINMAP_OK;
    ctx->error[0] = '\0';
}

gainmap_status gm_error(gainmap_ctx *ctx, gainmap_status status, const char *fmt, ...)
{
    if (!ctx || status == GAINMAP_OK || ctx->first_status != GAINMAP_OK)
        return status;
    ctx->first_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    return status;
}

static int64_t *option_slot(gainmap_ctx *ctx, gainmap_option key)
{
    switch (key) {
    case GAINMAP_OPT_MAX_PIXELS: return &ctx->max_pixels;
    case GAINMAP_OPT_MAX_DIMENSION: return &ctx->max_dimension;
    case GAINMAP_OPT_MAX_METADATA_BYTES: return &ctx->max_metadata_bytes;
    case GAINMAP_OPT_MAX_ALLOC_BYTES: return &ctx->max_alloc_bytes;
    case GAINMAP_OPT_MAX_FILE_BYTES: return &ctx->max_file_bytes;
    case GAINMAP_OPT_THREADS: return &ctx->threads;
    }
    return NULL;
}

gainmap_status gainmap_set_option(gainmap_ctx *ctx, gainmap_option key, int64_t value)
{
    if (!ctx)
        return GAINMAP_ERR_INVALID_ARG;
    int64_t *slot = option_slot(ctx, key);
    if (!slot)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "unknown option %d", (int)key);
    if (value < 0 || (key != GAINMAP_OPT_THREADS && value == 0))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "option %d: value %lld out of range", (int)key,
                        (long long)value);
    *slot = value;
    return GAINMAP_OK;
}

gainmap_status gainmap_get_option(const gainmap_ctx *ctx, gainmap_option key, int64_t *value)
{
    if (!ctx || !value)
        return GAINMAP_ERR_INVALID_ARG;
    int64_t *slot = option_slot((gainmap_ctx *)ctx, key);
    if (!slot)
        return GAINMAP_ERR_INVALID_ARG;
    *value = *slot;
    return GAINMAP_OK;
}

void gainmap_free(void *ptr) { free(ptr); }

gainmap_status gm_check_dims(gainmap_ctx *ctx, uint64_t width, uint64_t height, uint64_t bpp, const char *what)
{
    int64_t maxdim = ctx ? ctx->max_dimension : 65535;
    int64_t maxpix = ctx ? ctx->max_pixels : 268435456;
    int64_t maxalloc = ctx ? ctx->max_alloc_bytes : ((int64_t)4 << 30);
    if (width == 0 || height == 0)
        return gm_error(ctx, GAINMAP_ERR_CORRUPT, "%s has zero size (%llux%llu)", what,
                        (unsigned long long)width, (unsigned long long)height);
    if (width > (uint64_t)maxdim || height > (uint64_t)maxdim)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%s is %llux%llu, larger than the %lld-pixel dimension limit",
                        what, (unsigned long long)width, (unsigned long long)height, (long long)maxdim);
    if (width * height > (uint64_t)maxpix)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%s is %llux%llu = %llu pixels, more than the limit of %lld",
                        what, (unsigned long long)width, (unsigned long long)height,
                        (unsigned long long)(width * height), (long long)maxpix);
    if (bpp && width * height > (uint64_t)maxalloc / bpp)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%s needs more than the %lld-byte allocation limit", what,
                        (long long)maxalloc);
    return GAINMAP_OK;
}

gainmap_status gm_check_meta_size(gainmap_ctx *ctx, uint64_t size, const char *what)
{
    int64_t lim = ctx ? ctx->max_metadata_bytes : (16 << 20);
    if (size > (uint64_t)lim)
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "%s is %llu bytes, more than the %lld-byte metadata limit", what,
                        (unsigned long long)size, (long long)lim);
    return GAINMAP_OK;
}

static long fail_countdown;

void gm_fail_alloc_after(long n) { fail_countdown = n; }

static bool alloc_allowed(gainmap_ctx *ctx, size_t size)
{
    if (fail_countdown > 0 && --fail_countdown == 0)
        return false;
    if (ctx && (uint64_t)size > (uint64_t)ctx->max_alloc_bytes)
        return false;
    return true;
}

void *gm_malloc(gainmap_ctx *ctx, size_t size)
{
    void *p = alloc_allowed(ctx, size) ? malloc(size ? size : 1) : NULL;
    if (!p)
        gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *gm_calloc(gainmap_ctx *ctx, size_t count, size_t size)
{
    size_t total;
    if (!gm_mul_size(count, size, &total)) {
        gm_error(ctx, GAINMAP_ERR_LIMIT, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = alloc_allowed(ctx, total) ? calloc(count ? count : 1, size ? size : 1) : NULL;
    if (!p)
        gm_error(ctx, GAINMAP_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

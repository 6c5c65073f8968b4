/* io.c - whole-file reads and atomic writes (temp file + rename). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *gm_basename(const char *path)
{
    if (!path)
        return "";
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *gm_extension(const char *path, char *buf, size_t bufsize)
{
    if (!bufsize)
        return "";
    buf[0] = '\0';
    const char *base = gm_basename(path);
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return buf;
    size_t i = 0;
    for (dot++; *dot && i + 1 < bufsize; dot++, i++)
        buf[i] = (char)((*dot >= 'A' && *dot <= 'Z') ? *dot - 'A' + 'a' : *dot);
    buf[i] = '\0';
    return buf;
}

gainmap_status gm_open_input(gainmap_ctx *ctx, const char *path, int *fd, uint64_t *size)
{
    *fd = -1;
    *size = 0;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return gm_error(ctx, GAINMAP_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return gm_error(ctx, GAINMAP_ERR_IO, "not a regular file");
    }
    int64_t lim = ctx ? ctx->max_file_bytes : ((int64_t)1 << 30);
    if ((uint64_t)st.st_size > (uint64_t)lim) {
        close(f);
        return gm_error(ctx, GAINMAP_ERR_LIMIT, "file is %lld bytes, more than the %lld-byte limit",
                        (long long)st.st_size, (long long)lim);
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return GAINMAP_OK;
}

gainmap_status gm_read_fd(gainmap_ctx *ctx, int fd, size_t n, uint8_t **data)
{
    *data = NULL;
    uint8_t *buf = gm_malloc(ctx, n + 1);
    if (!buf)
        return GAINMAP_ERR_NOMEM;
    int64_t r = gm_read_all(fd, buf, n, 0);
    size_t got = r > 0 ? (size_t)r : 0;
    if (got != n) {
        free(buf);
        return gm_error(ctx, GAINMAP_ERR_IO, "short read (%zu of %zu bytes)", got, n);
    }
    buf[n] = 0;
    *data = buf;
    return GAINMAP_OK;
}

gainmap_status gainmap_read_file(gainmap_ctx *ctx, const char *path, uint8_t **data, size_t *size)
{
    if (!path || !data || !size)
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "read_file: NULL argument");
    *data = NULL;
    *size = 0;
    int fd;
    uint64_t n;
    gainmap_status st = gm_open_input(ctx, path, &fd, &n);
    if (st != GAINMAP_OK)
        return st;
    st = gm_read_fd(ctx, fd, (size_t)n, data);
    close(fd);
    if (st == GAINMAP_OK)
        *size = (size_t)n;
    return st;
}

gainmap_status gm_temp_create(gainmap_ctx *ctx, const char *path, char **tmp_path)
{
    static unsigned counter;
    *tmp_path = NULL;
    const char *base = gm_basename(path);
    size_t dirlen = (size_t)(base - path);
    size_t cap = strlen(path) + 64;
    char *tmp = gm_malloc(ctx, cap);
    if (!tmp)
        return GAINMAP_ERR_NOMEM;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, cap, "%.*s.%s.gmtmp-%ld-%u", (int)dirlen, path, base, (long)getpid(), c);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
            *tmp_path = tmp;
            return GAINMAP_OK;
        }
        if (errno != EEXIST) {
            gainmap_status st = gm_error(ctx, GAINMAP_ERR_IO, "cannot create a temporary file beside %s: %s",
                                         path, strerror(errno));
            free(tmp);
            return st;
        }
    }
    free(tmp);
    return gm_error(ctx, GAINMAP_ERR_IO, "cannot create a temporary file beside %s", path);
}

void gm_temp_abort(char *tmp_path)
{
    if (tmp_path)
        unlink(tmp_path);
    free(tmp_path);
}

gainmap_status gm_temp_commit(gainmap_ctx *ctx, char *tmp_path, const char *path, int overwrite)
{
    int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    int rc;
    if (overwrite) {
        rc = rename(tmp_path, path);
    } else {
        /* link() fails with EEXIST instead of replacing: no race with another writer. */
        rc = link(tmp_path, path);
        if (rc == 0)
            unlink(tmp_path);
    }
    if (rc != 0) {
        int e = errno;
        gm_temp_abort(tmp_path);
        if (e == EEXIST)
            return gm_error(ctx, GAINMAP_ERR_IO, "%s already exists", path);
        return gm_error(ctx, GAINMAP_ERR_IO, "cannot move the output into place as %s: %s", path, strerror(e));
    }
    free(tmp_path);
    return GAINMAP_OK;
}

gainmap_status gainmap_write_file(gainmap_ctx *ctx, const char *path, const uint8_t *data, size_t size,
                                  int overwrite)
{
    if (!path || (!data && size))
        return gm_error(ctx, GAINMAP_ERR_INVALID_ARG, "write_file: NULL argument");
    char *tmp;
    gainmap_status st = gm_temp_create(ctx, path, &tmp);
    if (st != GAINMAP_OK)
        return st;
    int fd = open(tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        st = gm_error(ctx, GAINMAP_ERR_IO, "cannot open %s: %s", tmp, strerror(errno));
        gm_temp_abort(tmp);
        return st;
    }
    int e = gm_write_all(fd, data, size, -1);
    if (e) {
        close(fd);
        gm_temp_abort(tmp);
        return gm_error(ctx, GAINMAP_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        e = errno;
        gm_temp_abort(tmp);
        return gm_error(ctx, GAINMAP_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return gm_temp_commit(ctx, tmp, path, overwrite);
}

int64_t gm_read_all(int fd, void *data, size_t size, int64_t at)
{
    uint8_t *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t r = at < 0 ? read(fd, p + done, size - done)
                           : pread(fd, p + done, size - done, (off_t)((uint64_t)at + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 && !done ? -1 : (int64_t)done;
        done += (size_t)r;
    }
    return (int64_t)done;
}

int gm_write_all(int fd, const void *data, size_t size, int64_t at)
{
    const uint8_t *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t w = at < 0 ? write(fd, p + done, size - done)
                           : pwrite(fd, p + done, size - done, (off_t)((uint64_t)at + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        done += (size_t)w;
    }
    return 0;
}

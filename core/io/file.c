/*
 * The local-file back-end: plain paths and file:// URLs.
 *
 * Reads go straight from read(2) into the caller's buffer (the callers read
 * in big chunks); writes are buffered here in RN_IO_BUFSIZE pieces into a
 * temporary file beside the target, published by rename(2).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "io/backend.h"

#define MAX_PATH_BYTES 4096

/* The local path a URL names: the URL itself, or what follows file://
 * (file:///abs or file://localhost/abs). NULL when malformed. */
static const char *url_path(const char *url)
{
    if (strncmp(url, "file://", 7) != 0)
        return url;
    url += 7;
    if (strncmp(url, "localhost/", 10) == 0)
        url += 9;
    return url[0] == '/' ? url : NULL;
}

static int bad_url(const char *url, rn_errbuf *err)
{
    return rn_error_set(err, RN_EINVAL,
                        "%s: a file URL must be file:///absolute/path", url);
}

/* RN_ENOTFOUND for a missing file, RN_EIO otherwise; names the URL. */
static int sys_fail(rn_errbuf *err, int e, const char *url, const char *what)
{
    int code = (e == ENOENT || e == ENOTDIR) ? RN_ENOTFOUND
               : e == ENOMEM                ? RN_ENOMEM
                                            : RN_EIO;
    if (what)
        return rn_error_set(err, code, "%s: %s: %s", url, what, strerror(e));
    return rn_error_set(err, code, "%s: %s", url, strerror(e));
}

static int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */

typedef struct entry_vec {
    rn_io_entry *v;
    size_t n, cap;
} entry_vec;

static int vec_push(entry_vec *ev, rn_arena *a, const char *url, size_t ulen,
                    uint64_t size)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 16;
        rn_io_entry *nv = rn_arena_alloc(a, cap * sizeof(*nv));
        if (!nv)
            return RN_ENOMEM;
        if (ev->n)
            memcpy(nv, ev->v, ev->n * sizeof(*nv));
        ev->v = nv;
        ev->cap = cap;
    }
    char *u = rn_arena_strndup(a, url, ulen);
    if (!u)
        return RN_ENOMEM;
    rn_io_entry *e = &ev->v[ev->n++];
    e->url = u;
    e->size = size;
    e->compressed = rn_io_codec_from_name(u) != RN_CODEC_NONE;
    e->ranged = 1;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const rn_io_entry *x = a, *y = b;
    return strcmp(x->url, y->url);
}

/* Appends prefix + path (the URL spelling the user chose) when path is a
 * regular file. */
static int add_if_file(entry_vec *ev, rn_arena *a, rn_buf *tmp,
                       const char *prefix, const char *path, rn_errbuf *err)
{
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0; /* vanished, or a dangling symlink */
        return sys_fail(err, errno, path, NULL);
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    rn_buf_reset(tmp);
    if ((rc = rn_buf_puts(tmp, prefix)) || (rc = rn_buf_puts(tmp, path)) ||
        (rc = vec_push(ev, a, tmp->ptr, tmp->len, (uint64_t)st.st_size)))
        return rn_error_set(err, rc, "%s: out of memory listing", path);
    return 0;
}

static int list_dir(entry_vec *ev, rn_arena *a, rn_buf *tmp,
                    const char *prefix, const char *pattern, const char *path,
                    rn_errbuf *err)
{
    DIR *d = opendir(path);
    struct dirent *de;
    rn_buf p;
    int rc = 0;
    size_t plen = strlen(path);

    rn_buf_init(&p, MAX_PATH_BYTES);
    if (!d)
        return sys_fail(err, errno, pattern, NULL);
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        rn_buf_reset(&p);
        if ((rc = rn_buf_puts(&p, path)) ||
            (plen && path[plen - 1] != '/' && (rc = rn_buf_putc(&p, '/'))) ||
            (rc = rn_buf_puts(&p, de->d_name))) {
            rc = rn_error_set(err, rc, "%s: path too long", pattern);
            goto done;
        }
        if ((rc = add_if_file(ev, a, tmp, prefix, p.ptr, err)))
            goto done;
    }
    if (errno) {
        rc = sys_fail(err, errno, pattern, "reading directory");
        goto done;
    }
    if (ev->n == 0)
        rc = rn_error_set(err, RN_ENOTFOUND, "no file in directory '%s'",
                          pattern);
done:
    closedir(d);
    rn_buf_release(&p);
    return rc;
}

static int list_glob(entry_vec *ev, rn_arena *a, rn_buf *tmp,
                     const char *prefix, const char *pattern, const char *path,
                     rn_errbuf *err)
{
    glob_t g;
    int rc = 0, r;

    memset(&g, 0, sizeof(g));
    r = glob(path, GLOB_NOSORT, NULL, &g);
    if (r == GLOB_NOMATCH)
        rc = rn_error_set(err, RN_ENOTFOUND, "no file matches '%s'", pattern);
    else if (r == GLOB_NOSPACE)
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory in glob",
                          pattern);
    else if (r != 0)
        rc = rn_error_set(err, RN_EIO, "%s: cannot read a directory: %s",
                          pattern, strerror(errno));
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
        rc = add_if_file(ev, a, tmp, prefix, g.gl_pathv[i], err);
    if (rc == 0 && ev->n == 0)
        rc = rn_error_set(err, RN_ENOTFOUND, "no file matches '%s'", pattern);
    if (r != GLOB_NOMATCH)
        globfree(&g);
    return rc;
}

static int file_list(rn_arena *a, const char *pattern, rn_io_entry **out,
                     size_t *n, rn_errbuf *err)
{
    const char *path = url_path(pattern);
    const char *prefix = path == pattern ? "" : "file://";
    entry_vec ev = {0};
    rn_buf tmp;
    struct stat st;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!path)
        return bad_url(pattern, err);
    if (!*path)
        return rn_error_set(err, RN_EINVAL, "empty path");
    rn_buf_init(&tmp, MAX_PATH_BYTES + 16);
    /* An existing name wins over its reading as a pattern. */
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            rc = list_dir(&ev, a, &tmp, prefix, pattern, path, err);
        } else {
            rc = vec_push(&ev, a, pattern, strlen(pattern),
                          (uint64_t)st.st_size);
            if (rc)
                rn_error_set(err, rc, "%s: out of memory listing", pattern);
        }
    } else if (errno != ENOENT && errno != ENOTDIR) {
        rc = sys_fail(err, errno, pattern, NULL);
    } else if (has_glob_chars(path)) {
        rc = list_glob(&ev, a, &tmp, prefix, pattern, path, err);
    } else {
        rc = sys_fail(err, ENOENT, pattern, NULL);
    }
    rn_buf_release(&tmp);
    if (rc)
        return rc;
    qsort(ev.v, ev.n, sizeof(*ev.v), entry_cmp);
    *out = ev.v;
    *n = ev.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

typedef struct file_in {
    int fd;
    uint64_t pos;  /* next byte to read */
    uint64_t end;  /* UINT64_MAX: to the end of the file */
    char *url;
} file_in;

static void file_close(void *h)
{
    file_in *f = h;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    rn_free(f->url);
    rn_free(f);
}

static int file_open(const char *url, uint64_t offset, uint64_t length,
                     void **h, rn_errbuf *err)
{
    const char *path = url_path(url);
    file_in *f = NULL;
    struct stat st;
    int rc = 0;

    *h = NULL;
    if (!path)
        return bad_url(url, err);
    f = rn_calloc(1, sizeof(*f));
    if (!f || !(f->url = rn_strdup(url))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        rc = sys_fail(err, errno, url, NULL);
        goto done;
    }
    if (fstat(f->fd, &st) != 0) {
        rc = sys_fail(err, errno, url, NULL);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = sys_fail(err, EISDIR, url, NULL);
        goto done;
    }
    if (offset > INT64_MAX) {
        rc = rn_error_set(err, RN_ERANGE, "%s: offset %llu out of range", url,
                          (unsigned long long)offset);
        goto done;
    }
    f->pos = offset;
    f->end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
    posix_fadvise(f->fd, (off_t)offset, 0, POSIX_FADV_SEQUENTIAL);
    *h = f;
    f = NULL;
done:
    file_close(f);
    return rc;
}

static int64_t file_read(void *h, void *buf, size_t cap, rn_errbuf *err)
{
    file_in *f = h;
    ssize_t n;
    if (f->pos >= f->end)
        return 0;
    if (cap > f->end - f->pos)
        cap = (size_t)(f->end - f->pos);
    if (cap > (size_t)1 << 30)
        cap = (size_t)1 << 30;
    do {
        n = pread(f->fd, buf, cap, (off_t)f->pos);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return sys_fail(err, errno, f->url, "read");
    f->pos += (uint64_t)n;
    return n;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

typedef struct file_out {
    int fd;
    char *url;
    char *path;  /* the target */
    char *tmp;   /* the file being written */
    char *buf;
    size_t len;
} file_out;

static void out_free(file_out *w)
{
    rn_free(w->url);
    rn_free(w->path);
    rn_free(w->tmp);
    rn_free(w->buf);
    rn_free(w);
}

static void file_abort(void *h)
{
    file_out *w = h;
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    out_free(w);
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *url, const char *path, rn_errbuf *err)
{
    char *p = rn_strdup(path);
    int rc = 0;
    if (!p)
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = sys_fail(err, errno, url, "cannot create directory");
            break;
        }
        *s = '/';
    }
    rn_free(p);
    return rc;
}

/* tmp = <dir>/.<name>.tmp-<pid>-<random> */
static int tmp_name(rn_buf *b, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)rand();
    rn_buf_reset(b);
    if (rn_buf_append(b, path, dirlen))
        return RN_ELIMIT;
    return rn_buf_printf(b, ".%s.tmp-%ld-%08x", path + dirlen, (long)getpid(),
                         r);
}

static int file_create(const char *url, void **h, rn_errbuf *err)
{
    const char *path = url_path(url);
    file_out *w = NULL;
    rn_buf b;
    struct stat st;
    int rc = 0;
    size_t plen;

    *h = NULL;
    rn_buf_init(&b, MAX_PATH_BYTES);
    if (!path)
        return bad_url(url, err);
    plen = strlen(path);
    if (plen == 0 || path[plen - 1] == '/')
        return rn_error_set(err, RN_EINVAL, "%s: not a file name", url);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return sys_fail(err, EISDIR, url, NULL);
    w = rn_calloc(1, sizeof(*w));
    if (!w || !(w->url = rn_strdup(url)) || !(w->path = rn_strdup(path)) ||
        !(w->buf = rn_malloc(RN_IO_BUFSIZE))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    w->fd = -1;
    if ((rc = make_parents(url, path, err)))
        goto done;
    for (int tries = 0; w->fd < 0; tries++) {
        if (tmp_name(&b, path)) {
            rc = rn_error_set(err, RN_ELIMIT, "%s: path too long", url);
            goto done;
        }
        w->fd = open(b.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd < 0 && (errno != EEXIST || tries >= 8)) {
            rc = sys_fail(err, errno, url, "cannot create temporary file");
            goto done;
        }
    }
    w->tmp = rn_buf_detach(&b, NULL);
    *h = w;
    w = NULL;
done:
    rn_buf_release(&b);
    if (w)
        file_abort(w);
    return rc;
}

static int write_all(file_out *w, const char *p, size_t n, rn_errbuf *err)
{
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return sys_fail(err, errno, w->url, "write");
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int file_write(void *h, const void *p, size_t n, rn_errbuf *err)
{
    file_out *w = h;
    int rc;
    if (n <= RN_IO_BUFSIZE - w->len) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return 0;
    }
    if ((rc = write_all(w, w->buf, w->len, err)))
        return rc;
    w->len = 0;
    if (n >= RN_IO_BUFSIZE)
        return write_all(w, p, n, err);
    memcpy(w->buf, p, n);
    w->len = n;
    return 0;
}

/* Makes the rename durable; best effort (some file systems refuse). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = slash ? rn_strndup(path, n) : rn_strdup(".");
    int fd;
    if (!dir)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    rn_free(dir);
}

static int file_commit(void *h, rn_errbuf *err)
{
    file_out *w = h;
    int rc = write_all(w, w->buf, w->len, err);
    w->len = 0;
    if (rc)
        goto fail;
    if (fsync(w->fd) != 0) {
        rc = sys_fail(err, errno, w->url, "fsync");
        goto fail;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        unlink(w->tmp);
        rc = sys_fail(err, errno, w->url, "close");
        goto fail;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) != 0) {
        rc = sys_fail(err, errno, w->url, "cannot publish");
        unlink(w->tmp);
        goto fail;
    }
    sync_dir(w->path);
    out_free(w);
    return 0;
fail:
    file_abort(w);
    return rc;
}

const rn__io_backend rn__io_file = {
    .name = "file",
    .list = file_list,
    .open = file_open,
    .read = file_read,
    .close = file_close,
    .create = file_create,
    .write = file_write,
    .commit = file_commit,
    .abort = file_abort,
};

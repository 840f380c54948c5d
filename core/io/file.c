/*
 * The local-file back-end: plain paths and file:// URLs.
 *
 * Reads go straight from read(2) into the caller's buffer (the callers read
 * in big chunks); writes are buffered here in RN_IO_BUFSIZE pieces into a
 * temporary file beside the target, created and published (renameat(2))
 * inside one open descriptor of the target's directory.
 *
 * Under a worker's policy (policy.c) every path is checked as written
 * before anything is opened, and again where the opened file or directory
 * really is.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
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

/* Under a policy: 0 when what path resolves to may be opened, else the
 * refusal (or the error resolving it) naming url. */
static int check_resolved(const char *url, const char *path, rn_errbuf *err)
{
    char real[PATH_MAX];
    if (!rn__io_policy_active())
        return 0;
    if (!realpath(path, real))
        return sys_fail(err, errno, url, NULL);
    return rn__io_policy_check_real(url, real, err);
}

/* Appends prefix + path (the URL spelling the user chose) when path is a
 * regular file (and, under a policy, resolves where it may be read). */
static int add_if_file(entry_vec *ev, rn_arena *a, rn_buf *tmp,
                       const char *prefix, const char *path, rn_errbuf *err)
{
    struct stat st;
    rn_errbuf refused;
    int rc;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0; /* vanished, or a dangling symlink */
        return sys_fail(err, errno, path, NULL);
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    /* What the policy refuses is not listed: a directory or a glob may
     * hold links to anywhere. */
    if (check_resolved(path, path, &refused))
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
    if ((rc = rn__io_policy_check_path(pattern, path, err)))
        return rc;
    rn_buf_init(&tmp, MAX_PATH_BYTES + 16);
    /* An existing name wins over its reading as a pattern. */
    if (stat(path, &st) == 0) {
        /* A file or directory named outside is refused, not skipped. */
        rc = check_resolved(pattern, path, err);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            rc = list_dir(&ev, a, &tmp, prefix, pattern, path, err);
        } else if (rc == 0) {
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
    int rc = 0, policy;

    *h = NULL;
    if (!path)
        return bad_url(url, err);
    if ((rc = rn__io_policy_check_path(url, path, err)))
        return rc;
    policy = rn__io_policy_active();
    f = rn_calloc(1, sizeof(*f));
    if (!f || !(f->url = rn_strdup(url))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    /* Under a policy, O_NONBLOCK: opening a FIFO must not wait for a
     * writer before the checks below refuse it. */
    f->fd = open(path, O_RDONLY | O_CLOEXEC |
                           (policy ? O_NONBLOCK | O_NOCTTY : 0));
    if (f->fd < 0) {
        rc = sys_fail(err, errno, url, NULL);
        goto done;
    }
    /* Where the descriptor really is: links and races are resolved. */
    if ((rc = rn__io_policy_check_fd(url, f->fd, err)))
        goto done;
    if (fstat(f->fd, &st) != 0) {
        rc = sys_fail(err, errno, url, NULL);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = sys_fail(err, EISDIR, url, NULL);
        goto done;
    }
    if (policy) {
        int fl = fcntl(f->fd, F_GETFL);
        if (!S_ISREG(st.st_mode)) {
            rc = rn_error_set(err, RN_EPERM,
                              "%s: not a regular file (a cluster worker "
                              "reads only regular files)",
                              url);
            goto done;
        }
        if (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            rc = sys_fail(err, errno, url, NULL);
            goto done;
        }
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
    int dirfd;   /* the target's directory, checked; everything is in it */
    char *url;
    char *name;  /* the target's name in dirfd */
    char *tmp;   /* the name of the file being written, in dirfd */
    char *buf;
    size_t len;
} file_out;

static void out_free(file_out *w)
{
    if (w->dirfd >= 0)
        close(w->dirfd);
    rn_free(w->url);
    rn_free(w->name);
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
        unlinkat(w->dirfd, w->tmp, 0);
    }
    out_free(w);
}

/* A directory descriptor for the *at calls below. A directory we may
 * write in but not list (-wx) opens with O_PATH, enough for them (only
 * the best-effort fsync of the directory is lost). */
static int dir_open(int at, const char *name, int nofollow)
{
    int fl = O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
    int fd = openat(at, name, O_RDONLY | fl);
    if (fd < 0 && errno == EACCES)
        fd = openat(at, name, O_PATH | fl);
    return fd;
}

/*
 * Opens the directory part of path (its first dlen bytes; dlen 0: ".",
 * the root when path starts with '/'), creating what is missing like
 * mkdir -p: the longest existing part is opened (following links, as any
 * open does), checked where it really is, and each missing component is
 * made with mkdirat and opened with O_NOFOLLOW below the previous
 * descriptor, so a link planted meanwhile is refused rather than followed.
 * The final directory is checked again.
 */
static int open_dir(const char *url, const char *path, size_t dlen,
                    int *out, rn_errbuf *err)
{
    char *d = rn_strndup(path, dlen);
    size_t have = dlen; /* d[0, have) is the part that exists */
    int fd = -1, rc = 0;

    *out = -1;
    if (!d)
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
    for (;;) {
        const char *p = have ? d : path[0] == '/' ? "/" : ".";
        d[have] = '\0';
        fd = dir_open(AT_FDCWD, p, 0);
        if (fd >= 0)
            break;
        if (errno != ENOENT || have == 0) {
            rc = sys_fail(err, errno, url, "cannot create directory");
            goto done;
        }
        while (have > 0 && d[have - 1] != '/')
            have--;
        while (have > 1 && d[have - 1] == '/')
            have--;
        if (have == 1 && d[0] == '/')
            have = 0;
    }
    if ((rc = rn__io_policy_check_fd(url, fd, err)))
        goto done;
    /* d[have] is '\0' or '/'; the original path holds the rest. */
    while (have < dlen) {
        const char *c = path + have;
        size_t n;
        int next;
        while (*c == '/')
            c++;
        n = strcspn(c, "/");
        if ((size_t)(c - path) + n > dlen)
            n = dlen - (size_t)(c - path);
        have = (size_t)(c - path) + n;
        if (n == 0)
            break;
        memcpy(d, c, n);
        d[n] = '\0';
        if (mkdirat(fd, d, 0777) != 0 && errno != EEXIST) {
            rc = sys_fail(err, errno, url, "cannot create directory");
            goto done;
        }
        next = dir_open(fd, d, 1);
        if (next < 0) {
            rc = sys_fail(err, errno, url, "cannot create directory");
            goto done;
        }
        close(fd);
        fd = next;
    }
    if ((rc = rn__io_policy_check_fd(url, fd, err)))
        goto done;
    *out = fd;
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    rn_free(d);
    return rc;
}

/* tmp = .<name>.tmp-<pid>-<random> */
static int tmp_name(rn_buf *b, const char *name)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)rand();
    rn_buf_reset(b);
    return rn_buf_printf(b, ".%s.tmp-%ld-%08x", name, (long)getpid(), r);
}

static int file_create(const char *url, void **h, rn_errbuf *err)
{
    const char *path = url_path(url);
    const char *slash, *name;
    file_out *w = NULL;
    rn_buf b;
    struct stat st;
    int rc = 0, policy;
    size_t plen, dlen;

    *h = NULL;
    rn_buf_init(&b, MAX_PATH_BYTES);
    if (!path)
        return bad_url(url, err);
    plen = strlen(path);
    if (plen == 0 || path[plen - 1] == '/')
        return rn_error_set(err, RN_EINVAL, "%s: not a file name", url);
    if ((rc = rn__io_policy_check_path(url, path, err)))
        return rc;
    policy = rn__io_policy_active();
    slash = strrchr(path, '/');
    name = slash ? slash + 1 : path;
    dlen = slash ? (size_t)(slash - path) : 0;
    if (!(w = rn_calloc(1, sizeof(*w))))
        return rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
    w->fd = -1;
    w->dirfd = -1;
    if (!(w->url = rn_strdup(url)) || !(w->name = rn_strdup(name)) ||
        !(w->buf = rn_malloc(RN_IO_BUFSIZE))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", url);
        goto done;
    }
    if ((rc = open_dir(url, path, dlen, &w->dirfd, err)))
        goto done;
    /* A directory in the way. Under a policy a link there is not followed
     * (the rename will replace it). */
    if (fstatat(w->dirfd, name, &st, policy ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
        S_ISDIR(st.st_mode)) {
        rc = sys_fail(err, EISDIR, url, NULL);
        goto done;
    }
    for (int tries = 0; w->fd < 0; tries++) {
        if (tmp_name(&b, name)) {
            rc = rn_error_set(err, RN_ELIMIT, "%s: path too long", url);
            goto done;
        }
        w->fd = openat(w->dirfd, b.ptr,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0666);
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
        unlinkat(w->dirfd, w->tmp, 0);
        rc = sys_fail(err, errno, w->url, "close");
        goto fail;
    }
    w->fd = -1;
    /* In the directory checked at create: a link at the target's name is
     * replaced, never followed (rename(2) does not follow its target). */
    if (renameat(w->dirfd, w->tmp, w->dirfd, w->name) != 0) {
        rc = sys_fail(err, errno, w->url, "cannot publish");
        unlinkat(w->dirfd, w->tmp, 0);
        goto fail;
    }
    /* Makes the rename durable; best effort (some file systems refuse). */
    fsync(w->dirfd);
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

/*
 * The process-wide policy of a cluster worker (io.h: rn_io_policy): which
 * local paths jobs may open, and whether HTTP(S)/S3 may connect to
 * link-local addresses. file.c and http.c ask here (backend.h: rn__io_*).
 *
 * The policy is an immutable snapshot swapped under a read-write lock:
 * checks hold the read lock for the few string compares they make, so a
 * worker's threads never see a half-built policy, and setting it again
 * (tests do) is safe at any time.
 *
 * Every directory is kept in two spellings: as resolved by realpath(3)
 * (`real`, what the checks of opened files compare with) and as the worker
 * wrote it, normalised (`given`, NULL when relative or containing ".."),
 * so that a job may spell its paths under either before anything is
 * opened. The check that decides is always the one on the real path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "io/backend.h"

typedef struct pol_dir {
    char *real;
    char *given;
} pol_dir;

typedef struct pol {
    pol_dir *allow;
    size_t n_allow;
    pol_dir *deny;
    size_t n_deny;
    int block_link_local;
} pol;

static pthread_rwlock_t pol_lock = PTHREAD_RWLOCK_INITIALIZER;
static pol *cur;                    /* NULL: no policy */
static atomic_int cur_active;       /* cur != NULL, read without the lock */
static atomic_int cur_link_local;   /* cur && cur->block_link_local */

static void pol_free(pol *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_allow; i++) {
        rn_free(p->allow[i].real);
        rn_free(p->allow[i].given);
    }
    for (size_t i = 0; i < p->n_deny; i++) {
        rn_free(p->deny[i].real);
        rn_free(p->deny[i].given);
    }
    rn_free(p->allow);
    rn_free(p->deny);
    rn_free(p);
}

/* path spelled canonically without touching the file system: repeated
 * '/' and "." components dropped, no trailing '/' (but "/" stays "/").
 * *dotdot tells whether a ".." component was seen (it is kept). */
static int normalise(const char *path, rn_buf *out, int *dotdot)
{
    const char *p = path;
    *dotdot = 0;
    rn_buf_reset(out);
    if (*p == '/' && rn_buf_putc(out, '/'))
        return RN_ELIMIT;
    while (*p) {
        const char *q;
        size_t n;
        while (*p == '/')
            p++;
        q = p;
        while (*q && *q != '/')
            q++;
        n = (size_t)(q - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            *dotdot = 1;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (out->len > 0 && out->ptr[out->len - 1] != '/' &&
                rn_buf_putc(out, '/'))
                return RN_ELIMIT;
            if (rn_buf_append(out, p, n))
                return RN_ELIMIT;
        }
        p = q;
    }
    if (out->len == 0 && rn_buf_putc(out, '.'))
        return RN_ELIMIT;
    return 0;
}

/* path is dir or below it (whole components: /data2 is not in /data). */
static int inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* realpath of a path that may not exist yet: its longest existing prefix
 * resolved, the rest appended as written (deny entries such as a state
 * directory the worker creates later). norm is normalised, without "..". */
static int resolve_loose(const char *norm, char **out)
{
    char real[PATH_MAX];
    char *head = rn_strdup(norm);
    size_t cut = strlen(norm); /* head is norm[0, cut) */
    const char *rest;
    rn_buf b;
    int rc = 0;

    *out = NULL;
    rn_buf_init(&b, PATH_MAX);
    if (!head)
        return RN_ENOMEM;
    for (;;) {
        head[cut] = '\0';
        if (realpath(cut ? head : norm[0] == '/' ? "/" : ".", real))
            break;
        if (errno != ENOENT || cut == 0) {
            rc = RN_ENOTFOUND;
            goto done;
        }
        while (cut > 0 && norm[cut - 1] != '/')
            cut--;
        if (cut > 0)
            cut--; /* the '/' itself */
    }
    rest = norm + cut;
    while (*rest == '/')
        rest++;
    if (rn_buf_puts(&b, real) ||
        (*rest && strcmp(real, "/") != 0 && rn_buf_putc(&b, '/')) ||
        rn_buf_puts(&b, rest)) {
        rc = RN_ELIMIT;
        goto done;
    }
    if (!(*out = rn_buf_detach(&b, NULL)))
        rc = RN_ENOMEM;
done:
    rn_buf_release(&b);
    rn_free(head);
    return rc;
}

/* One allowed or denied directory (or file). An allowed one must exist; a
 * denied one may not exist yet, when written without "..". */
static int dir_init(pol_dir *d, const char *path, int must_exist,
                    const char *what, rn_errbuf *err)
{
    char real[PATH_MAX];
    rn_buf b;
    int dotdot = 0, rc = 0;

    rn_buf_init(&b, PATH_MAX);
    if (!path || !*path) {
        rc = rn_error_set(err, RN_EINVAL, "%s: an empty path", what);
        goto done;
    }
    if (normalise(path, &b, &dotdot)) {
        rc = rn_error_set(err, RN_ELIMIT, "%s '%s': path too long", what,
                          path);
        goto done;
    }
    if (realpath(path, real)) {
        if (!(d->real = rn_strdup(real)))
            rc = RN_ENOMEM;
    } else if (must_exist || errno != ENOENT || dotdot) {
        rc = rn_error_set(err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                          "%s '%s': %s", what, path, strerror(errno));
        goto done;
    } else {
        rc = resolve_loose(b.ptr, &d->real);
    }
    if (rc == 0 && b.ptr[0] == '/' && !dotdot && strcmp(b.ptr, d->real) != 0 &&
        !(d->given = rn_buf_detach(&b, NULL)))
        rc = RN_ENOMEM;
    if (rc)
        rc = rn_error_set(err, rc, "%s '%s': %s", what, path,
                          rc == RN_ENOMEM ? "out of memory"
                                          : "cannot resolve it");
done:
    rn_buf_release(&b);
    return rc;
}

int rn_io_policy_set(const rn_io_policy *p, rn_errbuf *err)
{
    pol *np = NULL, *old;
    int rc = 0;

    if (p) {
        if ((p->n_allow && !p->allow) || (p->n_deny && !p->deny))
            return rn_error_set(err, RN_EINVAL,
                                "I/O policy: a count without its list");
        np = rn_calloc(1, sizeof(*np));
        if (!np || (p->n_allow &&
                    !(np->allow = rn_calloc(p->n_allow, sizeof(pol_dir)))) ||
            (p->n_deny &&
             !(np->deny = rn_calloc(p->n_deny, sizeof(pol_dir))))) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
        /* Entries not filled yet are zero: pol_free copes. */
        np->n_allow = p->n_allow;
        np->n_deny = p->n_deny;
        for (size_t i = 0; i < p->n_allow; i++)
            if ((rc = dir_init(&np->allow[i], p->allow[i], 1, "allowed path",
                               err)))
                goto done;
        for (size_t i = 0; i < p->n_deny; i++)
            if ((rc = dir_init(&np->deny[i], p->deny[i], 0, "denied path",
                               err)))
                goto done;
        np->block_link_local = p->block_link_local != 0;
    }
    pthread_rwlock_wrlock(&pol_lock);
    old = cur;
    cur = np;
    atomic_store(&cur_active, np != NULL);
    atomic_store(&cur_link_local, np && np->block_link_local);
    pthread_rwlock_unlock(&pol_lock);
    np = old;
done:
    pol_free(np);
    return rc;
}

int rn__io_policy_active(void)
{
    return atomic_load(&cur_active);
}

int rn__io_policy_blocks_link_local(void)
{
    return atomic_load(&cur_link_local);
}

/* The verdict on path (normalised, absolute). real: path is what an
 * opened file or directory resolved to, so only real spellings of the
 * allowed roots count. Holds the read lock. */
static int judge(const pol *p, const char *url, const char *path, int real,
                 rn_errbuf *err)
{
    for (size_t i = 0; i < p->n_deny; i++)
        if (inside(path, p->deny[i].real) ||
            (p->deny[i].given && inside(path, p->deny[i].given)))
            return rn_error_set(err, RN_EPERM,
                                "%s: a directory of the worker itself", url);
    if (p->n_allow == 0)
        return 0;
    for (size_t i = 0; i < p->n_allow; i++)
        if (inside(path, p->allow[i].real) ||
            (!real && p->allow[i].given && inside(path, p->allow[i].given)))
            return 0;
    if (real)
        return rn_error_set(err, RN_EPERM,
                            "%s: outside the directories this worker allows "
                            "(--allow-path), once symbolic links are "
                            "followed",
                            url);
    return rn_error_set(err, RN_EPERM,
                        "%s: outside the directories this worker allows "
                        "(--allow-path)",
                        url);
}

int rn__io_policy_check_path(const char *url, const char *path,
                             rn_errbuf *err)
{
    rn_buf b;
    int dotdot = 0, rc = 0;

    if (!rn__io_policy_active())
        return 0;
    rn_buf_init(&b, PATH_MAX);
    pthread_rwlock_rdlock(&pol_lock);
    if (!cur)
        goto done;
    if (path[0] != '/') {
        rc = rn_error_set(err, RN_EPERM,
                          "%s: a relative path is not allowed on a cluster "
                          "worker (start it with /)",
                          url);
        goto done;
    }
    if (normalise(path, &b, &dotdot)) {
        rc = rn_error_set(err, RN_ELIMIT, "%s: path too long", url);
        goto done;
    }
    if (dotdot) {
        rc = rn_error_set(err, RN_EPERM,
                          "%s: '..' is not allowed in paths on a cluster "
                          "worker",
                          url);
        goto done;
    }
    rc = judge(cur, url, b.ptr, 0, err);
done:
    pthread_rwlock_unlock(&pol_lock);
    rn_buf_release(&b);
    return rc;
}

int rn__io_policy_check_real(const char *url, const char *real,
                             rn_errbuf *err)
{
    int rc = 0;
    if (!rn__io_policy_active())
        return 0;
    pthread_rwlock_rdlock(&pol_lock);
    if (cur)
        rc = judge(cur, url, real, 1, err);
    pthread_rwlock_unlock(&pol_lock);
    return rc;
}

int rn__io_policy_check_fd(const char *url, int fd, rn_errbuf *err)
{
    char link[64], real[PATH_MAX + 1];
    ssize_t n;

    if (!rn__io_policy_active())
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof(real));
    if (n < 0)
        return rn_error_set(err, RN_EPERM,
                            "%s: refused: cannot tell where it is (%s: %s)",
                            url, link, strerror(errno));
    /* Not a path (a pipe, a socket...) or too long to compare: refuse. */
    if ((size_t)n >= sizeof(real) || real[0] != '/')
        return rn_error_set(err, RN_EPERM,
                            "%s: refused: cannot tell where it is", url);
    real[n] = '\0';
    return rn__io_policy_check_real(url, real, err);
}

#define _GNU_SOURCE /* O_DIRECTORY, O_NOFOLLOW, fdopendir, getrandom */
#include "spill/dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"

/* Deepest directory a cleanup descends into: a spill directory holds
 * files only; anything deeper was not made by runnel. */
#define CLEAR_DEPTH 8

/* How long an open waits for a lock a sweeper holds for a moment. */
#define LOCK_TRIES 50
#define LOCK_WAIT_NS (10 * 1000 * 1000)

struct rn_spill_dir {
    char *root;     /* LOCAL/spill */
    char *path;     /* LOCAL/spill/<name> */
    char *name;
    char *lockname; /* <name>.lock, in root */
    int rootfd;
    int lockfd;
};

static int valid_name(const char *s)
{
    size_t n = 0;
    if (!s || !*s || *s == '.')
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
        if (n >= RN_SPILL_DIR_MAX_NAME)
            return 0;
    }
    return 1;
}

/* mkdir -p with mode for what it creates; existing parts must be
 * directories. */
static int mkdir_p(const char *path, mode_t mode)
{
    rn_buf b;
    int rc = 0;
    rn_buf_init(&b, 0);
    if (rn_buf_puts(&b, path)) {
        rn_buf_release(&b);
        return ENOMEM;
    }
    for (char *p = b.ptr + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(b.ptr, mode) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    if (!rc) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = errno;
        else if (!S_ISDIR(st.st_mode))
            rc = ENOTDIR;
    }
    rn_buf_release(&b);
    return rc;
}

/* Removes what directory dfd holds; symbolic links are removed, never
 * followed. Returns 0 or the first errno. */
static int clear_at(int dfd, int depth)
{
    DIR *d;
    struct dirent *e;
    int fd = dup(dfd), first = 0;
    if (fd < 0)
        return errno;
    if (!(d = fdopendir(fd))) {
        int e0 = errno;
        close(fd);
        return e0;
    }
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (unlinkat(dfd, n, 0) == 0)
            continue;
        if ((errno == EISDIR || errno == EPERM) && depth < CLEAR_DEPTH) {
            int sub = openat(dfd, n,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                int r = clear_at(sub, depth + 1);
                close(sub);
                if (r && !first)
                    first = r;
                if (unlinkat(dfd, n, AT_REMOVEDIR) == 0)
                    continue;
            }
        }
        if (!first)
            first = errno;
    }
    closedir(d);
    return first;
}

/* Removes root/name and what it holds; 1 when it existed. */
static int remove_tree(int rootfd, const char *name)
{
    int fd = openat(rootfd, name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    clear_at(fd, 1);
    close(fd);
    unlinkat(rootfd, name, AT_REMOVEDIR);
    return 1;
}

/* Takes the lock root/lockname: 0 with *fd, EWOULDBLOCK when a live
 * process holds it, ENOENT (create 0) when there is none, or an errno.
 * The file is checked to still be the one at that name once locked: a
 * sweeper or the previous owner may have removed it meanwhile. */
static int take_lock(int rootfd, const char *lockname, int create, int wait,
                     int *fd)
{
    for (int tries = 0; tries < LOCK_TRIES; tries++) {
        struct stat a, b;
        int f = openat(rootfd, lockname,
                       O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0),
                       0600);
        if (f < 0)
            return errno;
        if (flock(f, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(f);
            if (e != EWOULDBLOCK)
                return e;
            if (!wait)
                return EWOULDBLOCK;
            {
                struct timespec ts = {0, LOCK_WAIT_NS};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (fstat(f, &a) == 0 &&
            fstatat(rootfd, lockname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd = f;
            return 0;
        }
        close(f); /* removed under us: try the new one */
        if (!create)
            return ENOENT;
    }
    return EWOULDBLOCK;
}

static void random_name(char *out, size_t cap)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)out;
    }
    snprintf(out, cap, "p%ld-%016llx", (long)getpid(), (unsigned long long)r);
}

int rn_spill_dir_open(rn_spill_dir **out, const char *local_dir,
                      const char *job_id, rn_errbuf *err)
{
    rn_spill_dir *d = NULL;
    rn_buf b;
    char pname[64];
    int e, rc = 0, fd;

    *out = NULL;
    rn_buf_init(&b, 0);
    if (job_id && !valid_name(job_id))
        return rn_error_set(err, RN_EINVAL,
                            "job id \"%.64s\" cannot name a spill directory "
                            "(letters, digits, '.', '_', '-'; at most %d, "
                            "not starting with '.')",
                            job_id, RN_SPILL_DIR_MAX_NAME);
    if (!local_dir || !*local_dir)
        return rn_error_set(err, RN_EINVAL, "no local directory to spill to");
    if (!job_id) {
        random_name(pname, sizeof(pname));
        job_id = pname;
    }
    if (!(d = rn_calloc(1, sizeof(*d))))
        goto nomem;
    d->rootfd = d->lockfd = -1;
    if (rn_buf_printf(&b, "%s/spill", local_dir) ||
        !(d->root = rn_buf_detach(&b, NULL)) ||
        rn_buf_printf(&b, "%s/%s", d->root, job_id) ||
        !(d->path = rn_buf_detach(&b, NULL)) ||
        !(d->name = rn_strdup(job_id)) ||
        rn_buf_printf(&b, "%s.lock", job_id) ||
        !(d->lockname = rn_buf_detach(&b, NULL)))
        goto nomem;

    if ((e = mkdir_p(d->root, 0700))) {
        rc = rn_error_set(err, RN_EIO, "spill directory %s: %s", d->root,
                          strerror(e));
        goto done;
    }
    if ((d->rootfd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = rn_error_set(err, RN_EIO, "spill directory %s: %s", d->root,
                          strerror(errno));
        goto done;
    }
    /* the lock before the directory (see dir.h) */
    if ((e = take_lock(d->rootfd, d->lockname, 1, 1, &fd))) {
        if (e == EWOULDBLOCK)
            rc = rn_error_set(err, RN_EEXIST,
                              "spill directory %s is in use by another "
                              "process", d->path);
        else
            rc = rn_error_set(err, RN_EIO, "spill directory %s: lock: %s",
                              d->path, strerror(e));
        goto done;
    }
    d->lockfd = fd;
    /* what a dead owner left is garbage */
    remove_tree(d->rootfd, d->name);
    if (mkdirat(d->rootfd, d->name, 0700) != 0) {
        /* what could not be removed stays (run names never clash), but
         * the name must be a directory of its own, not a link */
        struct stat st;
        int e0 = errno;
        if (e0 != EEXIST ||
            fstatat(d->rootfd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
            rc = rn_error_set(err, RN_EIO, "spill directory %s: %s", d->path,
                              strerror(e0 == EEXIST ? ENOTDIR : e0));
            goto done;
        }
    }
    /* who holds it, for a person looking (the lock is what counts) */
    if (rn_buf_printf(&b, "%ld\n", (long)getpid()) == 0 &&
        ftruncate(d->lockfd, 0) == 0) {
        ssize_t k = pwrite(d->lockfd, b.ptr, b.len, 0);
        (void)k; /* informational only */
    }
    *out = d;
    d = NULL;
    goto done;
nomem:
    rc = rn_error_set(err, RN_ENOMEM, "out of memory for a spill directory");
done:
    rn_buf_release(&b);
    rn_spill_dir_free(d);
    return rc;
}

const char *rn_spill_dir_path(const rn_spill_dir *d)
{
    return d->path;
}

int rn_spill_dir_clear(rn_spill_dir *d, rn_errbuf *err)
{
    int fd = openat(d->rootfd, d->name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e;
    if (fd < 0)
        return rn_error_set(err, RN_EIO, "spill directory %s: %s", d->path,
                            strerror(errno));
    e = clear_at(fd, 1);
    close(fd);
    if (e)
        return rn_error_set(err, RN_EIO, "cannot empty spill directory %s: %s",
                            d->path, strerror(e));
    return 0;
}

void rn_spill_dir_free(rn_spill_dir *d)
{
    if (!d)
        return;
    if (d->lockfd >= 0) {
        /* the directory first, then the lock, still held */
        remove_tree(d->rootfd, d->name);
        unlinkat(d->rootfd, d->lockname, 0);
        close(d->lockfd);
    }
    if (d->rootfd >= 0)
        close(d->rootfd);
    rn_free(d->root);
    rn_free(d->path);
    rn_free(d->name);
    rn_free(d->lockname);
    rn_free(d);
}

int rn_spill_dir_sweep(const char *local_dir, size_t *removed,
                       rn_errbuf *err)
{
    rn_buf root, names;
    DIR *dir = NULL;
    struct dirent *e;
    size_t count = 0;
    int rootfd = -1, fd, rc = 0;

    rn_buf_init(&root, 0);
    rn_buf_init(&names, 0);
    if (removed)
        *removed = 0;
    if (rn_buf_printf(&root, "%s/spill", local_dir))
        goto nomem;
    if ((rootfd = open(root.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            goto done;
        rc = rn_error_set(err, RN_EIO, "spill directory %s: %s", root.ptr,
                          strerror(errno));
        goto done;
    }
    /* the names first: the directory changes while it is swept */
    if ((fd = dup(rootfd)) < 0 || !(dir = fdopendir(fd))) {
        rc = rn_error_set(err, RN_EIO, "spill directory %s: %s", root.ptr,
                          strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.' &&
            rn_buf_append(&names, e->d_name, strlen(e->d_name) + 1))
            goto nomem;

    for (size_t off = 0; off < names.len;) {
        const char *n = names.ptr + off;
        size_t len = strlen(n);
        char stem[RN_SPILL_DIR_MAX_NAME + 32], lockname[sizeof(stem) + 8];
        struct stat st;
        int isdir, lfd;
        off += len + 1;
        if (len >= sizeof(stem) ||
            fstatat(rootfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        isdir = S_ISDIR(st.st_mode);
        if (isdir) {
            memcpy(stem, n, len + 1);
        } else if (S_ISREG(st.st_mode) && len > 5 &&
                   !strcmp(n + len - 5, ".lock")) {
            memcpy(stem, n, len - 5);
            stem[len - 5] = '\0';
        } else {
            continue; /* not ours */
        }
        snprintf(lockname, sizeof(lockname), "%s.lock", stem);
        /* a directory without a lock is an orphan: lock it ourselves so
         * that an owner starting now waits for us */
        if (take_lock(rootfd, lockname, isdir, 0, &lfd))
            continue; /* held by a live process, or gone */
        count += (size_t)remove_tree(rootfd, stem);
        unlinkat(rootfd, lockname, 0);
        close(lfd);
    }
    if (removed)
        *removed = count;
    goto done;
nomem:
    rc = rn_error_set(err, RN_ENOMEM, "out of memory sweeping spill "
                      "directories");
done:
    if (dir)
        closedir(dir);
    if (rootfd >= 0)
        close(rootfd);
    rn_buf_release(&root);
    rn_buf_release(&names);
    return rc;
}

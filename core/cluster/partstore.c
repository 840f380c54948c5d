/* A worker's partitions, in memory or spilled to disk. */
#define _GNU_SOURCE
#include "cluster/partstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/budget.h"
#include "base/buf.h"
#include "value/codec.h"

/* Bytes written to a spill file per write(2). */
#define WRITE_PIECE ((size_t)1 << 20)

typedef struct entry {
    char job[32];
    uint32_t task;
    uint32_t bucket;      /* which of the task's partitions (a shuffle's) */
    uint32_t attempt;
    rn_partition *p;      /* NULL while only on disk */
    size_t bytes;         /* its in-memory size */
    char *file;           /* its spilled copy, or NULL */
    uint64_t file_off;    /* where the encoding starts in it */
    uint64_t file_bytes;
    uint64_t used;        /* the store's clock when last put or read */
    int writing;          /* a spill of it is in progress (unlocked) */
} entry;

struct rn_partstore {
    pthread_mutex_t lock;
    entry *e;
    size_t n, cap;
    char *dir;            /* spill directory, or NULL */
    uint64_t clock, seq;
    int spilling;         /* one spill at a time */
};

rn_partstore *rn_partstore_new(void)
{
    rn_partstore *ps = rn_calloc(1, sizeof(*ps));
    if (ps)
        pthread_mutex_init(&ps->lock, NULL);
    return ps;
}

void rn_partstore_free(rn_partstore *ps)
{
    if (!ps)
        return;
    rn_partstore_clear(ps);
    rn_free(ps->e);
    rn_free(ps->dir);
    pthread_mutex_destroy(&ps->lock);
    rn_free(ps);
}

int rn_partstore_set_spill_dir(rn_partstore *ps, const char *dir)
{
    char *d = dir ? rn_strdup(dir) : NULL;
    if (dir && !d)
        return RN_ENOMEM;
    pthread_mutex_lock(&ps->lock);
    rn_free(ps->dir);
    ps->dir = d;
    pthread_mutex_unlock(&ps->lock);
    return 0;
}

static entry *find(rn_partstore *ps, const char *job, uint32_t task,
                   uint32_t bucket)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->e[i].task == task && ps->e[i].bucket == bucket &&
            strcmp(ps->e[i].job, job) == 0)
            return &ps->e[i];
    return NULL;
}

/* Forgets what e holds (lock held): its reference and its file. */
static void entry_clear(entry *e)
{
    rn_partition_unref(e->p);
    e->p = NULL;
    if (e->file) {
        unlink(e->file);
        rn_free(e->file);
        e->file = NULL;
    }
    e->file_bytes = 0;
    e->file_off = 0;
}

/* The entry of (job, task, bucket), emptied, or a new one (lock held);
 * NULL when out of memory. */
static entry *slot(rn_partstore *ps, const char *job, uint32_t task,
                   uint32_t bucket)
{
    entry *e;
    if ((e = find(ps, job, task, bucket))) {
        entry_clear(e);
        return e;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        entry *ne = rn_realloc(ps->e, cap * sizeof(*ne));
        if (!ne)
            return NULL;
        ps->e = ne;
        ps->cap = cap;
    }
    e = &ps->e[ps->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->job, sizeof(e->job), "%s", job);
    e->task = task;
    e->bucket = bucket;
    return e;
}

int rn_partstore_put(rn_partstore *ps, const char *job, uint32_t task,
                     uint32_t bucket, uint32_t attempt, rn_partition *p)
{
    entry *e;
    pthread_mutex_lock(&ps->lock);
    if (!(e = slot(ps, job, task, bucket))) {
        pthread_mutex_unlock(&ps->lock);
        rn_partition_unref(p);
        return RN_ENOMEM;
    }
    e->p = p;
    e->attempt = attempt;
    e->bytes = rn_partition_bytes(p);
    e->used = ++ps->clock;
    pthread_mutex_unlock(&ps->lock);
    return 0;
}

int rn_partstore_put_file(rn_partstore *ps, const char *job, uint32_t task,
                          uint32_t bucket, uint32_t attempt, char *path,
                          uint64_t off, uint64_t size)
{
    entry *e;
    pthread_mutex_lock(&ps->lock);
    if (!(e = slot(ps, job, task, bucket))) {
        pthread_mutex_unlock(&ps->lock);
        unlink(path);
        rn_free(path);
        return RN_ENOMEM;
    }
    e->file = path;
    e->file_off = off;
    e->file_bytes = size;
    e->attempt = attempt;
    e->used = ++ps->clock;
    pthread_mutex_unlock(&ps->lock);
    rn_budget_spilled(size, 1);
    return 0;
}

/* Reads a spilled file back (no lock held). */
static rn_partition *load_file(const char *path, uint64_t off, uint64_t size,
                               rn_errbuf *err)
{
    rn_partition *p = NULL;
    rn_buf b;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    rn_buf_init(&b, 0);
    if (fd < 0 || rn_buf_reserve(&b, (size_t)size + 1)) {
        rn_error_set(err, fd < 0 ? RN_EIO : RN_ENOMEM,
                     "cannot read spilled partition %s: %s", path,
                     fd < 0 ? strerror(errno) : "out of memory");
        goto done;
    }
    while (b.len < size) {
        ssize_t r = pread(fd, b.ptr + b.len, (size_t)size - b.len,
                          (off_t)(off + b.len));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rn_error_set(err, RN_EIO, "spilled partition %s: %s", path,
                         r < 0 ? strerror(errno) : "shorter than written");
            goto done;
        }
        b.len += (size_t)r;
    }
    if (!(p = rn_partition_new()) || rn_codec_decode(b.ptr, b.len, p, err)) {
        if (p)
            rn_error_prefix(err, "spilled partition %s: ", path);
        else
            rn_error_set(err, RN_ENOMEM, "out of memory");
        rn_partition_unref(p);
        p = NULL;
    }
done:
    if (fd >= 0)
        close(fd);
    rn_buf_release(&b);
    return p;
}

rn_partition *rn_partstore_get_err(rn_partstore *ps, const char *job,
                                   uint32_t task, uint32_t bucket,
                                   rn_errbuf *err)
{
    entry *e;
    rn_partition *p = NULL, *loaded;
    char *path = NULL;
    uint64_t size = 0, off = 0;
    pthread_mutex_lock(&ps->lock);
    if ((e = find(ps, job, task, bucket))) {
        e->used = ++ps->clock;
        if ((p = e->p))
            rn_partition_ref(p);
        else if (e->file && (path = rn_strdup(e->file))) {
            size = e->file_bytes;
            off = e->file_off;
        }
    }
    pthread_mutex_unlock(&ps->lock);
    if (p || !path)
        return p;
    /* back from disk for the reader alone: the store keeps the file, and
     * its memory stays what its share allows (a combine reading its
     * spilled inputs one at a time holds one of them) */
    loaded = load_file(path, off, size, err);
    rn_free(path);
    return loaded;
}

rn_partition *rn_partstore_get(rn_partstore *ps, const char *job, uint32_t task)
{
    rn_errbuf err;
    return rn_partstore_get_err(ps, job, task, 0, &err);
}

int rn_partstore_open(rn_partstore *ps, const char *job, uint32_t task,
                      uint32_t bucket, rn_partition **p, int *fd,
                      uint64_t *size, rn_errbuf *err)
{
    entry *e;
    int rc = 0;
    *p = NULL;
    *fd = -1;
    *size = 0;
    pthread_mutex_lock(&ps->lock);
    if (!(e = find(ps, job, task, bucket))) {
        rc = RN_ENOTFOUND;
    } else if (e->p) {
        *p = e->p;
        rn_partition_ref(*p);
    } else if (e->file) {
        /* an open file survives its unlink: a drop while we send is fine */
        if ((*fd = open(e->file, O_RDONLY | O_CLOEXEC)) < 0 ||
            lseek(*fd, (off_t)e->file_off, SEEK_SET) < 0) {
            rc = rn_error_set(err, RN_EIO, "cannot open spilled partition %s: %s",
                              e->file, strerror(errno));
            if (*fd >= 0)
                close(*fd);
            *fd = -1;
        }
        *size = e->file_bytes;
    } else {
        rc = RN_ENOTFOUND;
    }
    pthread_mutex_unlock(&ps->lock);
    return rc;
}

static void remove_at(rn_partstore *ps, size_t i)
{
    /* a spill in progress finds its entry gone and removes its file */
    entry_clear(&ps->e[i]);
    ps->e[i] = ps->e[--ps->n];
}

/* Removes every partition of the task (all its buckets): of any
 * attempt, or only of `attempt` when only_attempt. */
static void drop_task(rn_partstore *ps, const char *job, uint32_t task,
                      int only_attempt, uint32_t attempt)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n;)
        if (ps->e[i].task == task && strcmp(ps->e[i].job, job) == 0 &&
            (!only_attempt || ps->e[i].attempt == attempt))
            remove_at(ps, i);
        else
            i++;
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_drop(rn_partstore *ps, const char *job, uint32_t task)
{
    drop_task(ps, job, task, 0, 0);
}

void rn_partstore_drop_attempt(rn_partstore *ps, const char *job,
                               uint32_t task, uint32_t attempt)
{
    drop_task(ps, job, task, 1, attempt);
}

void rn_partstore_drop_job(rn_partstore *ps, const char *job)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n;)
        if (strcmp(ps->e[i].job, job) == 0)
            remove_at(ps, i);
        else
            i++;
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_clear(rn_partstore *ps)
{
    pthread_mutex_lock(&ps->lock);
    while (ps->n)
        remove_at(ps, ps->n - 1);
    pthread_mutex_unlock(&ps->lock);
}

/* Writes p's encoding to path (a new file): 0, or RN_EIO / RN_ENOMEM
 * with nothing left on disk. */
static int write_file(const char *path, const rn_partition *p, uint64_t *size,
                      rn_errbuf *err)
{
    rn_codec_enc enc;
    uint8_t *piece = rn_malloc(WRITE_PIECE);
    int fd = -1, rc;
    *size = 0;
    if (!piece)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if ((rc = rn_codec_enc_begin(&enc, p->items, p->n))) {
        rn_free(piece);
        return rn_error_set(err, rc, "cannot encode a partition of %zu values",
                            p->n);
    }
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   0600)) < 0) {
        rc = rn_error_set(err, RN_EIO, "cannot spill to %s: %s", path,
                          strerror(errno));
        goto done;
    }
    for (;;) {
        size_t len = 0, off = 0;
        if ((rc = rn_codec_enc_next(&enc, piece, WRITE_PIECE, &len))) {
            rn_error_set(err, rc, "cannot encode a partition to spill it");
            goto done;
        }
        if (!len)
            break;
        while (off < len) {
            ssize_t w = write(fd, piece + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = rn_error_set(err, RN_EIO, "cannot spill to %s: %s", path,
                                  strerror(errno));
                goto done;
            }
            off += (size_t)w;
        }
        *size += len;
    }
    rc = 0;
done:
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = rn_error_set(err, RN_EIO, "cannot spill to %s: %s", path,
                          strerror(errno));
    if (rc && fd >= 0)
        unlink(path); /* a full disk leaves nothing behind */
    rn_codec_enc_release(&enc);
    rn_free(piece);
    return rc;
}

/* The least recently used partition in memory not being written (lock
 * held), or NULL; *held gets the bytes in memory. */
static entry *lru_locked(rn_partstore *ps, uint64_t *held)
{
    entry *best = NULL;
    *held = 0;
    for (size_t i = 0; i < ps->n; i++) {
        entry *e = &ps->e[i];
        if (!e->p)
            continue;
        *held += e->bytes;
        if (!e->writing && (!best || e->used < best->used))
            best = e;
    }
    return best;
}

int rn_partstore_spill(rn_partstore *ps, uint64_t max, uint64_t *moved,
                       rn_errbuf *err)
{
    uint64_t total = 0;
    int rc = 0;
    pthread_mutex_lock(&ps->lock);
    if (!ps->dir || ps->spilling) {
        pthread_mutex_unlock(&ps->lock);
        if (moved)
            *moved = 0;
        return 0;
    }
    ps->spilling = 1;
    for (;;) {
        uint64_t held, size = 0;
        entry *e = lru_locked(ps, &held);
        rn_partition *p;
        char path[4096], job[32];
        uint32_t task, bucket, attempt;
        if (!e || held <= max)
            break;
        p = e->p;
        rn_partition_ref(p);
        e->writing = 1;
        snprintf(job, sizeof(job), "%s", e->job);
        task = e->task;
        bucket = e->bucket;
        attempt = e->attempt;
        snprintf(path, sizeof(path), "%s/part-%s-%u-%u-%u-%llu.rnp", ps->dir,
                 job, task, bucket, attempt, (unsigned long long)++ps->seq);
        pthread_mutex_unlock(&ps->lock);
        rc = write_file(path, p, &size, err);
        pthread_mutex_lock(&ps->lock);
        e = find(ps, job, task, bucket);
        if (e && e->attempt == attempt && e->p == p)
            e->writing = 0;
        else
            e = NULL; /* dropped or replaced meanwhile */
        if (rc) {
            rn_partition_unref(p);
            break;
        }
        if (!e || !(e->file = rn_strdup(path))) {
            unlink(path);
        } else {
            e->file_bytes = size;
            rn_partition_unref(e->p); /* the store's reference */
            e->p = NULL;
            total += size;
            rn_budget_spilled(size, 1);
        }
        rn_partition_unref(p);
    }
    ps->spilling = 0;
    pthread_mutex_unlock(&ps->lock);
    if (moved)
        *moved = total;
    return rc;
}

void rn_partstore_stats_ex(rn_partstore *ps, rn_partstore_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->e[i].p)
            out->bytes += ps->e[i].bytes;
        if (ps->e[i].file) {
            out->spilled++;
            out->spilled_bytes += ps->e[i].file_bytes;
        }
    }
    out->count = (uint32_t)ps->n;
    pthread_mutex_unlock(&ps->lock);
}

void rn_partstore_stats(rn_partstore *ps, uint32_t *count, uint64_t *bytes)
{
    rn_partstore_stats_t s;
    rn_partstore_stats_ex(ps, &s);
    *count = s.count;
    *bytes = s.bytes;
}

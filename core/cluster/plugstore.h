/*
 * A content-addressed store of plugin files: DIR/plugins/<sha256>.so plus
 * a small <sha256>.meta (name and version as the pusher declared them).
 * The scheduler keeps pushed plugins in one (its --state-dir, so they
 * survive a restart); a worker caches fetched ones in one (its
 * --local-dir).
 *
 * A file enters only through a put that hashes the bytes as they arrive
 * and refuses them unless the SHA-256 equals the claimed id (and the size
 * the claimed size); it is written aside and renamed into place, so a
 * reader never sees half a file. Opening a store re-hashes what is there
 * and ignores (with a warning) any file whose bytes no longer match its
 * name.
 *
 * Thread-safety: every function locks; puts of the same id may race
 * (the last rename wins, with identical bytes).
 */
#ifndef RN_CLUSTER_PLUGSTORE_H
#define RN_CLUSTER_PLUGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define RN_PLUGSTORE_MAX_FILE ((uint64_t)512 << 20)
/* Plugins one store holds (ListPluginsReply is bounded: pbbounds.h). */
#define RN_PLUGSTORE_MAX_PLUGINS 65536

typedef struct rn_plugstore rn_plugstore;
typedef struct rn_plugput rn_plugput;

typedef struct rn_plugentry {
    char id[65];
    char name[64];
    char version[32];
    uint64_t size;
} rn_plugentry;

/* dir NULL: a private temporary directory, removed by rn_plugstore_free. */
int rn_plugstore_open(const char *dir, rn_plugstore **out, rn_errbuf *err);
void rn_plugstore_free(rn_plugstore *ps); /* NULL ok */
const char *rn_plugstore_dir(const rn_plugstore *ps);

/* 1 when id is 64 lower-case hex digits. */
int rn_plugstore_valid_id(const char *id);

/* Path of a stored plugin into path; RN_ENOTFOUND when absent. */
int rn_plugstore_path(rn_plugstore *ps, const char *id, char *path,
                      size_t cap);
/* A copy of the entries (rn_free the array). */
int rn_plugstore_list(rn_plugstore *ps, rn_plugentry **out, size_t *n);

/* Starts storing a file that claims to be `id` of `size` bytes. *exists
 * is set (and *out NULL) when the store has it already. */
int rn_plugstore_begin(rn_plugstore *ps, const char *id, const char *name,
                       const char *version, uint64_t size, rn_plugput **out,
                       int *exists, rn_errbuf *err);
int rn_plugput_write(rn_plugput *pp, const void *p, size_t n, rn_errbuf *err);
/* Verifies size and SHA-256, then publishes; frees pp either way. The
 * mismatch error reads "plugin bytes do not match the claimed id
 * sha256:<claimed> (they hash to sha256:<actual>)". */
int rn_plugput_commit(rn_plugput *pp, rn_errbuf *err);
void rn_plugput_abort(rn_plugput *pp); /* NULL ok */

#endif

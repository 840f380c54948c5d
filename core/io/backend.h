/*
 * Inside the I/O module: the back-end table a URL scheme maps to, and the
 * codec layer (compress.c) that io.c stacks on top of any back-end.
 *
 * A back-end moves raw bytes only; decompression, magic sniffing and
 * compression on write live above it, so HTTP(S) and S3 (libcurl) plug in
 * as one more file in core/io/ defining an rn__io_backend and one line in
 * io.c's scheme table.
 *
 * Every function gets the URL exactly as the user wrote it and reports
 * errors naming it. Handles are used by one thread at a time.
 */
#ifndef RN_CORE_IO_BACKEND_H
#define RN_CORE_IO_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/error.h"
#include "io/io.h"

typedef struct rn__io_backend {
    const char *name;
    /* Expands pattern into entries allocated in a (sorted by URL). */
    int (*list)(rn_arena *a, const char *pattern, rn_io_entry **out,
                size_t *n, rn_errbuf *err);
    /* Raw bytes [offset, offset + length); length UINT64_MAX: to the end.
     * Reading past the end of the object yields 0, not an error. */
    int (*open)(const char *url, uint64_t offset, uint64_t length,
                void **h, rn_errbuf *err);
    /* The count, 0 at the end, or a negative rn_err. */
    int64_t (*read)(void *h, void *buf, size_t cap, rn_errbuf *err);
    void (*close)(void *h);
    /* Writes aside; commit publishes atomically and frees h whatever
     * happens; abort discards and frees. */
    int (*create)(const char *url, void **h, rn_errbuf *err);
    int (*write)(void *h, const void *p, size_t n, rn_errbuf *err);
    int (*commit)(void *h, rn_errbuf *err);
    void (*abort)(void *h);
} rn__io_backend;

extern const rn__io_backend rn__io_file; /* file.c */
extern const rn__io_backend rn__io_http; /* http.c: http:// https:// */
extern const rn__io_backend rn__io_s3;   /* s3.c */

/* The worker's policy (policy.c; io.h: rn_io_policy). Without a policy
 * every check returns 0. url is the name errors give. */
int rn__io_policy_active(void);
int rn__io_policy_blocks_link_local(void);
/* Before touching the file system: path absolute, without "..", inside an
 * allowed root as written and outside the denied paths. */
int rn__io_policy_check_path(const char *url, const char *path,
                             rn_errbuf *err);
/* real: what an opened object resolved to (realpath, /proc/self/fd). */
int rn__io_policy_check_real(const char *url, const char *real,
                             rn_errbuf *err);
/* Where fd really is (readlink of /proc/self/fd/N), checked. Refuses what
 * it cannot locate. */
int rn__io_policy_check_fd(const char *url, int fd, rn_errbuf *err);

/* Codec layer (compress.c). Decoders pull raw bytes through a callback
 * with the back-end's read contract; encoders push encoded bytes. */
typedef int64_t (*rn__io_pull_fn)(void *ud, void *buf, size_t cap,
                                  rn_errbuf *err);
typedef int (*rn__io_push_fn)(void *ud, const void *p, size_t n,
                              rn_errbuf *err);

typedef struct rn__io_decoder rn__io_decoder;
typedef struct rn__io_encoder rn__io_encoder;

/* url is only used in messages. */
int rn__io_decoder_new(rn_io_codec codec, const char *url, rn__io_pull_fn pull,
                       void *ud, rn__io_decoder **out, rn_errbuf *err);
int64_t rn__io_decoder_read(rn__io_decoder *d, void *buf, size_t cap,
                            rn_errbuf *err);
void rn__io_decoder_free(rn__io_decoder *d);

int rn__io_encoder_new(rn_io_codec codec, const char *url, rn__io_push_fn push,
                       void *ud, rn__io_encoder **out, rn_errbuf *err);
int rn__io_encoder_write(rn__io_encoder *e, const void *p, size_t n,
                         rn_errbuf *err);
/* Flushes the codec's tail through push. */
int rn__io_encoder_finish(rn__io_encoder *e, rn_errbuf *err);
/* Frees without pushing anything more. NULL ok. */
void rn__io_encoder_free(rn__io_encoder *e);

#endif

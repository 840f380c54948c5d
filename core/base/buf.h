/*
 * A growable byte buffer with a maximum size, so hostile input can never
 * grow it without bound (curl's dynbuf). Always NUL-terminated after
 * the first append, so text can be handed to C APIs.
 *
 * One thread at a time.
 */
#ifndef RN_CORE_BUF_H
#define RN_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/error.h"

typedef struct rn_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass it fail with RN_ELIMIT */
} rn_buf;

void rn_buf_init(rn_buf *b, size_t max);
void rn_buf_release(rn_buf *b);
void rn_buf_reset(rn_buf *b); /* len = 0, memory kept */
int rn_buf_reserve(rn_buf *b, size_t extra);
int rn_buf_append(rn_buf *b, const void *p, size_t n);
int rn_buf_putc(rn_buf *b, char c);
int rn_buf_puts(rn_buf *b, const char *s);
int rn_buf_printf(rn_buf *b, const char *fmt, ...) RN_FMT(2, 3);
int rn_buf_vprintf(rn_buf *b, const char *fmt, va_list ap);
/* Hands the memory to the caller (free with rn_free); b is reset empty. */
char *rn_buf_detach(rn_buf *b, size_t *len);

#endif

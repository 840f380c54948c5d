#include "base/buf.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void rn_buf_init(rn_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : (size_t)1 << 40;
}

void rn_buf_release(rn_buf *b)
{
    rn_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void rn_buf_reset(rn_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

int rn_buf_reserve(rn_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (extra > b->max || b->len > b->max - extra)
        return RN_ELIMIT;
    need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = rn_realloc(b->ptr, cap);
    if (!p)
        return RN_ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int rn_buf_append(rn_buf *b, const void *p, size_t n)
{
    int rc = rn_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int rn_buf_putc(rn_buf *b, char c)
{
    return rn_buf_append(b, &c, 1);
}

int rn_buf_puts(rn_buf *b, const char *s)
{
    return rn_buf_append(b, s, strlen(s));
}

int rn_buf_vprintf(rn_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return RN_EINVAL;
    rc = rn_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int rn_buf_printf(rn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = rn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *rn_buf_detach(rn_buf *b, size_t *len)
{
    char *p = b->ptr;
    if (len)
        *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

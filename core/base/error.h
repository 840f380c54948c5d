/*
 * Error detail for core functions: they return 0 or a negative rn_err and,
 * when given an rn_errbuf, say why in it. Messages read as one sentence
 * without a trailing period; context is added in front with
 * rn_error_prefix as the error travels up ("wordcount.yaml:3:5: ...").
 */
#ifndef RN_CORE_ERROR_H
#define RN_CORE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include <runnel/plugin.h>

#define RN_ERRBUF_SIZE 1024

typedef struct rn_errbuf {
    int code;
    char msg[RN_ERRBUF_SIZE];
} rn_errbuf;

#if defined(__GNUC__)
#define RN_FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define RN_FMT(a, b)
#endif

/* Records code and message; returns code. err may be NULL. */
int rn_error_set(rn_errbuf *err, int code, const char *fmt, ...) RN_FMT(3, 4);
int rn_error_setv(rn_errbuf *err, int code, const char *fmt, va_list ap);
/* Puts formatted text in front of the current message. */
void rn_error_prefix(rn_errbuf *err, const char *fmt, ...) RN_FMT(2, 3);
void rn_error_clear(rn_errbuf *err);
/* Short name of a code: "EINVAL"... */
const char *rn_err_name(int code);

#endif

#include "base/error.h"

#include <stdio.h>
#include <string.h>

int rn_error_setv(rn_errbuf *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

int rn_error_set(rn_errbuf *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rn_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void rn_error_prefix(rn_errbuf *err, const char *fmt, ...)
{
    char pre[RN_ERRBUF_SIZE];
    char old[RN_ERRBUF_SIZE];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    size_t np = strlen(pre), no;
    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    no = strlen(old);
    if (np > sizeof(err->msg) - 1)
        np = sizeof(err->msg) - 1;
    if (no > sizeof(err->msg) - 1 - np)
        no = sizeof(err->msg) - 1 - np;
    memcpy(err->msg, pre, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
}

void rn_error_clear(rn_errbuf *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *rn_err_name(int code)
{
    static const char *const names[] = {
        "OK",      "EINVAL",   "ENOMEM",   "EIO",       "EFORMAT",
        "ETYPE",   "ERANGE",   "ENOTFOUND", "EABI",     "ECANCELED",
        "EPLUGIN", "EINTERNAL", "ELIMIT",  "EREMOTE",   "EEXIST",
        "EPERM"};
    int i = -code;
    if (i < 0 || i >= (int)(sizeof(names) / sizeof(names[0])))
        return "E?";
    return names[i];
}

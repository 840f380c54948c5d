/*
 * Roles, names and the reading of certificate subjects (identity.h).
 *
 * The subject parser reads only what OpenSSL's X509_NAME_print_ex(...,
 * XN_FLAG_RFC2253) prints for the subjects runnel issues: "TYPE=VALUE"
 * pairs separated by ',' with no spaces. Everything a runnel subject never
 * contains (escapes, quotes, '+' multi-valued RDNs, hex-dumped values,
 * other attribute types) is refused rather than interpreted: a parser that
 * understood more of RFC 2253 would only be more ways to be fooled.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "security/identity.h"

#include <string.h>

/* Longer than any subject runnel issues ("CN=" + 64 + ",OU=scheduler,
 * O=runnel"); the bound also keeps hostile input from costing more. */
#define SUBJECT_MAX 256

static const char *const role_names[] = {"none", "scheduler", "worker",
                                         "client", "admin"};

const char *rn_role_name(rn_role r)
{
    if ((int)r < 0 || (size_t)r >= sizeof(role_names) / sizeof(role_names[0]))
        return "none";
    return role_names[r];
}

/* The role a string of n bytes names; RN_ROLE_NONE for anything but the
 * four roles a certificate can carry. */
static rn_role role_from(const char *s, size_t n)
{
    for (int r = RN_ROLE_SCHEDULER; r <= RN_ROLE_ADMIN; r++)
        if (strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
            return (rn_role)r;
    return RN_ROLE_NONE;
}

int rn_role_parse(const char *s, rn_role *out, rn_errbuf *err)
{
    rn_role r = s ? role_from(s, strlen(s)) : RN_ROLE_NONE;
    *out = r;
    if (r == RN_ROLE_NONE)
        return rn_error_set(err, RN_EINVAL,
                            "unknown role '%.64s': expected scheduler, "
                            "worker, client or admin",
                            s ? s : "");
    return 0;
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
           c == '-';
}

int rn_identity_name_ok(const char *s, size_t n)
{
    if (!s || n == 0 || n > RN_IDENTITY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A copy of hostile text fit for an error message: at most 96 bytes,
 * anything but printable ASCII shown as '?'. */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        if (k >= 96 && i + 1 < n) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
    }
    buf[k] = '\0';
    return buf;
}

static int refuse(rn_errbuf *err, const char *subj, size_t n,
                  const char *why)
{
    char buf[128];
    return rn_error_set(err, RN_EPERM,
                        "certificate subject '%s' is not a runnel identity: %s",
                        shown(subj, n, buf, sizeof(buf)), why);
}

int rn_identity_from_subject(const char *subject, rn_identity *out,
                             rn_errbuf *err)
{
    size_t n, pos = 0, cn_len = 0, ou_len = 0;
    const char *cn = NULL, *ou = NULL;
    int n_o = 0, n_ou = 0, n_cn = 0;
    rn_role role;

    out->role = RN_ROLE_NONE;
    out->name[0] = '\0';
    if (!subject)
        return rn_error_set(err, RN_EPERM, "no certificate subject");
    n = strnlen(subject, SUBJECT_MAX + 1);
    if (n == 0)
        return rn_error_set(err, RN_EPERM, "empty certificate subject");
    if (n > SUBJECT_MAX)
        return refuse(err, subject, n, "longer than 256 bytes");
    /* None of these can appear in a subject runnel issued; say which one
     * was seen rather than fail later with a vaguer reason. */
    if (memchr(subject, '\\', n))
        return refuse(err, subject, n, "escaped characters are not allowed");
    if (memchr(subject, '+', n))
        return refuse(err, subject, n,
                      "multi-valued RDNs ('+') are not allowed");
    if (memchr(subject, '"', n))
        return refuse(err, subject, n, "quoted values are not allowed");

    while (pos <= n) {
        const char *rdn = subject + pos, *comma, *eq, *val;
        size_t len, tlen, vlen;
        comma = memchr(rdn, ',', n - pos);
        len = comma ? (size_t)(comma - rdn) : n - pos;
        if (len == 0)
            return refuse(err, subject, n, "empty attribute");
        eq = memchr(rdn, '=', len);
        if (!eq)
            return refuse(err, subject, n, "an attribute has no '='");
        tlen = (size_t)(eq - rdn);
        val = eq + 1;
        vlen = len - tlen - 1;
        if (tlen == 1 && rdn[0] == 'O') {
            if (++n_o > 1)
                return refuse(err, subject, n, "more than one O");
            if (vlen != 6 || memcmp(val, "runnel", 6) != 0)
                return refuse(err, subject, n, "O is not runnel");
        } else if (tlen == 2 && memcmp(rdn, "OU", 2) == 0) {
            if (++n_ou > 1)
                return refuse(err, subject, n, "more than one OU");
            ou = val;
            ou_len = vlen;
        } else if (tlen == 2 && memcmp(rdn, "CN", 2) == 0) {
            if (++n_cn > 1)
                return refuse(err, subject, n, "more than one CN");
            cn = val;
            cn_len = vlen;
        } else {
            return refuse(err, subject, n,
                          "only O, OU and CN attributes are allowed");
        }
        pos += len + 1; /* past the ',' (or past the end: loop stops) */
    }
    if (n_o == 0)
        return refuse(err, subject, n, "no O=runnel");
    if (!ou)
        return refuse(err, subject, n, "no OU naming a role");
    if (!cn)
        return refuse(err, subject, n, "no CN naming the peer");
    role = role_from(ou, ou_len);
    if (role == RN_ROLE_NONE)
        return refuse(err, subject, n,
                      "OU is not a role (scheduler, worker, client, admin)");
    if (!rn_identity_name_ok(cn, cn_len))
        return refuse(err, subject, n,
                      "CN is not a name of 1 to 64 characters among "
                      "A-Z a-z 0-9 . _ @ -");
    out->role = role;
    memcpy(out->name, cn, cn_len);
    out->name[cn_len] = '\0';
    return 0;
}

/*
 * libFuzzer target for rn_identity_from_subject (core/security/
 * identity.c), which reads the subject of a peer's certificate as gRPC
 * reports it: on a cluster with TLS, text from whoever connects.
 *
 * Arbitrary bytes (up to the first NUL, as a C string) must give an
 * identity or RN_EPERM, never a crash or a read past the end. An identity
 * must be a real role and a valid name, and its canonical subject must
 * read back as the same identity.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "security/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly size bytes and a NUL: ASan sees any read beyond */
    char *s = malloc(size + 1), canon[160];
    rn_identity id, again;
    rn_errbuf err;
    int rc;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    rn_error_clear(&err);
    rc = rn_identity_from_subject(s, &id, &err);
    CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    if (rc) {
        CHECK(rc == RN_EPERM);
        CHECK(id.role == RN_ROLE_NONE && id.name[0] == '\0');
        CHECK(err.msg[0] != '\0');
        free(s);
        return 0;
    }
    CHECK(id.role >= RN_ROLE_SCHEDULER && id.role <= RN_ROLE_ADMIN);
    CHECK(rn_identity_name_ok(id.name, strlen(id.name)));
    CHECK(strstr(s, "O=runnel") != NULL);
    CHECK(strstr(s, id.name) != NULL);
    snprintf(canon, sizeof(canon), "CN=%s,OU=%s,O=runnel", id.name,
             rn_role_name(id.role));
    CHECK(rn_identity_from_subject(canon, &again, &err) == 0);
    CHECK(again.role == id.role && strcmp(again.name, id.name) == 0);
    free(s);
    return 0;
}

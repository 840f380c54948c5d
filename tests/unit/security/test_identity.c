/* Roles, names and certificate subjects (core/security/identity.c): every
 * subject runnel issues is read in any RDN order, and everything else is
 * refused with RN_EPERM and a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "security/identity.h"

static void test_role_names(void **state)
{
    rn_role r;
    rn_errbuf err;
    (void)state;
    assert_string_equal(rn_role_name(RN_ROLE_NONE), "none");
    assert_string_equal(rn_role_name(RN_ROLE_SCHEDULER), "scheduler");
    assert_string_equal(rn_role_name(RN_ROLE_WORKER), "worker");
    assert_string_equal(rn_role_name(RN_ROLE_CLIENT), "client");
    assert_string_equal(rn_role_name(RN_ROLE_ADMIN), "admin");
    assert_string_equal(rn_role_name((rn_role)99), "none");
    assert_string_equal(rn_role_name((rn_role)-1), "none");
    for (int i = RN_ROLE_SCHEDULER; i <= RN_ROLE_ADMIN; i++) {
        assert_int_equal(rn_role_parse(rn_role_name((rn_role)i), &r, &err), 0);
        assert_int_equal(r, i);
    }
    const char *bad[] = {"none", "", "Worker", "workers", "work", "root",
                         "admin ", " client"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rn_error_clear(&err);
        assert_int_equal(rn_role_parse(bad[i], &r, &err), RN_EINVAL);
        assert_int_equal(r, RN_ROLE_NONE);
        assert_non_null(strstr(err.msg, "scheduler, worker, client or admin"));
    }
    assert_int_equal(rn_role_parse(NULL, &r, &err), RN_EINVAL);
}

static void test_name_ok(void **state)
{
    char max[RN_IDENTITY_NAME_MAX + 2];
    (void)state;
    assert_true(rn_identity_name_ok("w1", 2));
    assert_true(rn_identity_name_ok("alice@example.org", 17));
    assert_true(rn_identity_name_ok("a.b_c-D9", 8));
    assert_true(rn_identity_name_ok("ab", 1)); /* only the first n bytes */
    assert_false(rn_identity_name_ok("", 0));
    assert_false(rn_identity_name_ok(NULL, 3));
    assert_false(rn_identity_name_ok("a b", 3));
    assert_false(rn_identity_name_ok("a,b", 3));
    assert_false(rn_identity_name_ok("a+b", 3));
    assert_false(rn_identity_name_ok("a=b", 3));
    assert_false(rn_identity_name_ok("a\\b", 3));
    assert_false(rn_identity_name_ok("a\0b", 3));
    assert_false(rn_identity_name_ok("caf\xc3\xa9", 5));
    memset(max, 'x', sizeof(max));
    assert_true(rn_identity_name_ok(max, RN_IDENTITY_NAME_MAX));
    assert_false(rn_identity_name_ok(max, RN_IDENTITY_NAME_MAX + 1));
}

static void expect_identity(const char *subject, rn_role role,
                            const char *name)
{
    rn_identity id;
    rn_errbuf err;
    rn_error_clear(&err);
    int rc = rn_identity_from_subject(subject, &id, &err);
    if (rc)
        fprintf(stderr, "'%s': %s\n", subject, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(id.role, role);
    assert_string_equal(id.name, name);
}

static void test_subject_valid_any_order(void **state)
{
    (void)state;
    expect_identity("CN=w1,OU=worker,O=runnel", RN_ROLE_WORKER, "w1");
    expect_identity("O=runnel,OU=worker,CN=w1", RN_ROLE_WORKER, "w1");
    expect_identity("OU=scheduler,CN=sched,O=runnel", RN_ROLE_SCHEDULER,
                    "sched");
    expect_identity("CN=alice@example.org,O=runnel,OU=client",
                    RN_ROLE_CLIENT, "alice@example.org");
    expect_identity("O=runnel,CN=ops.team-1_x,OU=admin", RN_ROLE_ADMIN,
                    "ops.team-1_x");
    char name[RN_IDENTITY_NAME_MAX + 1], subj[160];
    memset(name, 'n', RN_IDENTITY_NAME_MAX);
    name[RN_IDENTITY_NAME_MAX] = '\0';
    snprintf(subj, sizeof(subj), "CN=%s,OU=worker,O=runnel", name);
    expect_identity(subj, RN_ROLE_WORKER, name);
}

static void expect_refused(const char *subject, const char *needle)
{
    rn_identity id;
    rn_errbuf err;
    memset(&id, 0x5a, sizeof(id));
    rn_error_clear(&err);
    int rc = rn_identity_from_subject(subject, &id, &err);
    if (rc != RN_EPERM || (needle && !strstr(err.msg, needle)))
        fprintf(stderr, "'%s': rc %d msg '%s' (wanted '%s')\n",
                subject ? subject : "(null)", rc, err.msg,
                needle ? needle : "");
    assert_int_equal(rc, RN_EPERM);
    assert_int_equal(err.code, RN_EPERM);
    assert_int_equal(id.role, RN_ROLE_NONE);
    assert_string_equal(id.name, "");
    if (needle)
        assert_non_null(strstr(err.msg, needle));
}

static void test_subject_refusals(void **state)
{
    (void)state;
    expect_refused(NULL, "no certificate subject");
    expect_refused("", "empty certificate subject");
    /* missing parts */
    expect_refused("CN=a,OU=client", "no O=runnel");
    expect_refused("CN=a,O=runnel", "no OU naming a role");
    expect_refused("OU=client,O=runnel", "no CN");
    /* wrong values */
    expect_refused("O=runnel,OU=root,CN=a", "OU is not a role");
    expect_refused("O=runnel,OU=none,CN=a", "OU is not a role");
    expect_refused("O=runnel,OU=Worker,CN=a", "OU is not a role");
    expect_refused("O=runnel,OU=,CN=a", "OU is not a role");
    expect_refused("O=Runnel,OU=worker,CN=a", "O is not runnel");
    expect_refused("O=runnelx,OU=worker,CN=a", "O is not runnel");
    expect_refused("O=,OU=worker,CN=a", "O is not runnel");
    expect_refused("O=runnel,OU=worker,CN=", "CN is not a name");
    expect_refused("O=runnel,OU=worker,CN=a b", "CN is not a name");
    expect_refused("O=runnel,OU=worker,CN=a=b", "CN is not a name");
    expect_refused("O=runnel,OU=worker,CN=#0c02", "CN is not a name");
    expect_refused("O=runnel,OU=worker,CN=caf\xc3\xa9", "CN is not a name");
    /* duplicates */
    expect_refused("O=runnel,O=runnel,OU=worker,CN=a", "more than one O");
    expect_refused("O=runnel,OU=worker,OU=admin,CN=a", "more than one OU");
    expect_refused("O=runnel,OU=worker,CN=a,CN=b", "more than one CN");
    /* syntax runnel never produces */
    expect_refused("CN=a\\,b,OU=worker,O=runnel", "escaped");
    expect_refused("CN=a\\2Cb,OU=worker,O=runnel", "escaped");
    expect_refused("CN=a+UID=x,OU=worker,O=runnel", "multi-valued");
    expect_refused("CN=a,OU=worker+O=runnel", "multi-valued");
    expect_refused("CN=\"a\",OU=worker,O=runnel", "quoted");
    expect_refused("CN=a, OU=worker, O=runnel", "only O, OU and CN");
    expect_refused("cn=a,ou=worker,o=runnel", "only O, OU and CN");
    expect_refused("CN=a,OU=worker,O=runnel,C=FR", "only O, OU and CN");
    expect_refused("CN=a,OU=worker,O=runnel,emailAddress=a@b", "only O");
    expect_refused("CN=a,OU=worker,O=runnel,", "empty attribute");
    expect_refused(",CN=a,OU=worker,O=runnel", "empty attribute");
    expect_refused("CN=a,,OU=worker,O=runnel", "empty attribute");
    expect_refused("CN=a,OU=worker,O", "has no '='");
    expect_refused("=", "only O, OU and CN");
    expect_refused(",", "empty attribute");
}

static void test_subject_long_and_junk(void **state)
{
    char buf[1200], subj[1400];
    rn_identity id;
    rn_errbuf err;
    (void)state;
    /* a name one byte too long */
    memset(buf, 'n', RN_IDENTITY_NAME_MAX + 1);
    buf[RN_IDENTITY_NAME_MAX + 1] = '\0';
    snprintf(subj, sizeof(subj), "CN=%s,OU=worker,O=runnel", buf);
    expect_refused(subj, "CN is not a name");
    /* a subject far too long: refused without being parsed, and the
     * message quotes a bounded prefix only */
    memset(buf, 'x', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    snprintf(subj, sizeof(subj), "CN=%s,OU=worker,O=runnel", buf);
    expect_refused(subj, "longer than 256 bytes");
    rn_error_clear(&err);
    rn_identity_from_subject(subj, &id, &err);
    assert_true(strlen(err.msg) < 300);
    /* control bytes are not echoed into the message */
    expect_refused("CN=a\n\x1b[31m,OU=worker,O=runnel", "CN is not a name");
    rn_identity_from_subject("CN=a\n\x1b[31m,OU=worker,O=runnel", &id, &err);
    assert_null(strchr(err.msg, '\n'));
    assert_null(strchr(err.msg, '\x1b'));

    /* deterministic junk: never a crash, never an identity unless it is
     * exactly a valid subject (ASan checks the bounds) */
    static const char alphabet[] = "CNOU=,+\\\"#runelwokcisda1 .@-";
    unsigned int seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 48;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        buf[n] = '\0';
        int rc = rn_identity_from_subject(buf, &id, &err);
        if (rc == 0) {
            assert_true(id.role >= RN_ROLE_SCHEDULER &&
                        id.role <= RN_ROLE_ADMIN);
            assert_true(rn_identity_name_ok(id.name, strlen(id.name)));
            assert_non_null(strstr(buf, "O=runnel"));
        } else {
            assert_int_equal(rc, RN_EPERM);
            assert_int_equal(id.role, RN_ROLE_NONE);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_subject_valid_any_order),
        cmocka_unit_test(test_subject_refusals),
        cmocka_unit_test(test_subject_long_and_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

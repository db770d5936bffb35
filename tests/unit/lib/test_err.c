/* Unit tests for lib/err.c: filling twc_err, names, domains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static void test_err_set_formats(void **state)
{
    twc_err e;

    (void)state;
    assert_int_equal(twc_err_set(&e, TWC_ETOOBIG, "line exceeds %d bytes", 512), TWC_ETOOBIG);
    assert_int_equal(e.code, TWC_ETOOBIG);
    assert_int_equal(e.sys_errno, 0);
    assert_string_equal(e.msg, "line exceeds 512 bytes");
    /* NULL err is allowed and still returns the code. */
    assert_int_equal(twc_err_set(NULL, TWC_EPROTO, "x"), TWC_EPROTO);
    twc_err_clear(&e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.msg, "");
}

static void test_err_sys_appends_strerror(void **state)
{
    twc_err e;
    char want[TWC_ERR_MSG_MAX];

    (void)state;
    assert_int_equal(twc_err_sys(&e, ECONNREFUSED, "connect %s", "127.0.0.1:1"), -ECONNREFUSED);
    assert_int_equal(e.code, -ECONNREFUSED);
    assert_int_equal(e.sys_errno, ECONNREFUSED);
    snprintf(want, sizeof(want), "connect 127.0.0.1:1: %s", strerror(ECONNREFUSED));
    assert_string_equal(e.msg, want);
}

static void test_err_long_message_truncated(void **state)
{
    twc_err e;
    char longs[400];

    (void)state;
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    twc_err_set(&e, TWC_EINVAL, "%s", longs);
    assert_int_equal(strlen(e.msg), TWC_ERR_MSG_MAX - 1);
    twc_err_sys(&e, EPERM, "%s", longs);
    assert_int_equal(strlen(e.msg), TWC_ERR_MSG_MAX - 1);
}

static void test_err_names_and_domains(void **state)
{
    (void)state;
    assert_string_equal(twc_err_name(-ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(twc_err_name(TWC_ECANCELED), "TWC_ECANCELED");
    assert_string_equal(twc_strerror(TWC_ETIMEDOUT), "timed out");
    assert_string_equal(twc_strerror(-ENOENT), strerror(ENOENT));
    assert_int_equal(twc_err_domain_of(0), TWC_DOMAIN_OK);
    assert_int_equal(twc_err_domain_of(-EPIPE), TWC_DOMAIN_SYSTEM);
    assert_int_equal(twc_err_domain_of(TWC_EPROTO), TWC_DOMAIN_GENERIC);
    assert_int_equal(twc_err_domain_of(TWC_ETLS - 5), TWC_DOMAIN_TLS);
    assert_int_equal(twc_err_domain_of(TWC_EDNS - 3), TWC_DOMAIN_DNS);
    assert_string_equal(twc_strerror(TWC_EDNS - 99), "dns error");
    assert_string_equal(twc_strerror(TWC_EDNS_NOTFOUND), "host not found");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_formats),
        cmocka_unit_test(test_err_sys_appends_strerror),
        cmocka_unit_test(test_err_long_message_truncated),
        cmocka_unit_test(test_err_names_and_domains),
    };
    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}

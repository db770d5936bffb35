/* Unit tests for lib/resolvconf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolvconf.h"

static int parse(struct twc_resolv_conf *rc, const char *text, size_t *line, twc_err *err)
{
    twc_resolv_conf_init(rc);
    return twc_resolv_conf_parse(rc, text, strlen(text), line, err);
}

static void test_resolvconf_servers_with_ports(void **state)
{
    struct twc_resolv_conf rc;
    char buf[TWC_ADDR_STRLEN];
    twc_err err;

    (void)state;
    assert_int_equal(parse(&rc,
                           "# comment\n"
                           "nameserver 127.0.0.1\n"
                           "nameserver 127.0.0.1:5354 ; trailing comment\n"
                           "nameserver ::1\n"
                           "nameserver [::1]:5355\n",
                           NULL, &err),
                     0);
    assert_int_equal(rc.nservers, 4);
    assert_string_equal(twc_addr_format(&rc.servers[0], buf, sizeof(buf)), "127.0.0.1:53");
    assert_string_equal(twc_addr_format(&rc.servers[1], buf, sizeof(buf)), "127.0.0.1:5354");
    assert_string_equal(twc_addr_format(&rc.servers[2], buf, sizeof(buf)), "[::1]:53");
    assert_string_equal(twc_addr_format(&rc.servers[3], buf, sizeof(buf)), "[::1]:5355");
}

static void test_resolvconf_options_and_search(void **state)
{
    struct twc_resolv_conf rc;
    twc_err err;

    (void)state;
    assert_int_equal(parse(&rc,
                           "search example.com corp.example\r\n"
                           "options ndots:3 timeout:99 attempts:0 rotate unknown:1\n"
                           "sortlist 10.0.0.0\n",
                           NULL, &err),
                     0);
    assert_int_equal(rc.nsearch, 2);
    assert_string_equal(rc.search[0], "example.com");
    assert_string_equal(rc.search[1], "corp.example");
    assert_int_equal(rc.ndots, 3);
    assert_int_equal(rc.timeout_s, 30);
    assert_int_equal(rc.attempts, 1);
    assert_int_equal(rc.rotate, 1);
    assert_int_equal(rc.nservers, 0);
}

static void test_resolvconf_errors_name_the_line(void **state)
{
    struct twc_resolv_conf rc;
    size_t line = 0;
    twc_err err;

    (void)state;
    assert_int_equal(parse(&rc, "nameserver 127.0.0.1\n\nnameserver bogus\n", &line, &err),
                     TWC_EINVAL);
    assert_int_equal(line, 3);
    assert_string_equal(err.msg, "line 3: bad nameserver address 'bogus'");
    assert_int_equal(parse(&rc, "nameserver 1.2.3.4 5.6.7.8\n", &line, &err), TWC_EINVAL);
    assert_int_equal(line, 1);
    assert_int_equal(parse(&rc, "nameserver 127.0.0.1:99999\n", &line, &err), TWC_EINVAL);
}

static void test_resolvconf_limits(void **state)
{
    struct twc_resolv_conf rc;
    char text[4096];
    size_t i, off = 0;
    twc_err err;

    (void)state;
    for (i = 0; i < 20; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "nameserver 127.0.0.%zu\n", i + 1);
    assert_int_equal(parse(&rc, text, NULL, &err), 0);
    assert_int_equal(rc.nservers, TWC_RESOLV_MAX_SERVERS);
    memset(text, 'a', 2000);
    text[2000] = '\0';
    assert_int_equal(parse(&rc, text, NULL, &err), TWC_EINVAL);
}

static void test_resolvconf_load_file(void **state)
{
    struct twc_resolv_conf rc;
    char path[] = "/tmp/twc-resolv-XXXXXX";
    const char *text = "nameserver 127.0.0.1:5353\nnameserver nope\n";
    twc_err err;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    twc_resolv_conf_init(&rc);
    assert_int_equal(twc_resolv_conf_load(&rc, path, &err), TWC_EINVAL);
    /* FILE:LINE: what is wrong (shared/CLI.md) */
    char want[256];
    snprintf(want, sizeof(want), "%s:2: bad nameserver address 'nope'", path);
    assert_string_equal(err.msg, want);
    unlink(path);
    assert_true(twc_resolv_conf_load(&rc, path, &err) < 0);
    assert_int_equal(err.sys_errno, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolvconf_servers_with_ports),
        cmocka_unit_test(test_resolvconf_options_and_search),
        cmocka_unit_test(test_resolvconf_errors_name_the_line),
        cmocka_unit_test(test_resolvconf_limits),
        cmocka_unit_test(test_resolvconf_load_file),
    };
    return cmocka_run_group_tests_name("resolvconf", tests, NULL, NULL);
}

/* Unit tests for cmd/options.c: the declarative option table engine. */
#include "../../../cmd/options.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* After the headers it needs (setjmp.h, stdarg.h, stddef.h). */
#include <cmocka.h>

static const struct twc_option opts[] = {
    {"port", 'p', TWC_OPT_PORT, 0, NULL, "8000", NULL, 0, 0, "port"},
    {"listen", 'l', TWC_OPT_ENDPOINT, TWC_OPT_REPEAT, NULL, NULL, NULL, 0, 0, "endpoint"},
    {"verbose", 'v', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0, "more"},
    {"count", 'c', TWC_OPT_INT, 0, NULL, "3", NULL, 1, 10, "count"},
    {"timeout", 't', TWC_OPT_SECONDS, 0, NULL, "30", NULL, 0, 0, "timeout"},
    {"color", 0, TWC_OPT_STRING, 0, NULL, NULL, "red|green", 0, 0, "color"},
    {"secret", 0, TWC_OPT_FLAG, TWC_OPT_HIDDEN, NULL, NULL, NULL, 0, 0, "hidden"},
};
static const struct twc_optset set = {"test", "[-p PORT]", "a test", opts, 7, 0, NULL, NULL};

static const struct twc_option gopts[] = {
    {"log-level", 0, TWC_OPT_STRING, 0, NULL, "info", "debug|info", 0, 0, "level"},
};
static const struct twc_optset gset = {"global", "", "globals", gopts, 1, 0, NULL, NULL};

struct parsed {
    struct twc_opts o, g;
    struct twc_args a;
    twc_err err;
    int rc;
};

static void parse(struct parsed *p, int argc, char **argv)
{
    assert_int_equal(twc_opts_init(&p->o, &set), 0);
    assert_int_equal(twc_opts_init(&p->g, &gset), 0);
    twc_err_clear(&p->err);
    p->rc = twc_opts_parse(&p->o, &p->g, argc, argv, &p->a, &p->err);
}

static void done(struct parsed *p)
{
    free(p->a.v);
    twc_opts_cleanup(&p->o);
    twc_opts_cleanup(&p->g);
}

static void test_options_defaults_apply(void **state)
{
    char *argv[] = {"test"};
    struct parsed p;

    (void)state;
    parse(&p, 1, argv);
    assert_int_equal(p.rc, 0);
    assert_int_equal(twc_opts_num(&p.o, "port"), 8000);
    assert_int_equal(twc_opts_given(&p.o, "port"), 0);
    assert_int_equal(twc_opts_num(&p.o, "count"), 3);
    assert_int_equal(twc_opts_num(&p.o, "timeout"), 30000);
    assert_null(twc_opts_str(&p.o, "color"));
    assert_string_equal(twc_opts_str(&p.g, "log-level"), "info");
    assert_int_equal(p.a.n, 0);
    assert_int_equal(p.a.dashdash, -1);
    done(&p);
}

static void test_options_long_short_forms(void **state)
{
    char *argv[] = {"test", "--port=80",   "-c",    "7",   "--listen", "tcp:1",         "-ltcp:2",
                    "arg1", "--log-level", "debug", "-vv", "-t0.25",   "--color=green", "arg2"};
    struct parsed p;
    const struct twc_optval *l;

    (void)state;
    parse(&p, 14, argv);
    assert_int_equal(p.rc, 0);
    assert_int_equal(twc_opts_num(&p.o, "port"), 80);
    assert_int_equal(twc_opts_num(&p.o, "count"), 7);
    assert_int_equal(twc_opts_num(&p.o, "verbose"), 2);
    assert_int_equal(twc_opts_num(&p.o, "timeout"), 250);
    assert_string_equal(twc_opts_str(&p.o, "color"), "green");
    assert_string_equal(twc_opts_str(&p.g, "log-level"), "debug");
    l = twc_opts_get(&p.o, "listen");
    assert_int_equal(l->nlist, 2);
    assert_string_equal(l->list[0], "tcp:1");
    assert_string_equal(l->list[1], "tcp:2");
    assert_int_equal(p.a.n, 2);
    assert_string_equal(p.a.v[0], "arg1");
    assert_string_equal(p.a.v[1], "arg2");
    done(&p);
}

static void test_options_dashdash_ends_options(void **state)
{
    char *argv[] = {"test", "a", "--", "-p", "--x", "b"};
    struct parsed p;

    (void)state;
    parse(&p, 6, argv);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.a.n, 4);
    assert_int_equal(p.a.dashdash, 1);
    assert_string_equal(p.a.v[1], "-p");
    assert_string_equal(p.a.v[2], "--x");
    assert_int_equal(twc_opts_given(&p.o, "port"), 0);
    done(&p);
}

static void expect_error(char **argv, int argc, const char *needle)
{
    struct parsed p;

    parse(&p, argc, argv);
    assert_int_equal(p.rc, TWC_EINVAL);
    if (strstr(p.err.msg, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", p.err.msg, needle);
    done(&p);
}

static void test_options_errors_name_the_option(void **state)
{
    char *a1[] = {"test", "--nope"};
    char *a2[] = {"test", "-p", "65536"};
    char *a3[] = {"test", "--port"};
    char *a4[] = {"test", "--count=11"};
    char *a5[] = {"test", "--color", "blue"};
    char *a6[] = {"test", "--verbose=1"};
    char *a7[] = {"test", "-x"};
    char *a8[] = {"test", "-t", "1.2345"};
    char *a9[] = {"test", "-t", "-1"};
    char *a10[] = {"test", "--log-level=warn"};
    char *a11[] = {"test", "--listen="};

    (void)state;
    expect_error(a1, 2, "unknown option --nope");
    expect_error(a2, 3, "--port: '65536'");
    expect_error(a3, 2, "--port needs a value");
    expect_error(a4, 2, "from 1 to 10");
    expect_error(a5, 3, "not one of red|green");
    expect_error(a6, 2, "takes no value");
    expect_error(a7, 2, "unknown option -x");
    expect_error(a8, 3, "seconds");
    expect_error(a9, 3, "seconds");
    expect_error(a10, 2, "debug|info");
    expect_error(a11, 2, "empty value");
}

static void test_options_help_is_reported(void **state)
{
    char *a1[] = {"test", "-v", "--help", "--nope"};
    char *a2[] = {"test", "-h"};
    struct parsed p;

    (void)state;
    parse(&p, 4, a1);
    assert_int_equal(p.rc, TWC_OPTS_HELP);
    done(&p);
    parse(&p, 2, a2);
    assert_int_equal(p.rc, TWC_OPTS_HELP);
    done(&p);
}

static void test_options_stop_at_arg(void **state)
{
    static const struct twc_optset stop = {"stop", "", "", opts, 7, 1, NULL, NULL};
    char *argv[] = {"stop", "-v", "sub", "-p", "1"};
    struct twc_opts o;
    struct twc_args a;
    twc_err err;

    (void)state;
    assert_int_equal(twc_opts_init(&o, &stop), 0);
    assert_int_equal(twc_opts_parse(&o, NULL, 5, argv, &a, &err), 0);
    assert_int_equal(twc_opts_num(&o, "verbose"), 1);
    assert_int_equal(twc_opts_given(&o, "port"), 0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.v[0], "sub");
    assert_string_equal(a.v[1], "-p");
    free(a.v);
    twc_opts_cleanup(&o);
}

static void test_options_help_text_and_dump(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cJSON *d, *o;
    char *s;

    (void)state;
    assert_non_null(f);
    twc_opts_help(f, &set, &gset);
    fclose(f);
    assert_non_null(strstr(buf, "usage: twc test [-p PORT]\na test\n"));
    assert_non_null(strstr(buf, "  -p, --port PORT"));
    assert_non_null(strstr(buf, "(default: 8000)"));
    assert_non_null(strstr(buf, "(repeatable)"));
    assert_non_null(strstr(buf, "--color red|green"));
    assert_null(strstr(buf, "--secret"));
    assert_non_null(strstr(buf, "--log-level"));
    free(buf);

    d = twc_opts_dump(&set);
    assert_non_null(d);
    o = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "options"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "long")), "port");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "short")), "p");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), "port");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "default")), "8000");
    o = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "options"), 5);
    s = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "choices"));
    assert_string_equal(s, "[\"red\",\"green\"]");
    cJSON_free(s);
    o = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "options"), 6);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "hidden")));
    cJSON_Delete(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_defaults_apply),
        cmocka_unit_test(test_options_long_short_forms),
        cmocka_unit_test(test_options_dashdash_ends_options),
        cmocka_unit_test(test_options_errors_name_the_option),
        cmocka_unit_test(test_options_help_is_reported),
        cmocka_unit_test(test_options_stop_at_arg),
        cmocka_unit_test(test_options_help_text_and_dump),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

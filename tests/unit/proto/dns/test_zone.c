/* Unit tests for proto/dns/zone.c and rdata_text.c: master-file syntax, errors
 * with FILE:LINE, $INCLUDE, the --record form, rdata text for every type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/dns/zone.h"

#define DUMP_MAX (64 * 1024)

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;
    twc_err err;

    if (twc_dns_name_parse(&n, s, strlen(s), NULL, &err) < 0)
        fail_msg("name %s: %s", s, err.msg);
    return n;
}

/* Every record as "owner ttl TYPE rdata\n". Returns a static buffer. */
static const char *dump(const twc_dns_zone *z)
{
    static char out[DUMP_MAX];
    size_t i, o = 0;

    out[0] = '\0';
    for (i = 0; i < twc_dns_zone_count(z); i++) {
        char name[TWC_DNS_NAME_TEXT_MAX], type[16], rdata[1024];
        twc_dns_rr rr;

        twc_dns_zone_get(z, i, &rr);
        assert_int_equal(rr.rclass, TWC_DNS_CLASS_IN);
        assert_true(twc_dns_name_format(&rr.name, name, sizeof(name)) > 0);
        assert_true(twc_dns_rdata_format(rr.type, rr.rdata, rr.rdlen, rdata, sizeof(rdata)) >= 0);
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s %u %s %s\n", name, rr.ttl,
                              twc_dns_type_name(rr.type, type, sizeof(type)), rdata);
        assert_true(o < sizeof(out));
    }
    return out;
}

/* Parse text as file "t.zone" with origin example.com. (or none). */
static int parse(twc_dns_zone **z, const char *text, const char *origin, twc_err *err)
{
    twc_dns_name o;
    char *copy = malloc(strlen(text) + 1); /* exact size: ASan catches over-reads */
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, strlen(text));
    *z = twc_dns_zone_new(NULL);
    assert_non_null(*z);
    if (origin != NULL)
        o = name_of(origin);
    rc = twc_dns_zone_parse_buf(*z, "t.zone", NULL, copy, strlen(text), origin != NULL ? &o : NULL,
                                err);
    free(copy);
    return rc;
}

static void expect_zone(const char *text, const char *want)
{
    twc_dns_zone *z;
    twc_err err;

    if (parse(&z, text, "example.com.", &err) < 0)
        fail_msg("parse: %s", err.msg);
    assert_string_equal(dump(z), want);
    twc_dns_zone_free(z);
}

static void expect_error(const char *text, const char *origin, int code, const char *msg)
{
    twc_dns_zone *z;
    twc_err err;

    assert_int_equal(parse(&z, text, origin, &err), code);
    assert_string_equal(err.msg, msg);
    twc_dns_zone_free(z);
}

static const char *srcdir(void)
{
    const char *d = getenv("TWC_SRCDIR");

    return d != NULL ? d : ".";
}

static void test_zone_sample_file(void **state)
{
    static const char want[] =
        "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 1800 "
        "777600 300\n"
        "example.com. 3600 NS ns1.example.com.\n"
        "example.com. 3600 NS ns2.example.com.\n"
        "example.com. 3600 MX 10 mail.example.com.\n"
        "example.com. 3600 TXT \"v=spf1 -all\" \"second \\\"quoted\\\" string\" "
        "\"unquoted;semicolon\"\n"
        "ns1.example.com. 3600 A 192.0.2.1\n"
        "ns2.example.com. 60 A 192.0.2.2\n"
        "ns2.example.com. 120 AAAA 2001:db8::2\n"
        "mail.example.com. 5400 A 192.0.2.25\n"
        "www.example.com. 3600 CNAME web.example.com.\n"
        "web.example.com. 3600 A 192.0.2.80\n"
        "web.example.com. 3600 A 192.0.2.81\n"
        "*.wild.example.com. 3600 A 192.0.2.99\n"
        "a.b.c.example.com. 3600 A 192.0.2.3\n"
        "_sip._tcp.example.com. 3600 SRV 10 60 5060 sip.example.com.\n"
        "sip.example.com. 3600 A 192.0.2.5\n"
        "example.com. 3600 CAA 0 issue \"letsencrypt.org\"\n"
        "raw.example.com. 3600 TYPE65280 \\# 4 0a000001\n"
        "hexa.example.com. 3600 A 192.0.2.7\n"
        "sub.example.com. 3600 NS ns.sub.example.com.\n"
        "ns.sub.example.com. 3600 A 192.0.2.53\n"
        "inc1.example.com. 3600 A 192.0.2.101\n"
        "inc2.example.com. 3600 A 192.0.2.102\n"
        "other.example.com. 3600 A 192.0.2.200\n"
        "x.other.example.com. 3600 A 192.0.2.201\n"
        "back.example.com. 3600 A 192.0.2.7\n";
    char path[1024], text[TWC_DNS_NAME_TEXT_MAX];
    twc_dns_zone *z = twc_dns_zone_new(NULL);
    const char *file;
    unsigned line;
    twc_err err;

    (void)state;
    snprintf(path, sizeof(path), "%s/tests/data/dns/example.zone", srcdir());
    if (twc_dns_zone_load(z, path, &err) < 0)
        fail_msg("load: %s", err.msg);
    assert_string_equal(dump(z), want);
    assert_int_equal(twc_dns_name_format(twc_dns_zone_origin(z), text, sizeof(text)), 12);
    assert_string_equal(text, "example.com.");
    /* Where records came from: the SOA starts on line 4, the includes keep
     * their own names and lines. */
    file = twc_dns_zone_where(z, 0, &line);
    assert_string_equal(file, path);
    assert_int_equal(line, 4);
    file = twc_dns_zone_where(z, 22, &line);
    assert_non_null(strstr(file, "tests/data/dns/sub/hosts.inc"));
    assert_int_equal(line, 3);
    twc_dns_zone_free(z);
}

static void test_zone_ttl_units(void **state)
{
    static const struct {
        const char *s;
        int rc;
        uint32_t v;
    } cases[] = {
        {"300", 0, 300},
        {"1h30m", 0, 5400},
        {"1w2d", 0, 777600},
        {"1H", 0, 3600},
        {"2d3h4m5s", 0, 183845},
        {"1h30", 0, 3630},
        {"0", 0, 0},
        {"2147483647", 0, 2147483647u},
        {"2147483648", TWC_EINVAL, 0},
        {"4000w", TWC_EINVAL, 0},
        {"h", TWC_EINVAL, 0},
        {"", TWC_EINVAL, 0},
        {"1x", TWC_EINVAL, 0},
        {"1hm", TWC_EINVAL, 0},
        {"-1", TWC_EINVAL, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t v = 12345;

        assert_int_equal(twc_dns_ttl_parse(cases[i].s, strlen(cases[i].s), &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(v, cases[i].v);
    }
}

static void test_zone_ttl_and_class_order(void **state)
{
    (void)state;
    /* TTL and class in either order; without $TTL an omitted TTL is the last
     * explicit one (RFC 1035 §5.1); $TTL then rules omitted TTLs only. */
    expect_zone("a 60 IN A 192.0.2.1\n"
                "b IN 70 A 192.0.2.2\n"
                "c A 192.0.2.3\n"
                "d IN A 192.0.2.4\n"
                "$TTL 5m\n"
                "e A 192.0.2.5\n"
                "f 10 A 192.0.2.6\n"
                "g CLASS1 A 192.0.2.7\n",
                "a.example.com. 60 A 192.0.2.1\n"
                "b.example.com. 70 A 192.0.2.2\n"
                "c.example.com. 70 A 192.0.2.3\n"
                "d.example.com. 70 A 192.0.2.4\n"
                "e.example.com. 300 A 192.0.2.5\n"
                "f.example.com. 10 A 192.0.2.6\n"
                "g.example.com. 300 A 192.0.2.7\n");
}

static void test_zone_names_and_owner(void **state)
{
    (void)state;
    expect_zone("$TTL 1\n"
                "@ A 192.0.2.1\n"
                "  AAAA ::1\n" /* omitted owner: the previous one */
                "rel A 192.0.2.2\n"
                "\tTXT x\n"
                "abs.example.org. A 192.0.2.3\n"
                "$ORIGIN sub.example.com.\n"
                "@ A 192.0.2.4\n"
                "in\\.dot NS ns\n" /* escaped dot inside a label */
                "$ORIGIN example.net.\n"
                "Mixed.Case CNAME @\n",
                "example.com. 1 A 192.0.2.1\n"
                "example.com. 1 AAAA ::1\n"
                "rel.example.com. 1 A 192.0.2.2\n"
                "rel.example.com. 1 TXT \"x\"\n"
                "abs.example.org. 1 A 192.0.2.3\n"
                "sub.example.com. 1 A 192.0.2.4\n"
                "in\\.dot.sub.example.com. 1 NS ns.sub.example.com.\n"
                "Mixed.Case.example.net. 1 CNAME example.net.\n");
}

static void test_zone_parens_and_comments(void **state)
{
    (void)state;
    expect_zone("$TTL 1 ; comment after a directive\n"
                "; a whole-line comment\n"
                "\n"
                "@ SOA ( ns1 ; primary\n"
                "   host\\.master ; the \\. is part of the label\n"
                "   1 2 3\n"
                "\n"
                "   4 5 )\n"
                "t TXT ( \"a ; not a comment\" \"(b)\"\n"
                "        c )\n"
                "m MX (10\n"
                "mail)\n",
                "example.com. 1 SOA ns1.example.com. host\\.master.example.com. 1 2 3 4 5\n"
                "t.example.com. 1 TXT \"a ; not a comment\" \"(b)\" \"c\"\n"
                "m.example.com. 1 MX 10 mail.example.com.\n");
}

static void test_zone_txt_escapes(void **state)
{
    twc_dns_zone *z;
    twc_dns_rr rr;
    twc_err err;
    static const uint8_t want[] = {3, 'a', '"', 'b', 4, '\\', 'A', 0, 0xff, 2, 'x', ' ', 0};

    (void)state;
    assert_int_equal(
        parse(&z, "@ 1 TXT \"a\\\"b\" \\\\\\065\\000\\255 x\\  \"\"\n", "example.com.", &err), 0);
    assert_int_equal(twc_dns_zone_count(z), 1);
    twc_dns_zone_get(z, 0, &rr);
    assert_int_equal(rr.type, TWC_DNS_TXT);
    assert_int_equal(rr.rdlen, sizeof(want));
    assert_memory_equal(rr.rdata, want, sizeof(want));
    twc_dns_zone_free(z);
}

static void test_zone_errors_name_file_and_line(void **state)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        {"x A 192.0.2.1\n", TWC_EINVAL, "t.zone:1: no TTL, no $TTL and no previous TTL"},
        {"$TTL 60\n\nfoo A 1.2.3\n", TWC_EINVAL, "t.zone:3: bad IPv4 address '1.2.3'"},
        {"$TTL 60\nfoo A ( 192.0.2.1\n\n", TWC_EINVAL, "t.zone:2: '(' without ')'"},
        {"$TTL 60\nfoo A 192.0.2.1 )\n", TWC_EINVAL, "t.zone:2: ')' without '('"},
        {"$TTL 60\nfoo A ( ( 192.0.2.1 ) )\n", TWC_EINVAL, "t.zone:2: nested parentheses"},
        {"$TTL 60\nfoo TXT \"abc\nx\"\n", TWC_EINVAL, "t.zone:2: unterminated quoted string"},
        {"$TTL 60\nfoo BOGUS x\n", TWC_EINVAL, "t.zone:2: unknown record type 'BOGUS'"},
        {"$TTL 60\nfoo\n", TWC_EINVAL, "t.zone:2: missing record type"},
        {"$TTL 60\nfoo CH TXT x\n", TWC_EINVAL, "t.zone:2: class 3 is not served (only IN)"},
        {"$TTL 60\nfoo ANY \\# 0\n", TWC_EINVAL, "t.zone:2: type ANY cannot be zone data"},
        {"$GENERATE 1-2 a$ A 192.0.2.$\n", TWC_EINVAL,
         "t.zone:1: unsupported directive '$GENERATE'"},
        {"$TTL 1\n  A 192.0.2.1\n", TWC_EINVAL, "t.zone:2: no owner name and no previous owner"},
        {"$TTL 1x\n", TWC_EINVAL,
         "t.zone:1: $TTL needs one TTL (seconds or 1h30m, at most 2147483647)"},
        {"a 99999999999 A 192.0.2.1\n", TWC_EINVAL,
         "t.zone:1: bad TTL '99999999999' (seconds or 1h30m, at most 2147483647)"},
        {"$TTL 1\na TYPE65280 00\n", TWC_EINVAL,
         "t.zone:2: type TYPE65280 needs \\# rdata (RFC 3597)"},
        {"$TTL 1\na TYPE65280 \\# 2 00\n", TWC_EINVAL, "t.zone:2: \\# data is not 2 bytes"},
        {"$TTL 1\na A \\# 3 000000\n", TWC_EINVAL,
         "t.zone:2: \\# data is not valid rdata for its type"},
        {"$TTL 1\na MX 70000 b\n", TWC_EINVAL, "t.zone:2: bad MX preference '70000' (0-65535)"},
        {"$TTL 1\na SOA a b 1 2 3 4\n", TWC_EINVAL, "t.zone:2: SOA needs 7 fields, got 6"},
        {"$TTL 1\na TXT \"\\300\"\n", TWC_EINVAL, "t.zone:2: \\DDD escape above 255"},
        {"$TTL 1\n"
         "a1234567890123456789012345678901234567890123456789012345678901234 A 192.0.2.1\n",
         TWC_ETOOBIG,
         "t.zone:2: bad name "
         "'a123456789012345678901234567890123456789012345678901234567890123': label exceeds 63 "
         "bytes"},
        {"$TTL 1\na CAA 0 is-sue x\n", TWC_EINVAL, "t.zone:2: bad CAA tag 'is-sue'"},
        {"$TTL 1\n$INCLUDE /nonexistent/twc.zone\n", -2,
         "t.zone:2: $INCLUDE /nonexistent/twc.zone: No such file or directory"},
        {"$ORIGIN\n", TWC_EINVAL, "t.zone:1: $ORIGIN needs one name"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error(cases[i].text, "example.com.", cases[i].code, cases[i].msg);
    /* Without an origin, relative names cannot be read. */
    expect_error("$TTL 1\nwww A 192.0.2.1\n", NULL, TWC_EINVAL,
                 "t.zone:2: relative name 'www' without $ORIGIN");
    expect_error("$TTL 1\n@ A 192.0.2.1\n", NULL, TWC_EINVAL,
                 "t.zone:2: relative name '@' without $ORIGIN");
}

static void test_zone_limits(void **state)
{
    struct twc_dns_zone_limits lim = {.max_entry = 40, .max_records = 2};
    twc_dns_zone *z = twc_dns_zone_new(&lim);
    twc_dns_name origin = name_of("example.com.");
    static const char many[] = "$TTL 1\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n";
    static const char longer[] = "$TTL 1\na TXT (\n \"0123456789\"\n \"0123456789\"\n "
                                 "\"0123456789\" )\n";
    twc_err err;

    (void)state;
    assert_int_equal(twc_dns_zone_parse_buf(z, "t.zone", NULL, many, strlen(many), &origin, &err),
                     TWC_ETOOBIG);
    assert_string_equal(err.msg, "t.zone:4: more than 2 records");
    assert_int_equal(twc_dns_zone_count(z), 2);
    twc_dns_zone_free(z);
    z = twc_dns_zone_new(&lim);
    assert_int_equal(
        twc_dns_zone_parse_buf(z, "t.zone", NULL, longer, strlen(longer), &origin, &err),
        TWC_ETOOBIG);
    assert_string_equal(err.msg, "t.zone:2: entry exceeds 40 bytes");
    twc_dns_zone_free(z);
    /* $INCLUDE can be refused altogether (the fuzz target does). */
    lim.include_depth = -1;
    z = twc_dns_zone_new(&lim);
    assert_int_equal(twc_dns_zone_parse_buf(z, "t.zone", NULL, "$INCLUDE x\n", 11, &origin, &err),
                     TWC_EINVAL);
    assert_string_equal(err.msg, "t.zone:1: $INCLUDE is not allowed here");
    twc_dns_zone_free(z);
}

/* Write text to dir/name. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_zone_include_nesting(void **state)
{
    char dir[] = "/tmp/twc-zone-XXXXXX", path[1024], want[256];
    twc_dns_zone *z;
    twc_err err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    /* a.zone includes d/b.zone, which includes c.zone relative to d/. */
    snprintf(path, sizeof(path), "%s/d", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file(dir, "a.zone", "$ORIGIN example.com.\n$TTL 1\n$INCLUDE d/b.zone\nz A 192.0.2.9\n");
    write_file(dir, "d/b.zone", "b A 192.0.2.2\n$INCLUDE c.zone sub\nafter A 192.0.2.4\n");
    write_file(dir, "d/c.zone", "c A 192.0.2.3\n");
    write_file(dir, "loop.zone", "$INCLUDE loop.zone\n");
    write_file(dir, "bad.zone", "$TTL 1\nok A 192.0.2.1\n\nbad A 192.0.2.256\n");
    write_file(dir, "inc-bad.zone", "$ORIGIN example.com.\n$INCLUDE bad.zone\n");

    snprintf(path, sizeof(path), "%s/a.zone", dir);
    z = twc_dns_zone_new(NULL);
    if (twc_dns_zone_parse_file(z, path, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    assert_string_equal(dump(z), "b.example.com. 1 A 192.0.2.2\n"
                                 "c.sub.example.com. 1 A 192.0.2.3\n"
                                 "after.example.com. 1 A 192.0.2.4\n"
                                 "z.example.com. 1 A 192.0.2.9\n");
    twc_dns_zone_free(z);

    /* A file including itself stops at the depth limit. */
    snprintf(path, sizeof(path), "%s/loop.zone", dir);
    z = twc_dns_zone_new(NULL);
    assert_int_equal(twc_dns_zone_parse_file(z, path, NULL, &err), TWC_ETOOBIG);
    assert_non_null(strstr(err.msg, "loop.zone:1: $INCLUDE nested deeper than 8"));
    twc_dns_zone_free(z);

    /* An error inside an included file names that file and its line. */
    snprintf(path, sizeof(path), "%s/inc-bad.zone", dir);
    z = twc_dns_zone_new(NULL);
    assert_int_equal(twc_dns_zone_parse_file(z, path, NULL, &err), TWC_EINVAL);
    snprintf(want, sizeof(want), "%s/bad.zone:4: bad IPv4 address '192.0.2.256'", dir);
    assert_string_equal(err.msg, want);
    twc_dns_zone_free(z);

    /* A missing top file: -ENOENT naming the path. */
    snprintf(path, sizeof(path), "%s/missing.zone", dir);
    z = twc_dns_zone_new(NULL);
    assert_int_equal(twc_dns_zone_parse_file(z, path, NULL, &err), -2);
    snprintf(want, sizeof(want), "%s/missing.zone: No such file or directory", dir);
    assert_string_equal(err.msg, want);
    twc_dns_zone_free(z);

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void test_zone_record_line(void **state)
{
    twc_dns_zone *z = twc_dns_zone_new(NULL);
    static const char *const bad[][2] = {
        {"", "--record: empty record"},
        {"$TTL 5", "--record: directives are not allowed"},
        {"a.test A 192.0.2.1\nb.test A 192.0.2.2", "--record: more than one line"},
        {"a.test 60 A", "--record: A needs 1 fields, got 0"},
        {"@ A 192.0.2.1", "--record: bad name '@': '@' without an origin"},
    };
    twc_err err;
    size_t i;

    (void)state;
    /* The name is absolute whether or not it ends with a dot; so are names in
     * the data. */
    assert_int_equal(twc_dns_zone_parse_record(z, "*.test 60 A 127.0.0.1", 21, &err), 0);
    assert_int_equal(twc_dns_zone_parse_record(z, "  host.example A 192.0.2.1  ", 28, &err), 0);
    assert_int_equal(twc_dns_zone_parse_record(z, "x.test. 5m IN MX 10 mail.test", 29, &err), 0);
    assert_int_equal(twc_dns_zone_parse_record(z, "t.test TXT \"a b\" ; note", 23, &err), 0);
    assert_string_equal(dump(z), "*.test. 60 A 127.0.0.1\n"
                                 "host.example. 3600 A 192.0.2.1\n"
                                 "x.test. 300 MX 10 mail.test.\n"
                                 "t.test. 3600 TXT \"a b\"\n");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(twc_dns_zone_parse_record(z, bad[i][0], strlen(bad[i][0]), &err) < 0);
        assert_string_equal(err.msg, bad[i][1]);
    }
    assert_int_equal(twc_dns_zone_count(z), 4);
    assert_null(twc_dns_zone_origin(z));
    twc_dns_zone_free(z);
}

static void test_zone_rdata_types(void **state)
{
    static const struct {
        uint16_t type;
        const char *in, *out;
    } cases[] = {
        {TWC_DNS_A, "192.0.2.1", "192.0.2.1"},
        {TWC_DNS_AAAA, "2001:DB8::1", "2001:db8::1"},
        {TWC_DNS_NS, "ns", "ns.example.com."},
        {TWC_DNS_CNAME, "target.example.org.", "target.example.org."},
        {TWC_DNS_PTR, "@", "example.com."},
        {TWC_DNS_MX, "0 .", "0 ."},
        {TWC_DNS_TXT, "\"hello world\" bare", "\"hello world\" \"bare\""},
        {TWC_DNS_SRV, "1 2 65535 srv", "1 2 65535 srv.example.com."},
        {TWC_DNS_CAA, "128 iodef \"mailto:a@example.com\"", "128 iodef \"mailto:a@example.com\""},
        {TWC_DNS_SOA, "ns mail 4294967295 1d 1h 1w 5m",
         "ns.example.com. mail.example.com. 4294967295 86400 3600 604800 300"},
        {TWC_DNS_HINFO, "\"RFC8482\" \"\"", "\\# 9 075246433834383200"},
        {4321, "\\# 0", "\\# 0"},
        {4321, "\\# 3 ab CD ef", "\\# 3 abcdef"},
        {TWC_DNS_A, "\\# 4 7f000001", "127.0.0.1"},
        {TWC_DNS_NS, "\\# 5 0161016200", "a.b."},
    };
    static const struct {
        uint16_t type;
        const char *in, *msg;
    } bad[] = {
        {TWC_DNS_A, "192.0.2.1 x", "A needs 1 fields, got 2"},
        {TWC_DNS_A, "\"192.0.2.1\"", "bad IPv4 address '192.0.2.1'"},
        {TWC_DNS_AAAA, "192.0.2.1", "bad IPv6 address '192.0.2.1'"},
        {TWC_DNS_TXT, "", "TXT needs at least one string"},
        {TWC_DNS_TXT, "\"unterminated", "unterminated quoted string"},
        {TWC_DNS_SRV, "1 2 3", "SRV needs 4 fields, got 3"},
        {TWC_DNS_NS, "\"ns\"", "name 'ns' may not be quoted"},
        {TWC_DNS_NS, "a..b", "bad name 'a..b': empty label"},
        {TWC_DNS_NS, "\\# 2 0161", "\\# data is not valid rdata for its type"},
        {TWC_DNS_TXT, "\\# 2 01", "\\# data is not 2 bytes"},
        {TWC_DNS_TXT, "\\# x", "\\# needs a length (0-65535)"},
        {4321, "\\# 1 zz", "bad hex digit 'z' in \\# data"},
        {4321, "\\# 1 0", "\\# data is not 1 bytes"},
        {4321, "\\# 1 0000", "\\# data longer than 1 bytes"},
        {TWC_DNS_SOA, "a b 1 2 3 4 x", "bad SOA timer 'x'"},
        {TWC_DNS_CAA, "0 abcdefghijklmnop x", "bad CAA tag"},
        {TWC_DNS_CAA, "\\# 2 0000", "\\# data is not valid rdata for its type"},
    };
    twc_dns_name origin = name_of("example.com.");
    uint8_t rd[1024];
    char text[1024];
    size_t i;
    twc_err err;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = twc_dns_rdata_parse_text(cases[i].type, cases[i].in, strlen(cases[i].in), &origin,
                                         rd, sizeof(rd), &err);

        if (n < 0)
            fail_msg("%s: %s", cases[i].in, err.msg);
        assert_true(twc_dns_rdata_format(cases[i].type, rd, (size_t)n, text, sizeof(text)) >= 0);
        assert_string_equal(text, cases[i].out);
        assert_int_equal(twc_dns_rdata_check(cases[i].type, rd, (size_t)n), 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(twc_dns_rdata_parse_text(bad[i].type, bad[i].in, strlen(bad[i].in), &origin, rd,
                                             sizeof(rd), &err) < 0);
        assert_string_equal(err.msg, bad[i].msg);
    }
    /* A TXT string over 255 bytes, and rdata over the caller's buffer. */
    memset(text, 'a', 300);
    text[300] = '\0';
    assert_int_equal(twc_dns_rdata_parse_text(TWC_DNS_TXT, text, 300, NULL, rd, sizeof(rd), &err),
                     TWC_EINVAL);
    assert_string_equal(err.msg, "character-string exceeds 255 bytes");
    assert_int_equal(twc_dns_rdata_parse_text(TWC_DNS_TXT, "abc", 3, NULL, rd, 3, &err),
                     TWC_ETOOBIG);
}

static void test_zone_check(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"$TTL 1\na.example.com. A 192.0.2.1\n", "t.zone: no $ORIGIN and no SOA record"},
        {"$ORIGIN example.com.\n$TTL 1\na A 192.0.2.1\n",
         "t.zone: no SOA record for zone example.com."},
        {"$ORIGIN example.com.\n$TTL 1\n@ SOA a b 1 2 3 4 5\nx.example.org. A 192.0.2.1\n",
         "t.zone:4: name is outside zone example.com."},
        {"$ORIGIN example.com.\n$TTL 1\n@ SOA a b 1 2 3 4 5\nsub SOA a b 1 2 3 4 5\n",
         "t.zone:4: SOA record not at the zone apex example.com."},
        {"$ORIGIN example.com.\n$TTL 1\n@ SOA a b 1 2 3 4 5\n@ SOA a b 2 2 3 4 5\n",
         "t.zone:4: second SOA record for example.com."},
    };
    char text[TWC_DNS_NAME_TEXT_MAX];
    twc_dns_zone *z;
    twc_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (parse(&z, cases[i].text, NULL, &err) < 0)
            fail_msg("%s", err.msg);
        assert_int_equal(twc_dns_zone_check(z, &err), TWC_EINVAL);
        assert_string_equal(err.msg, cases[i].msg);
        twc_dns_zone_free(z);
    }
    /* Without $ORIGIN the SOA owner is the origin, also of the relative names
     * that follow; with no TTL anywhere the SOA takes its MINIMUM. */
    assert_int_equal(parse(&z,
                           "example.org. SOA ns h.example.org. 1 2 3 4 77\n"
                           "www A 192.0.2.1\n",
                           NULL, &err),
                     0);
    assert_int_equal(twc_dns_zone_check(z, &err), 0);
    twc_dns_name_format(twc_dns_zone_origin(z), text, sizeof(text));
    assert_string_equal(text, "example.org.");
    assert_string_equal(dump(z), "example.org. 77 SOA ns.example.org. h.example.org. 1 2 3 4 77\n"
                                 "www.example.org. 77 A 192.0.2.1\n");
    twc_dns_zone_free(z);
}

/* Every prefix of a valid zone parses or fails cleanly with FILE:LINE, and
 * the records of a failed prefix are a prefix of the full list. */
static void test_zone_truncated_inputs(void **state)
{
    static const char text[] = "$ORIGIN example.com.\n$TTL 1h\n"
                               "@ SOA ns1 host (\n 1 2 3 4 5 ) ; c\n"
                               "  NS ns1\n"
                               "ns1 IN 60 A 192.0.2.1\n"
                               "t TXT \"a\\\"b ; c\" d\\ e\n"
                               "x TYPE99 \\# 2 abcd\n";
    twc_dns_zone *full, *z;
    twc_err err;
    size_t len;

    (void)state;
    assert_int_equal(parse(&full, text, NULL, &err), 0);
    assert_int_equal(twc_dns_zone_count(full), 5);
    for (len = 0; len <= strlen(text); len++) {
        char *copy = malloc(len ? len : 1);
        size_t i;
        int rc;

        memcpy(copy, text, len);
        z = twc_dns_zone_new(NULL);
        rc = twc_dns_zone_parse_buf(z, "t.zone", NULL, copy, len, NULL, &err);
        if (rc < 0)
            assert_memory_equal(err.msg, "t.zone:", 7);
        assert_true(twc_dns_zone_count(z) <= twc_dns_zone_count(full));
        for (i = 0; i < twc_dns_zone_count(z); i++) {
            twc_dns_rr a, b;

            twc_dns_zone_get(z, i, &a);
            twc_dns_zone_get(full, i, &b);
            assert_true(twc_dns_name_equal(&a.name, &b.name));
            assert_int_equal(a.type, b.type);
        }
        twc_dns_zone_free(z);
        free(copy);
    }
    twc_dns_zone_free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zone_sample_file),
        cmocka_unit_test(test_zone_ttl_units),
        cmocka_unit_test(test_zone_ttl_and_class_order),
        cmocka_unit_test(test_zone_names_and_owner),
        cmocka_unit_test(test_zone_parens_and_comments),
        cmocka_unit_test(test_zone_txt_escapes),
        cmocka_unit_test(test_zone_errors_name_file_and_line),
        cmocka_unit_test(test_zone_limits),
        cmocka_unit_test(test_zone_include_nesting),
        cmocka_unit_test(test_zone_record_line),
        cmocka_unit_test(test_zone_rdata_types),
        cmocka_unit_test(test_zone_check),
        cmocka_unit_test(test_zone_truncated_inputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for proto/framing/line.c: the line parser and the line receiver.
 *
 * Most tests go through drive(), which feeds an input whole, one byte at a
 * time, and in seeded random splits (each chunk an exact-size heap copy, so
 * ASan catches any read past a chunk), and records the events in a text log.
 * Every split must give the same log. The driver reacts to lines like a
 * protocol would, so mode switches are exercised at event boundaries:
 *   "...{N}"      raw mode for exactly N bytes (an IMAP literal, RFC 3501 §4.3)
 *   "RAW"         raw mode for the rest of the input
 *   "DELIM x"     the delimiter becomes x (1-4 bytes)
 * Log entries: L<len>[line]  R[raw bytes, ']' and '\' escaped] ("]!" when a
 * counted run ends)  E<code>  and, last, #<state> ("*" when not idle).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "limits.h"
#include "proto/framing/line.h"

#define LOG_MAX       (1024 * 1024)
#define RANDOM_SPLITS 25

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

struct opts {
    const char *delim; /* NULL: the default "\r\n" */
    size_t dlen;
    size_t max_line; /* 0: default */
    bool resync;
};

struct log {
    twc_buf b;
    bool in_raw;
};

static uint32_t rng_next(uint32_t *s)
{
    /* xorshift32: deterministic splits from a seed. */
    uint32_t x = *s ? *s : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void log_end_raw(struct log *lg)
{
    if (lg->in_raw) {
        assert_int_equal(twc_buf_append(&lg->b, "]", 1), 0);
        lg->in_raw = false;
    }
}

static void log_event(struct log *lg, const struct twc_line_event *ev)
{
    size_t i;

    if (ev->type == TWC_LINE_EV_LINE) {
        log_end_raw(lg);
        assert_int_equal(twc_buf_printf(&lg->b, "L%zu[", ev->line.len), 0);
        assert_int_equal(twc_buf_append(&lg->b, ev->line.p, ev->line.len), 0);
        assert_int_equal(twc_buf_append(&lg->b, "]", 1), 0);
    } else if (ev->type == TWC_LINE_EV_RAW) {
        assert_true(ev->line.len > 0);
        if (!lg->in_raw)
            assert_int_equal(twc_buf_append(&lg->b, "R[", 2), 0);
        lg->in_raw = true;
        for (i = 0; i < ev->line.len; i++) {
            uint8_t c = ev->line.p[i];

            if (c == ']' || c == '\\')
                assert_int_equal(twc_buf_append(&lg->b, "\\", 1), 0);
            assert_int_equal(twc_buf_append(&lg->b, &c, 1), 0);
        }
        if (ev->raw_done) {
            assert_int_equal(twc_buf_append(&lg->b, "]!", 2), 0);
            lg->in_raw = false;
        }
    }
}

/* React to a line the way a protocol would (see the top of the file). */
static void apply_rules(twc_line_parser *lp, const struct twc_line_event *ev)
{
    const uint8_t *p = ev->line.p;
    size_t n = ev->line.len;

    if (ev->type != TWC_LINE_EV_LINE)
        return;
    if (n == 3 && memcmp(p, "RAW", 3) == 0) {
        assert_int_equal(twc_line_parser_set_raw(lp), 0);
    } else if (n > 6 && n <= 10 && memcmp(p, "DELIM ", 6) == 0) {
        assert_int_equal(twc_line_parser_set_delimiter(lp, p + 6, n - 6), 0);
    } else if (n >= 3 && p[n - 1] == '}') {
        size_t open = n - 1;
        uint64_t count;

        while (open > 0 && p[open - 1] != '{')
            open--;
        if (open > 0 && open < n - 1 &&
            twc_parse_u64((const char *)p + open, n - 1 - open, 0, 100000, &count) == 0)
            assert_int_equal(twc_line_parser_set_raw_count(lp, count), 0);
    }
}

/* Feed in[0..len) split as asked; append the event log to lg->b. */
static void drive(const struct opts *o, const void *in, size_t len, enum split how, uint32_t seed,
                  struct log *lg)
{
    const uint8_t *src = in;
    struct twc_line_limits lim = {.max_line = o->max_line};
    twc_line_parser lp;
    struct twc_line_event ev;
    size_t off = 0;
    bool dead = false;

    twc_buf_init(&lg->b, LOG_MAX);
    lg->in_raw = false;
    twc_line_parser_init(&lp, &lim);
    if (o->delim != NULL)
        assert_int_equal(twc_line_parser_set_delimiter(&lp, o->delim, o->dlen), 0);
    twc_line_parser_set_overflow(&lp,
                                 o->resync ? TWC_LINE_OVERFLOW_RESYNC : TWC_LINE_OVERFLOW_FAIL);

    while (off < len && !dead) {
        size_t n = len - off, c = 0;
        uint8_t *chunk;

        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_RANDOM)
            n = 1 + rng_next(&seed) % (rng_next(&seed) % 4 == 0 ? n : (n < 8 ? n : 8));
        chunk = malloc(n); /* exact size: ASan flags any over-read */
        assert_non_null(chunk);
        memcpy(chunk, src + off, n);
        while (c < n) {
            ssize_t r = twc_line_parser_feed(&lp, chunk + c, n - c, &ev);

            if (r < 0) {
                log_end_raw(lg);
                assert_int_equal(twc_buf_printf(&lg->b, "E%zd", r), 0);
                if (r == TWC_ETOOBIG && o->resync) {
                    assert_int_equal(twc_line_parser_state(&lp), TWC_LINE_S_DISCARD);
                    continue;
                }
                dead = true;
                break;
            }
            assert_in_range(r, 1, n - c);
            c += (size_t)r;
            log_event(lg, &ev);
            apply_rules(&lp, &ev);
        }
        free(chunk);
        off += n;
    }
    log_end_raw(lg);
    assert_int_equal(twc_buf_printf(&lg->b, "#%s%s",
                                    twc_line_state_name(twc_line_parser_state(&lp)),
                                    twc_line_parser_idle(&lp) ? "" : "*"),
                     0);
    twc_line_parser_cleanup(&lp);
}

static void assert_logs_equal(const struct log *a, const struct log *b)
{
    if (twc_buf_len(&a->b) != twc_buf_len(&b->b) ||
        memcmp(twc_buf_data(&a->b), twc_buf_data(&b->b), twc_buf_len(&a->b)) != 0)
        print_error("whole: %.*s\nsplit: %.*s\n", (int)twc_buf_len(&a->b),
                    (const char *)twc_buf_data(&a->b), (int)twc_buf_len(&b->b),
                    (const char *)twc_buf_data(&b->b));
    assert_int_equal(twc_buf_len(&a->b), twc_buf_len(&b->b));
    assert_memory_equal(twc_buf_data(&a->b), twc_buf_data(&b->b), twc_buf_len(&a->b));
}

static void assert_log_is(const twc_buf *b, const char *expect)
{
    size_t n = strlen(expect);

    if (twc_buf_len(b) != n || memcmp(twc_buf_data(b), expect, n) != 0)
        print_error("got:  %.*s\nwant: %s\n", (int)twc_buf_len(b), (const char *)twc_buf_data(b),
                    expect);
    assert_int_equal(twc_buf_len(b), n);
    assert_memory_equal(twc_buf_data(b), expect, n);
}

/* Feed whole, bytewise and in random splits; all logs must match, and match
 * expect when it is not NULL. */
static void check_all_splits(const struct opts *o, const void *in, size_t len, const char *expect)
{
    struct log whole, other;
    uint32_t seed;

    drive(o, in, len, SPLIT_WHOLE, 0, &whole);
    if (expect != NULL)
        assert_log_is(&whole.b, expect);
    drive(o, in, len, SPLIT_BYTES, 0, &other);
    assert_logs_equal(&whole, &other);
    twc_buf_cleanup(&other.b);
    for (seed = 1; seed <= RANDOM_SPLITS; seed++) {
        drive(o, in, len, SPLIT_RANDOM, seed * 2654435761u, &other);
        assert_logs_equal(&whole, &other);
        twc_buf_cleanup(&other.b);
    }
    twc_buf_cleanup(&whole.b);
}

#define CHECK(o, lit, expect) check_all_splits((o), (lit), sizeof(lit) - 1, (expect))

static void test_line_crlf_lines(void **state)
{
    struct opts o = {0};

    (void)state;
    CHECK(&o, "hello\r\nworld\r\n", "L5[hello]L5[world]#line");
    /* A bare "\n" or "\r" is part of the line with the CRLF delimiter. */
    CHECK(&o, "a\nb\rc\r\n", "L5[a\nb\rc]#line");
    /* An unfinished line is held, and the parser says so. */
    CHECK(&o, "one\r\ntw", "L3[one]#line*");
    CHECK(&o, "one\r\ntwo\r", "L3[one]#line*");
}

static void test_line_empty_lines(void **state)
{
    struct opts o = {0};

    (void)state;
    CHECK(&o, "\r\n\r\nx\r\n\r\n", "L0[]L0[]L1[x]L0[]#line");
    CHECK(&o, "", "#line");
}

static void test_line_lf_delimiter(void **state)
{
    struct opts o = {.delim = "\n", .dlen = 1};

    (void)state;
    CHECK(&o, "a\r\nb\n\nccc\n", "L2[a\r]L1[b]L0[]L3[ccc]#line");
}

static void test_line_multibyte_delimiters(void **state)
{
    struct opts blank = {.delim = "\r\n\r\n", .dlen = 4};
    struct opts overlap = {.delim = "aab", .dlen = 3};
    struct opts dots = {.delim = "\r\n.\r", .dlen = 4};

    (void)state;
    /* "\r\n\r" followed by "\r\n\r\n": the delimiter starts at the second "\r". */
    CHECK(&blank, "a\r\n\r\r\n\r\nb\r\n\r\n", "L4[a\r\n\r]L1[b]#line");
    /* Self-overlapping delimiter: "xaaab" ends "xa". */
    CHECK(&overlap, "xaaabaabaaaab", "L2[xa]L0[]L2[aa]#line");
    CHECK(&dots, "body\r\n.\rnext\r\n.\r", "L4[body]L4[next]#line");
}

static void test_line_delimiter_split_across_feeds(void **state)
{
    const uint8_t part1[] = {'a', 'b', 'c', '\r'};
    const uint8_t part2[] = {'\n', 'd', 'e', 'f', '\r', '\n'};
    struct twc_line_event ev;
    twc_line_parser lp;

    (void)state;
    twc_line_parser_init(&lp, NULL);
    assert_int_equal(twc_line_parser_feed(&lp, part1, sizeof(part1), &ev), 4);
    assert_int_equal(ev.type, TWC_LINE_EV_NONE);
    assert_false(twc_line_parser_idle(&lp));
    /* The "\n" completes the delimiter; the line comes from the parser's buffer. */
    assert_int_equal(twc_line_parser_feed(&lp, part2, sizeof(part2), &ev), 1);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    assert_int_equal(ev.line.len, 3);
    assert_memory_equal(ev.line.p, "abc", 3);
    assert_true(ev.line.p < part2 || ev.line.p >= part2 + sizeof(part2));
    assert_true(twc_line_parser_idle(&lp));
    /* A whole line in the data is a slice of it: no copy. */
    assert_int_equal(twc_line_parser_feed(&lp, part2 + 1, sizeof(part2) - 1, &ev), 5);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    assert_ptr_equal(ev.line.p, part2 + 1);
    assert_int_equal(ev.line.len, 3);
    assert_int_equal(twc_line_parser_feed(&lp, part2, 0, &ev), 0);
    assert_int_equal(ev.type, TWC_LINE_EV_NONE);
    twc_line_parser_cleanup(&lp);
}

static void test_line_overflow_fails(void **state)
{
    struct opts o = {.max_line = 5};
    const uint8_t in[] = "123456\r\n";
    struct twc_line_limits lim = {.max_line = 5};
    struct twc_line_event ev;
    twc_line_parser lp;

    (void)state;
    /* Exactly max_line is fine, one more is not; FAIL mode stops there. */
    CHECK(&o, "12345\r\n123456\r\nabc\r\n", "L5[12345]E-1001#failed*");
    /* The failure sticks until reset. */
    twc_line_parser_init(&lp, &lim);
    assert_int_equal(twc_line_parser_feed(&lp, in, sizeof(in) - 1, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"x\r\n", 3, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_line_parser_set_raw(&lp), TWC_EINVAL);
    twc_line_parser_reset(&lp);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"x\r\n", 3, &ev), 3);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    assert_int_equal(ev.line.len, 1);
    twc_line_parser_cleanup(&lp);
}

static void test_line_overflow_detected_before_delimiter(void **state)
{
    struct twc_line_limits lim = {.max_line = 5};
    struct twc_line_event ev;
    twc_line_parser lp;

    (void)state;
    twc_line_parser_init(&lp, &lim);
    /* Five bytes and a possible start of "\r\n": not too long yet. */
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"12345\r", 6, &ev), 6);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"\n", 1, &ev), 1);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    assert_int_equal(ev.line.len, 5);
    /* Six bytes with no delimiter in sight: too long now, not at the delimiter. */
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"123", 3, &ev), 3);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"456", 3, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_line_parser_state(&lp), TWC_LINE_S_FAILED);
    twc_line_parser_cleanup(&lp);
}

static void test_line_overflow_partial_delimiter(void **state)
{
    struct opts o = {.max_line = 5};
    struct opts r = {.max_line = 5, .resync = true};

    (void)state;
    CHECK(&o, "12345\r\n", "L5[12345]#line");
    /* The "\r" was not a delimiter after all: the line is 7 bytes. */
    CHECK(&o, "12345\rx\r\n", "E-1001#failed*");
    CHECK(&r, "12345\rx\r\nok\r\n", "E-1001L2[ok]#line");
    /* An overlong line whose delimiter straddles the overflow point. */
    CHECK(&r, "1234567\r\r\n\r\n", "E-1001L0[]#line");
}

static void test_line_overflow_resync(void **state)
{
    struct opts o = {.max_line = 5, .resync = true};
    struct opts lf = {.delim = "\n", .dlen = 1, .max_line = 3, .resync = true};
    char big[200];

    (void)state;
    CHECK(&o, "12345\r\n123456\r\nabc\r\n", "L5[12345]E-1001L3[abc]#line");
    /* One error per overlong line, however long it is. */
    memset(big, 'x', sizeof(big));
    memcpy(big + 190, "\r\nok\r\nzz", 8);
    check_all_splits(&o, big, 198, "E-1001L2[ok]#line*");
    CHECK(&o, "aaaaaaaa\r\nbbbbbbbbbbb\r\n\r\n", "E-1001E-1001L0[]#line");
    /* Still discarding at the end of input. */
    CHECK(&o, "ok\r\naaaaaaaaaaaaa\r", "L2[ok]E-1001#discard*");
    CHECK(&lf, "abcd\nabc\n", "E-1001L3[abc]#line");
}

static void test_line_raw_count(void **state)
{
    struct opts o = {0};

    (void)state;
    /* An IMAP literal: the 5 octets may contain anything, CRLF included. */
    CHECK(&o, "A1 LOGIN {5}\r\nhe\r\nl\r\nA2 NOOP\r\n",
          "L12[A1 LOGIN {5}]R[he\r\nl]!L0[]L7[A2 NOOP]#line");
    /* Literals back to back, and one at the very end. */
    CHECK(&o, "{2}\r\nab{1}\r\n]\r\n{3}\r\nxy",
          "L3[{2}]R[ab]!L3[{1}]R[\\]]!L0[]L3[{3}]R[xy]#raw_n*");
    /* {0}: nothing raw, stay in line mode. */
    CHECK(&o, "{0}\r\nx\r\n", "L3[{0}]L1[x]#line");
}

static void test_line_raw_unbounded(void **state)
{
    struct opts o = {0};

    (void)state;
    CHECK(&o, "a\r\nRAW\r\nbc\r\n{3}\r\n\\", "L1[a]L3[RAW]R[bc\r\n{3}\r\n\\\\]#raw*");
}

static void test_line_raw_and_back(void **state)
{
    struct twc_line_event ev;
    twc_line_parser lp;
    const uint8_t in[] = "abc\r\nde";

    (void)state;
    twc_line_parser_init(&lp, NULL);
    assert_int_equal(twc_line_parser_set_raw(&lp), 0);
    assert_int_equal(twc_line_parser_state(&lp), TWC_LINE_S_RAW);
    assert_int_equal(twc_line_parser_feed(&lp, in, 3, &ev), 3);
    assert_int_equal(ev.type, TWC_LINE_EV_RAW);
    assert_ptr_equal(ev.line.p, in);
    assert_int_equal(ev.line.len, 3);
    assert_false(ev.raw_done);
    twc_line_parser_set_line_mode(&lp);
    assert_int_equal(twc_line_parser_state(&lp), TWC_LINE_S_LINE);
    assert_int_equal(twc_line_parser_feed(&lp, in + 3, 4, &ev), 2);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    assert_int_equal(ev.line.len, 0);
    /* A counted run can be cut short too. */
    assert_int_equal(twc_line_parser_set_raw_count(&lp, 100), 0);
    assert_int_equal(twc_line_parser_feed(&lp, in + 5, 2, &ev), 2);
    assert_int_equal(ev.type, TWC_LINE_EV_RAW);
    assert_false(ev.raw_done);
    twc_line_parser_set_line_mode(&lp);
    assert_true(twc_line_parser_idle(&lp));
    twc_line_parser_cleanup(&lp);
}

static void test_line_switches_rejected_mid_line(void **state)
{
    struct twc_line_event ev;
    twc_line_parser lp;

    (void)state;
    twc_line_parser_init(&lp, NULL);
    assert_int_equal(twc_line_parser_set_delimiter(&lp, "", 0), TWC_EINVAL);
    assert_int_equal(twc_line_parser_set_delimiter(&lp, "abcde", 5), TWC_EINVAL);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"part", 4, &ev), 4);
    /* Half a line is buffered: switching now would lose or misparse it. */
    assert_int_equal(twc_line_parser_set_raw(&lp), TWC_EINVAL);
    assert_int_equal(twc_line_parser_set_raw_count(&lp, 3), TWC_EINVAL);
    assert_int_equal(twc_line_parser_set_delimiter(&lp, "\n", 1), TWC_EINVAL);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"\r\n", 2, &ev), 2);
    assert_int_equal(ev.type, TWC_LINE_EV_LINE);
    /* From the line event it is fine, and the line stays valid. */
    assert_int_equal(twc_line_parser_set_delimiter(&lp, "\n", 1), 0);
    assert_int_equal(twc_line_parser_set_raw_count(&lp, 3), 0);
    assert_memory_equal(ev.line.p, "part", 4);
    twc_line_parser_cleanup(&lp);
}

static void test_line_delimiter_change(void **state)
{
    struct opts o = {0};

    (void)state;
    CHECK(&o, "DELIM ;\r\na;b\r\n;DELIM \r\n;c\r\n",
          "L7[DELIM ;]L1[a]L3[b\r\n]L8[DELIM \r\n]L1[c]#line");
}

static void test_line_default_limit(void **state)
{
    struct opts o = {0};
    char *in = malloc(TWC_LINE_MAX + 3);
    struct log lg;
    char expect[64];

    (void)state;
    assert_non_null(in);
    memset(in, 'y', TWC_LINE_MAX);
    memcpy(in + TWC_LINE_MAX, "\r\n", 2);
    drive(&o, in, TWC_LINE_MAX + 2, SPLIT_BYTES, 0, &lg);
    snprintf(expect, sizeof(expect), "L%d[", TWC_LINE_MAX);
    assert_memory_equal(twc_buf_data(&lg.b), expect, strlen(expect));
    twc_buf_cleanup(&lg.b);
    in[TWC_LINE_MAX] = 'y';
    in[TWC_LINE_MAX + 2] = 'z';
    drive(&o, in, TWC_LINE_MAX + 3, SPLIT_WHOLE, 0, &lg);
    assert_log_is(&lg.b, "E-1001#failed*");
    twc_buf_cleanup(&lg.b);
    free(in);
}

static void test_line_random_inputs_agree(void **state)
{
    static const char alphabet[] = "ab\r\n\r\n{2}RAW;DELIM \\]";
    struct opts configs[] = {
        {0},
        {.max_line = 4, .resync = true},
        {.max_line = 6},
        {.delim = "\n", .dlen = 1, .max_line = 3, .resync = true},
        {.delim = "\r\n\r\n", .dlen = 4, .max_line = 9, .resync = true},
        {.delim = "aab", .dlen = 3, .max_line = 5, .resync = true},
    };
    uint32_t seed = 12345;
    char in[96];
    size_t c, i, round;

    (void)state;
    for (c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
        for (round = 0; round < 60; round++) {
            size_t len = rng_next(&seed) % sizeof(in);

            for (i = 0; i < len; i++)
                in[i] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
            check_all_splits(&configs[c], in, len, NULL);
        }
    }
}

struct trace_rec {
    char text[256];
    size_t len;
};

static void on_trace(void *arg, const char *parser, const char *from, const char *to)
{
    struct trace_rec *t = arg;
    int n = snprintf(t->text + t->len, sizeof(t->text) - t->len, "%s:%s>%s ", parser, from, to);

    assert_true(n > 0);
    t->len += (size_t)n;
}

static void test_line_trace_transitions(void **state)
{
    struct twc_line_limits lim = {.max_line = 2};
    struct trace_rec t = {.len = 0};
    struct twc_line_event ev;
    twc_line_parser lp;

    (void)state;
    twc_line_parser_init(&lp, &lim);
    twc_line_parser_set_trace(&lp, on_trace, &t);
    twc_line_parser_set_overflow(&lp, TWC_LINE_OVERFLOW_RESYNC);
    assert_int_equal(twc_line_parser_set_raw_count(&lp, 1), 0);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"x", 1, &ev), 1);
    assert_true(ev.raw_done);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"long\r\n", 6, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_line_parser_feed(&lp, (const uint8_t *)"long\r\n", 6, &ev), 6);
    assert_int_equal(ev.type, TWC_LINE_EV_NONE);
    assert_string_equal(t.text,
                        "line:line>raw_n line:raw_n>line line:line>discard line:discard>line ");
    assert_string_equal(twc_line_state_name(TWC_LINE_S_FAILED), "failed");
    assert_string_equal(twc_line_state_name((enum twc_line_state)42), "unknown");
    twc_line_parser_cleanup(&lp);
}

/* Line receiver. */

struct rx {
    twc_line_receiver lr;
    twc_buf got;
    int too_long;
    bool stop_at_stop; /* the line "STOP" stops delivery */
};

static void rx_line(void *arg, const uint8_t *line, size_t len)
{
    struct rx *rx = arg;

    assert_int_equal(twc_buf_printf(&rx->got, "L[%.*s]", (int)len, (const char *)line), 0);
    if (len == 3 && memcmp(line, "{", 1) == 0 && line[2] == '}')
        assert_int_equal(twc_line_parser_set_raw_count(twc_line_receiver_parser(&rx->lr),
                                                       (uint64_t)(line[1] - '0')),
                         0);
    if (rx->stop_at_stop && len == 4 && memcmp(line, "STOP", 4) == 0)
        twc_line_receiver_stop(&rx->lr);
}

static void rx_raw(void *arg, const uint8_t *data, size_t len, bool done)
{
    struct rx *rx = arg;

    assert_int_equal(
        twc_buf_printf(&rx->got, "R[%.*s]%s", (int)len, (const char *)data, done ? "!" : ""), 0);
}

static void rx_too_long(void *arg, size_t max_line)
{
    struct rx *rx = arg;

    assert_int_equal(max_line, 4);
    rx->too_long++;
}

static const struct twc_line_receiver_ops rx_ops = {
    .line_received = rx_line,
    .raw_received = rx_raw,
    .line_too_long = rx_too_long,
};

static void rx_init(struct rx *rx, const struct twc_line_receiver_ops *ops)
{
    struct twc_line_limits lim = {.max_line = 4};

    memset(rx, 0, sizeof(*rx));
    twc_buf_init(&rx->got, 4096);
    twc_line_receiver_init(&rx->lr, &lim, ops, rx);
}

static void rx_expect(struct rx *rx, const char *expect)
{
    assert_int_equal(twc_buf_append(&rx->got, "", 1), 0);
    assert_string_equal((const char *)twc_buf_data(&rx->got), expect);
    twc_buf_cleanup(&rx->got);
}

static void test_line_receiver_lines_and_raw(void **state)
{
    static const char in[] = "ab\r\n{3}\r\nx\r\nyz\r\n";
    struct rx rx;
    size_t i;

    (void)state;
    rx_init(&rx, &rx_ops);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in, sizeof(in) - 1),
                     (ssize_t)(sizeof(in) - 1));
    rx_expect(&rx, "L[ab]L[{3}]R[x\r\n]!L[yz]");
    /* The same, one byte at a time: raw chunks come one by one. */
    twc_buf_init(&rx.got, 4096);
    for (i = 0; i < sizeof(in) - 1; i++)
        assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in + i, 1), 1);
    rx_expect(&rx, "L[ab]L[{3}]R[x]R[\r]R[\n]!L[yz]");
    twc_line_receiver_cleanup(&rx.lr);
}

static void test_line_receiver_stop_mid_buffer(void **state)
{
    static const char in[] = "a\r\nSTOP\r\nrest\r\n";
    struct rx rx;

    (void)state;
    rx_init(&rx, &rx_ops);
    rx.stop_at_stop = true;
    /* Feed returns after the STOP line: the rest is left for the next owner. */
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in, sizeof(in) - 1), 9);
    rx_expect(&rx, "L[a]L[STOP]");
    /* Stop affects that call only. */
    twc_buf_init(&rx.got, 4096);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in + 9, 6), 6);
    rx_expect(&rx, "L[rest]");
    twc_line_receiver_cleanup(&rx.lr);
}

static void test_line_receiver_overflow(void **state)
{
    static const char in[] = "abcdefg\r\nok\r\n";
    struct rx rx;

    (void)state;
    /* RESYNC: one callback, then the receiver goes on with the next line. */
    rx_init(&rx, &rx_ops);
    twc_line_parser_set_overflow(twc_line_receiver_parser(&rx.lr), TWC_LINE_OVERFLOW_RESYNC);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in, sizeof(in) - 1),
                     (ssize_t)(sizeof(in) - 1));
    assert_int_equal(rx.too_long, 1);
    rx_expect(&rx, "L[ok]");
    twc_line_receiver_cleanup(&rx.lr);

    /* FAIL: one callback, then TWC_ETOOBIG for this and every later feed. */
    rx_init(&rx, &rx_ops);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in, sizeof(in) - 1),
                     TWC_ETOOBIG);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)"ok\r\n", 4), TWC_ETOOBIG);
    assert_int_equal(rx.too_long, 1);
    rx_expect(&rx, "");
    twc_line_receiver_cleanup(&rx.lr);
}

static void test_line_receiver_raw_without_callback(void **state)
{
    static const struct twc_line_receiver_ops lines_only = {.line_received = rx_line};
    static const char in[] = "{2}\r\nxy";
    struct rx rx;

    (void)state;
    rx_init(&rx, &lines_only);
    assert_int_equal(twc_line_receiver_feed(&rx.lr, (const uint8_t *)in, sizeof(in) - 1),
                     TWC_EINVAL);
    rx_expect(&rx, "L[{2}]");
    twc_line_receiver_cleanup(&rx.lr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_crlf_lines),
        cmocka_unit_test(test_line_empty_lines),
        cmocka_unit_test(test_line_lf_delimiter),
        cmocka_unit_test(test_line_multibyte_delimiters),
        cmocka_unit_test(test_line_delimiter_split_across_feeds),
        cmocka_unit_test(test_line_overflow_fails),
        cmocka_unit_test(test_line_overflow_detected_before_delimiter),
        cmocka_unit_test(test_line_overflow_partial_delimiter),
        cmocka_unit_test(test_line_overflow_resync),
        cmocka_unit_test(test_line_raw_count),
        cmocka_unit_test(test_line_raw_unbounded),
        cmocka_unit_test(test_line_raw_and_back),
        cmocka_unit_test(test_line_switches_rejected_mid_line),
        cmocka_unit_test(test_line_delimiter_change),
        cmocka_unit_test(test_line_default_limit),
        cmocka_unit_test(test_line_random_inputs_agree),
        cmocka_unit_test(test_line_trace_transitions),
        cmocka_unit_test(test_line_receiver_lines_and_raw),
        cmocka_unit_test(test_line_receiver_stop_mid_buffer),
        cmocka_unit_test(test_line_receiver_overflow),
        cmocka_unit_test(test_line_receiver_raw_without_callback),
    };
    return cmocka_run_group_tests_name("line", tests, NULL, NULL);
}

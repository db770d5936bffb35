/*
 * Unit tests for lib/protocol.c: dispatch of the public transport commands,
 * the shared flow-control rules (water marks), attach/lost ordering and
 * factory start/stop counting. Uses a tiny recording transport of its own so
 * no socket and no reactor is involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "transport_int.h"

/* ---- A recording transport -------------------------------------------------- */

typedef struct rec_transport {
    twc_transport base;
    size_t queued; /* what buffered() reports */
    int writev_calls, last_iovcnt;
    size_t last_total;
    int lose_calls, abort_calls, shutdown_calls, pause_calls, resume_calls;
    int reading_paused;
} rec_transport;

static int rec_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    rec_transport *rt = (rec_transport *)t;
    int i;

    rt->writev_calls++;
    rt->last_iovcnt = iovcnt;
    rt->last_total = 0;
    for (i = 0; i < iovcnt; i++)
        rt->last_total += iov[i].iov_len;
    return 0;
}

static void rec_lose(twc_transport *t)
{
    ((rec_transport *)t)->lose_calls++;
}

static void rec_abort(twc_transport *t)
{
    ((rec_transport *)t)->abort_calls++;
}

static int rec_shutdown(twc_transport *t)
{
    ((rec_transport *)t)->shutdown_calls++;
    return 0;
}

static void rec_pause(twc_transport *t)
{
    ((rec_transport *)t)->pause_calls++;
    ((rec_transport *)t)->reading_paused = 1;
}

static void rec_resume(twc_transport *t)
{
    ((rec_transport *)t)->resume_calls++;
    ((rec_transport *)t)->reading_paused = 0;
}

static size_t rec_buffered(const twc_transport *t)
{
    return ((const rec_transport *)t)->queued;
}

static int rec_peer(const twc_transport *t, twc_addr *out)
{
    (void)t;
    return twc_addr_parse_hostport(out, "192.168.1.1:54321", NULL);
}

static int rec_host(const twc_transport *t, twc_addr *out)
{
    (void)t;
    return twc_addr_parse_hostport(out, "10.0.0.1:12345", NULL);
}

static int rec_fd(const twc_transport *t)
{
    (void)t;
    return 42;
}

static const struct twc_transport_ops rec_ops = {
    .kind = "rec",
    .writev = rec_writev,
    .lose_connection = rec_lose,
    .abort = rec_abort,
    .shutdown_write = rec_shutdown,
    .pause_reading = rec_pause,
    .resume_reading = rec_resume,
    .buffered = rec_buffered,
    .peer = rec_peer,
    .host = rec_host,
    .fd = rec_fd,
};

/* Only what every transport must have. */
static const struct twc_transport_ops bare_ops = {
    .kind = "bare",
    .writev = rec_writev,
    .lose_connection = rec_lose,
    .abort = rec_abort,
    .buffered = rec_buffered,
};

/* ---- A recording protocol and factory ------------------------------------------ */

typedef struct rec_proto {
    twc_protocol base;
    char log[256]; /* event initials in order, shared with the factory */
    int made, lost, paused, drained;
    int lost_code;
    twc_transport *transport_in_made;
} rec_proto;

static char *event_log; /* points at the current test's rec_proto.log */

static void note(const char *ev)
{
    size_t n = strlen(event_log);

    snprintf(event_log + n, 256 - n, "%s;", ev);
}

static void p_made(twc_protocol *p)
{
    rec_proto *rp = (rec_proto *)p;

    rp->made++;
    rp->transport_in_made = p->transport;
    note("made");
}

static void p_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    (void)p;
    (void)data;
    (void)len;
}

static void p_pause(twc_protocol *p)
{
    ((rec_proto *)p)->paused++;
    note("pause");
}

static void p_drained(twc_protocol *p)
{
    ((rec_proto *)p)->drained++;
    note("drained");
}

static void p_lost(twc_protocol *p, const twc_err *why)
{
    rec_proto *rp = (rec_proto *)p;

    rp->lost++;
    rp->lost_code = why->code;
    assert_null(p->transport);
    note("lost");
}

static const struct twc_protocol_ops producer_ops = {
    .name = "producer",
    .connection_made = p_made,
    .data_received = p_data,
    .pause_producing = p_pause,
    .write_drained = p_drained,
    .connection_lost = p_lost,
};

static const struct twc_protocol_ops plain_ops = {
    .name = "plain",
    .connection_made = p_made,
    .data_received = p_data,
    .write_drained = p_drained,
    .connection_lost = p_lost,
};

typedef struct rec_factory {
    twc_factory base;
    int starts, stops, client_lost, client_lost_code;
} rec_factory;

static twc_protocol *f_build(twc_factory *f, const twc_addr *peer)
{
    (void)f;
    (void)peer;
    return NULL;
}

static void f_start(twc_factory *f)
{
    ((rec_factory *)f)->starts++;
}

static void f_stop(twc_factory *f)
{
    ((rec_factory *)f)->stops++;
}

static void f_client_lost(twc_factory *f, const twc_err *why)
{
    ((rec_factory *)f)->client_lost++;
    ((rec_factory *)f)->client_lost_code = why->code;
    note("client_lost");
}

static const struct twc_factory_ops fops = {
    .build = f_build,
    .start = f_start,
    .stop = f_stop,
    .client_connection_lost = f_client_lost,
};

static void setup_pair(rec_transport *rt, rec_proto *rp, const struct twc_protocol_ops *ops,
                       rec_factory *rf)
{
    memset(rt, 0, sizeof(*rt));
    memset(rp, 0, sizeof(*rp));
    memset(rf, 0, sizeof(*rf));
    rf->base.ops = &fops;
    rp->base.ops = ops;
    event_log = rp->log;
    twc__transport_init(&rt->base, &rec_ops, NULL);
    twc__transport_attach(&rt->base, &rp->base, &rf->base);
}

/* ---- Tests --------------------------------------------------------------------- */

static void test_protocol_factory_start_stop_counts_users(void **state)
{
    rec_factory rf;

    (void)state;
    memset(&rf, 0, sizeof(rf));
    rf.base.ops = &fops;
    twc_factory_do_start(&rf.base);
    twc_factory_do_start(&rf.base);
    assert_int_equal(rf.starts, 1);
    assert_int_equal(rf.base.users, 2);
    twc_factory_do_stop(&rf.base);
    assert_int_equal(rf.stops, 0);
    twc_factory_do_stop(&rf.base);
    assert_int_equal(rf.stops, 1);
    /* Unbalanced stops do not underflow or call stop again. */
    twc_factory_do_stop(&rf.base);
    assert_int_equal(rf.stops, 1);
    assert_int_equal(rf.base.users, 0);
    twc_factory_do_start(&rf.base);
    assert_int_equal(rf.starts, 2);
    twc_factory_do_stop(&rf.base);
    twc_factory_do_start(NULL);
    twc_factory_do_stop(NULL);
}

static void test_protocol_attach_sets_fields_before_made(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;

    (void)state;
    setup_pair(&rt, &rp, &producer_ops, &rf);
    assert_int_equal(rp.made, 1);
    assert_ptr_equal(rp.transport_in_made, &rt.base);
    assert_ptr_equal(rp.base.factory, &rf.base);
    assert_ptr_equal(rt.base.proto, &rp.base);
    assert_int_equal(rt.base.high_water, 1024 * 1024);
    assert_int_equal(rt.base.low_water, 64 * 1024);
}

static void test_protocol_commands_dispatch(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;
    struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"", 0}};
    char buf[128];
    twc_addr a;

    (void)state;
    setup_pair(&rt, &rp, &producer_ops, &rf);
    assert_int_equal(twc_transport_write(&rt.base, "hello", 5), 0);
    assert_int_equal(rt.writev_calls, 1);
    assert_int_equal(rt.last_iovcnt, 1);
    assert_int_equal(rt.last_total, 5);
    assert_int_equal(twc_transport_writev(&rt.base, iov, 3), 0);
    assert_int_equal(rt.last_iovcnt, 3);
    assert_int_equal(rt.last_total, 5);
    assert_int_equal(twc_transport_writev(&rt.base, iov, -1), TWC_EINVAL);
    twc_transport_lose_connection(&rt.base);
    twc_transport_abort(&rt.base);
    assert_int_equal(twc_transport_shutdown_write(&rt.base), 0);
    assert_int_equal(rt.lose_calls, 1);
    assert_int_equal(rt.abort_calls, 1);
    assert_int_equal(rt.shutdown_calls, 1);
    rt.queued = 77;
    assert_int_equal(twc_transport_buffered(&rt.base), 77);
    assert_int_equal(twc_transport_fd(&rt.base), 42);
    assert_null(twc_transport_reactor(&rt.base));
    assert_int_equal(twc_transport_peer(&rt.base, &a), 0);
    assert_int_equal(twc_addr_port(&a), 54321);
    assert_string_equal(twc_transport_describe(&rt.base, buf, sizeof(buf)),
                        "rec 10.0.0.1:12345 -> 192.168.1.1:54321 fd 42");
}

static void test_protocol_optional_ops_missing(void **state)
{
    rec_transport rt;
    char buf[128];
    twc_addr a;

    (void)state;
    memset(&rt, 0, sizeof(rt));
    twc__transport_init(&rt.base, &bare_ops, NULL);
    assert_int_equal(twc_transport_shutdown_write(&rt.base), TWC_EINVAL);
    assert_int_equal(twc_transport_peer(&rt.base, &a), TWC_EINVAL);
    assert_int_equal(twc_transport_host(&rt.base, &a), TWC_EINVAL);
    assert_int_equal(twc_transport_fd(&rt.base), -1);
    twc_transport_pause_reading(&rt.base);
    twc_transport_resume_reading(&rt.base);
    assert_string_equal(twc_transport_describe(&rt.base, buf, sizeof(buf)), "bare - -> - fd -1");
}

static void test_protocol_water_marks_pause_producer(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;

    (void)state;
    setup_pair(&rt, &rp, &producer_ops, &rf);
    rt.queued = rt.base.high_water; /* at the mark: not above it */
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.paused, 0);
    rt.queued = rt.base.high_water + 1;
    twc__transport_buffered_changed(&rt.base);
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.paused, 1);
    /* A producer protocol is paused itself; reading goes on. */
    assert_int_equal(rt.pause_calls, 0);
    /* Between the marks nothing changes (hysteresis). */
    rt.queued = rt.base.low_water + 1;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.drained, 0);
    rt.queued = rt.base.low_water;
    twc__transport_buffered_changed(&rt.base);
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.drained, 1);
    assert_int_equal(rp.paused, 1);
    assert_int_equal(rt.resume_calls, 0);
    /* Draining without a pause first says nothing. */
    rt.queued = 0;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.drained, 1);
    assert_string_equal(rp.log, "made;pause;drained;");
}

static void test_protocol_water_marks_pause_reading_without_producer(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;

    (void)state;
    setup_pair(&rt, &rp, &plain_ops, &rf);
    rt.queued = rt.base.high_water + 100;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rt.pause_calls, 1);
    assert_int_equal(rt.reading_paused, 1);
    assert_int_equal(rt.base.reading_paused_by_flow, 1);
    rt.queued = 0;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rt.resume_calls, 1);
    assert_int_equal(rt.reading_paused, 0);
    /* write_drained still tells the protocol the queue went down. */
    assert_int_equal(rp.drained, 1);
}

static void test_protocol_flow_resume_keeps_user_pause(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;

    (void)state;
    setup_pair(&rt, &rp, &plain_ops, &rf);
    twc_transport_pause_reading(&rt.base);
    rt.queued = rt.base.high_water + 1;
    twc__transport_buffered_changed(&rt.base);
    rt.queued = 0;
    twc__transport_buffered_changed(&rt.base);
    /* The protocol paused on purpose: draining output must not undo that. */
    assert_int_equal(rt.resume_calls, 0);
    assert_int_equal(rt.reading_paused, 1);
    twc_transport_resume_reading(&rt.base);
    assert_int_equal(rt.resume_calls, 1);

    /* And the other way round: a user resume while flow-paused waits for the drain. */
    rt.queued = rt.base.high_water + 1;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rt.reading_paused, 1);
    twc_transport_pause_reading(&rt.base);
    twc_transport_resume_reading(&rt.base);
    assert_int_equal(rt.reading_paused, 1);
    rt.queued = 0;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rt.reading_paused, 0);
}

static void test_protocol_lost_once_then_client_factory(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;
    twc_err why;

    (void)state;
    setup_pair(&rt, &rp, &producer_ops, &rf);
    twc_err_set(&why, -104, "connection reset by peer");
    twc__transport_lost(&rt.base, &why, 1);
    twc__transport_lost(&rt.base, &why, 1);
    assert_int_equal(rp.lost, 1);
    assert_int_equal(rp.lost_code, -104);
    assert_int_equal(rf.client_lost, 1);
    assert_int_equal(rf.client_lost_code, -104);
    assert_null(rt.base.proto);
    assert_null(rp.base.transport);
    assert_string_equal(rp.log, "made;lost;client_lost;");
    /* After lost, flow-control changes reach nobody. */
    rt.queued = rt.base.high_water + 1;
    twc__transport_buffered_changed(&rt.base);
    assert_int_equal(rp.paused, 0);
}

static void test_protocol_lost_clean_server_side(void **state)
{
    rec_transport rt;
    rec_proto rp;
    rec_factory rf;

    (void)state;
    setup_pair(&rt, &rp, &producer_ops, &rf);
    twc__transport_lost(&rt.base, NULL, 0);
    assert_int_equal(rp.lost, 1);
    assert_int_equal(rp.lost_code, 0);
    assert_int_equal(rf.client_lost, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_factory_start_stop_counts_users),
        cmocka_unit_test(test_protocol_attach_sets_fields_before_made),
        cmocka_unit_test(test_protocol_commands_dispatch),
        cmocka_unit_test(test_protocol_optional_ops_missing),
        cmocka_unit_test(test_protocol_water_marks_pause_producer),
        cmocka_unit_test(test_protocol_water_marks_pause_reading_without_producer),
        cmocka_unit_test(test_protocol_flow_resume_keeps_user_pause),
        cmocka_unit_test(test_protocol_lost_once_then_client_factory),
        cmocka_unit_test(test_protocol_lost_clean_server_side),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

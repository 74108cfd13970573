/*
 * test_ipc.c: IPC framing (header layout, frame extraction from partial
 * buffers, protocol errors), channels over a real socketpair, the key-value
 * payload codec and the CONFIG message (flowconf) round trip.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "t.h"
#include "frame.h"
#include "msg.h"
#include "channel.h"
#include "flowconf.h"

/* ---------------------------------------------------------------- framing */

static void
test_hdr_pack_bytes(void)
{
	struct ipc_hdr h = { 0x01020304, 0x0a0b0c0d, 0xdeadbeef, 0x00000001,
	    0x80000000, 0xfffffffe }, u;
	static const unsigned char want[IPC_HDR_LEN] = {
		0x01, 0x02, 0x03, 0x04,  0x0a, 0x0b, 0x0c, 0x0d,
		0xde, 0xad, 0xbe, 0xef,  0x00, 0x00, 0x00, 0x01,
		0x80, 0x00, 0x00, 0x00,  0xff, 0xff, 0xff, 0xfe
	};
	unsigned char out[IPC_HDR_LEN];

	memset(out, 0x55, sizeof(out));
	ipc_hdr_pack(&h, out);
	T_MEM_EQ(out, want, IPC_HDR_LEN);
	memset(&u, 0, sizeof(u));
	ipc_hdr_unpack(want, &u);
	T_EQ_INT(u.type, 0x01020304u);
	T_EQ_INT(u.len, 0x0a0b0c0du);
	T_EQ_INT(u.flow, 0xdeadbeefu);
	T_EQ_INT(u.pid, 1);
	T_EQ_INT(u.gen, 0x80000000u);
	T_EQ_INT(u.seq, 0xfffffffeu);
}

static void
test_hdr_round_trip(void)
{
	struct ipc_hdr h = { IPC_STATUS, 17, 3, 4242, 9, 1 }, u;
	unsigned char b[IPC_HDR_LEN];

	ipc_hdr_pack(&h, b);
	ipc_hdr_unpack(b, &u);
	T_EQ_INT(u.type, h.type);
	T_EQ_INT(u.len, h.len);
	T_EQ_INT(u.flow, h.flow);
	T_EQ_INT(u.pid, h.pid);
	T_EQ_INT(u.gen, h.gen);
	T_EQ_INT(u.seq, h.seq);
	/* the type sits big-endian in the first four bytes */
	T_EQ_INT(b[0], 0);
	T_EQ_INT(b[3], IPC_STATUS);
	T_EQ_INT(b[7], 17);
}

/* A header as raw bytes, for frames ipc_frame_add would refuse to build. */
static void
raw_hdr(unsigned char out[IPC_HDR_LEN], uint32_t type, uint32_t len,
    uint32_t seq)
{
	struct ipc_hdr h = { type, len, 1, 2, 3, seq };
	ipc_hdr_pack(&h, out);
}

static void
test_take_whole(void)
{
	struct evbuffer *b = evbuffer_new();
	struct ipc_hdr h = { IPC_CONFIG, 5, 11, 22, 33, 1 }, got;
	unsigned char *p = (unsigned char *)"junk";
	char err[256] = "";

	T_EQ_INT(ipc_frame_add(b, &h, "hello"), 0);
	T_EQ_INT(evbuffer_get_length(b), IPC_HDR_LEN + 5);
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	T_CHECK(p != NULL);
	if (p) {
		T_MEM_EQ(p, "hello", 5);
		T_EQ_INT(p[5], '\0');
	}
	T_EQ_INT(got.type, IPC_CONFIG);
	T_EQ_INT(got.len, 5);
	T_EQ_INT(got.flow, 11);
	T_EQ_INT(got.pid, 22);
	T_EQ_INT(got.gen, 33);
	T_EQ_INT(got.seq, 1);
	T_EQ_INT(evbuffer_get_length(b), 0);
	free(p);

	/* an empty payload still yields a (NUL-only) buffer */
	h.type = IPC_READY;
	h.len = 0;
	h.seq = 2;
	T_EQ_INT(ipc_frame_add(b, &h, NULL), 0);
	T_EQ_INT(ipc_frame_take(b, 2, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	T_EQ_INT(got.len, 0);
	T_CHECK(p != NULL && p[0] == '\0');
	free(p);

	/* nothing left: MORE, and no payload */
	p = (unsigned char *)"junk";
	T_EQ_INT(ipc_frame_take(b, 3, &got, &p, err, sizeof(err)), IPC_TAKE_MORE);
	T_CHECK(p == NULL);
	evbuffer_free(b);
}

static void
test_take_byte_by_byte(void)
{
	struct evbuffer *b = evbuffer_new(), *in = evbuffer_new();
	struct ipc_hdr h = { IPC_STATUS, 300, 5, 6, 7, 1 }, got;
	unsigned char payload[300], frame[IPC_HDR_LEN + 300], *p;
	char err[256] = "";
	size_t total = sizeof(frame);
	int more = 0;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7 + 1);
	T_EQ_INT(ipc_frame_add(b, &h, payload), 0);
	T_EQ_INT(evbuffer_remove(b, frame, total), (int)total);
	for (size_t i = 0; i < total; i++) {
		evbuffer_add(in, frame + i, 1);
		int r = ipc_frame_take(in, 1, &got, &p, err, sizeof(err));
		if (i + 1 < total) {
			if (r == IPC_TAKE_MORE && p == NULL)
				more++;
			else
				free(p);
			/* nothing may be consumed before the frame is whole */
			T_EQ_INT(evbuffer_get_length(in), i + 1);
		} else {
			T_EQ_INT(r, IPC_TAKE_OK);
			T_EQ_INT(got.len, 300);
			T_EQ_INT(got.seq, 1);
			T_CHECK(p != NULL);
			if (p)
				T_MEM_EQ(p, payload, 300);
			free(p);
		}
	}
	T_EQ_INT(more, total - 1);
	T_EQ_INT(evbuffer_get_length(in), 0);
	evbuffer_free(b);
	evbuffer_free(in);
}

static void
test_take_back_to_back(void)
{
	struct evbuffer *b = evbuffer_new();
	struct ipc_hdr h1 = { IPC_HELLO, 3, 1, 1, 1, 1 };
	struct ipc_hdr h2 = { IPC_STATUS, 4, 1, 1, 1, 2 }, got;
	unsigned char *p;
	char err[256];

	T_EQ_INT(ipc_frame_add(b, &h1, "abc"), 0);
	T_EQ_INT(ipc_frame_add(b, &h2, "defg"), 0);
	/* and half of a third one */
	unsigned char half[IPC_HDR_LEN];
	raw_hdr(half, IPC_READY, 0, 3);
	evbuffer_add(b, half, 10);

	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	T_EQ_INT(got.type, IPC_HELLO);
	T_EQ_STR((char *)p, "abc");
	free(p);
	T_EQ_INT(ipc_frame_take(b, 2, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	T_EQ_INT(got.type, IPC_STATUS);
	T_EQ_STR((char *)p, "defg");
	free(p);
	T_EQ_INT(ipc_frame_take(b, 3, &got, &p, err, sizeof(err)), IPC_TAKE_MORE);
	T_EQ_INT(evbuffer_get_length(b), 10);
	evbuffer_add(b, half + 10, IPC_HDR_LEN - 10);
	T_EQ_INT(ipc_frame_take(b, 3, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	T_EQ_INT(got.type, IPC_READY);
	free(p);
	evbuffer_free(b);
}

static void
test_take_short_header(void)
{
	struct evbuffer *b = evbuffer_new();
	unsigned char hdr[IPC_HDR_LEN];
	struct ipc_hdr got;
	unsigned char *p;
	char err[256];

	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_MORE);
	raw_hdr(hdr, IPC_HELLO, 0, 1);
	evbuffer_add(b, hdr, IPC_HDR_LEN - 1);
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_MORE);
	T_CHECK(p == NULL);
	T_EQ_INT(evbuffer_get_length(b), IPC_HDR_LEN - 1);
	evbuffer_free(b);
}

static void
test_take_unknown_type(void)
{
	struct evbuffer *b = evbuffer_new();
	unsigned char hdr[IPC_HDR_LEN];
	struct ipc_hdr got;
	unsigned char *p;
	char err[256] = "";

	raw_hdr(hdr, 4711, 0, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	T_CHECK(p == NULL);
	T_CONTAINS(err, "unknown message type");
	T_CONTAINS(err, "4711");
	evbuffer_free(b);

	/* 0 and the end marker are not types either */
	b = evbuffer_new();
	raw_hdr(hdr, 0, 0, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	T_CONTAINS(err, "type 0");
	evbuffer_free(b);
	b = evbuffer_new();
	raw_hdr(hdr, IPC__TYPE_END, 0, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	evbuffer_free(b);

	/* the builder refuses them too */
	b = evbuffer_new();
	struct ipc_hdr h = { 4711, 0, 0, 0, 0, 1 };
	T_EQ_INT(ipc_frame_add(b, &h, NULL), -1);
	T_EQ_INT(evbuffer_get_length(b), 0);
	evbuffer_free(b);

	T_EQ_STR(ipc_msg_type_name(IPC_HELLO), "HELLO");
	T_EQ_STR(ipc_msg_type_name(IPC_RESUME), "RESUME");
	T_EQ_STR(ipc_msg_type_name(4711), "UNKNOWN");
	T_CHECK(ipc_msg_is_empty_type(IPC_STOP));
	T_CHECK(!ipc_msg_is_empty_type(IPC_STATUS));
}

static void
test_take_oversize(void)
{
	struct evbuffer *b = evbuffer_new();
	unsigned char hdr[IPC_HDR_LEN];
	struct ipc_hdr got;
	unsigned char *p;
	char err[256] = "";

	/* header only: the error must not wait for a payload */
	raw_hdr(hdr, IPC_STATUS, IPC_MAX_PAYLOAD + 1, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	T_CHECK(p == NULL);
	T_CONTAINS(err, "STATUS");
	T_CONTAINS(err, "exceeds");
	evbuffer_free(b);

	b = evbuffer_new();
	raw_hdr(hdr, IPC_CONFIG, 0xffffffffu, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	evbuffer_free(b);

	/* exactly the limit is fine: waits for the payload */
	b = evbuffer_new();
	raw_hdr(hdr, IPC_CONFIG, IPC_MAX_PAYLOAD, 1);
	evbuffer_add(b, hdr, sizeof(hdr));
	T_EQ_INT(ipc_frame_take(b, 1, &got, &p, err, sizeof(err)), IPC_TAKE_MORE);
	evbuffer_free(b);

	/* and the builder refuses what the receiver would refuse */
	b = evbuffer_new();
	struct ipc_hdr h = { IPC_CONFIG, IPC_MAX_PAYLOAD + 1, 0, 0, 0, 1 };
	static char big[16];
	T_EQ_INT(ipc_frame_add(b, &h, big), -1);
	T_EQ_INT(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

static void
test_take_wrong_sequence(void)
{
	struct evbuffer *b = evbuffer_new();
	struct ipc_hdr h = { IPC_HELLO, 2, 0, 0, 0, 5 }, got;
	unsigned char *p;
	char err[256] = "";

	T_EQ_INT(ipc_frame_add(b, &h, "hi"), 0);
	T_EQ_INT(ipc_frame_take(b, 4, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	T_CHECK(p == NULL);
	T_CONTAINS(err, "sequence 5");
	T_CONTAINS(err, "expected 4");
	/* a repeated sequence is as wrong as a gap */
	T_EQ_INT(ipc_frame_take(b, 6, &got, &p, err, sizeof(err)), IPC_TAKE_ERROR);
	T_EQ_INT(ipc_frame_take(b, 5, &got, &p, err, sizeof(err)), IPC_TAKE_OK);
	free(p);
	evbuffer_free(b);
}

/* --------------------------------------------------------------- channels */

#define MAX_GOT 16

struct got_msg {
	struct ipc_hdr h;
	unsigned char *payload;
};

struct recorder {
	struct got_msg msgs[MAX_GOT];
	int            nmsg;
	int            nclose;
	char           reason[256];
	int            free_on_close;	/* free the channel inside on_close */
	int            free_after;	/* free the channel after this many msgs */
	struct ipc_channel *ch;
};

static void
rec_on_msg(struct ipc_channel *ch, const struct ipc_hdr *h,
    const unsigned char *payload, void *arg)
{
	struct recorder *r = arg;

	if (r->nmsg < MAX_GOT) {
		struct got_msg *m = &r->msgs[r->nmsg];
		m->h = *h;
		m->payload = malloc((size_t)h->len + 1);
		if (m->payload) {
			memcpy(m->payload, payload, h->len);
			m->payload[h->len] = '\0';
		}
	}
	r->nmsg++;
	if (r->free_after && r->nmsg == r->free_after) {
		ipc_channel_free(ch);
		r->ch = NULL;
	}
}

static void
rec_on_close(struct ipc_channel *ch, const char *reason, void *arg)
{
	struct recorder *r = arg;

	r->nclose++;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	if (r->free_on_close) {
		ipc_channel_free(ch);
		r->ch = NULL;
	}
}

static void
rec_clear(struct recorder *r)
{
	for (int i = 0; i < r->nmsg && i < MAX_GOT; i++)
		free(r->msgs[i].payload);
	r->nmsg = 0;
}

/* Run the loop without blocking until *count reaches want or the budget is
 * spent; returns the number of rounds used. */
static int
pump_until(struct event_base *base, const int *count, int want, int budget)
{
	int rounds = 0;

	while (*count < want && rounds < budget) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		rounds++;
		if (rounds % 64 == 0)
			usleep(100);
	}
	return rounds;
}

static void
pump(struct event_base *base, int rounds)
{
	for (int i = 0; i < rounds; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static int
make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		fprintf(stderr, "socketpair: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Write all of buf to a (possibly non-blocking) socket. */
static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			fprintf(stderr, "write: %s\n", strerror(errno));
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
test_channel_messages(void)
{
	struct event_base *base = event_base_new();
	struct recorder ra, rb;
	struct ipc_channel *a, *b;
	struct evbuffer *pl = evbuffer_new();
	unsigned char *big = malloc(IPC_MAX_PAYLOAD + 1);
	size_t near = IPC_MAX_PAYLOAD - 100;
	int sv[2];

	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	if (make_pair(sv) == -1 || big == NULL || base == NULL) {
		T_CHECK(0);
		return;
	}
	for (size_t i = 0; i <= IPC_MAX_PAYLOAD; i++)
		big[i] = (unsigned char)(i % 251);
	a = ipc_channel_new(base, sv[0], 7, 3, rec_on_msg, rec_on_close, &ra);
	b = ipc_channel_new(base, sv[1], 0, 0, rec_on_msg, rec_on_close, &rb);
	T_CHECK(a != NULL && b != NULL);

	kvl_put(pl, "role", "source");
	kvl_put(pl, "flow", "A->B");
	T_EQ_INT(ipc_channel_send(a, IPC_HELLO, pl), 0);
	T_EQ_INT(evbuffer_get_length(pl), 0);	/* drained */
	evbuffer_add(pl, big, near);
	T_EQ_INT(ipc_channel_send(a, IPC_CONFIG, pl), 0);
	T_EQ_INT(evbuffer_get_length(pl), 0);
	T_EQ_INT(ipc_channel_send(a, IPC_READY, NULL), 0);
	/* one byte over the limit is refused and takes no sequence number */
	evbuffer_add(pl, big, IPC_MAX_PAYLOAD + 1);
	T_EQ_INT(ipc_channel_send(a, IPC_STATUS, pl), -1);
	evbuffer_drain(pl, evbuffer_get_length(pl));
	/* exactly the limit */
	evbuffer_add(pl, big + 1, IPC_MAX_PAYLOAD);
	T_EQ_INT(ipc_channel_send(a, IPC_STATUS, pl), 0);
	kvl_put(pl, "state", "running");
	T_EQ_INT(ipc_channel_send(a, IPC_STATUS, pl), 0);
	T_EQ_INT(ipc_channel_send(a, IPC_STOP, NULL), 0);
	/* the other direction at the same time */
	kvl_put(pl, "x", "y");
	T_EQ_INT(ipc_channel_send(b, IPC_CONFIG, pl), 0);

	pump_until(base, &rb.nmsg, 6, 200000);
	pump_until(base, &ra.nmsg, 1, 1000);
	T_EQ_INT(rb.nmsg, 6);
	T_EQ_INT(rb.nclose, 0);
	T_EQ_INT(ra.nmsg, 1);
	T_EQ_INT(ra.nclose, 0);
	if (rb.nmsg == 6) {
		static const uint32_t types[6] = { IPC_HELLO, IPC_CONFIG, IPC_READY,
		    IPC_STATUS, IPC_STATUS, IPC_STOP };
		static const uint32_t lens[6] = { 0, IPC_MAX_PAYLOAD - 100, 0,
		    IPC_MAX_PAYLOAD, 0, 0 };
		for (int i = 0; i < 6; i++) {
			const struct got_msg *m = &rb.msgs[i];
			T_EQ_INT(m->h.type, types[i]);
			T_EQ_INT(m->h.seq, i + 1);
			T_EQ_INT(m->h.flow, 7);
			T_EQ_INT(m->h.gen, 3);
			T_EQ_INT(m->h.pid, getpid());
			if (lens[i])
				T_EQ_INT(m->h.len, lens[i]);
		}
		struct kvl l;
		char err[128];
		T_EQ_INT(kvl_decode(rb.msgs[0].payload, rb.msgs[0].h.len, &l, err,
		    sizeof(err)), 0);
		T_EQ_STR(kvl_get(&l, "role"), "source");
		T_EQ_STR(kvl_get(&l, "flow"), "A->B");
		kvl_free(&l);
		T_MEM_EQ(rb.msgs[1].payload, big, near);
		T_MEM_EQ(rb.msgs[3].payload, big + 1, IPC_MAX_PAYLOAD);
		T_EQ_INT(kvl_decode(rb.msgs[4].payload, rb.msgs[4].h.len, &l, err,
		    sizeof(err)), 0);
		T_EQ_STR(kvl_get(&l, "state"), "running");
		kvl_free(&l);
	}
	if (ra.nmsg == 1) {
		T_EQ_INT(ra.msgs[0].h.type, IPC_CONFIG);
		T_EQ_INT(ra.msgs[0].h.seq, 1);
		T_EQ_INT(ra.msgs[0].h.flow, 0);
	}

	/* adopted ids are stamped on later messages */
	ipc_channel_adopt_ids(b, 9, 4);
	T_EQ_INT(ipc_channel_send(b, IPC_READY, NULL), 0);
	pump_until(base, &ra.nmsg, 2, 1000);
	T_EQ_INT(ra.nmsg, 2);
	if (ra.nmsg == 2) {
		T_EQ_INT(ra.msgs[1].h.flow, 9);
		T_EQ_INT(ra.msgs[1].h.gen, 4);
		T_EQ_INT(ra.msgs[1].h.seq, 2);
	}

	rec_clear(&ra);
	rec_clear(&rb);
	ipc_channel_free(a);
	ipc_channel_free(b);
	evbuffer_free(pl);
	free(big);
	event_base_free(base);
}

/* flush_sync writes out what is queued without the event loop. */
static void
test_channel_flush_sync(void)
{
	struct event_base *base = event_base_new();
	struct recorder ra, rb;
	struct ipc_channel *a, *b;
	struct evbuffer *pl = evbuffer_new();
	int sv[2];

	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	a = ipc_channel_new(base, sv[0], 1, 1, rec_on_msg, rec_on_close, &ra);
	b = ipc_channel_new(base, sv[1], 1, 1, rec_on_msg, rec_on_close, &rb);
	kvl_put(pl, "code", "78");
	kvl_put(pl, "reason", "bad credentials");
	T_EQ_INT(ipc_channel_send(a, IPC_FATAL, pl), 0);
	T_EQ_INT(ipc_channel_flush_sync(a, 1000), 0);
	ipc_channel_free(a);	/* gone before the loop ever ran */
	pump_until(base, &rb.nclose, 1, 100000);
	T_EQ_INT(rb.nmsg, 1);
	if (rb.nmsg == 1) {
		struct kvl l;
		char err[128];
		T_EQ_INT(rb.msgs[0].h.type, IPC_FATAL);
		T_EQ_INT(kvl_decode(rb.msgs[0].payload, rb.msgs[0].h.len, &l, err,
		    sizeof(err)), 0);
		T_EQ_STR(kvl_get(&l, "reason"), "bad credentials");
		kvl_free(&l);
	}
	T_EQ_INT(rb.nclose, 1);
	T_CONTAINS(rb.reason, "peer closed");
	rec_clear(&rb);
	ipc_channel_free(b);
	evbuffer_free(pl);
	event_base_free(base);
}

static void
test_channel_raw_pieces(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	struct ipc_channel *ch;
	unsigned char frame[IPC_HDR_LEN + 6];
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	raw_hdr(frame, IPC_STATUS, 6, 1);
	memcpy(frame + IPC_HDR_LEN, "abcdef", 6);

	write_all(sv[1], frame, 5);
	pump(base, 20);
	T_EQ_INT(r.nmsg, 0);
	write_all(sv[1], frame + 5, IPC_HDR_LEN - 5);	/* header complete */
	pump(base, 20);
	T_EQ_INT(r.nmsg, 0);
	write_all(sv[1], frame + IPC_HDR_LEN, 2);
	pump(base, 20);
	T_EQ_INT(r.nmsg, 0);
	write_all(sv[1], frame + IPC_HDR_LEN + 2, 4);
	pump_until(base, &r.nmsg, 1, 10000);
	pump(base, 50);
	T_EQ_INT(r.nmsg, 1);	/* exactly once */
	T_EQ_INT(r.nclose, 0);
	if (r.nmsg == 1) {
		T_EQ_INT(r.msgs[0].h.type, IPC_STATUS);
		T_EQ_INT(r.msgs[0].h.len, 6);
		T_EQ_STR((char *)r.msgs[0].payload, "abcdef");
	}

	/* the next frame must carry sequence 2; two at once, one write */
	unsigned char two[2 * IPC_HDR_LEN];
	raw_hdr(two, IPC_READY, 0, 2);
	raw_hdr(two + IPC_HDR_LEN, IPC_PAUSE, 0, 3);
	write_all(sv[1], two, sizeof(two));
	pump_until(base, &r.nmsg, 3, 10000);
	pump(base, 20);
	T_EQ_INT(r.nmsg, 3);
	if (r.nmsg == 3) {
		T_EQ_INT(r.msgs[1].h.type, IPC_READY);
		T_EQ_INT(r.msgs[2].h.type, IPC_PAUSE);
		T_EQ_INT(r.msgs[2].h.seq, 3);
	}
	T_EQ_INT(r.nclose, 0);

	rec_clear(&r);
	ipc_channel_free(ch);
	close(sv[1]);
	event_base_free(base);
}

static void
test_channel_peer_eof(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	r.ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	r.free_on_close = 1;	/* the supervisor frees the channel right there */
	close(sv[1]);
	pump_until(base, &r.nclose, 1, 10000);
	pump(base, 20);
	T_EQ_INT(r.nclose, 1);
	T_EQ_INT(r.nmsg, 0);
	T_CONTAINS(r.reason, "peer closed");
	T_CHECK(r.ch == NULL);
	event_base_free(base);
}

static void
test_channel_send_after_close(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	struct ipc_channel *ch;
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	close(sv[1]);
	pump_until(base, &r.nclose, 1, 10000);
	T_EQ_INT(r.nclose, 1);
	T_EQ_INT(ipc_channel_send(ch, IPC_READY, NULL), -1);
	ipc_channel_free(ch);
	event_base_free(base);
}

static void
test_channel_garbage(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	struct ipc_channel *ch;
	static const char garbage[] = "GARBAGE! not a frame, really not at all";
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	write_all(sv[1], garbage, sizeof(garbage) - 1);
	pump_until(base, &r.nclose, 1, 10000);
	T_EQ_INT(r.nclose, 1);
	T_EQ_INT(r.nmsg, 0);
	T_CONTAINS(r.reason, "unknown message type");
	/* the close is reported once, even when the peer goes away later */
	close(sv[1]);
	pump(base, 50);
	T_EQ_INT(r.nclose, 1);
	T_EQ_INT(ipc_channel_send(ch, IPC_READY, NULL), -1);
	ipc_channel_free(ch);
	event_base_free(base);
}

/* A good frame then a bad one in one write: the good one is delivered, the
 * bad one closes the channel (freed in the close callback). */
static void
test_channel_good_then_bad(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	unsigned char buf[2 * IPC_HDR_LEN + 2];
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	r.ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	r.free_on_close = 1;
	raw_hdr(buf, IPC_HELLO, 2, 1);
	memcpy(buf + IPC_HDR_LEN, "ok", 2);
	raw_hdr(buf + IPC_HDR_LEN + 2, IPC_READY, 0, 7);	/* gap */
	write_all(sv[1], buf, sizeof(buf));
	pump_until(base, &r.nclose, 1, 10000);
	T_EQ_INT(r.nmsg, 1);
	T_EQ_INT(r.nclose, 1);
	T_CONTAINS(r.reason, "sequence 7");
	T_CHECK(r.ch == NULL);
	rec_clear(&r);
	close(sv[1]);
	event_base_free(base);
}

static void
test_channel_nonempty_stop(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	struct ipc_channel *ch;
	unsigned char buf[IPC_HDR_LEN + 3];
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	raw_hdr(buf, IPC_STOP, 3, 1);
	memcpy(buf + IPC_HDR_LEN, "abc", 3);
	write_all(sv[1], buf, sizeof(buf));
	pump_until(base, &r.nclose, 1, 10000);
	T_EQ_INT(r.nclose, 1);
	T_EQ_INT(r.nmsg, 0);
	T_CONTAINS(r.reason, "STOP");
	T_CONTAINS(r.reason, "must be empty");
	ipc_channel_free(ch);
	close(sv[1]);
	event_base_free(base);
}

/* The user frees the channel from on_msg while more frames are buffered:
 * nothing more is delivered and nothing is touched after the free. */
static void
test_channel_free_in_msg_cb(void)
{
	struct event_base *base = event_base_new();
	struct recorder r;
	unsigned char buf[3 * IPC_HDR_LEN];
	int sv[2];

	memset(&r, 0, sizeof(r));
	if (make_pair(sv) == -1) {
		T_CHECK(0);
		return;
	}
	r.ch = ipc_channel_new(base, sv[0], 0, 0, rec_on_msg, rec_on_close, &r);
	r.free_after = 1;
	raw_hdr(buf, IPC_READY, 0, 1);
	raw_hdr(buf + IPC_HDR_LEN, IPC_PAUSE, 0, 2);
	raw_hdr(buf + 2 * IPC_HDR_LEN, IPC_RESUME, 0, 3);
	write_all(sv[1], buf, sizeof(buf));
	pump_until(base, &r.nmsg, 1, 10000);
	close(sv[1]);
	pump(base, 50);
	T_EQ_INT(r.nmsg, 1);
	T_EQ_INT(r.nclose, 0);
	T_CHECK(r.ch == NULL);
	rec_clear(&r);
	event_base_free(base);
}

/* -------------------------------------------------------------- kvl codec */

/* Encode into a flat malloc'd copy. */
static unsigned char *
flatten(struct evbuffer *b, size_t *len)
{
	*len = evbuffer_get_length(b);
	unsigned char *p = malloc(*len ? *len : 1);
	if (p)
		evbuffer_copyout(b, p, *len);
	return p;
}

static void
test_kvl_round_trip(void)
{
	struct evbuffer *b = evbuffer_new();
	struct kvl l;
	char err[256] = "";
	size_t len;

	T_EQ_INT(kvl_put(b, "a", "1"), 0);
	T_EQ_INT(kvl_put(b, "list", ""), 0);
	T_EQ_INT(kvl_put(b, "list", "x,y"), 0);
	T_EQ_INT(kvl_put(b, "list", "z"), 0);
	T_EQ_INT(kvl_put(b, "a", "2"), 0);
	T_EQ_INT(kvl_put(b, "empty", ""), 0);
	T_EQ_INT(kvl_putf(b, "n", "%d-%s", 42, "x"), 0);
	T_EQ_INT(kvl_put(b, "utf8", "h\xc3\xa9 \xe2\x82\xac\n\t="), 0);
	unsigned char *p = flatten(b, &len);
	/* first item: 00 01 'a' 00 00 00 01 '1' */
	static const unsigned char first[] = { 0, 1, 'a', 0, 0, 0, 1, '1' };
	T_MEM_EQ(p, first, sizeof(first));

	T_EQ_INT(kvl_decode(p, len, &l, err, sizeof(err)), 0);
	T_EQ_INT(l.n, 8);
	if (l.n == 8) {
		T_EQ_STR(l.items[0].key, "a");
		T_EQ_STR(l.items[0].val, "1");
		T_EQ_STR(l.items[1].key, "list");
		T_EQ_STR(l.items[1].val, "");
		T_EQ_STR(l.items[2].val, "x,y");
		T_EQ_STR(l.items[3].val, "z");
		T_EQ_STR(l.items[4].val, "2");
		T_EQ_STR(l.items[5].key, "empty");
		T_EQ_STR(l.items[5].val, "");
		T_EQ_STR(l.items[7].val, "h\xc3\xa9 \xe2\x82\xac\n\t=");
	}
	T_EQ_STR(kvl_get(&l, "a"), "2");	/* the last one */
	T_EQ_STR(kvl_get(&l, "list"), "z");
	T_EQ_STR(kvl_get(&l, "empty"), "");
	T_EQ_STR(kvl_get(&l, "n"), "42-x");
	T_CHECK(kvl_get(&l, "missing") == NULL);
	T_CHECK(kvl_get(&l, "A") == NULL);
	kvl_free(&l);
	T_EQ_INT(l.n, 0);
	T_CHECK(l.items == NULL);
	kvl_free(&l);	/* twice is harmless */
	free(p);

	/* an empty payload is an empty list */
	T_EQ_INT(kvl_decode((const unsigned char *)"", 0, &l, err, sizeof(err)), 0);
	T_EQ_INT(l.n, 0);
	kvl_free(&l);
	evbuffer_free(b);
}

static void
test_kvl_many_items(void)
{
	struct evbuffer *b = evbuffer_new();
	struct kvl l;
	char err[256], key[32], val[32];
	size_t len;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 10);
		snprintf(val, sizeof(val), "%d", i);
		kvl_put(b, key, val);
	}
	unsigned char *p = flatten(b, &len);
	T_EQ_INT(kvl_decode(p, len, &l, err, sizeof(err)), 0);
	T_EQ_INT(l.n, 1000);
	T_EQ_STR(kvl_get(&l, "k3"), "993");
	T_EQ_STR(l.items[500].val, "500");
	kvl_free(&l);
	free(p);
	evbuffer_free(b);
}

static void
test_kvl_put_limits(void)
{
	struct evbuffer *b = evbuffer_new();
	char key[KVL_KEY_MAX + 2], big[5000];
	struct kvl l;
	char err[256];
	size_t len;

	T_EQ_INT(kvl_put(b, "", "v"), -1);
	memset(key, 'k', sizeof(key));
	key[KVL_KEY_MAX + 1] = '\0';
	T_EQ_INT(kvl_put(b, key, "v"), -1);
	T_EQ_INT(evbuffer_get_length(b), 0);
	key[KVL_KEY_MAX] = '\0';
	T_EQ_INT(kvl_put(b, key, "v"), 0);
	unsigned char *p = flatten(b, &len);
	T_EQ_INT(kvl_decode(p, len, &l, err, sizeof(err)), 0);
	T_EQ_INT(l.n, 1);
	T_EQ_STR(kvl_get(&l, key), "v");
	kvl_free(&l);
	free(p);

	/* kvl_putf refuses what does not fit its buffer instead of cutting it */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_EQ_INT(kvl_putf(b, "k", "%s", big), -1);
	evbuffer_free(b);
}

static void
test_kvl_truncated(void)
{
	struct evbuffer *b = evbuffer_new();
	struct kvl l;
	char err[256];
	size_t len, bounds[4], nb = 0;

	kvl_put(b, "alpha", "one");
	bounds[nb++] = evbuffer_get_length(b);
	kvl_put(b, "beta", "");
	bounds[nb++] = evbuffer_get_length(b);
	kvl_put(b, "gamma", "three33");
	bounds[nb++] = evbuffer_get_length(b);
	unsigned char *p = flatten(b, &len);
	T_EQ_INT(len, bounds[nb - 1]);

	for (size_t cut = 0; cut <= len; cut++) {
		/* copy so that reading past the cut is caught by the sanitizer */
		unsigned char *q = malloc(cut ? cut : 1);
		int at_bound = cut == 0;
		size_t items = 0;
		memcpy(q, p, cut);
		for (size_t i = 0; i < nb; i++)
			if (bounds[i] == cut) {
				at_bound = 1;
				items = i + 1;
			}
		err[0] = '\0';
		int r = kvl_decode(q, cut, &l, err, sizeof(err));
		if (at_bound) {
			if (r != 0)
				fprintf(stderr, "  cut %zu: %s\n", cut, err);
			T_EQ_INT(r, 0);
			T_EQ_INT(l.n, items);
		} else {
			if (r != -1)
				fprintf(stderr, "  cut %zu decoded\n", cut);
			T_EQ_INT(r, -1);
			T_CHECK(err[0] != '\0');
			T_EQ_INT(l.n, 0);
			T_CHECK(l.items == NULL);
		}
		kvl_free(&l);
		free(q);
	}
	free(p);
	evbuffer_free(b);
}

static void
test_kvl_bad_items(void)
{
	struct kvl l;
	char err[256];
	static const unsigned char zero_key[] = { 0, 0, 0, 0, 0, 1, 'v' };
	static const unsigned char long_key[] = { 0x04, 0x01, 'k' };
	static const unsigned char nul_key[] = { 0, 2, 'k', 0, 0, 0, 0, 1, 'v' };
	static const unsigned char nul_val[] = { 0, 1, 'k', 0, 0, 0, 3, 'a', 0, 'b' };
	/* a good item, then one with a NUL: nothing may leak */
	static const unsigned char good_then_nul[] = {
		0, 1, 'a', 0, 0, 0, 1, 'b',
		0, 1, 'c', 0, 0, 0, 1, 0 };
	static const unsigned char huge_val[] = { 0, 1, 'k', 0xff, 0xff, 0xff, 0xff,
		'x' };
	static const unsigned char trailing[] = { 0, 1, 'k', 0, 0, 0, 0, 0 };

	T_EQ_INT(kvl_decode(zero_key, sizeof(zero_key), &l, err, sizeof(err)), -1);
	T_CONTAINS(err, "key length 0");
	T_EQ_INT(kvl_decode(long_key, sizeof(long_key), &l, err, sizeof(err)), -1);
	T_CONTAINS(err, "key length 1025");
	T_EQ_INT(kvl_decode(nul_key, sizeof(nul_key), &l, err, sizeof(err)), -1);
	T_CONTAINS(err, "NUL");
	T_EQ_INT(kvl_decode(nul_val, sizeof(nul_val), &l, err, sizeof(err)), -1);
	T_CONTAINS(err, "NUL");
	T_EQ_INT(kvl_decode(good_then_nul, sizeof(good_then_nul), &l, err,
	    sizeof(err)), -1);
	T_EQ_INT(l.n, 0);
	T_CHECK(l.items == NULL);
	T_EQ_INT(kvl_decode(huge_val, sizeof(huge_val), &l, err, sizeof(err)), -1);
	T_EQ_INT(kvl_decode(trailing, sizeof(trailing), &l, err, sizeof(err)), -1);
	T_EQ_INT(kvl_decode(trailing, sizeof(trailing) - 1, &l, err, sizeof(err)), 0);
	kvl_free(&l);
}

static void
test_kvl_get_ll(void)
{
	struct evbuffer *b = evbuffer_new();
	struct kvl l;
	char err[128];
	long long v = 0;
	size_t len;

	kvl_put(b, "n", "1");
	kvl_put(b, "n", "42");
	kvl_put(b, "neg", "-9000000000");
	kvl_put(b, "empty", "");
	kvl_put(b, "junk", "12x");
	kvl_put(b, "space", "5 ");
	kvl_put(b, "huge", "99999999999999999999");
	kvl_put(b, "word", "abc");
	unsigned char *p = flatten(b, &len);
	T_EQ_INT(kvl_decode(p, len, &l, err, sizeof(err)), 0);
	T_EQ_INT(kvl_get_ll(&l, "n", &v), 0);
	T_EQ_INT(v, 42);
	T_EQ_INT(kvl_get_ll(&l, "neg", &v), 0);
	T_EQ_INT(v, -9000000000LL);
	T_EQ_INT(kvl_get_ll(&l, "empty", &v), -1);
	T_EQ_INT(kvl_get_ll(&l, "junk", &v), -1);
	T_EQ_INT(kvl_get_ll(&l, "space", &v), -1);
	T_EQ_INT(kvl_get_ll(&l, "huge", &v), -1);
	T_EQ_INT(kvl_get_ll(&l, "word", &v), -1);
	T_EQ_INT(kvl_get_ll(&l, "missing", &v), -1);
	kvl_free(&l);
	free(p);
	evbuffer_free(b);
}

/* --------------------------------------------------------------- flowconf */

static void
set_list(struct km_flow *f, int id, const char *const *items)
{
	fs_value_free(&f->v[id], id);
	for (int i = 0; items[i]; i++)
		fs_list_append(&f->v[id], items[i]);
}

static void
check_props_equal(const struct km_cluster *a, const struct km_cluster *b)
{
	T_EQ_STR(b->alias, a->alias);
	for (int s = 0; s < KM_SCOPE__COUNT; s++) {
		T_EQ_INT(b->props[s].n, a->props[s].n);
		if (b->props[s].n != a->props[s].n)
			continue;
		for (size_t i = 0; i < a->props[s].n; i++) {
			T_EQ_STR(b->props[s].v[i].key, a->props[s].v[i].key);
			T_EQ_STR(b->props[s].v[i].val, a->props[s].v[i].val);
			T_EQ_INT(b->props[s].v[i].secret, a->props[s].v[i].secret);
		}
	}
}

/* Encode, decode through the kvl codec, return 0 on success. */
static int
flowconf_trip(const struct km_flow *f, const struct km_cluster *src,
    const struct km_cluster *dst, const struct km_worker_globals *g,
    struct km_flow *f2, struct km_cluster *s2, struct km_cluster *d2,
    struct km_worker_globals *g2, char *err, size_t errlen)
{
	struct evbuffer *b = evbuffer_new();
	struct kvl l;
	size_t len;
	int r;

	if (flowconf_encode(b, f, src, dst, g) == -1) {
		snprintf(err, errlen, "encode failed");
		evbuffer_free(b);
		return -1;
	}
	unsigned char *p = flatten(b, &len);
	evbuffer_free(b);
	if (len > IPC_MAX_PAYLOAD || kvl_decode(p, len, &l, err, errlen) == -1) {
		free(p);
		return -1;
	}
	free(p);
	r = flowconf_decode(&l, f2, s2, d2, g2, err, errlen);
	kvl_free(&l);
	return r;
}

static void
test_flowconf_round_trip(void)
{
	struct km_flow f, f2;
	struct km_cluster src, dst, s2, d2;
	struct km_worker_globals g = { .status_interval_ms = 1234, .log_level = 4,
	    .log_target = 2, .log_json = 1, .log_file = (char *)"/var/log/km.log",
	    .instance_id = (char *)"host-1.example" }, g2;
	static const char *const topics[] = { "orders\\.(eu|us)", "a{1,3}",
	    "x,y", "  spaced  ", NULL };
	static const char *const groups[] = { "g1", NULL };
	static const char *const none[] = { NULL };
	char err[256] = "";

	km_flow_init_defaults(&f);
	f.name = strdup("east->west");
	f.source = strdup("east");
	f.target = strdup("west");
	set_list(&f, FS_TOPICS, topics);
	set_list(&f, FS_GROUPS, groups);
	set_list(&f, FS_TOPICS_EXCLUDE, none);	/* an empty list survives too */
	char e2[128];
	T_EQ_INT(fs_set_from_string(&f.v[FS_REPLICATION_POLICY],
	    FS_REPLICATION_POLICY, "identity", e2, sizeof(e2)), 0);
	T_EQ_INT(fs_set_from_string(&f.v[FS_OFFSET_SYNCS_LOCATION],
	    FS_OFFSET_SYNCS_LOCATION, "target", e2, sizeof(e2)), 0);
	T_EQ_INT(fs_set_from_string(&f.v[FS_AUTO_OFFSET_RESET],
	    FS_AUTO_OFFSET_RESET, "latest", e2, sizeof(e2)), 0);
	T_EQ_INT(fs_set_from_string(&f.v[FS_ISOLATION_LEVEL], FS_ISOLATION_LEVEL,
	    "read_uncommitted", e2, sizeof(e2)), 0);
	T_EQ_INT(fs_set_from_string(&f.v[FS_SEPARATOR], FS_SEPARATOR, "_", e2,
	    sizeof(e2)), 0);
	f.v[FS_TASKS].i = 7;
	f.v[FS_REPLICATION_FACTOR].i = 3;
	f.v[FS_HEARTBEATS_INTERVAL_MS].i = 2500;
	f.v[FS_ENABLED].i = 0;
	f.v[FS_SYNC_GROUP_OFFSETS_ENABLED].i = 0;
	f.v[FS_INTERNAL_SEPARATOR_ENABLED].i = 0;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	src.alias = strdup("east");
	km_props_add(&src.props[KM_SCOPE_COMMON], "bootstrap.servers",
	    "e1:9092,e2:9092", 0, 3);
	km_props_add(&src.props[KM_SCOPE_COMMON], "security.protocol", "SASL_SSL",
	    0, 4);
	km_props_add(&src.props[KM_SCOPE_COMMON], "sasl.password", "s3cr=t,!x",
	    1, 5);
	/* secret by flag only: the name does not look secret */
	km_props_add(&src.props[KM_SCOPE_COMMON], "sasl.username", "alice", 1, 6);
	km_props_add(&src.props[KM_SCOPE_CONSUMER], "fetch.max.bytes", "52428800",
	    0, 7);
	km_props_add(&src.props[KM_SCOPE_ADMIN], "request.timeout.ms", "5000",
	    0, 8);
	dst.alias = strdup("west");
	km_props_add(&dst.props[KM_SCOPE_COMMON], "bootstrap.servers", "w1:9092",
	    0, 9);
	km_props_add(&dst.props[KM_SCOPE_PRODUCER], "compression.type", "lz4", 0,
	    10);
	km_props_add(&dst.props[KM_SCOPE_PRODUCER], "ssl.key.password", "", 0, 11);
	T_EQ_INT(src.props[KM_SCOPE_COMMON].v[3].secret, 1);
	T_EQ_INT(dst.props[KM_SCOPE_PRODUCER].v[1].secret, 1);	/* by name */

	T_EQ_INT(flowconf_trip(&f, &src, &dst, &g, &f2, &s2, &d2, &g2, err,
	    sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  flowconf: %s\n", err);
	T_EQ_STR(f2.name, "east->west");
	T_EQ_STR(f2.source, "east");
	T_EQ_STR(f2.target, "west");
	for (int id = 0; id < FS__COUNT; id++) {
		char a[8192], b[8192];
		fs_format(&f.v[id], id, a, sizeof(a));
		fs_format(&f2.v[id], id, b, sizeof(b));
		if (strcmp(a, b) != 0)
			fprintf(stderr, "  setting %s differs\n", fs_defs[id].name);
		T_EQ_STR(b, a);
		T_EQ_INT(f2.v[id].nlist, f.v[id].nlist);
		if (f2.v[id].nlist == f.v[id].nlist)
			for (size_t j = 0; j < f.v[id].nlist; j++)
				T_EQ_STR(f2.v[id].list[j], f.v[id].list[j]);
	}
	T_EQ_INT(f2.v[FS_TOPICS].nlist, 4);
	if (f2.v[FS_TOPICS].nlist == 4) {
		T_EQ_STR(f2.v[FS_TOPICS].list[1], "a{1,3}");
		T_EQ_STR(f2.v[FS_TOPICS].list[2], "x,y");
		T_EQ_STR(f2.v[FS_TOPICS].list[3], "  spaced  ");
	}
	T_EQ_INT(f2.v[FS_TOPICS_EXCLUDE].nlist, 0);
	T_EQ_INT(FLOW_INT(&f2, FS_TASKS), 7);
	T_EQ_INT(FLOW_INT(&f2, FS_REPLICATION_POLICY), KM_POLICY_IDENTITY);
	T_EQ_INT(FLOW_INT(&f2, FS_OFFSET_SYNCS_LOCATION), KM_LOC_TARGET);
	T_EQ_INT(FLOW_INT(&f2, FS_ENABLED), 0);
	T_EQ_STR(FLOW_STR(&f2, FS_SEPARATOR), "_");
	/* unchanged defaults come through as defaults */
	T_EQ_INT(FLOW_INT(&f2, FS_CHECKPOINTS_INTERVAL_MS), 5000);
	T_EQ_INT(f2.v[FS_GROUPS_EXCLUDE].nlist, 3);

	check_props_equal(&src, &s2);
	check_props_equal(&dst, &d2);
	T_EQ_STR(km_props_get(&s2.props[KM_SCOPE_COMMON], "sasl.password"),
	    "s3cr=t,!x");
	T_EQ_INT(s2.props[KM_SCOPE_COMMON].v[3].secret, 1);
	T_EQ_INT(s2.props[KM_SCOPE_COMMON].v[0].secret, 0);
	T_EQ_STR(km_props_get(&d2.props[KM_SCOPE_PRODUCER], "compression.type"),
	    "lz4");
	T_CHECK(km_props_get(&d2.props[KM_SCOPE_COMMON], "compression.type") == NULL);

	T_EQ_INT(g2.status_interval_ms, 1234);
	T_EQ_INT(g2.log_level, 4);
	T_EQ_INT(g2.log_target, 2);
	T_EQ_INT(g2.log_json, 1);
	T_EQ_STR(g2.log_file, "/var/log/km.log");
	T_EQ_STR(g2.instance_id, "host-1.example");

	/* the encoding is deterministic: it serves as the flow's fingerprint */
	struct evbuffer *b1 = evbuffer_new(), *b2 = evbuffer_new();
	T_EQ_INT(flowconf_encode(b1, &f, &src, &dst, &g), 0);
	T_EQ_INT(flowconf_encode(b2, &f2, &s2, &d2, &g2), 0);
	size_t l1 = evbuffer_get_length(b1), l2 = evbuffer_get_length(b2);
	T_EQ_INT(l1, l2);
	if (l1 == l2)
		T_CHECK(memcmp(evbuffer_pullup(b1, -1), evbuffer_pullup(b2, -1),
		    l1) == 0);
	evbuffer_free(b1);
	evbuffer_free(b2);

	km_flow_free(&f);
	km_flow_free(&f2);
	km_cluster_free(&src);
	km_cluster_free(&dst);
	km_cluster_free(&s2);
	km_cluster_free(&d2);
	free(g2.log_file);
	free(g2.instance_id);
}

/* Decode a hand-made item list; returns flowconf_decode's result. */
static int
decode_items(const char *const *kv, char *err, size_t errlen)
{
	struct evbuffer *b = evbuffer_new();
	struct km_flow f;
	struct km_cluster s, d;
	struct km_worker_globals g;
	struct kvl l;
	size_t len;
	int r;

	for (int i = 0; kv[i]; i += 2)
		kvl_put(b, kv[i], kv[i + 1]);
	unsigned char *p = flatten(b, &len);
	evbuffer_free(b);
	if (kvl_decode(p, len, &l, err, errlen) == -1) {
		free(p);
		return -2;
	}
	free(p);
	r = flowconf_decode(&l, &f, &s, &d, &g, err, errlen);
	kvl_free(&l);
	km_flow_free(&f);
	km_cluster_free(&s);
	km_cluster_free(&d);
	free(g.log_file);
	free(g.instance_id);
	return r;
}

static void
test_flowconf_decode_errors(void)
{
	char err[256];
	static const char *const ok[] = { "flow.name", "A->B", "source.alias", "A",
	    "target.alias", "B", NULL };
	static const char *const no_alias[] = { "flow.name", "A->B",
	    "source.alias", "A", NULL };
	static const char *const bad_int[] = { "flow.name", "A->B", "source.alias",
	    "A", "target.alias", "B", "flow.tasks", "0", NULL };
	static const char *const bad_enum[] = { "flow.name", "A->B", "source.alias",
	    "A", "target.alias", "B", "flow.replication_policy", "foo", NULL };
	static const char *const unknown[] = { "flow.name", "A->B", "source.alias",
	    "A", "target.alias", "B", "flow.no_such_setting", "1", NULL };
	static const char *const bad_scope[] = { "flow.name", "A->B",
	    "source.alias", "A", "target.alias", "B", "source.nowhere.x", "1", NULL };
	static const char *const bad_global[] = { "flow.name", "A->B",
	    "source.alias", "A", "target.alias", "B", "global.log_level", "x", NULL };
	static const char *const stray[] = { "flow.name", "A->B", "source.alias",
	    "A", "target.alias", "B", "bogus", "1", NULL };

	T_EQ_INT(decode_items(ok, err, sizeof(err)), 0);
	T_EQ_INT(decode_items(no_alias, err, sizeof(err)), -1);
	T_CONTAINS(err, "alias");
	T_EQ_INT(decode_items(bad_int, err, sizeof(err)), -1);
	T_CONTAINS(err, "tasks");
	T_EQ_INT(decode_items(bad_enum, err, sizeof(err)), -1);
	T_CONTAINS(err, "replication_policy");
	T_EQ_INT(decode_items(unknown, err, sizeof(err)), -1);
	T_CONTAINS(err, "flow.no_such_setting");
	T_EQ_INT(decode_items(bad_scope, err, sizeof(err)), -1);
	T_CONTAINS(err, "source.nowhere.x");
	T_EQ_INT(decode_items(bad_global, err, sizeof(err)), -1);
	T_CONTAINS(err, "global.log_level");
	T_EQ_INT(decode_items(stray, err, sizeof(err)), -1);
	T_CONTAINS(err, "bogus");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	T_RUN(test_hdr_pack_bytes);
	T_RUN(test_hdr_round_trip);
	T_RUN(test_take_whole);
	T_RUN(test_take_byte_by_byte);
	T_RUN(test_take_back_to_back);
	T_RUN(test_take_short_header);
	T_RUN(test_take_unknown_type);
	T_RUN(test_take_oversize);
	T_RUN(test_take_wrong_sequence);
	T_RUN(test_channel_messages);
	T_RUN(test_channel_flush_sync);
	T_RUN(test_channel_raw_pieces);
	T_RUN(test_channel_peer_eof);
	T_RUN(test_channel_send_after_close);
	T_RUN(test_channel_garbage);
	T_RUN(test_channel_good_then_bad);
	T_RUN(test_channel_nonempty_stop);
	T_RUN(test_channel_free_in_msg_cb);
	T_RUN(test_kvl_round_trip);
	T_RUN(test_kvl_many_items);
	T_RUN(test_kvl_put_limits);
	T_RUN(test_kvl_truncated);
	T_RUN(test_kvl_bad_items);
	T_RUN(test_kvl_get_ll);
	T_RUN(test_flowconf_round_trip);
	T_RUN(test_flowconf_decode_errors);
	return T_DONE();
}

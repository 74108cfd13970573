/*
 * channel.c: framing glued to libevent. One channel per socket; the header's
 * flow and generation identify the worker slot, pid the sender, seq the order.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "channel.h"
#include "msg.h"

struct ipc_channel {
	struct bufferevent *bev;
	uint32_t            flow;
	uint32_t            gen;
	uint32_t            send_seq;
	uint32_t            recv_seq;
	ipc_msg_cb         *on_msg;
	ipc_close_cb       *on_close;
	void               *arg;
	int                 in_cb;
	int                 dead;	/* freed by the user inside a callback */
	int                 closed;	/* close callback already reported */
};

static void ipc_channel_close(struct ipc_channel *ch, const char *reason);

/* Deliver every whole frame in the input buffer. */
static void
ipc_channel_read_cb(struct bufferevent *bev, void *arg)
{
	struct ipc_channel *ch = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct ipc_hdr h;
	unsigned char *payload;
	char err[256];

	ch->in_cb++;
	while (!ch->dead && !ch->closed) {
		int r = ipc_frame_take(in, ch->recv_seq + 1, &h, &payload, err,
		    sizeof(err));
		if (r == IPC_TAKE_MORE)
			break;
		if (r == IPC_TAKE_ERROR) {
			ipc_channel_close(ch, err);
			break;
		}
		ch->recv_seq = h.seq;
		if (ipc_msg_is_empty_type(h.type) && h.len != 0) {
			free(payload);
			snprintf(err, sizeof(err), "%s message must be empty, has %u bytes",
			    ipc_msg_type_name(h.type), h.len);
			ipc_channel_close(ch, err);
			break;
		}
		ch->on_msg(ch, &h, payload, ch->arg);
		free(payload);
	}
	ch->in_cb--;
	if (ch->dead && ch->in_cb == 0)
		ipc_channel_free(ch);
}

static void
ipc_channel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ipc_channel *ch = arg;
	char reason[128];

	if (what & BEV_EVENT_EOF)
		snprintf(reason, sizeof(reason), "peer closed the channel");
	else if (what & BEV_EVENT_ERROR)
		snprintf(reason, sizeof(reason), "channel error: %s", strerror(errno));
	else
		return;
	ch->in_cb++;
	ipc_channel_close(ch, reason);
	ch->in_cb--;
	if (ch->dead && ch->in_cb == 0)
		ipc_channel_free(ch);
}

/* Report the end of the channel once; the user decides when to free it. */
static void
ipc_channel_close(struct ipc_channel *ch, const char *reason)
{
	if (ch->closed)
		return;
	ch->closed = 1;
	bufferevent_disable(ch->bev, EV_READ | EV_WRITE);
	if (ch->on_close)
		ch->on_close(ch, reason, ch->arg);
}

struct ipc_channel *
ipc_channel_new(struct event_base *base, int fd, uint32_t flow, uint32_t gen,
    ipc_msg_cb *on_msg, ipc_close_cb *on_close, void *arg)
{
	struct ipc_channel *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return NULL;
	evutil_make_socket_nonblocking(fd);
	ch->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ch->bev == NULL) {
		free(ch);
		return NULL;
	}
	ch->flow = flow;
	ch->gen = gen;
	ch->on_msg = on_msg;
	ch->on_close = on_close;
	ch->arg = arg;
	bufferevent_setcb(ch->bev, ipc_channel_read_cb, NULL, ipc_channel_event_cb, ch);
	bufferevent_enable(ch->bev, EV_READ | EV_WRITE);
	return ch;
}

/* Queue one message; the payload buffer (may be NULL) is drained. */
int
ipc_channel_send(struct ipc_channel *ch, uint32_t type, struct evbuffer *payload)
{
	struct ipc_hdr h;
	size_t len = payload ? evbuffer_get_length(payload) : 0;
	unsigned char *p = NULL;

	if (ch->closed || ch->dead)
		return -1;
	if (len > IPC_MAX_PAYLOAD)
		return -1;
	h.type = type;
	h.len = (uint32_t)len;
	h.flow = ch->flow;
	h.pid = (uint32_t)getpid();
	h.gen = ch->gen;
	h.seq = ch->send_seq + 1;
	if (len > 0 && (p = evbuffer_pullup(payload, -1)) == NULL)
		return -1;
	if (ipc_frame_add(bufferevent_get_output(ch->bev), &h, p) == -1)
		return -1;
	ch->send_seq++;
	if (payload)
		evbuffer_drain(payload, len);
	return 0;
}

/* Write out whatever is queued, waiting at most timeout_ms: used just before
 * a worker exits, when the event loop will not run again. */
int
ipc_channel_flush_sync(struct ipc_channel *ch, int timeout_ms)
{
	struct evbuffer *out = bufferevent_get_output(ch->bev);
	int fd = bufferevent_getfd(ch->bev), rc = 0, rounds = 0;

	/* the bufferevent freezes the start of its output buffer; we are
	 * taking over the writing for the last time */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && rc == 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (++rounds > 1000 || poll(&pfd, 1, timeout_ms) <= 0)
			rc = -1;
		else if (evbuffer_write(out, fd) < 0 && errno != EAGAIN && errno != EINTR)
			rc = -1;
	}
	evbuffer_freeze(out, 1);
	return rc;
}

/* A worker learns its flow id and generation from the supervisor's first
 * message and stamps them on everything it sends after HELLO. */
void
ipc_channel_adopt_ids(struct ipc_channel *ch, uint32_t flow, uint32_t gen)
{
	ch->flow = flow;
	ch->gen = gen;
}

void
ipc_channel_free(struct ipc_channel *ch)
{
	if (ch == NULL)
		return;
	if (ch->in_cb > 0) {
		ch->dead = 1;
		bufferevent_disable(ch->bev, EV_READ | EV_WRITE);
		return;
	}
	bufferevent_free(ch->bev);
	free(ch);
}

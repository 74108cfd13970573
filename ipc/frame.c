/*
 * frame.c: pack, unpack and extract IPC frames from a libevent buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "frame.h"
#include "msg.h"

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

void
ipc_hdr_pack(const struct ipc_hdr *h, unsigned char out[IPC_HDR_LEN])
{
	put32(out, h->type);
	put32(out + 4, h->len);
	put32(out + 8, h->flow);
	put32(out + 12, h->pid);
	put32(out + 16, h->gen);
	put32(out + 20, h->seq);
}

void
ipc_hdr_unpack(const unsigned char in[IPC_HDR_LEN], struct ipc_hdr *h)
{
	h->type = get32(in);
	h->len = get32(in + 4);
	h->flow = get32(in + 8);
	h->pid = get32(in + 12);
	h->gen = get32(in + 16);
	h->seq = get32(in + 20);
}

/* Append one frame; refuses payloads the receiver would reject. */
int
ipc_frame_add(struct evbuffer *out, const struct ipc_hdr *h, const void *payload)
{
	unsigned char hdr[IPC_HDR_LEN];

	if (h->len > IPC_MAX_PAYLOAD || !ipc_msg_type_valid(h->type))
		return -1;
	ipc_hdr_pack(h, hdr);
	if (evbuffer_add(out, hdr, sizeof(hdr)) == -1)
		return -1;
	if (h->len > 0 && evbuffer_add(out, payload, h->len) == -1)
		return -1;
	return 0;
}

/*
 * Take one whole frame off the front of `in`. The header is validated as soon
 * as it is complete, so a bad peer is caught before its payload arrives. On
 * success *payload is a malloc'd copy (NUL-terminated for convenience, not
 * counted in h->len) that the caller frees.
 */
int
ipc_frame_take(struct evbuffer *in, uint32_t expect_seq, struct ipc_hdr *h,
    unsigned char **payload, char *err, size_t errlen)
{
	unsigned char hdr[IPC_HDR_LEN];
	unsigned char *p;

	*payload = NULL;
	if (evbuffer_get_length(in) < IPC_HDR_LEN)
		return IPC_TAKE_MORE;
	if (evbuffer_copyout(in, hdr, IPC_HDR_LEN) != IPC_HDR_LEN) {
		snprintf(err, errlen, "cannot read frame header");
		return IPC_TAKE_ERROR;
	}
	ipc_hdr_unpack(hdr, h);
	if (!ipc_msg_type_valid(h->type)) {
		snprintf(err, errlen, "unknown message type %u", h->type);
		return IPC_TAKE_ERROR;
	}
	if (h->len > IPC_MAX_PAYLOAD) {
		snprintf(err, errlen, "%s message of %u bytes exceeds the %u-byte limit",
		    ipc_msg_type_name(h->type), h->len, (unsigned)IPC_MAX_PAYLOAD);
		return IPC_TAKE_ERROR;
	}
	if (h->seq != expect_seq) {
		snprintf(err, errlen, "%s message has sequence %u, expected %u",
		    ipc_msg_type_name(h->type), h->seq, expect_seq);
		return IPC_TAKE_ERROR;
	}
	if (evbuffer_get_length(in) < IPC_HDR_LEN + (size_t)h->len)
		return IPC_TAKE_MORE;
	if ((p = malloc((size_t)h->len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return IPC_TAKE_ERROR;
	}
	evbuffer_drain(in, IPC_HDR_LEN);
	if (h->len > 0 && evbuffer_remove(in, p, h->len) != (int)h->len) {
		free(p);
		snprintf(err, errlen, "short payload read");
		return IPC_TAKE_ERROR;
	}
	p[h->len] = '\0';
	*payload = p;
	return IPC_TAKE_OK;
}

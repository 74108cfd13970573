/*
 * msg.c: message names and the key-value payload codec. The payload is a
 * sequence of (u16 key length, key, u32 value length, value); decoding must
 * use up the payload exactly, and neither part may hold a NUL byte.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "msg.h"
#include "frame.h"

static const char *const ipc_msg_names[IPC__TYPE_END] = {
	[IPC_HELLO] = "HELLO",
	[IPC_CONFIG] = "CONFIG",
	[IPC_READY] = "READY",
	[IPC_STATUS] = "STATUS",
	[IPC_FATAL] = "FATAL",
	[IPC_STOP] = "STOP",
	[IPC_REOPEN_LOGS] = "REOPEN_LOGS",
	[IPC_PAUSE] = "PAUSE",
	[IPC_RESUME] = "RESUME",
};

int
ipc_msg_type_valid(uint32_t type)
{
	return type >= IPC_HELLO && type < IPC__TYPE_END;
}

const char *
ipc_msg_type_name(uint32_t type)
{
	return ipc_msg_type_valid(type) ? ipc_msg_names[type] : "UNKNOWN";
}

/* Messages that carry no payload at all: any payload is a protocol error. */
int
ipc_msg_is_empty_type(uint32_t type)
{
	return type == IPC_STOP || type == IPC_REOPEN_LOGS ||
	    type == IPC_PAUSE || type == IPC_RESUME;
}

int
kvl_put(struct evbuffer *b, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);
	unsigned char h[4];

	if (kl == 0 || kl > KVL_KEY_MAX || vl > IPC_MAX_PAYLOAD)
		return -1;
	h[0] = kl >> 8; h[1] = kl;
	if (evbuffer_add(b, h, 2) == -1 || evbuffer_add(b, key, kl) == -1)
		return -1;
	h[0] = vl >> 24; h[1] = vl >> 16; h[2] = vl >> 8; h[3] = vl;
	if (evbuffer_add(b, h, 4) == -1 || evbuffer_add(b, val, vl) == -1)
		return -1;
	return 0;
}

int
kvl_putf(struct evbuffer *b, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return kvl_put(b, key, buf);
}

static char *
kvl_dup_part(const unsigned char *p, size_t n)
{
	if (memchr(p, '\0', n) != NULL)
		return NULL;
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Decode a whole payload; on error nothing is left allocated in *out. */
int
kvl_decode(const unsigned char *p, size_t len, struct kvl *out, char *err,
    size_t errlen)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		size_t kl, vl;
		if (len - off < 2)
			goto short_payload;
		kl = (size_t)p[off] << 8 | p[off + 1];
		off += 2;
		if (kl == 0 || kl > KVL_KEY_MAX) {
			snprintf(err, errlen, "bad key length %zu at byte %zu", kl, off - 2);
			goto fail;
		}
		if (len - off < kl + 4)
			goto short_payload;
		const unsigned char *k = p + off;
		off += kl;
		vl = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 |
		    (size_t)p[off + 2] << 8 | p[off + 3];
		off += 4;
		if (len - off < vl)
			goto short_payload;
		if (out->n == out->cap) {
			size_t nc = out->cap ? out->cap * 2 : 16;
			struct kvl_item *ni = realloc(out->items, nc * sizeof(*ni));
			if (ni == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			out->items = ni;
			out->cap = nc;
		}
		char *ks = kvl_dup_part(k, kl), *vs = kvl_dup_part(p + off, vl);
		if (ks == NULL || vs == NULL) {
			free(ks);
			free(vs);
			snprintf(err, errlen, "NUL byte or no memory in item %zu", out->n);
			goto fail;
		}
		out->items[out->n].key = ks;
		out->items[out->n].val = vs;
		out->n++;
		off += vl;
	}
	return 0;
short_payload:
	snprintf(err, errlen, "payload ends inside item %zu (%zu bytes)", out->n, len);
fail:
	kvl_free(out);
	return -1;
}

/* The last value of a key, or NULL. */
const char *
kvl_get(const struct kvl *l, const char *key)
{
	for (size_t i = l->n; i > 0; i--)
		if (strcmp(l->items[i - 1].key, key) == 0)
			return l->items[i - 1].val;
	return NULL;
}

int
kvl_get_ll(const struct kvl *l, const char *key, long long *out)
{
	const char *v = kvl_get(l, key);
	char *end;

	if (v == NULL || *v == '\0')
		return -1;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return (errno || *end) ? -1 : 0;
}

void
kvl_free(struct kvl *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].val);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

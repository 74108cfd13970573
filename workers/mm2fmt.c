/*
 * mm2fmt.c: encode and decode MM2's heartbeat, checkpoint and offset-sync
 * records (see mm2fmt.h for the layouts).
 */
#include <string.h>
#include <jansson.h>

#include "mm2fmt.h"

/* A bounded output cursor; `bad` latches the first overflow. */
struct mm2_wr {
	unsigned char	*p;
	size_t		 cap;
	size_t		 len;
	int		 bad;
};

/* A bounded input cursor; `bad` latches the first short read. */
struct mm2_rd {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	int			 bad;
};

static void
wr_init(struct mm2_wr *w, char *buf, size_t cap)
{
	w->p = (unsigned char *)buf;
	w->cap = buf == NULL ? 0 : cap;
	w->len = 0;
	w->bad = 0;
}

/* Reserve n bytes; NULL (and the writer marked bad) if they do not fit. */
static unsigned char *
wr_take(struct mm2_wr *w, size_t n)
{
	unsigned char *q;

	if (w->bad || w->cap - w->len < n) {
		w->bad = 1;
		return NULL;
	}
	q = w->p + w->len;
	w->len += n;
	return q;
}

/* Write the low `n` bytes of v big-endian. */
static void
wr_int(struct mm2_wr *w, uint64_t v, size_t n)
{
	unsigned char *q;
	size_t i;

	if ((q = wr_take(w, n)) == NULL)
		return;
	for (i = 0; i < n; i++)
		q[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

/* Write a non-nullable Kafka STRING; NULL or over 32767 bytes is an error. */
static void
wr_str(struct mm2_wr *w, const char *s)
{
	unsigned char *q;
	size_t n;

	if (s == NULL || (n = strlen(s)) > MM2_STRING_MAX) {
		w->bad = 1;
		return;
	}
	wr_int(w, n, 2);
	if (n > 0 && (q = wr_take(w, n)) != NULL)
		memcpy(q, s, n);
}

static ssize_t
wr_done(const struct mm2_wr *w)
{
	return w->bad ? -1 : (ssize_t)w->len;
}

static void
rd_init(struct mm2_rd *r, const void *buf, size_t len)
{
	r->p = buf;
	r->len = buf == NULL ? 0 : len;
	r->off = 0;
	r->bad = 0;
}

/* Read an n-byte big-endian unsigned integer; 0 and marked bad if short. */
static uint64_t
rd_int(struct mm2_rd *r, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += n;
	return v;
}

/*
 * Read a Kafka STRING into out (capacity cap, NUL-terminated).  A negative
 * length or a short buffer is malformed, as in Java; a string that does not
 * fit out or contains a NUL byte cannot be represented and is refused too.
 */
static void
rd_str(struct mm2_rd *r, char *out, size_t cap)
{
	int16_t n;

	n = (int16_t)rd_int(r, 2);
	if (r->bad)
		return;
	if (n < 0 || (size_t)n >= cap || r->len - r->off < (size_t)n ||
	    memchr(r->p + r->off, '\0', (size_t)n) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p + r->off, (size_t)n);
	out[n] = '\0';
	r->off += (size_t)n;
}

static int16_t
rd_i16(struct mm2_rd *r)
{
	return (int16_t)rd_int(r, 2);
}

static int32_t
rd_i32(struct mm2_rd *r)
{
	return (int32_t)rd_int(r, 4);
}

static int64_t
rd_i64(struct mm2_rd *r)
{
	return (int64_t)rd_int(r, 8);
}

/* Heartbeat key: source alias, target alias. */
ssize_t
mm2_heartbeat_key_encode(char *buf, size_t cap, const char *source,
    const char *target)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_str(&w, source);
	wr_str(&w, target);
	return wr_done(&w);
}

/* Heartbeat value: version 0, then the emission time in ms. */
ssize_t
mm2_heartbeat_value_encode(char *buf, size_t cap, int64_t timestamp_ms)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_int(&w, MM2_RECORD_VERSION, 2);
	wr_int(&w, (uint64_t)timestamp_ms, 8);
	return wr_done(&w);
}

int
mm2_heartbeat_key_decode(const void *key, size_t keylen,
    struct mm2_heartbeat *out)
{
	struct mm2_rd r;

	rd_init(&r, key, keylen);
	rd_str(&r, out->source, sizeof(out->source));
	rd_str(&r, out->target, sizeof(out->target));
	return r.bad ? -1 : 0;
}

/* Any version is read with the version-0 body, as Java does. */
int
mm2_heartbeat_value_decode(const void *val, size_t vallen,
    struct mm2_heartbeat *out)
{
	struct mm2_rd r;

	rd_init(&r, val, vallen);
	out->version = rd_i16(&r);
	out->timestamp = rd_i64(&r);
	return r.bad ? -1 : 0;
}

int
mm2_heartbeat_decode(const void *key, size_t keylen, const void *val,
    size_t vallen, struct mm2_heartbeat *out)
{
	if (mm2_heartbeat_key_decode(key, keylen, out) == -1)
		return -1;
	return mm2_heartbeat_value_decode(val, vallen, out);
}

/* Checkpoint key: group, topic as named on the target, partition. */
ssize_t
mm2_checkpoint_key_encode(char *buf, size_t cap, const char *group,
    const char *topic, int32_t partition)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_str(&w, group);
	wr_str(&w, topic);
	wr_int(&w, (uint32_t)partition, 4);
	return wr_done(&w);
}

/* Checkpoint value: version 0, upstream offset, downstream offset, metadata. */
ssize_t
mm2_checkpoint_value_encode(char *buf, size_t cap, int64_t upstream_offset,
    int64_t offset, const char *metadata)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_int(&w, MM2_RECORD_VERSION, 2);
	wr_int(&w, (uint64_t)upstream_offset, 8);
	wr_int(&w, (uint64_t)offset, 8);
	wr_str(&w, metadata == NULL ? "" : metadata);
	return wr_done(&w);
}

int
mm2_checkpoint_key_decode(const void *key, size_t keylen,
    struct mm2_checkpoint *out)
{
	struct mm2_rd r;

	rd_init(&r, key, keylen);
	rd_str(&r, out->group, sizeof(out->group));
	rd_str(&r, out->topic, sizeof(out->topic));
	out->partition = rd_i32(&r);
	return r.bad ? -1 : 0;
}

/* Any version is read with the version-0 body, as Java does. */
int
mm2_checkpoint_value_decode(const void *val, size_t vallen,
    struct mm2_checkpoint *out)
{
	struct mm2_rd r;

	rd_init(&r, val, vallen);
	out->version = rd_i16(&r);
	out->upstream_offset = rd_i64(&r);
	out->offset = rd_i64(&r);
	rd_str(&r, out->metadata, sizeof(out->metadata));
	return r.bad ? -1 : 0;
}

int
mm2_checkpoint_decode(const void *key, size_t keylen, const void *val,
    size_t vallen, struct mm2_checkpoint *out)
{
	if (mm2_checkpoint_key_decode(key, keylen, out) == -1)
		return -1;
	return mm2_checkpoint_value_decode(val, vallen, out);
}

/* Offset-sync key: upstream topic as named on the source, partition. */
ssize_t
mm2_offset_sync_key_encode(char *buf, size_t cap, const char *topic,
    int32_t partition)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_str(&w, topic);
	wr_int(&w, (uint32_t)partition, 4);
	return wr_done(&w);
}

/* Offset-sync value: upstream offset, downstream offset; no version. */
ssize_t
mm2_offset_sync_value_encode(char *buf, size_t cap, int64_t upstream_offset,
    int64_t offset)
{
	struct mm2_wr w;

	wr_init(&w, buf, cap);
	wr_int(&w, (uint64_t)upstream_offset, 8);
	wr_int(&w, (uint64_t)offset, 8);
	return wr_done(&w);
}

int
mm2_offset_sync_key_decode(const void *key, size_t keylen,
    struct mm2_offset_sync *out)
{
	struct mm2_rd r;

	rd_init(&r, key, keylen);
	rd_str(&r, out->topic, sizeof(out->topic));
	out->partition = rd_i32(&r);
	return r.bad ? -1 : 0;
}

int
mm2_offset_sync_value_decode(const void *val, size_t vallen,
    struct mm2_offset_sync *out)
{
	struct mm2_rd r;

	rd_init(&r, val, vallen);
	out->upstream_offset = rd_i64(&r);
	out->offset = rd_i64(&r);
	return r.bad ? -1 : 0;
}

int
mm2_offset_sync_decode(const void *key, size_t keylen, const void *val,
    size_t vallen, struct mm2_offset_sync *out)
{
	if (mm2_offset_sync_key_decode(key, keylen, out) == -1)
		return -1;
	return mm2_offset_sync_value_decode(val, vallen, out);
}

/* See mm2fmt.h: MM2's Connect offsets, read when taking over from MM2. */
int
mm2_connect_offset_decode(const void *key, size_t keylen, const void *val,
    size_t vallen, const char *source_alias, char *topic, size_t topiccap,
    int32_t *partition, int64_t *next)
{
	json_error_t jerr;
	json_t *k, *v = NULL, *part, *t, *c, *off;
	int rc = -1;

	if (key == NULL || (k = json_loadb(key, keylen, 0, &jerr)) == NULL)
		return -1;
	if (!json_is_array(k) || json_array_size(k) != 2 ||
	    !json_is_string(json_array_get(k, 0)) ||
	    !json_is_object(part = json_array_get(k, 1)))
		goto out;
	rc = 0;
	if (strcmp(json_string_value(json_array_get(k, 0)), "MirrorSourceConnector") != 0 ||
	    !json_is_string(c = json_object_get(part, "cluster")) ||
	    strcmp(json_string_value(c), source_alias) != 0)
		goto out;
	rc = -1;
	if (!json_is_string(t = json_object_get(part, "topic")) ||
	    !json_is_integer(json_object_get(part, "partition")) ||
	    strlen(json_string_value(t)) >= topiccap)
		goto out;
	strcpy(topic, json_string_value(t));
	*partition = (int32_t)json_integer_value(json_object_get(part, "partition"));
	if (val == NULL) {
		*next = -1;
		rc = 1;
		goto out;
	}
	if ((v = json_loadb(val, vallen, 0, &jerr)) == NULL ||
	    !json_is_integer(off = json_object_get(v, "offset")))
		goto out;
	*next = json_integer_value(off) + 1;
	rc = 1;
out:
	json_decref(k);
	json_decref(v);
	return rc;
}

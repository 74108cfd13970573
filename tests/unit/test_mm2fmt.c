/*
 * test_mm2fmt.c: MM2 record formats against the byte examples of
 * mm2-facts.md §1.2-§1.4, round trips and malformed input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "mm2fmt.h"

/* §1.2: OffsetSyncTest values. */
static const unsigned char os_key[] = {
	0x00, 0x07, 't', 'o', 'p', 'i', 'c', '-', '1',
	0x00, 0x00, 0x00, 0x02
};
static const unsigned char os_val[] = {
	0, 0, 0, 0, 0, 0, 0, 3,
	0, 0, 0, 0, 0, 0, 0, 4
};

/* §1.3: CheckpointTest values. */
static const unsigned char cp_key[] = {
	0x00, 0x07, 0x67, 0x72, 0x6f, 0x75, 0x70, 0x2d, 0x31,
	0x00, 0x07, 0x74, 0x6f, 0x70, 0x69, 0x63, 0x2d, 0x32,
	0x00, 0x00, 0x00, 0x03
};
static const unsigned char cp_val[] = {
	0x00, 0x00,
	0, 0, 0, 0, 0, 0, 0, 4,
	0, 0, 0, 0, 0, 0, 0, 5,
	0x00, 0x0a, 0x6d, 0x65, 0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x2d, 0x36
};

/* §1.4: HeartbeatTest values. */
static const unsigned char hb_key[] = {
	0x00, 0x08, 0x73, 0x6f, 0x75, 0x72, 0x63, 0x65, 0x2d, 0x31,
	0x00, 0x08, 0x74, 0x61, 0x72, 0x67, 0x65, 0x74, 0x2d, 0x32
};
static const unsigned char hb_val[] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x49, 0x96, 0x02, 0xd2
};

static void
test_offset_sync_example(void)
{
	char buf[64];
	struct mm2_offset_sync os;
	ssize_t n;

	n = mm2_offset_sync_key_encode(buf, sizeof(buf), "topic-1", 2);
	T_EQ_INT(n, sizeof(os_key));
	T_MEM_EQ(buf, os_key, sizeof(os_key));
	n = mm2_offset_sync_value_encode(buf, sizeof(buf), 3, 4);
	T_EQ_INT(n, sizeof(os_val));
	T_EQ_INT(n, MM2_OFFSET_SYNC_VALUE_LEN);
	T_MEM_EQ(buf, os_val, sizeof(os_val));

	memset(&os, 0x55, sizeof(os));
	T_EQ_INT(mm2_offset_sync_decode(os_key, sizeof(os_key), os_val,
	    sizeof(os_val), &os), 0);
	T_EQ_STR(os.topic, "topic-1");
	T_EQ_INT(os.partition, 2);
	T_EQ_INT(os.upstream_offset, 3);
	T_EQ_INT(os.offset, 4);
}

static void
test_checkpoint_example(void)
{
	char buf[128];
	struct mm2_checkpoint *cp;
	ssize_t n;

	n = mm2_checkpoint_key_encode(buf, sizeof(buf), "group-1", "topic-2", 3);
	T_EQ_INT(n, sizeof(cp_key));
	T_MEM_EQ(buf, cp_key, sizeof(cp_key));
	n = mm2_checkpoint_value_encode(buf, sizeof(buf), 4, 5, "metadata-6");
	T_EQ_INT(n, sizeof(cp_val));
	T_MEM_EQ(buf, cp_val, sizeof(cp_val));

	cp = malloc(sizeof(*cp));
	memset(cp, 0x55, sizeof(*cp));
	T_EQ_INT(mm2_checkpoint_decode(cp_key, sizeof(cp_key), cp_val,
	    sizeof(cp_val), cp), 0);
	T_EQ_STR(cp->group, "group-1");
	T_EQ_STR(cp->topic, "topic-2");
	T_EQ_INT(cp->partition, 3);
	T_EQ_INT(cp->version, 0);
	T_EQ_INT(cp->upstream_offset, 4);
	T_EQ_INT(cp->offset, 5);
	T_EQ_STR(cp->metadata, "metadata-6");
	free(cp);
}

static void
test_heartbeat_example(void)
{
	char buf[64];
	struct mm2_heartbeat hb;
	ssize_t n;

	n = mm2_heartbeat_key_encode(buf, sizeof(buf), "source-1", "target-2");
	T_EQ_INT(n, sizeof(hb_key));
	T_MEM_EQ(buf, hb_key, sizeof(hb_key));
	n = mm2_heartbeat_value_encode(buf, sizeof(buf), 1234567890);
	T_EQ_INT(n, sizeof(hb_val));
	T_EQ_INT(n, MM2_HEARTBEAT_VALUE_LEN);
	T_MEM_EQ(buf, hb_val, sizeof(hb_val));

	memset(&hb, 0x55, sizeof(hb));
	T_EQ_INT(mm2_heartbeat_decode(hb_key, sizeof(hb_key), hb_val,
	    sizeof(hb_val), &hb), 0);
	T_EQ_STR(hb.source, "source-1");
	T_EQ_STR(hb.target, "target-2");
	T_EQ_INT(hb.version, 0);
	T_EQ_INT(hb.timestamp, 1234567890);
}

/* Extreme integer values and empty strings survive a round trip. */
static void
test_round_trips(void)
{
	char kb[2048], vb[2048];
	ssize_t kn, vn;
	struct mm2_heartbeat hb;
	struct mm2_offset_sync os;
	struct mm2_checkpoint *cp;
	char alias[MM2_ALIAS_MAX];

	memset(alias, 'a', sizeof(alias) - 1);
	alias[sizeof(alias) - 1] = '\0';
	kn = mm2_heartbeat_key_encode(kb, sizeof(kb), "", alias);
	vn = mm2_heartbeat_value_encode(vb, sizeof(vb), INT64_MIN);
	T_EQ_INT(kn, 2 + 2 + MM2_ALIAS_MAX - 1);
	T_EQ_INT(mm2_heartbeat_decode(kb, kn, vb, vn, &hb), 0);
	T_EQ_STR(hb.source, "");
	T_EQ_STR(hb.target, alias);
	T_EQ_INT(hb.timestamp, INT64_MIN);

	kn = mm2_offset_sync_key_encode(kb, sizeof(kb), "A.orders", INT32_MAX);
	vn = mm2_offset_sync_value_encode(vb, sizeof(vb), INT64_MAX, -1);
	T_EQ_INT(mm2_offset_sync_decode(kb, kn, vb, vn, &os), 0);
	T_EQ_STR(os.topic, "A.orders");
	T_EQ_INT(os.partition, INT32_MAX);
	T_EQ_INT(os.upstream_offset, INT64_MAX);
	T_EQ_INT(os.offset, -1);

	cp = malloc(sizeof(*cp));
	kn = mm2_checkpoint_key_encode(kb, sizeof(kb), "g", "t", -1);
	vn = mm2_checkpoint_value_encode(vb, sizeof(vb), 0, 1, NULL);
	T_EQ_INT(vn, 2 + 8 + 8 + 2);
	T_EQ_INT(mm2_checkpoint_decode(kb, kn, vb, vn, cp), 0);
	T_EQ_INT(cp->partition, -1);
	T_EQ_STR(cp->metadata, "");
	T_EQ_INT(cp->upstream_offset, 0);
	T_EQ_INT(cp->offset, 1);

	/* UTF-8 is carried as bytes. */
	kn = mm2_checkpoint_key_encode(kb, sizeof(kb), "gr\xc3\xbcppe", "t", 0);
	T_EQ_INT(kb[1], 7);
	T_EQ_INT(mm2_checkpoint_key_decode(kb, kn, cp), 0);
	T_EQ_STR(cp->group, "gr\xc3\xbcppe");
	free(cp);
}

/* Every proper prefix of a valid record is rejected. */
static void
test_truncated(void)
{
	struct mm2_heartbeat hb;
	struct mm2_offset_sync os;
	struct mm2_checkpoint *cp;
	size_t i;

	cp = malloc(sizeof(*cp));
	for (i = 0; i < sizeof(hb_key); i++)
		T_EQ_INT(mm2_heartbeat_decode(hb_key, i, hb_val, sizeof(hb_val),
		    &hb), -1);
	for (i = 0; i < sizeof(hb_val); i++)
		T_EQ_INT(mm2_heartbeat_decode(hb_key, sizeof(hb_key), hb_val, i,
		    &hb), -1);
	for (i = 0; i < sizeof(os_key); i++)
		T_EQ_INT(mm2_offset_sync_decode(os_key, i, os_val,
		    sizeof(os_val), &os), -1);
	for (i = 0; i < sizeof(os_val); i++)
		T_EQ_INT(mm2_offset_sync_decode(os_key, sizeof(os_key), os_val,
		    i, &os), -1);
	for (i = 0; i < sizeof(cp_key); i++)
		T_EQ_INT(mm2_checkpoint_decode(cp_key, i, cp_val,
		    sizeof(cp_val), cp), -1);
	for (i = 0; i < sizeof(cp_val); i++)
		T_EQ_INT(mm2_checkpoint_decode(cp_key, sizeof(cp_key), cp_val,
		    i, cp), -1);
	/* A tombstone (NULL value) is not a record. */
	T_EQ_INT(mm2_heartbeat_decode(hb_key, sizeof(hb_key), NULL, 0, &hb), -1);
	T_EQ_INT(mm2_checkpoint_decode(NULL, 0, cp_val, sizeof(cp_val), cp), -1);
	free(cp);
}

/* Trailing bytes are ignored, like Java's Schema.read. */
static void
test_trailing_ignored(void)
{
	unsigned char k[64], v[64];
	struct mm2_heartbeat hb;
	struct mm2_offset_sync os;
	struct mm2_checkpoint *cp;

	memcpy(k, hb_key, sizeof(hb_key));
	memcpy(v, hb_val, sizeof(hb_val));
	memset(k + sizeof(hb_key), 0xff, 5);
	memset(v + sizeof(hb_val), 0xff, 5);
	T_EQ_INT(mm2_heartbeat_decode(k, sizeof(hb_key) + 5, v,
	    sizeof(hb_val) + 5, &hb), 0);
	T_EQ_STR(hb.target, "target-2");
	T_EQ_INT(hb.timestamp, 1234567890);

	memcpy(k, os_key, sizeof(os_key));
	memcpy(v, os_val, sizeof(os_val));
	k[sizeof(os_key)] = 1;
	v[sizeof(os_val)] = 1;
	T_EQ_INT(mm2_offset_sync_decode(k, sizeof(os_key) + 1, v,
	    sizeof(os_val) + 1, &os), 0);
	T_EQ_INT(os.offset, 4);

	cp = malloc(sizeof(*cp));
	memcpy(k, cp_key, sizeof(cp_key));
	memcpy(v, cp_val, sizeof(cp_val));
	memset(k + sizeof(cp_key), 0, 8);
	memset(v + sizeof(cp_val), 0, 8);
	T_EQ_INT(mm2_checkpoint_decode(k, sizeof(cp_key) + 8, v,
	    sizeof(cp_val) + 8, cp), 0);
	T_EQ_STR(cp->metadata, "metadata-6");
	T_EQ_INT(cp->partition, 3);
	free(cp);
}

/* Unknown value versions are parsed as version 0 and reported. */
static void
test_other_version(void)
{
	unsigned char v[sizeof(hb_val)];
	struct mm2_heartbeat hb;

	memcpy(v, hb_val, sizeof(v));
	v[1] = 7;
	T_EQ_INT(mm2_heartbeat_decode(hb_key, sizeof(hb_key), v, sizeof(v),
	    &hb), 0);
	T_EQ_INT(hb.version, 7);
	T_EQ_INT(hb.timestamp, 1234567890);
}

/* Negative lengths, over-long and NUL-holding strings are refused. */
static void
test_bad_strings(void)
{
	unsigned char k[16];
	struct mm2_offset_sync os;
	struct mm2_heartbeat hb;
	char *big, *buf;
	ssize_t n;

	/* length -1: Java's reader throws */
	memcpy(k, "\xff\xff" "\0\0\0\0", 6);
	T_EQ_INT(mm2_offset_sync_key_decode(k, 6, &os), -1);
	/* length 0x8000 is -32768 */
	memcpy(k, "\x80\x00" "\0\0\0\0", 6);
	T_EQ_INT(mm2_offset_sync_key_decode(k, 6, &os), -1);
	/* a NUL inside the string cannot be held in a C string */
	memcpy(k, "\x00\x03" "a\0b" "\0\0\0\0", 9);
	T_EQ_INT(mm2_offset_sync_key_decode(k, 9, &os), -1);
	/* an empty topic is fine */
	memcpy(k, "\x00\x00" "\0\0\0\x09", 6);
	T_EQ_INT(mm2_offset_sync_key_decode(k, 6, &os), 0);
	T_EQ_STR(os.topic, "");
	T_EQ_INT(os.partition, 9);

	big = malloc(MM2_STRING_MAX + 2);
	buf = malloc(MM2_STRING_MAX + 64);
	memset(big, 'x', MM2_STRING_MAX + 1);
	big[MM2_STRING_MAX + 1] = '\0';
	/* 32768 bytes does not fit an INT16 length */
	T_EQ_INT(mm2_checkpoint_value_encode(buf, MM2_STRING_MAX + 64, 1, 2,
	    big), -1);
	/* 32767 bytes is the largest STRING */
	big[MM2_STRING_MAX] = '\0';
	n = mm2_checkpoint_value_encode(buf, MM2_STRING_MAX + 64, 1, 2, big);
	T_EQ_INT(n, 18 + 2 + MM2_STRING_MAX);
	T_EQ_INT((unsigned char)buf[18], 0x7f);
	T_EQ_INT((unsigned char)buf[19], 0xff);
	/* ... but it does not fit the decoder's alias field */
	n = mm2_heartbeat_key_encode(buf, MM2_STRING_MAX + 64, "A", big);
	T_EQ_INT(n, 2 + 1 + 2 + MM2_STRING_MAX);
	T_EQ_INT(mm2_heartbeat_key_decode(buf, n, &hb), -1);
	/* two long strings overflow the buffer */
	T_EQ_INT(mm2_heartbeat_key_encode(buf, MM2_STRING_MAX + 64, big, big),
	    -1);
	/* an alias of MM2_ALIAS_MAX bytes leaves no room for the NUL */
	big[MM2_ALIAS_MAX] = '\0';
	n = mm2_heartbeat_key_encode(buf, MM2_STRING_MAX + 64, "A", big);
	T_EQ_INT(mm2_heartbeat_key_decode(buf, n, &hb), -1);
	big[MM2_ALIAS_MAX - 1] = '\0';
	n = mm2_heartbeat_key_encode(buf, MM2_STRING_MAX + 64, "A", big);
	T_EQ_INT(mm2_heartbeat_key_decode(buf, n, &hb), 0);
	/* a group of MM2_GROUP_MAX bytes is refused by the decoder */
	{
		struct mm2_checkpoint *cp = malloc(sizeof(*cp));

		memset(big, 'g', MM2_GROUP_MAX);
		big[MM2_GROUP_MAX] = '\0';
		n = mm2_checkpoint_key_encode(buf, MM2_STRING_MAX + 64, big,
		    "t", 0);
		T_CHECK(n > 0);
		T_EQ_INT(mm2_checkpoint_key_decode(buf, n, cp), -1);
		big[MM2_GROUP_MAX - 1] = '\0';
		n = mm2_checkpoint_key_encode(buf, MM2_STRING_MAX + 64, big,
		    "t", 0);
		T_EQ_INT(mm2_checkpoint_key_decode(buf, n, cp), 0);
		T_EQ_INT(strlen(cp->group), MM2_GROUP_MAX - 1);
		free(cp);
	}
	free(big);
	free(buf);

	/* NULL strings are not nullable STRINGs */
	T_EQ_INT(mm2_heartbeat_key_encode(buf = malloc(64), 64, NULL, "B"), -1);
	T_EQ_INT(mm2_checkpoint_key_encode(buf, 64, "g", NULL, 0), -1);
	T_EQ_INT(mm2_offset_sync_key_encode(buf, 64, NULL, 0), -1);
	free(buf);
}

/* Encoders never write past cap and fail when it is one byte short. */
static void
test_capacity(void)
{
	char buf[64];

	memset(buf, 0x5a, sizeof(buf));
	T_EQ_INT(mm2_heartbeat_key_encode(buf, sizeof(hb_key) - 1, "source-1",
	    "target-2"), -1);
	T_EQ_INT((unsigned char)buf[sizeof(hb_key) - 1], 0x5a);
	T_EQ_INT(mm2_heartbeat_key_encode(buf, sizeof(hb_key), "source-1",
	    "target-2"), sizeof(hb_key));
	T_EQ_INT(mm2_heartbeat_value_encode(buf, 9, 1), -1);
	T_EQ_INT(mm2_heartbeat_value_encode(NULL, 0, 1), -1);
	T_EQ_INT(mm2_offset_sync_value_encode(buf, 15, 1, 2), -1);
	T_EQ_INT(mm2_offset_sync_key_encode(buf, sizeof(os_key) - 1, "topic-1",
	    2), -1);
	T_EQ_INT(mm2_checkpoint_key_encode(buf, sizeof(cp_key) - 1, "group-1",
	    "topic-2", 3), -1);
	T_EQ_INT(mm2_checkpoint_value_encode(buf, sizeof(cp_val) - 1, 4, 5,
	    "metadata-6"), -1);
	T_EQ_INT(mm2_checkpoint_value_encode(buf, sizeof(cp_val), 4, 5,
	    "metadata-6"), sizeof(cp_val));
}

/* MM2's Connect offsets records (mm2-facts section 1.7), read on takeover. */
static void
test_connect_offsets(void)
{
	const char *k = "[\"MirrorSourceConnector\",{\"cluster\":\"A\",\"partition\":3,"
	    "\"topic\":\"orders\"}]";
	const char *v = "{\"offset\":1234}";
	char topic[64];
	int32_t p = -1;
	int64_t next = 0;

	T_EQ_INT(mm2_connect_offset_decode(k, strlen(k), v, strlen(v), "A", topic,
	    sizeof(topic), &p, &next), 1);
	T_EQ_STR(topic, "orders");
	T_EQ_INT(p, 3);
	T_EQ_INT(next, 1235);		/* MM2 stores the last replicated offset */
	/* another source cluster, another connector: not ours */
	T_EQ_INT(mm2_connect_offset_decode(k, strlen(k), v, strlen(v), "B", topic,
	    sizeof(topic), &p, &next), 0);
	const char *ck = "[\"MirrorCheckpointConnector\",{\"partition\":0,\"topic\":\"A.x\","
	    "\"group\":\"g\"}]";
	T_EQ_INT(mm2_connect_offset_decode(ck, strlen(ck), v, strlen(v), "A", topic,
	    sizeof(topic), &p, &next), 0);
	/* a deleted entry */
	T_EQ_INT(mm2_connect_offset_decode(k, strlen(k), NULL, 0, "A", topic, sizeof(topic),
	    &p, &next), 1);
	T_EQ_INT(next, -1);
	/* garbage */
	T_EQ_INT(mm2_connect_offset_decode("[1,", 3, v, strlen(v), "A", topic, sizeof(topic),
	    &p, &next), -1);
	T_EQ_INT(mm2_connect_offset_decode(k, strlen(k), "{}", 2, "A", topic, sizeof(topic),
	    &p, &next), -1);
	T_EQ_INT(mm2_connect_offset_decode(k, strlen(k), v, strlen(v), "A", topic, 4, &p,
	    &next), -1);
}

int
main(void)
{
	T_RUN(test_offset_sync_example);
	T_RUN(test_checkpoint_example);
	T_RUN(test_heartbeat_example);
	T_RUN(test_round_trips);
	T_RUN(test_truncated);
	T_RUN(test_trailing_ignored);
	T_RUN(test_other_version);
	T_RUN(test_bad_strings);
	T_RUN(test_capacity);
	T_RUN(test_connect_offsets);
	return T_DONE();
}

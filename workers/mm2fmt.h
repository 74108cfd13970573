/*
 * mm2fmt.h: MM2's internal record formats (heartbeats, checkpoints, offset
 * syncs), byte-compatible with Apache Kafka MirrorMaker 2.
 *
 * Encoding (Kafka protocol Struct/Schema, non-flexible): INT16/INT32/INT64
 * big-endian two's complement; STRING = INT16 length N (0..32767) then N
 * bytes of UTF-8, never null.  A struct is its fields concatenated.
 *
 *   heartbeat    key:   STRING source, STRING target
 *                value: INT16 version (0), INT64 timestamp
 *   checkpoint   key:   STRING group, STRING topic, INT32 partition
 *                value: INT16 version (0), INT64 upstreamOffset,
 *                       INT64 offset, STRING metadata
 *   offset sync  key:   STRING topic, INT32 partition
 *                value: INT64 upstreamOffset, INT64 offset (no version)
 *
 * Encoders write into a caller buffer and return the byte count, or -1 if
 * the record does not fit, a string is NULL or longer than 32767 bytes.
 * Decoders return 0, or -1 on a short buffer, a negative string length, a
 * string too long for the output field or one holding a NUL byte.  Like
 * Java's Schema.read they ignore trailing bytes, and like Java they parse
 * any value version as version 0 (the version is reported in `version`).
 */
#ifndef KM_MM2FMT_H
#define KM_MM2FMT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MM2_STRING_MAX		32767	/* largest STRING payload, in bytes */
#define MM2_RECORD_VERSION	0	/* version written by Java MM2 */

/* Field sizes, each including the terminating NUL. */
#define MM2_ALIAS_MAX		256
#define MM2_TOPIC_MAX		256	/* Kafka topic names are <= 249 */
#define MM2_GROUP_MAX		1024
#define MM2_METADATA_MAX	8192

/* Fixed sizes of the integer-only parts. */
#define MM2_HEARTBEAT_VALUE_LEN		10	/* INT16 + INT64 */
#define MM2_OFFSET_SYNC_VALUE_LEN	16	/* INT64 + INT64 */

struct mm2_heartbeat {
	char	 source[MM2_ALIAS_MAX];
	char	 target[MM2_ALIAS_MAX];
	int16_t	 version;
	int64_t	 timestamp;
};

struct mm2_checkpoint {
	char	 group[MM2_GROUP_MAX];
	char	 topic[MM2_TOPIC_MAX];
	int32_t	 partition;
	int16_t	 version;
	int64_t	 upstream_offset;
	int64_t	 offset;
	char	 metadata[MM2_METADATA_MAX];
};

struct mm2_offset_sync {
	char	 topic[MM2_TOPIC_MAX];
	int32_t	 partition;
	int64_t	 upstream_offset;
	int64_t	 offset;
};

/* Heartbeat (topic "heartbeats"). */
ssize_t	mm2_heartbeat_key_encode(char *buf, size_t cap, const char *source,
	    const char *target);
ssize_t	mm2_heartbeat_value_encode(char *buf, size_t cap, int64_t timestamp_ms);
int	mm2_heartbeat_key_decode(const void *key, size_t keylen,
	    struct mm2_heartbeat *out);
int	mm2_heartbeat_value_decode(const void *val, size_t vallen,
	    struct mm2_heartbeat *out);
int	mm2_heartbeat_decode(const void *key, size_t keylen, const void *val,
	    size_t vallen, struct mm2_heartbeat *out);

/* Checkpoint (topic "<source>.checkpoints.internal").  A NULL metadata is
 * encoded as "", as Java's OffsetAndMetadata does. */
ssize_t	mm2_checkpoint_key_encode(char *buf, size_t cap, const char *group,
	    const char *topic, int32_t partition);
ssize_t	mm2_checkpoint_value_encode(char *buf, size_t cap,
	    int64_t upstream_offset, int64_t offset, const char *metadata);
int	mm2_checkpoint_key_decode(const void *key, size_t keylen,
	    struct mm2_checkpoint *out);
int	mm2_checkpoint_value_decode(const void *val, size_t vallen,
	    struct mm2_checkpoint *out);
int	mm2_checkpoint_decode(const void *key, size_t keylen, const void *val,
	    size_t vallen, struct mm2_checkpoint *out);

/* Offset sync (topic "mm2-offset-syncs.<alias>.internal"). */
ssize_t	mm2_offset_sync_key_encode(char *buf, size_t cap, const char *topic,
	    int32_t partition);
ssize_t	mm2_offset_sync_value_encode(char *buf, size_t cap,
	    int64_t upstream_offset, int64_t offset);
int	mm2_offset_sync_key_decode(const void *key, size_t keylen,
	    struct mm2_offset_sync *out);
int	mm2_offset_sync_value_decode(const void *val, size_t vallen,
	    struct mm2_offset_sync *out);
int	mm2_offset_sync_decode(const void *key, size_t keylen, const void *val,
	    size_t vallen, struct mm2_offset_sync *out);

/*
 * MM2's own progress in dedicated mode: a record of the Connect offsets topic
 * (mm2-offsets.<S>.internal), key ["MirrorSourceConnector",{"cluster":S,
 * "partition":P,"topic":T}], value {"offset":N} (N = last replicated
 * upstream offset) or null (deleted). Returns 1 and fills topic, partition
 * and *next (N + 1, or -1 for a deleted entry) for a source-connector record
 * of `source_alias`, 0 for any other record, -1 for one that is not JSON of
 * that shape.
 */
int	mm2_connect_offset_decode(const void *key, size_t keylen, const void *val,
	    size_t vallen, const char *source_alias, char *topic, size_t topiccap,
	    int32_t *partition, int64_t *next);

#endif

/*
 * translate.h: the checkpoint worker's in-memory offset-sync store and the
 * offset translation (pure: no Kafka, no I/O).
 *
 * A sync (up, down) says: source record `up` is at target offset `down`.
 * Per source partition the store keeps a sorted run of syncs; each one
 * carries `linked`: the link to the next kept sync is PROVEN, i.e. every
 * replicated source record u with this.up <= u < next.up landed at
 * this.down + (u - this.up) (docs/source-worker.md, "the exact translation
 * rule"). A link is proven when the two syncs were consecutive for the
 * partition in the offset-syncs topic and no record of that topic was
 * missing in between (a gap there, from compaction or retention, may have
 * hidden a sync).
 *
 * Translation of a group offset g (the next record to read), with s the
 * newest kept sync at or before g and n the one after it:
 *   g == s.up                -> s.down                          EXACT
 *   s linked to n            -> min(s.down + (g - s.up), n.down) EXACT
 *   s proven, deltas differ  -> min(max(s.down + 1, g + mindelta), n.down)
 *                               (syncs thinned out: every record there
 *                               lies at or after u + mindelta)
 *   otherwise                -> s.down + 1 (MM2's rule: at-least-once)
 *                               EXACT if g == s.up + 1, else CONSERVATIVE
 *   no sync at or before g   -> no translation (MM2: no checkpoint)
 * The result is never past the newest sync's down + 1, i.e. never past
 * what has been replicated.
 *
 * Memory is bounded: the newest `dense` syncs of a partition are kept
 * (adjacent collinear proven syncs merge without loss); older ones are
 * thinned to one per power-of-two distance from the newest, as MM2's
 * OffsetSyncStore keeps them, plus the oldest.
 */
#ifndef KM_TRANSLATE_H
#define KM_TRANSLATE_H
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

#define TR_DENSE_DEFAULT 256	/* newest syncs kept as they are */

/* Result of a translation. */
enum tr_kind {
	TR_NONE,		/* untranslatable: no checkpoint */
	TR_EXACT,		/* the group resumes exactly where it stopped */
	TR_CONSERVATIVE,	/* MM2's rule: may re-read some records */
	TR__COUNT
};
extern const char *const tr_kind_names[TR__COUNT];

struct tr_sync {
	int64_t up;
	int64_t down;
	int64_t mindelta;	/* least down - up of the syncs merged here */
	int     proven;		/* no sync can hide before the next kept one */
	int     linked;		/* proven, and one delta up to the next: exact */
};

/* The syncs of one source partition, ascending in up and in down. */
struct tr_part {
	struct tr_sync *v;
	uint32_t        n, cap;
	uint32_t        epoch;	/* store epoch when the newest sync was read */
	uint32_t        dense;
};

struct tr_store {
	struct hmap parts;	/* "topic/partition" -> struct tr_part */
	uint32_t    epoch;	/* bumped on every gap in the syncs topic */
	int64_t     next_log_offset;	/* of the syncs topic; -1: none read */
	uint32_t    dense;
	long long   syncs;	/* syncs added */
	long long   gaps;	/* gaps seen in the syncs topic */
	long long   resets;	/* partitions restarted by a rewind */
};

/* One partition (for the store and the unit tests). */
void tr_part_init(struct tr_part *p, uint32_t dense);
void tr_part_free(struct tr_part *p);
int  tr_part_add(struct tr_part *p, int64_t up, int64_t down, int proven);
enum tr_kind tr_part_translate(const struct tr_part *p, int64_t g,
         int64_t *down);

/* The store of a flow. */
void tr_store_init(struct tr_store *s, uint32_t dense);
void tr_store_free(struct tr_store *s);
int  tr_store_add(struct tr_store *s, int64_t log_offset, const char *topic,
         int32_t partition, int64_t up, int64_t down);
enum tr_kind tr_translate(const struct tr_store *s, const char *topic,
         int32_t partition, int64_t g, int64_t *down);
size_t tr_store_bytes(const struct tr_store *s);

#endif

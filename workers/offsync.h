/*
 * offsync.h: when the source worker writes an offset sync for a partition.
 * See docs/source-worker.md, "Offset syncs: the exact translation rule".
 */
#ifndef KM_OFFSYNC_H
#define KM_OFFSYNC_H
#include <stdint.h>

struct offsync_state {
	int     have;		/* a record was seen since (re)start */
	int64_t prev_up;	/* last replicated record */
	int64_t prev_down;
	int64_t last_sync_ms;
	int     tail_pending;	/* prev record is not covered by a sync */
};

void offsync_reset(struct offsync_state *st);
int  offsync_on_record(struct offsync_state *st, int64_t up, int64_t down,
         int64_t now_ms, int64_t interval_ms);
int  offsync_take_tail(struct offsync_state *st, int64_t *up, int64_t *down);

#endif

/*
 * offsync.c: the offset-sync emission rule.
 *
 * A sync (up, down) is written for a replicated record when it is the first
 * since the partition was (re)started, when down - up differs from the
 * previous record's, or when interval_ms passed since the last sync. Between
 * two syncs the delta is therefore constant, which proves the records there
 * contiguous on both sides, so the checkpoint worker can translate exactly.
 * The last record of a burst is synced too once the partition pauses (the
 * "tail"), so the newest replicated position is always provable.
 */
#include <string.h>
#include "offsync.h"

void
offsync_reset(struct offsync_state *st)
{
	memset(st, 0, sizeof(*st));
}

/* Record (up, down) was replicated; 1 if a sync must be written for it. */
int
offsync_on_record(struct offsync_state *st, int64_t up, int64_t down,
    int64_t now_ms, int64_t interval_ms)
{
	int emit = !st->have || down - up != st->prev_down - st->prev_up ||
	    now_ms - st->last_sync_ms >= interval_ms;

	st->have = 1;
	st->prev_up = up;
	st->prev_down = down;
	st->tail_pending = !emit;
	if (emit)
		st->last_sync_ms = now_ms;
	return emit;
}

/* The partition paused: 1 and the last record if it still needs a sync. */
int
offsync_take_tail(struct offsync_state *st, int64_t *up, int64_t *down)
{
	if (!st->tail_pending)
		return 0;
	st->tail_pending = 0;
	*up = st->prev_up;
	*down = st->prev_down;
	return 1;
}

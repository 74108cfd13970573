/*
 * restart.c: restart decisions. The backoff starts at initial_delay_ms and
 * doubles up to max_delay_ms, with +-jitter_pct; a worker that stayed up for
 * stable_after_ms starts over with a clean history; max_failures within
 * failure_window_ms makes the slot FAILED; exit 78 is never respawned.
 */
#include <string.h>
#include "restart.h"

void
restart_init(struct restart_state *st, const struct km_restart_conf *rc)
{
	memset(st, 0, sizeof(*st));
	st->delay_ms = rc->initial_delay_ms;
}

void
restart_note_start(struct restart_state *st, int64_t now_ms)
{
	st->started_at = now_ms;
}

/* Clear the history: after SIGHUP, a cooldown or a stable period. */
void
restart_reset(struct restart_state *st, const struct km_restart_conf *rc)
{
	st->nfail = 0;
	st->delay_ms = rc->initial_delay_ms;
}

enum restart_action
restart_decide(struct restart_state *st, const struct km_restart_conf *rc,
    enum restart_exit how, int64_t now_ms, double rand01, int64_t *delay_ms)
{
	int64_t d;
	int recent = 0;

	*delay_ms = 0;
	if (how == RESTART_EXIT_CONFIG)
		return RESTART_ACT_GIVE_UP;
	if (now_ms - st->started_at >= rc->stable_after_ms)
		restart_reset(st, rc);

	/* remember this failure, dropping the oldest when full */
	if (st->nfail == RESTART_HISTORY) {
		memmove(st->fail_at, st->fail_at + 1,
		    (RESTART_HISTORY - 1) * sizeof(st->fail_at[0]));
		st->nfail--;
	}
	st->fail_at[st->nfail++] = now_ms;
	for (int i = 0; i < st->nfail; i++)
		if (now_ms - st->fail_at[i] < rc->failure_window_ms)
			recent++;
	if (recent >= rc->max_failures)
		return RESTART_ACT_FAILED;

	d = st->delay_ms;
	if (rc->jitter_pct > 0) {
		double j = (rand01 * 2.0 - 1.0) * rc->jitter_pct / 100.0;
		d = (int64_t)((double)d * (1.0 + j));
	}
	if (d < 0)
		d = 0;
	*delay_ms = d;
	st->delay_ms = st->delay_ms * 2 > rc->max_delay_ms ? rc->max_delay_ms :
	    st->delay_ms * 2;
	st->restarts++;
	return RESTART_ACT_RESPAWN;
}

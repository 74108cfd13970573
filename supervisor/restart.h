/*
 * restart.h: when to restart a worker slot, decided from the exit and the
 * slot's history alone, with the clock and the randomness passed in so the
 * decisions can be tested.
 */
#ifndef KM_RESTART_H
#define KM_RESTART_H
#include <stdint.h>
#include "config.h"

#define RESTART_HISTORY 64

/* How a worker ended. */
enum restart_exit {
	RESTART_EXIT_CLEAN,	/* exit 0 when not asked to stop */
	RESTART_EXIT_CRASH,	/* non-zero exit or a signal */
	RESTART_EXIT_HUNG,	/* killed by us for missing STATUS */
	RESTART_EXIT_CONFIG	/* exit 78: do not respawn */
};

/* What to do with the slot. */
enum restart_action {
	RESTART_ACT_RESPAWN,	/* after *delay_ms */
	RESTART_ACT_FAILED,	/* crash loop: wait for SIGHUP or cooldown */
	RESTART_ACT_GIVE_UP	/* exit 78 */
};

struct restart_state {
	int64_t  fail_at[RESTART_HISTORY];	/* times of recent failures, ms */
	int      nfail;
	int64_t  delay_ms;			/* next backoff before jitter */
	int64_t  started_at;			/* last spawn, ms */
	unsigned restarts;			/* total respawns, for status */
};

void restart_init(struct restart_state *st, const struct km_restart_conf *rc);
void restart_note_start(struct restart_state *st, int64_t now_ms);
enum restart_action restart_decide(struct restart_state *st,
        const struct km_restart_conf *rc, enum restart_exit how, int64_t now_ms,
        double rand01, int64_t *delay_ms);
void restart_reset(struct restart_state *st, const struct km_restart_conf *rc);

#endif

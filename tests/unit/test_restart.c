/*
 * test_restart.c: restart decisions of a worker slot with an injected clock
 * and randomness: exponential backoff with jitter, the stable-period reset,
 * the failure-window breaker (FAILED), exit 78 and the respawn counter.
 */
#include <stdint.h>
#include <string.h>

#include "t.h"
#include "restart.h"

/* The documented defaults: 1 s doubling to 60 s, +-20%, stable after 60 s,
 * 5 failures within 10 minutes. */
static const struct km_restart_conf RC = {
	.initial_delay_ms = 1000,
	.max_delay_ms = 60000,
	.stable_after_ms = 60000,
	.max_failures = 5,
	.failure_window_ms = 600000,
	.failed_cooldown_ms = 0,
	.jitter_pct = 20,
};

/* Spawn at *now, run for run_ms, end as `how`; the clock moves on. */
static enum restart_action
run_and_fail(struct restart_state *st, const struct km_restart_conf *rc,
    int64_t *now, int64_t run_ms, enum restart_exit how, double rand01,
    int64_t *delay)
{
	restart_note_start(st, *now);
	*now += run_ms;
	enum restart_action a = restart_decide(st, rc, how, *now, rand01, delay);
	if (a == RESTART_ACT_RESPAWN)
		*now += *delay;
	return a;
}

static void
test_first_delays_default_conf(void)
{
	struct restart_state st;
	int64_t now = 1000000, delay = -1;
	static const int64_t want[4] = { 1000, 2000, 4000, 8000 };

	restart_init(&st, &RC);
	T_EQ_INT(st.delay_ms, 1000);
	T_EQ_INT(st.restarts, 0);
	for (int i = 0; i < 4; i++) {
		T_EQ_INT(run_and_fail(&st, &RC, &now, 50, RESTART_EXIT_CRASH, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
		T_EQ_INT(delay, want[i]);
		T_EQ_INT(st.restarts, i + 1);
	}
}

/* Doubling up to the cap: with the breaker out of the way (max_failures
 * high), delays go 1, 2, 4, ... 32 s, then stay at 60 s. */
static void
test_doubling_to_cap(void)
{
	struct km_restart_conf rc = RC;
	struct restart_state st;
	int64_t now = 0, delay;
	static const int64_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000,
	    60000, 60000, 60000, 60000 };

	rc.max_failures = 1000;
	restart_init(&st, &rc);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		delay = -1;
		T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
		T_EQ_INT(delay, want[i]);
	}
	T_EQ_INT(st.delay_ms, 60000);
	T_EQ_INT(st.restarts, 10);
}

/* A max that is not a power-of-two multiple of the initial delay. */
static void
test_cap_not_power_of_two(void)
{
	struct km_restart_conf rc = RC;
	struct restart_state st;
	int64_t now = 0, delay;
	static const int64_t want[] = { 300, 600, 1200, 2000, 2000 };

	rc.initial_delay_ms = 300;
	rc.max_delay_ms = 2000;
	rc.max_failures = 100;
	rc.jitter_pct = 0;
	restart_init(&st, &rc);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.9,
		    &delay), RESTART_ACT_RESPAWN);
		T_EQ_INT(delay, want[i]);
	}
}

static void
test_jitter_bounds(void)
{
	struct km_restart_conf rc = RC;
	struct restart_state st;
	int64_t now = 0, delay;

	rc.max_failures = 1000;
	/* rand01 = 0: -20%; 1: +20%; the backoff itself is not jittered */
	restart_init(&st, &rc);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 800);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 1.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 2400);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 3200);
	T_EQ_INT(st.delay_ms, 8000);

	/* at the cap */
	for (int i = 0; i < 10; i++)
		run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.5, &delay);
	T_EQ_INT(delay, 60000);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 48000);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 1.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 72000);

	/* anything in between stays within +-20% */
	for (int i = 0; i <= 100; i++) {
		double r = i / 100.0;
		struct restart_state s2;
		int64_t t = 0;
		restart_init(&s2, &rc);
		T_EQ_INT(run_and_fail(&s2, &rc, &t, 10, RESTART_EXIT_CRASH, r,
		    &delay), RESTART_ACT_RESPAWN);
		T_CHECK(delay >= 800 && delay <= 1200);
		if (i > 50)
			T_CHECK(delay >= 1000);
		if (i < 50)
			T_CHECK(delay <= 1000);
	}

	/* no jitter configured: the random number does not matter */
	rc.jitter_pct = 0;
	restart_init(&st, &rc);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 1000);
	T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 1.0, &delay),
	    RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 2000);
}

static void
test_exit_config_gives_up(void)
{
	struct restart_state st;
	int64_t now = 5000, delay = 123;

	restart_init(&st, &RC);
	restart_note_start(&st, now);
	T_EQ_INT(restart_decide(&st, &RC, RESTART_EXIT_CONFIG, now + 10, 0.5,
	    &delay), RESTART_ACT_GIVE_UP);
	T_EQ_INT(delay, 0);
	T_EQ_INT(st.restarts, 0);
	T_EQ_INT(st.nfail, 0);
	/* even after a long stable run */
	restart_note_start(&st, now);
	T_EQ_INT(restart_decide(&st, &RC, RESTART_EXIT_CONFIG, now + 3600000, 0.5,
	    &delay), RESTART_ACT_GIVE_UP);
	/* and in the middle of a crash loop */
	for (int i = 0; i < 3; i++)
		run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5, &delay);
	restart_note_start(&st, now);
	T_EQ_INT(restart_decide(&st, &RC, RESTART_EXIT_CONFIG, now + 10, 0.5,
	    &delay), RESTART_ACT_GIVE_UP);
	T_EQ_INT(st.restarts, 3);
}

static void
test_breaker_trips(void)
{
	struct restart_state st;
	int64_t now = 0, delay;

	restart_init(&st, &RC);
	for (int i = 0; i < 4; i++)
		T_EQ_INT(run_and_fail(&st, &RC, &now, 100, RESTART_EXIT_CRASH, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	delay = 99;
	T_EQ_INT(run_and_fail(&st, &RC, &now, 100, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_FAILED);
	T_EQ_INT(delay, 0);
	T_EQ_INT(st.restarts, 4);	/* FAILED is not a respawn */

	/* hangs and clean exits count as failures as well */
	restart_init(&st, &RC);
	now = 0;
	static const enum restart_exit hows[5] = { RESTART_EXIT_HUNG,
	    RESTART_EXIT_CLEAN, RESTART_EXIT_CRASH, RESTART_EXIT_HUNG,
	    RESTART_EXIT_CLEAN };
	for (int i = 0; i < 5; i++)
		T_EQ_INT(run_and_fail(&st, &RC, &now, 100, hows[i], 0.5, &delay),
		    i < 4 ? RESTART_ACT_RESPAWN : RESTART_ACT_FAILED);
}

/* A worker that dies every 59 s (never stable) still trips the breaker:
 * five failures fit in the ten-minute window. */
static void
test_breaker_slow_crash_loop(void)
{
	struct restart_state st;
	int64_t now = 0, delay;
	int i;

	restart_init(&st, &RC);
	for (i = 0; i < 10; i++)
		if (run_and_fail(&st, &RC, &now, 59000, RESTART_EXIT_CRASH, 0.5,
		    &delay) != RESTART_ACT_RESPAWN)
			break;
	T_EQ_INT(i, 4);	/* the fifth failure */
}

/* Failures further apart than the window never trip the breaker. The
 * stable period is made longer than the gaps, so that only the window
 * decides (with the default stable period these workers would count as
 * stable and start over anyway). */
static void
test_breaker_spread_failures(void)
{
	struct km_restart_conf rc = RC;
	struct restart_state st;
	int64_t now = 0, delay;

	rc.stable_after_ms = 86400000;
	restart_init(&st, &rc);
	/* one failure every 150.001 s: four in any 600 s window */
	for (int i = 0; i < 40; i++) {
		restart_note_start(&st, now);
		now += 150001;
		T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, now, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	}
	T_EQ_INT(st.restarts, 40);
	/* one more soon after: five within the window */
	restart_note_start(&st, now);
	now += 1000;
	T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, now, 0.5, &delay),
	    RESTART_ACT_FAILED);

	/* edge: the oldest of five just inside the window */
	restart_init(&st, &rc);
	int64_t t0 = 1000000;
	for (int i = 0; i < 4; i++) {
		restart_note_start(&st, t0 + i);
		T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, t0 + i, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	}
	restart_note_start(&st, t0 + 599999);
	T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, t0 + 599999, 0.5,
	    &delay), RESTART_ACT_FAILED);
	/* and just outside */
	restart_init(&st, &rc);
	for (int i = 0; i < 4; i++) {
		restart_note_start(&st, t0 + i);
		T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, t0 + i, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	}
	restart_note_start(&st, t0 + 600001);
	T_EQ_INT(restart_decide(&st, &rc, RESTART_EXIT_CRASH, t0 + 600001, 0.5,
	    &delay), RESTART_ACT_RESPAWN);
}

/* A worker that stayed up for stable_after_ms starts over at the initial
 * delay with a clean history. */
static void
test_stable_resets(void)
{
	struct restart_state st;
	int64_t now = 0, delay;

	restart_init(&st, &RC);
	for (int i = 0; i < 4; i++)
		run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5, &delay);
	T_EQ_INT(delay, 8000);
	/* up for 59.999 s: not stable, the history is kept: fifth failure */
	T_EQ_INT(run_and_fail(&st, &RC, &now, 59999, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_FAILED);

	restart_init(&st, &RC);
	now = 0;
	for (int i = 0; i < 3; i++)
		run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5, &delay);
	T_EQ_INT(delay, 4000);
	T_EQ_INT(run_and_fail(&st, &RC, &now, 59999, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 8000);
	/* up for exactly stable_after_ms: back to 1 s */
	T_EQ_INT(run_and_fail(&st, &RC, &now, 60000, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 1000);
	/* the earlier failures are forgotten: four more quick ones are fine,
	 * the fifth since the reset trips the breaker */
	for (int i = 0; i < 3; i++)
		T_EQ_INT(run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 8000);
	T_EQ_INT(run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_FAILED);
	T_EQ_INT(st.restarts, 8);
}

static void
test_reset_after_failed(void)
{
	struct restart_state st;
	int64_t now = 0, delay;

	restart_init(&st, &RC);
	for (int i = 0; i < 5; i++)
		run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5, &delay);
	T_EQ_INT(st.restarts, 4);
	/* FAILED keeps failing while nobody resets it */
	T_EQ_INT(run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_FAILED);

	/* SIGHUP or the cooldown: a fresh start at the initial delay */
	restart_reset(&st, &RC);
	T_EQ_INT(st.nfail, 0);
	T_EQ_INT(st.delay_ms, 1000);
	T_EQ_INT(run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 1000);
	T_EQ_INT(run_and_fail(&st, &RC, &now, 10, RESTART_EXIT_CRASH, 0.5,
	    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(delay, 2000);
	/* the total survives the reset: it is what status shows */
	T_EQ_INT(st.restarts, 6);
}

/* Long crash loops: the history is bounded and the breaker still works
 * when max_failures is as large as the history. */
static void
test_history_bounded(void)
{
	struct km_restart_conf rc = RC;
	struct restart_state st;
	int64_t now = 0, delay;
	int i;

	rc.max_failures = 1000000;	/* never trips */
	rc.jitter_pct = 0;
	restart_init(&st, &rc);
	for (i = 0; i < 3 * RESTART_HISTORY; i++)
		T_EQ_INT(run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.5,
		    &delay), RESTART_ACT_RESPAWN);
	T_EQ_INT(st.nfail, RESTART_HISTORY);
	T_EQ_INT(st.restarts, 3 * RESTART_HISTORY);

	rc.max_failures = RESTART_HISTORY;
	rc.max_delay_ms = 10;
	rc.initial_delay_ms = 10;
	restart_init(&st, &rc);
	now = 0;
	for (i = 0; i < 2 * RESTART_HISTORY; i++)
		if (run_and_fail(&st, &rc, &now, 10, RESTART_EXIT_CRASH, 0.5,
		    &delay) == RESTART_ACT_FAILED)
			break;
	T_EQ_INT(i, RESTART_HISTORY - 1);
}

int
main(void)
{
	T_RUN(test_first_delays_default_conf);
	T_RUN(test_doubling_to_cap);
	T_RUN(test_cap_not_power_of_two);
	T_RUN(test_jitter_bounds);
	T_RUN(test_exit_config_gives_up);
	T_RUN(test_breaker_trips);
	T_RUN(test_breaker_slow_crash_loop);
	T_RUN(test_breaker_spread_failures);
	T_RUN(test_stable_resets);
	T_RUN(test_reset_after_failed);
	T_RUN(test_history_bounded);
	return T_DONE();
}

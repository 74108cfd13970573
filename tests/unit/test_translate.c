/*
 * test_translate.c: the offset-sync store and offset translation: MM2's
 * cases (mm2-facts.md §4.4, §4.5), exact translation where the syncs prove
 * contiguity, gaps from compaction, transaction markers on either side and
 * aborted transactions, gaps in the offset-syncs topic, rewinds, bounded
 * memory, and a randomised model of the source worker (workers/offsync.c)
 * checking that a translation never skips a record and that an EXACT one
 * never repeats one.
 */
#include <stdint.h>
#include <string.h>

#include "t.h"
#include "offsync.h"
#include "translate.h"

static int64_t
tx(const struct tr_part *p, int64_t g, enum tr_kind want)
{
	int64_t d = -777;
	enum tr_kind k = tr_part_translate(p, g, &d);

	if (k != want) {
		fprintf(stderr, "  g=%lld: kind %s, expected %s\n", (long long)g,
		    tr_kind_names[k], tr_kind_names[want]);
		t_failed_checks++;
	}
	return d;
}

/* §4.5 steps 1-4: nothing to translate with. */
static void
test_no_syncs_or_too_old(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tx(&p, 0, TR_NONE);
	tx(&p, 100, TR_NONE);
	tr_part_add(&p, 50, 10, 0);
	tx(&p, 49, TR_NONE);		/* older than every sync: -1, no checkpoint */
	tx(&p, -1, TR_NONE);
	tr_part_free(&p);
}

/* §4.5 steps 5-6 with a single sync: equal is exact, after is +1. */
static void
test_mm2_rule_single_sync(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 100, 40, 0);
	T_EQ_INT(tx(&p, 100, TR_EXACT), 40);
	T_EQ_INT(tx(&p, 101, TR_EXACT), 41);	/* the next record after 100 */
	/* beyond the newest sync: never past what was replicated */
	T_EQ_INT(tx(&p, 150, TR_CONSERVATIVE), 41);
	T_EQ_INT(tx(&p, 1000000, TR_CONSERVATIVE), 41);
	tr_part_free(&p);
}

/* Two syncs not known to be consecutive: MM2's +1 between them. */
static void
test_unproven_link_is_mm2(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 100, 100, 0);	/* not proven */
	T_EQ_INT(tx(&p, 0, TR_EXACT), 0);
	T_EQ_INT(tx(&p, 1, TR_EXACT), 1);
	T_EQ_INT(tx(&p, 50, TR_CONSERVATIVE), 1);
	T_EQ_INT(tx(&p, 100, TR_EXACT), 100);
	T_EQ_INT(tx(&p, 101, TR_EXACT), 101);
	tr_part_free(&p);
}

/* Proven link: exact in between, capped at the next sync. */
static void
test_proven_link_exact(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 100, 100, 1);
	for (int64_t g = 0; g <= 101; g++)
		T_EQ_INT(tx(&p, g, TR_EXACT), g);
	tr_part_free(&p);
}

/*
 * Target transaction markers (every kmirror commit adds one): source 0..9
 * at 0..9, marker at 10, source 10..19 at 11..20, marker at 21. Syncs as
 * the source worker writes them: first, tail, delta change, tail.
 */
static void
test_target_markers(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 9, 9, 1);
	tr_part_add(&p, 10, 11, 1);
	tr_part_add(&p, 19, 20, 1);
	for (int64_t g = 0; g <= 9; g++)
		T_EQ_INT(tx(&p, g, TR_EXACT), g);
	T_EQ_INT(tx(&p, 10, TR_EXACT), 11);
	T_EQ_INT(tx(&p, 15, TR_EXACT), 16);
	T_EQ_INT(tx(&p, 19, TR_EXACT), 20);
	T_EQ_INT(tx(&p, 20, TR_EXACT), 21);	/* after the tail: the marker */
	T_EQ_INT(tx(&p, 25, TR_CONSERVATIVE), 21);	/* not replicated yet */
	/* (9,9) lay on the segment of (0,0): merged without loss */
	T_EQ_INT(p.n, 3);
	tr_part_free(&p);
}

/* Compaction on the source: 5..9 gone; 10..14 land at 5..9. */
static void
test_source_compaction_gap(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 4, 4, 1);
	tr_part_add(&p, 10, 5, 1);
	tr_part_add(&p, 14, 9, 1);
	T_EQ_INT(tx(&p, 4, TR_EXACT), 4);
	T_EQ_INT(tx(&p, 5, TR_EXACT), 5);	/* next record is 10, at 5 */
	T_EQ_INT(tx(&p, 7, TR_EXACT), 5);	/* never past it (the old rule gave 7) */
	T_EQ_INT(tx(&p, 10, TR_EXACT), 5);
	T_EQ_INT(tx(&p, 12, TR_EXACT), 7);
	T_EQ_INT(tx(&p, 15, TR_EXACT), 10);
	tr_part_free(&p);
}

/*
 * A transactional source: 0..4 committed, marker 5, 6..9 committed,
 * marker 10, 11..15 aborted, marker 16, 17..19 committed. Replicated
 * read_committed in one kmirror transaction: 0..4 at 0..4, 6..9 at 5..8,
 * 17..19 at 9..11, marker 12.
 */
static void
test_source_markers_and_aborts(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 6, 5, 1);
	tr_part_add(&p, 17, 9, 1);
	tr_part_add(&p, 19, 11, 1);
	T_EQ_INT(tx(&p, 5, TR_EXACT), 5);
	T_EQ_INT(tx(&p, 6, TR_EXACT), 5);
	T_EQ_INT(tx(&p, 9, TR_EXACT), 8);
	T_EQ_INT(tx(&p, 11, TR_EXACT), 9);	/* skipped the aborted ones */
	T_EQ_INT(tx(&p, 17, TR_EXACT), 9);
	T_EQ_INT(tx(&p, 20, TR_EXACT), 12);
	/* a consumer past the final marker: right, but unproven */
	T_EQ_INT(tx(&p, 21, TR_CONSERVATIVE), 12);
	tr_part_free(&p);
}

/* Rewinds restart the partition (MM2 refills its array). */
static void
test_rewind_resets(void)
{
	struct tr_part p;

	tr_part_init(&p, 0);
	tr_part_add(&p, 0, 0, 0);
	tr_part_add(&p, 100, 100, 1);
	T_EQ_INT(tr_part_add(&p, 100, 100, 1), 1);	/* a repeat */
	T_EQ_INT(tr_part_add(&p, 50, 300, 1), 2);	/* upstream rewind */
	T_EQ_INT(p.n, 1);
	tx(&p, 49, TR_NONE);
	T_EQ_INT(tx(&p, 50, TR_EXACT), 300);
	T_EQ_INT(tr_part_add(&p, 60, 200, 1), 2);	/* downstream rewind */
	T_EQ_INT(tx(&p, 60, TR_EXACT), 200);
	tx(&p, 50, TR_NONE);
	tr_part_free(&p);
}

/* A gap in the offset-syncs topic (compaction) makes links unproven. */
static void
test_store_syncs_topic_gap(void)
{
	struct tr_store s;
	int64_t d;

	tr_store_init(&s, 0);
	tr_store_add(&s, 0, "t", 0, 0, 0);
	tr_store_add(&s, 1, "u", 3, 0, 0);
	tr_store_add(&s, 2, "t", 0, 100, 100);	/* consecutive: proven */
	T_EQ_INT(tr_translate(&s, "t", 0, 50, &d), TR_EXACT);
	T_EQ_INT(d, 50);
	tr_store_add(&s, 5, "t", 0, 200, 200);	/* 3, 4 removed */
	T_EQ_INT(s.gaps, 1);
	T_EQ_INT(tr_translate(&s, "t", 0, 150, &d), TR_CONSERVATIVE);
	T_EQ_INT(d, 101);
	tr_store_add(&s, 6, "t", 0, 300, 300);
	T_EQ_INT(tr_translate(&s, "t", 0, 250, &d), TR_EXACT);
	T_EQ_INT(d, 250);
	/* a partition whose previous sync came before the gap */
	tr_store_add(&s, 7, "u", 3, 10, 10);
	T_EQ_INT(tr_translate(&s, "u", 3, 5, &d), TR_CONSERVATIVE);
	T_EQ_INT(d, 1);
	T_EQ_INT(tr_translate(&s, "v", 0, 5, &d), TR_NONE);
	T_CHECK(tr_store_bytes(&s) > 0);
	tr_store_free(&s);
}

/* ------------------------------------------------------------ the model */

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define M_N 20000

/* pos[u]: target offset of source record u, or -1 if u is not a record
 * that got replicated (compacted, a marker, aborted, filtered). */
static int64_t pos[M_N];
static int64_t tgt_end;

/*
 * Replicate offsets 0..M_N-1 like the source worker: records in
 * transactions (each commit adds a target marker), syncs by offsync.c
 * (first, delta change, interval, tail), sometimes a new shard owner.
 */
static void
model_run(struct tr_part *p, int gap_pct, int interval)
{
	struct offsync_state st;
	int64_t down = 0, clock = 0, up, dn;
	int in_txn = 0;

	offsync_reset(&st);
	for (int64_t u = 0; u < M_N; u++) {
		pos[u] = -1;
		if ((int)(rnd() % 100) < gap_pct)
			continue;
		pos[u] = down++;
		clock++;
		if (offsync_on_record(&st, u, pos[u], clock, interval))
			tr_part_add(p, u, pos[u], 1);
		if (++in_txn >= 1 + (int)(rnd() % 40)) {
			down++;		/* the commit marker */
			in_txn = 0;
			if (offsync_take_tail(&st, &up, &dn))
				tr_part_add(p, up, dn, 1);
			if (rnd() % 50 == 0)
				offsync_reset(&st);	/* a new shard owner */
		}
	}
	if (offsync_take_tail(&st, &up, &dn))
		tr_part_add(p, up, dn, 1);
	tgt_end = down;
}

/* For every g: never skip a record; EXACT never repeats one. */
static void
model_check(const struct tr_part *p, int want_all_exact, int *nexact, int *ncons)
{
	int64_t last_up = -1, prev_pos = -1, next_pos;
	int bad = 0;

	for (int64_t u = M_N - 1; u >= 0 && last_up < 0; u--)
		if (pos[u] >= 0)
			last_up = u;
	*nexact = *ncons = 0;
	for (int64_t g = 0; g <= last_up + 1 && bad < 5; g++) {
		int64_t d = -1;
		enum tr_kind k = tr_part_translate(p, g, &d);
		if (g > 0 && pos[g - 1] >= 0)
			prev_pos = pos[g - 1];
		next_pos = tgt_end;
		for (int64_t u = g; u <= last_up; u++)
			if (pos[u] >= 0) {
				next_pos = pos[u];
				break;
			}
		if (k == TR_NONE) {
			if (g >= p->v[0].up) {
				fprintf(stderr, "  g=%lld untranslatable\n", (long long)g);
				bad++;
			}
			continue;
		}
		if (d > next_pos) {
			fprintf(stderr, "  g=%lld -> %lld skips the record at %lld\n",
			    (long long)g, (long long)d, (long long)next_pos);
			bad++;
		}
		if (k == TR_EXACT && d <= prev_pos) {
			fprintf(stderr, "  g=%lld -> %lld EXACT repeats the record at %lld\n",
			    (long long)g, (long long)d, (long long)prev_pos);
			bad++;
		}
		if (want_all_exact && k != TR_EXACT) {
			fprintf(stderr, "  g=%lld not exact\n", (long long)g);
			bad++;
		}
		(k == TR_EXACT ? (*nexact)++ : (*ncons)++);
	}
	T_EQ_INT(bad, 0);
}

/* Everything kept: every offset from the first sync on is exact. */
static void
test_model_exact_everywhere(void)
{
	int gaps[] = { 0, 3, 30, 80 };
	int ne, nc;

	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		struct tr_part p;
		tr_part_init(&p, 1000000);
		model_run(&p, gaps[i], 1000);
		model_check(&p, 1, &ne, &nc);
		T_EQ_INT(nc, 0);
		tr_part_free(&p);
	}
}

/* Thinned to a few syncs: memory stays bounded, nothing is ever skipped,
 * recent offsets stay exact. */
static void
test_model_thinned_is_safe(void)
{
	int gaps[] = { 0, 5, 50 };
	int ne, nc;

	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		struct tr_part p;
		tr_part_init(&p, 16);
		model_run(&p, gaps[i], 7);
		T_CHECK(p.n <= 16 + 8 + 66);
		model_check(&p, 0, &ne, &nc);
		T_CHECK(ne > 0);
		T_CHECK(nc > 0);
		/* the newest offsets are exact */
		int64_t d;
		T_EQ_INT(tr_part_translate(&p, p.v[p.n - 1].up + 1, &d), TR_EXACT);
		T_EQ_INT(tr_part_translate(&p, p.v[p.n - 2].up + 1, &d), TR_EXACT);
		tr_part_free(&p);
	}
}

/* MM2's illustration: syncs at every offset 0..1000 keep exponentially
 * spaced older ones, and the oldest. */
static void
test_thinning_shape(void)
{
	struct tr_part p;

	tr_part_init(&p, 8);
	for (int64_t u = 0; u <= 1000; u++)
		tr_part_add(&p, u, 2 * u, 1);	/* delta changes every time */
	T_CHECK(p.n < 8 + 4 + 66);
	T_EQ_INT(p.v[0].up, 0);
	T_EQ_INT(p.v[p.n - 1].up, 1000);
	for (uint32_t i = 1; i < p.n; i++)
		T_CHECK(p.v[i].up > p.v[i - 1].up);
	/* a sparse stretch: MM2's +1 */
	int64_t d;
	T_EQ_INT(tr_part_translate(&p, 500, &d) != TR_NONE, 1);
	T_CHECK(d <= 1000);
	tr_part_free(&p);
}

/* Thinned syncs of a plain topic (target markers only): far better than
 * MM2's +1, never past the record. */
static void
test_thinned_uses_least_delta(void)
{
	struct tr_part p;
	int64_t d;

	tr_part_init(&p, 8);
	for (int64_t i = 0; i <= 300; i++)
		tr_part_add(&p, 10 * i, 11 * i, 1);	/* a marker every 10 records */
	T_EQ_INT(tr_part_translate(&p, 1005, &d), TR_CONSERVATIVE);
	T_CHECK(d <= 1105);		/* record 1005 is at 1105 */
	T_CHECK(d >= 1000);		/* MM2 would give the kept sync's down + 1 */
	T_EQ_INT(tr_part_translate(&p, 2995, &d), TR_EXACT);	/* dense part */
	T_EQ_INT(d, 2995 + 299);
	tr_part_free(&p);
}

int
main(void)
{
	T_RUN(test_no_syncs_or_too_old);
	T_RUN(test_mm2_rule_single_sync);
	T_RUN(test_unproven_link_is_mm2);
	T_RUN(test_proven_link_exact);
	T_RUN(test_target_markers);
	T_RUN(test_source_compaction_gap);
	T_RUN(test_source_markers_and_aborts);
	T_RUN(test_rewind_resets);
	T_RUN(test_store_syncs_topic_gap);
	T_RUN(test_model_exact_everywhere);
	T_RUN(test_model_thinned_is_safe);
	T_RUN(test_thinning_shape);
	T_RUN(test_thinned_uses_least_delta);
	return T_DONE();
}

/*
 * source.c: the source role: copy records of the flow's source topics to
 * the target, record for record, as described in docs/source-worker.md.
 *
 * Shards reach this worker through a consumer group on the target (or a
 * static split); each owned shard has a transactional producer, so a
 * stalled former owner is fenced. Records of a shard and the progress of
 * their partitions are committed in one transaction every commit interval;
 * offset syncs follow each commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "filter.h"
#include "hmap.h"
#include "kafka.h"
#include "log.h"
#include "mm2fmt.h"
#include "msg.h"
#include "offsync.h"
#include "policy.h"
#include "shard.h"
#include "topicsync.h"
#include "worker.h"

#define SRC_BATCH        2048
#define SRC_TXN_TIMEOUT  100		/* ms an init/abort may block the loop per try */
#define SRC_COMMIT_WAIT  5000		/* ms a commit (EndTxn) may block per try */
#define SRC_COMMIT_GAP   50		/* ms between commits at least, when drained */
#define SRC_RETRY_MS     5000
#define SRC_TXN_MAX_BYTES (16u << 20)	/* commit early past this */
#define SRC_HANDOVER_MS  2000		/* to commit shards being given away */
#define SRC_META_TIMEOUT 5000
#define SRC_ADMIN_BATCH  200		/* topics per DescribeConfigs/CreateTopics */
#define SRC_REFRESH_SOON 250		/* ms: refreshes asked for meanwhile coalesce */
#define SRC_STATUS_PARTS 200		/* per-partition STATUS entries at most */
#define SRC_LAT_BUCKETS  12

/* Upper bounds (ms) of the replication latency histogram. */
static const int src_lat_bounds[SRC_LAT_BUCKETS] = { 1, 2, 5, 10, 25, 50, 100, 250,
	500, 1000, 5000, 30000 };

/*
 * Shard states:
 *   INIT     producer made, init_transactions (fences the old owner) running
 *   LOADING  fenced; waiting for the stored progress to be read
 *   ACTIVE   replicating its partitions
 */
enum shard_state { SH_INIT, SH_LOADING, SH_ACTIVE };

/* Remote topic states:
 *   NEW       not yet looked at
 *   CREATING  source configs being read / topic being created
 *   READY     exists on the target
 *   FAILED    creation failed; retried after retry_at */
enum rtopic_state { RT_NEW, RT_CREATING, RT_READY, RT_FAILED };

struct src;

struct src_topic {
	struct src        *src;
	char              *name;
	char              *remote;
	int32_t            nsrc;	/* source partitions */
	int32_t            ntgt;	/* remote partitions, -1 unknown */
	enum rtopic_state  state;
	int                growing;
	int64_t            retry_at;
	int64_t            logged_at;
	char               err[256];
	rd_kafka_topic_t  *crkt;	/* consumer's handle, opaque = this */
	struct src_part  **parts;	/* by partition number, may be NULL */
	int32_t            nparts;
};

struct src_part {
	struct src_topic    *t;
	int32_t              p;
	int                  shard;
	int                  active;	/* in the consumer's assignment */
	int64_t              next;	/* next source offset to produce */
	int64_t              committed;	/* durable progress */
	int64_t              txn_next;	/* progress written in the open txn */
	int                  touched;	/* produced in the open txn */
	long long            records;
	long long            bytes;
	int64_t              latency_ms;
	int64_t              age_ms;	/* of the last record when consumed */
	struct offsync_state os;
	rd_kafka_topic_t    *prkt;	/* on the shard's producer */
};

struct src_sync {
	struct src_part *part;
	int64_t          up;
	int64_t          down;
};

struct src_shard {
	struct src       *src;
	int               id;
	enum shard_state  state;
	struct kclient   *prod;
	int               in_txn;
	int               must_abort;
	int               committing;
	int               progress_written;	/* this commit's progress queued */
	int               endtxn;		/* commit_transaction called, not done */
	int               parked;		/* given back in a rebalance, committed */
	int64_t           parked_at;
	size_t            txn_bytes;		/* record bytes in the open txn */
	int64_t           commit_from;		/* when this commit began (ms) */
	struct src_sync  *syncs;	/* to write once the txn commits */
	size_t            nsyncs, capsyncs;
	rd_kafka_topic_t *progress_rkt;
};

struct src {
	struct worker      *w;
	struct km_policy    pol;
	struct km_filter    filt;
	struct km_filter    cfg_exclude;
	int                 tasks;
	char                group[300];
	char                shards_topic[300];
	char                progress_topic[300];
	char                syncs_topic[300];
	struct kclient     *cons;	/* source: data consumer */
	struct kclient     *member;	/* target: group member */
	struct kclient     *sadm;	/* source: metadata, admin (never behind a fetch) */
	struct kclient     *tadm;	/* target: metadata, admin */
	struct kclient     *syncp;	/* offset-sync producer */
	rd_kafka_queue_t   *cq;		/* consumer queue */
	struct hmap         topics;
	struct src_shard  **shards;	/* [tasks] */
	int                 nowned;
	int                 nparked;	/* shards parked: the pump waits */
	int                 static_split;
	int                 internal_pending;	/* internal topics being created */
	int                 subscribed;
	struct hmap         progress;	/* "t/p" -> int64_t* */
	struct hmap         mm2_progress;	/* MM2's own, for a takeover */
	char                mm2_offsets_topic[300];
	int                 load_pending;	/* partitions not read to the end */
	struct kclient     *loader;
	int                 loading;
	int                 load_again;
	rd_kafka_message_t *backlog[SRC_BATCH];	/* consumed, not yet produced */
	size_t              nback, iback;
	struct event       *pump;
	struct event       *commit_ev;
	struct event       *refresh_ev;
	struct event       *init_ev;
	struct event       *drain_ev;
	struct event       *keepalive;
	struct event       *loaded_ev;
	int                 draining;
	int                 remote_rf;	/* resolved replication factor */
	struct topicsync   *tsync;	/* config and ACL sync, with shard 0 */
	/* counters */
	long long           records, bytes, txn_commits, txn_aborts, offset_gaps;
	long long           commit_ms;	/* time shards spent committing */
	long long           starved;	/* pump turns that found no record */
	int64_t             committed_at;	/* when the last commit round ended */
	int                 throttled;	/* prefetch came near librdkafka's limits */
	size_t              q_min_msgs, q_max_bytes;	/* those limits */
	long long           refetches;	/* seeks to wake the fetcher */
	int                 refresh_soon;	/* refresh_ev armed for SRC_REFRESH_SOON */
	pthread_t           meta_thr;	/* lists both clusters (src_refresh) */
	int                 meta_busy, meta_again;
	int                 meta_pipe[2];	/* the thread's "done" */
	struct event       *meta_ev;
	const struct rd_kafka_metadata *meta[2];	/* source, target */
	rd_kafka_resp_err_t meta_err[2];
	long long           syncs_sent, syncs_failed;
	int64_t             latency_max_ms;
	long long           lat_hist[SRC_LAT_BUCKETS + 1];	/* +Inf last */
	double              lat_sum_ms;
};

static void src_refresh(struct src *s);
static void src_refresh_soon(struct src *s);
static void src_watch_prefetch(struct src *s, size_t got);
static void src_refetch(struct src *s);
static void *src_meta_thread(void *arg);
static void src_refresh_apply(struct src *s, const struct rd_kafka_metadata *ms,
    const struct rd_kafka_metadata *mt);
static void src_load_progress(struct src *s);
static void src_arm(struct event *ev, int64_t ms);

static struct src_topic *
src_topic_get(struct src *s, const char *name)
{
	struct src_topic *t = hmap_get(&s->topics, name);
	char remote[512];
	rd_kafka_topic_conf_t *tc;

	if (t)
		return t;
	if (policy_format_remote_topic(&s->pol, s->w->src.alias, name, remote,
	    sizeof(remote)) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	t->src = s;
	t->name = strdup(name);
	t->remote = strdup(remote);
	t->ntgt = -1;
	/* our own handle, so consumed messages lead back to this struct */
	tc = rd_kafka_default_topic_conf_dup(kclient_rk(s->cons));
	rd_kafka_topic_conf_set_opaque(tc, t);
	t->crkt = rd_kafka_topic_new(kclient_rk(s->cons), name, tc);
	hmap_put(&s->topics, name, t);
	return t;
}

static struct src_part *
src_part_get(struct src_topic *t, int32_t p)
{
	struct src_part *sp;

	if (p >= t->nparts) {
		int32_t n = p + 1;
		t->parts = realloc(t->parts, n * sizeof(*t->parts));
		memset(t->parts + t->nparts, 0, (n - t->nparts) * sizeof(*t->parts));
		t->nparts = n;
	}
	if (t->parts[p])
		return t->parts[p];
	sp = calloc(1, sizeof(*sp));
	sp->t = t;
	sp->p = p;
	sp->shard = shard_of(t->name, p, t->src->tasks);
	sp->next = sp->committed = -1;
	t->parts[p] = sp;
	return sp;
}

static void
src_part_free(struct src_part *sp)
{
	if (sp->prkt)
		rd_kafka_topic_destroy(sp->prkt);
	free(sp);
}

static struct src_part *
src_part_of_msg(const rd_kafka_message_t *m)
{
	struct src_topic *t = rd_kafka_topic_opaque(m->rkt);
	if (t == NULL || m->partition < 0 || m->partition >= t->nparts)
		return NULL;
	return t->parts[m->partition];
}

/* A shard taken and replicating: its progress is known. */
static int
src_owns(struct src *s, int shard)
{
	return shard < s->tasks && s->shards[shard] && s->shards[shard]->state == SH_ACTIVE &&
	    !s->shards[shard]->parked;
}

/* A shard taken, whether or not its progress is read yet. */
static int
src_holds(struct src *s, int shard)
{
	return shard < s->tasks && s->shards[shard] && s->shards[shard]->state != SH_INIT;
}

/* ---------------------------------------------------------------- commit */

static void
src_shard_add_sync(struct src_shard *sh, struct src_part *sp, int64_t up, int64_t down)
{
	if (sh->nsyncs == sh->capsyncs) {
		sh->capsyncs = sh->capsyncs ? sh->capsyncs * 2 : 64;
		sh->syncs = realloc(sh->syncs, sh->capsyncs * sizeof(*sh->syncs));
	}
	sh->syncs[sh->nsyncs++] = (struct src_sync){ sp, up, down };
}

/* Write the offset syncs of a committed transaction (MM2's format). */
static void
src_emit_syncs(struct src *s, struct src_shard *sh)
{
	char key[MM2_TOPIC_MAX + 8], val[MM2_OFFSET_SYNC_VALUE_LEN];

	for (size_t i = 0; i < sh->nsyncs; i++) {
		struct src_sync *y = &sh->syncs[i];
		ssize_t kl = mm2_offset_sync_key_encode(key, sizeof(key), y->part->t->name,
		    y->part->p);
		ssize_t vl = mm2_offset_sync_value_encode(val, sizeof(val), y->up, y->down);
		if (kl < 0 || vl < 0 || !FLOW_INT(&s->w->flow, FS_EMIT_OFFSET_SYNCS_ENABLED))
			continue;
		if (rd_kafka_producev(kclient_rk(s->syncp), RD_KAFKA_V_TOPIC(s->syncs_topic),
		    RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, (size_t)kl),
		    RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_END) != 0)
			s->syncs_failed++;
	}
	sh->nsyncs = 0;
}

/* Rewind a shard's partitions to their committed progress after an abort. */
static void
src_shard_rewind(struct src *s, struct src_shard *sh)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
	struct hmap_entry *e;
	size_t it;

	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		for (int32_t p = 0; p < t->nparts; p++) {
			struct src_part *sp = t->parts[p];
			if (!sp || sp->shard != sh->id || !sp->active)
				continue;
			sp->touched = 0;
			sp->next = sp->committed;
			offsync_reset(&sp->os);
			for (size_t b = s->iback; b < s->nback; b++)
				if (s->backlog[b] && src_part_of_msg(s->backlog[b]) == sp) {
					rd_kafka_message_destroy(s->backlog[b]);
					s->backlog[b] = NULL;
				}
			rd_kafka_topic_partition_list_add(l, t->name, p)->offset = sp->committed;
		}
	}
	if (l->cnt) {
		/* re-assigning at the committed offsets drops what was fetched */
		rd_kafka_incremental_unassign(kclient_rk(s->cons), l);
		rd_kafka_incremental_assign(kclient_rk(s->cons), l);
	}
	rd_kafka_topic_partition_list_destroy(l);
	sh->nsyncs = 0;
}

/* Put the progress of every touched partition into the open transaction. */
static int
src_shard_write_progress(struct src *s, struct src_shard *sh)
{
	struct hmap_entry *e;
	size_t it;
	char key[512], val[32];

	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		for (int32_t p = 0; p < t->nparts; p++) {
			struct src_part *sp = t->parts[p];
			if (!sp || sp->shard != sh->id || !sp->touched)
				continue;
			if (sp->txn_next == sp->next)	/* already in this commit */
				continue;
			int kl = shard_progress_key(key, sizeof(key), t->name, p);
			int vl = snprintf(val, sizeof(val), "%" PRId64, sp->next);
			rd_kafka_resp_err_t pe = rd_kafka_producev(kclient_rk(sh->prod),
			    RD_KAFKA_V_RKT(sh->progress_rkt), RD_KAFKA_V_PARTITION(0),
			    RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				return 1;	/* try again when deliveries made room */
			if (pe) {
				worker_error(s->w, "shard %d: cannot write progress of %s [%d]: %s; "
				    "aborting the transaction", sh->id, t->name, p,
				    rd_kafka_err2str(pe));
				return -1;
			}
			sp->txn_next = sp->next;
		}
	}
	return 0;
}

/* After a commit: the progress is durable; write the offset syncs. */
static void
src_shard_committed(struct src *s, struct src_shard *sh)
{
	struct hmap_entry *e;
	size_t it;
	int64_t up, down;

	kclient_serve(sh->prod);	/* every delivery report of the txn */
	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		for (int32_t p = 0; p < t->nparts; p++) {
			struct src_part *sp = t->parts[p];
			if (!sp || sp->shard != sh->id || !sp->touched)
				continue;
			sp->committed = sp->txn_next;
			sp->touched = 0;
			if (offsync_take_tail(&sp->os, &up, &down))
				src_shard_add_sync(sh, sp, up, down);
		}
	}
	src_emit_syncs(s, sh);
	s->txn_commits++;
}

/* A fatal error of a shard's transactional producer: fenced exits to be
 * respawned, anything else exits 78 (kclient_fatal_code). */
static void
src_txn_fatal(struct src *s, struct src_shard *sh, const rd_kafka_error_t *err,
    const char *what)
{
	rd_kafka_resp_err_t e = rd_kafka_error_code(err);

	if (e == RD_KAFKA_RESP_ERR__FATAL)
		e = rd_kafka_fatal_error(kclient_rk(sh->prod), NULL, 0);
	int code = kclient_fatal_code(e);
	worker_fatal(s->w, code, "shard %d of flow %s: %s: %s%s", sh->id, s->w->flow.name,
	    what, rd_kafka_error_string(err), code == WORKER_EX_TEMPFAIL ?
	    KCLIENT_FENCED_SAYS : "");
}

/* Commit (or abort) the open transaction of one shard. Returns 0 when the
 * shard is free for a new transaction, 1 while the commit is still running. */
static int
src_shard_finish(struct src *s, struct src_shard *sh)
{
	rd_kafka_error_t *err;
	rd_kafka_t *rk = kclient_rk(sh->prod);

	if (!sh->in_txn)
		return 0;
	if (!sh->must_abort && !sh->progress_written) {
		int r = src_shard_write_progress(s, sh);
		if (!sh->committing)
			sh->commit_from = worker_now_ms();
		sh->committing = 1;
		if (r == -1)
			sh->must_abort = 1;
		else if (r == 1) {
			kclient_serve(sh->prod);	/* delivery reports make room */
			return 1;
		} else
			sh->progress_written = 1;
	}
	if (sh->must_abort && !sh->endtxn) {
		err = rd_kafka_abort_transaction(rk, SRC_TXN_TIMEOUT);
		if (err && rd_kafka_error_is_retriable(err)) {
			rd_kafka_error_destroy(err);
			return 1;
		}
		if (err && rd_kafka_error_is_fatal(err))
			src_txn_fatal(s, sh, err, "abort_transaction");
		if (err)
			rd_kafka_error_destroy(err);
		kclient_serve(sh->prod);
		s->txn_aborts++;
		sh->in_txn = sh->committing = sh->must_abort = sh->progress_written = 0;
		sh->txn_bytes = 0;
		src_shard_rewind(s, sh);
		return 0;
	}
	/* the commit begins with a flush that waits until every delivery
	 * report has been served, and only this loop serves them: calling it
	 * earlier would block for its whole timeout. So serve the reports and
	 * commit once nothing is outstanding (src_on_dr calls back then); what
	 * is left is EndTxn, one round trip. A commit that timed out is
	 * resumed, never aborted: librdkafka 2.0.2 asserts on an abort while
	 * its EndTxn is under way ("Invalid transaction state transition"). */
	kclient_serve(sh->prod);
	if (!sh->endtxn && rd_kafka_outq_len(rk) > 0)
		return 1;
	sh->endtxn = 1;
	err = rd_kafka_commit_transaction(rk, SRC_COMMIT_WAIT);
	if (err == NULL || !rd_kafka_error_is_retriable(err))
		sh->endtxn = 0;
	if (err == NULL) {
		s->commit_ms += worker_now_ms() - sh->commit_from;
		sh->in_txn = sh->committing = sh->progress_written = 0;
		sh->txn_bytes = 0;
		src_shard_committed(s, sh);
		return 0;
	}
	if (rd_kafka_error_is_fatal(err))
		src_txn_fatal(s, sh, err, "commit_transaction");
	if (rd_kafka_error_txn_requires_abort(err)) {
		worker_error(s->w, "shard %d: transaction aborted: %s", sh->id,
		    rd_kafka_error_string(err));
		sh->must_abort = 1;
	}
	rd_kafka_error_destroy(err);
	return 1;
}

static void
src_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	int busy = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < s->tasks; i++)
		if (s->shards[i] && s->shards[i]->state == SH_ACTIVE)
			busy |= src_shard_finish(s, s->shards[i]);
	if (busy) {
		src_arm(s->commit_ev, 5);
		return;
	}
	if (s->draining) {
		event_active(s->drain_ev, EV_TIMEOUT, 0);
		return;
	}
	s->committed_at = worker_now_ms();
	src_arm(s->commit_ev, FLOW_INT(&s->w->flow, FS_COMMIT_INTERVAL_MS));
	src_arm(s->pump, 0);	/* next loop turn: never starve timers */
}

static int
src_committing(struct src *s)
{
	for (int i = 0; i < s->tasks; i++)
		if (s->shards[i] && (s->shards[i]->committing || s->shards[i]->must_abort))
			return 1;
	return 0;
}

/* The source is drained: what is open now is all there is, so commit it
 * at once rather than at the end of commit_interval_ms (end-to-end
 * latency), but not more often than every SRC_COMMIT_GAP ms. */
static void
src_commit_soon(struct src *s)
{
	int open = 0;

	for (int i = 0; i < s->tasks && !open; i++)
		open = s->shards[i] && s->shards[i]->in_txn && s->shards[i]->txn_bytes > 0;
	if (!open || src_committing(s))
		return;
	if (worker_now_ms() - s->committed_at >= SRC_COMMIT_GAP)
		event_active(s->commit_ev, EV_TIMEOUT, 0);
	else
		src_arm(s->commit_ev, SRC_COMMIT_GAP - (worker_now_ms() - s->committed_at));
}

/* ---------------------------------------------------------------- data */

/* Hand one consumed record to its shard's producer; 0 queued (the producer
 * now holds the message), 1 producer full (keep it), -1 dropped. */
static int
src_forward(struct src *s, rd_kafka_message_t *m)
{
	struct src_part *sp = src_part_of_msg(m);
	struct src_shard *sh;
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_timestamp_type_t tst;
	int64_t ts;
	rd_kafka_resp_err_t err;
	rd_kafka_error_t *e;

	if (sp == NULL || !sp->active || !src_owns(s, sp->shard) ||
	    (sp->next >= 0 && m->offset < sp->next)) {
		rd_kafka_message_destroy(m);
		return -1;
	}
	sh = s->shards[sp->shard];
	if (sh->must_abort || sh->committing)
		return 1;
	if (!sh->in_txn) {
		if ((e = rd_kafka_begin_transaction(kclient_rk(sh->prod))) != NULL) {
			worker_error(s->w, "shard %d: cannot begin a transaction: %s", sh->id,
			    rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			return 1;
		}
		sh->in_txn = 1;
	}
	if (sp->prkt == NULL)
		sp->prkt = rd_kafka_topic_new(kclient_rk(sh->prod), sp->t->remote, NULL);
	ts = rd_kafka_message_timestamp(m, &tst);
	if (ts > 0)
		sp->age_ms = worker_wall_ms() - ts;
	rd_kafka_message_detach_headers(m, &hdrs);
	/* zero copy: the value stays in the consumed message until its
	 * delivery report, where the message is destroyed */
	err = rd_kafka_producev(kclient_rk(sh->prod), RD_KAFKA_V_RKT(sp->prkt),
	    RD_KAFKA_V_PARTITION(sp->p), RD_KAFKA_V_KEY(m->key, m->key_len),
	    RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0),
	    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
		/* a partition the remote topic just grew: the producer has not
		 * seen it yet; learn it (bounded) and try again */
		const struct rd_kafka_metadata *md = NULL;
		if (hdrs)
			rd_kafka_message_set_headers(m, hdrs);
		if (rd_kafka_metadata(kclient_rk(sh->prod), 0, sp->prkt, &md, 2000) == 0)
			rd_kafka_metadata_destroy(md);
		return 1;
	}
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		if (hdrs)
			rd_kafka_message_set_headers(m, hdrs);
		return 1;
	}
	if (err) {
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		worker_error(s->w, "cannot produce to %s [%d]: %s", sp->t->remote, sp->p,
		    rd_kafka_err2str(err));
		sh->must_abort = 1;
		rd_kafka_message_destroy(m);
		return -1;
	}
	sp->next = m->offset + 1;
	sp->touched = 1;
	sh->txn_bytes += m->len + m->key_len;
	/* a big transaction takes long to commit: commit early */
	if (sh->txn_bytes >= SRC_TXN_MAX_BYTES)
		event_active(s->commit_ev, EV_TIMEOUT, 0);
	return 0;
}

/* A consumer-side error message: retention gaps and partition errors. */
static void
src_consumer_error(struct src *s, rd_kafka_message_t *m)
{
	struct src_part *sp = src_part_of_msg(m);

	if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && sp) {
		/* the stored position is gone from the source: say so, count it,
		 * continue from the earliest offset */
		s->offset_gaps++;
		log_warn("%s [%d]: position %" PRId64 " is no longer on %s (retention); "
		    "continuing from the earliest offset: %s", sp->t->name, sp->p, sp->next,
		    s->w->src.alias, rd_kafka_message_errstr(m));
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, sp->t->name, sp->p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_incremental_unassign(kclient_rk(s->cons), l);
		rd_kafka_incremental_assign(kclient_rk(s->cons), l);
		rd_kafka_topic_partition_list_destroy(l);
		sp->next = -1;
	} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		worker_error(s->w, "consuming %s [%d] from %s: %s",
		    m->rkt ? rd_kafka_topic_name(m->rkt) : "?", m->partition,
		    s->w->src.alias, rd_kafka_message_errstr(m));
	}
	rd_kafka_message_destroy(m);
}

/* Move consumed records to the producers, a batch at a time, yielding to
 * the loop between batches. A batch the producers cannot take yet stays
 * in the backlog, in order, until delivery reports make room. */
static void
src_pump(struct src *s)
{
	if (s->draining || src_committing(s) || s->w->paused || s->nparked)
		return;
	for (int rounds = 0; rounds < 4; rounds++) {
		if (s->iback == s->nback) {
			ssize_t n = rd_kafka_consume_batch_queue(s->cq, 0, s->backlog, SRC_BATCH);
			s->iback = 0;
			s->nback = n > 0 ? (size_t)n : 0;
			if (s->nback == 0) {
				s->starved++;
				if (s->throttled)
					src_refetch(s);
				src_commit_soon(s);
				return;
			}
			src_watch_prefetch(s, s->nback);
		}
		while (s->iback < s->nback) {
			rd_kafka_message_t *m = s->backlog[s->iback];
			if (m == NULL) {
				s->iback++;
				continue;
			}
			if (m->err) {
				src_consumer_error(s, m);
			} else if (src_forward(s, m) == 1) {
				src_arm(s->pump, 5);	/* producer full: retry soon */
				return;
			}
			s->iback++;
		}
	}
	src_arm(s->pump, 0);	/* next loop turn: never starve timers */
}

/* librdkafka (< 2.4) stops fetching when its queue of prefetched records
 * reaches queued.min.messages or queued.max.messages.kbytes, and its broker
 * thread then sleeps up to a second, even once the queue is empty again:
 * a catch-up ran at 40% of its speed. So note when the queue came near a
 * limit, and when it ran dry after that, seek every partition to where
 * replication stands: the seek wakes the fetcher at once. Nothing is lost
 * or doubled: whatever was prefetched is dropped by librdkafka, and a
 * record already forwarded is dropped by src_forward. */
static void
src_watch_prefetch(struct src *s, size_t got)
{
	size_t q = rd_kafka_queue_length(s->cq) + got;
	size_t avg = s->records > 0 ? (size_t)(s->bytes / s->records) + 1 : 1;

	if (s->q_min_msgs == 0) {	/* the consumer's limits, once */
		char v[64];
		size_t n = sizeof(v);
		const rd_kafka_conf_t *c = rd_kafka_conf(kclient_rk(s->cons));
		s->q_min_msgs = rd_kafka_conf_get(c, "queued.min.messages", v, &n) ==
		    RD_KAFKA_CONF_OK ? (size_t)strtoull(v, NULL, 10) : 100000;
		n = sizeof(v);
		s->q_max_bytes = rd_kafka_conf_get(c, "queued.max.messages.kbytes", v, &n) ==
		    RD_KAFKA_CONF_OK ? (size_t)strtoull(v, NULL, 10) * 1024 : 65536 * 1024;
	}
	if (q * 2 >= s->q_min_msgs || q * avg * 2 >= s->q_max_bytes)
		s->throttled = 1;
}

static void
src_refetch(struct src *s)
{
	struct hmap_entry *e;
	size_t it;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
	rd_kafka_error_t *err;

	s->throttled = 0;
	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		for (int32_t p = 0; p < t->nparts; p++)
			if (t->parts[p] && t->parts[p]->active && t->parts[p]->next >= 0)
				rd_kafka_topic_partition_list_add(l, t->name, p)->offset =
				    t->parts[p]->next;
	}
	if (l->cnt && (err = rd_kafka_seek_partitions(kclient_rk(s->cons), l, 0)) != NULL) {
		log_warn("cannot restart fetching: %s", rd_kafka_error_string(err));
		rd_kafka_error_destroy(err);
	}
	s->refetches++;
	rd_kafka_topic_partition_list_destroy(l);
}

static void
src_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	src_pump(arg);
}

static void
src_queue_cb(void *arg)
{
	src_pump(arg);
}

/* Delivery reports of a shard producer: latency, offset syncs, errors. */
static void
src_on_dr(struct src *s, struct src_shard *sh, rd_kafka_event_t *ev)
{
	const rd_kafka_message_t *m;
	int64_t now = worker_wall_ms(), interval = FLOW_INT(&s->w->flow, FS_OFFSET_SYNC_INTERVAL_MS);

	while ((m = rd_kafka_event_message_next(ev)) != NULL) {
		rd_kafka_message_t *src_msg = m->_private;
		if (src_msg == NULL)	/* a progress record */
			continue;
		struct src_part *sp = src_part_of_msg(src_msg);
		if (m->err) {
			if (sp) {
				struct src_topic *t = sp->t;
				snprintf(t->err, sizeof(t->err), "%s", rd_kafka_err2str(m->err));
				if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
				    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
				    m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
				    m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
				    m->err == RD_KAFKA_RESP_ERR_POLICY_VIOLATION) {
					/* park the topic, keep the others going */
					t->state = RT_FAILED;
					t->retry_at = worker_now_ms() + SRC_RETRY_MS;
				}
				worker_error(s->w, "cannot write %s [%d] on %s: %s", t->remote,
				    sp->p, s->w->dst.alias, rd_kafka_err2str(m->err));
			}
			sh->must_abort = 1;
		} else if (sp) {
			int64_t tsv = -1;
			rd_kafka_timestamp_type_t tt;
			sp->records++;
			sp->bytes += (long long)src_msg->len;
			s->records++;
			s->bytes += (long long)src_msg->len + (long long)src_msg->key_len;
			tsv = rd_kafka_message_timestamp(src_msg, &tt);
			if (tsv > 0) {
				int b = 0;
				sp->latency_ms = now - tsv;
				if (sp->latency_ms > s->latency_max_ms)
					s->latency_max_ms = sp->latency_ms;
				while (b < SRC_LAT_BUCKETS && sp->latency_ms > src_lat_bounds[b])
					b++;
				s->lat_hist[b]++;
				s->lat_sum_ms += (double)sp->latency_ms;
			}
			if (offsync_on_record(&sp->os, src_msg->offset, m->offset, now, interval))
				src_shard_add_sync(sh, sp, src_msg->offset, m->offset);
		}
		rd_kafka_message_destroy(src_msg);
	}
	if (sh->committing && rd_kafka_outq_len(kclient_rk(sh->prod)) == 0)
		event_active(s->commit_ev, EV_TIMEOUT, 0);	/* all delivered: commit */
	if (s->iback < s->nback)
		src_arm(s->pump, 0);	/* next loop turn: never starve timers */
}

static void
src_shard_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct src_shard *sh = arg;

	(void)kc;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR)
		src_on_dr(sh->src, sh, ev);
}

/* ---------------------------------------------------------------- shards */

static void
src_arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(ev, &tv);
}

/* Take a shard: its own transactional producer; init_transactions fences
 * whoever had it before. */
static void
src_shard_take(struct src *s, int id)
{
	char txid[400], sid[32];
	struct src_shard *sh;

	if (id >= s->tasks || s->shards[id])
		return;
	snprintf(txid, sizeof(txid), "%s.shard-%d", s->group, id);
	snprintf(sid, sizeof(sid), "shard%d", id);
	/* retry.backoff.ms: the next transaction's AddPartitionsToTxn often
	 * meets CONCURRENT_TRANSACTIONS (the last one's markers are still being
	 * written) and waits this long before trying again */
	const char *extra[] = { "transactional.id", txid, "acks", "all",
		"?linger.ms", "5", "?batch.num.messages", "10000",
		"?queue.buffering.max.kbytes", "262144", "?transaction.timeout.ms", "60000",
		"?retry.backoff.ms", "20",
		"max.in.flight.requests.per.connection", "5", NULL };
	sh = calloc(1, sizeof(*sh));
	sh->src = s;
	sh->id = id;
	sh->state = SH_INIT;
	s->shards[id] = sh;
	sh->prod = kclient_new(s->w, RD_KAFKA_PRODUCER, &s->w->dst, KM_SCOPE_PRODUCER,
	    sid, extra, 0, src_shard_event, sh);
	sh->progress_rkt = rd_kafka_topic_new(kclient_rk(sh->prod), s->progress_topic, NULL);
	s->nowned++;
	log_info("took shard %d of flow %s (transactional.id %s)", id, s->w->flow.name, txid);
	if (id == 0 && s->tsync == NULL)	/* one topic sync per flow */
		s->tsync = topicsync_new(s->w, &s->pol, &s->filt, &s->cfg_exclude);
	event_active(s->init_ev, EV_TIMEOUT, 0);
}

/* Throw away what a shard producer still holds, giving every consumed
 * message back, so the handles can be destroyed without waiting. */
static void
src_shard_purge(struct src_shard *sh)
{
	rd_kafka_t *rk = kclient_rk(sh->prod);
	rd_kafka_event_t *ev;
	const rd_kafka_message_t *m;

	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
	    RD_KAFKA_PURGE_F_NON_BLOCKING);
	for (int i = 0; i < 300 && rd_kafka_outq_len(rk) > 0; i++) {
		if ((ev = rd_kafka_queue_poll(kclient_queue(sh->prod), 10)) == NULL)
			continue;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR)
			while ((m = rd_kafka_event_message_next(ev)) != NULL)
				if (m->_private)
					rd_kafka_message_destroy(m->_private);
		rd_kafka_event_destroy(ev);
	}
}

static void
src_shard_drop(struct src *s, int id, int lost)
{
	struct src_shard *sh = id < s->tasks ? s->shards[id] : NULL;
	rd_kafka_topic_partition_list_t *l;
	struct hmap_entry *e;
	size_t it;

	if (sh == NULL)
		return;
	if (id == 0) {
		topicsync_free(s->tsync);
		s->tsync = NULL;
	}
	/* open transactions were finished, or given up, by the caller */
	l = rd_kafka_topic_partition_list_new(16);
	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		for (int32_t p = 0; p < t->nparts; p++) {
			struct src_part *sp = t->parts[p];
			if (!sp || sp->shard != id)
				continue;
			if (sp->active)
				rd_kafka_topic_partition_list_add(l, t->name, p);
			for (size_t b = s->iback; b < s->nback; b++)
				if (s->backlog[b] && src_part_of_msg(s->backlog[b]) == sp) {
					/* theirs now: the new owner copies it */
					rd_kafka_message_destroy(s->backlog[b]);
					s->backlog[b] = NULL;
				}
			src_part_free(sp);
			t->parts[p] = NULL;
		}
	}
	if (l->cnt)
		rd_kafka_incremental_unassign(kclient_rk(s->cons), l);
	rd_kafka_topic_partition_list_destroy(l);
	src_shard_purge(sh);
	rd_kafka_topic_destroy(sh->progress_rkt);
	kclient_destroy(sh->prod);
	free(sh->syncs);
	free(sh);
	s->shards[id] = NULL;
	s->nowned--;
	log_info("%s shard %d of flow %s", lost ? "lost" : "released", id, s->w->flow.name);
}

/* Drive init_transactions of new shards without blocking for long. */
static void
src_init_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	int pending = 0, ready = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < s->tasks; i++) {
		struct src_shard *sh = s->shards[i];
		if (sh == NULL || sh->state != SH_INIT)
			continue;
		rd_kafka_error_t *err = rd_kafka_init_transactions(kclient_rk(sh->prod),
		    SRC_TXN_TIMEOUT);
		if (err == NULL) {
			sh->state = SH_LOADING;
			ready++;
			continue;
		}
		if (rd_kafka_error_is_fatal(err))
			src_txn_fatal(s, sh, err, "init_transactions");
		if (!rd_kafka_error_is_retriable(err))
			worker_error(s->w, "shard %d: init_transactions: %s", i,
			    rd_kafka_error_string(err));
		rd_kafka_error_destroy(err);
		pending++;
	}
	if (pending)
		src_arm(s->init_ev, 50);
	if (ready) {
		src_load_progress(s);
		src_refresh(s);	/* create remote topics while progress loads */
	}
}

/* ---------------------------------------------------------------- progress */

/* The progress topic was read to its end (called from the loop, never from
 * inside the loader's own callbacks, since it destroys the loader). */
static void
src_loader_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;

	(void)fd;
	(void)what;
	kclient_destroy(s->loader);
	s->loader = NULL;
	s->loading = 0;
	if (s->load_again) {
		s->load_again = 0;
		src_load_progress(s);
		return;
	}
	for (int i = 0; i < s->tasks; i++)
		if (s->shards[i] && s->shards[i]->state == SH_LOADING)
			s->shards[i]->state = SH_ACTIVE;
	log_info("progress read: %zu partitions known (%zu from MirrorMaker 2); %d shards "
	    "owned", s->progress.n, s->mm2_progress.n, s->nowned);
	src_refresh(s);
}

static void
src_progress_put(struct hmap *m, const char *topic, int32_t p, int64_t next)
{
	char key[320];
	int64_t *v;

	shard_progress_key(key, sizeof(key), topic, p);
	if (next < 0) {
		free(hmap_del(m, key));
		return;
	}
	if ((v = hmap_get(m, key)) == NULL) {
		v = malloc(sizeof(*v));
		hmap_put(m, key, v);
	}
	*v = next;
}

/* Records of our progress topic and of MM2's Connect offsets topic; the
 * read is over when every assigned partition reached its end. */
static void
src_loader_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct src *s = arg;
	const rd_kafka_message_t *m;
	char topic[300];
	int32_t p;
	int64_t next;

	(void)kc;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR &&
	    rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (--s->load_pending <= 0)
			event_active(s->loaded_ev, EV_TIMEOUT, 0);
		return;
	}
	if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_FETCH)
		return;
	while ((m = rd_kafka_event_message_next(ev)) != NULL) {
		if (m->err) {
			worker_error(s->w, "reading the progress of %s: %s", s->w->flow.name,
			    rd_kafka_message_errstr(m));
			continue;
		}
		if (strcmp(rd_kafka_topic_name(m->rkt), s->progress_topic) == 0) {
			if (shard_progress_parse(m->key, m->key_len, m->payload, m->len, topic,
			    sizeof(topic), &p, &next) == 0)
				src_progress_put(&s->progress, topic, p, next);
		} else if (mm2_connect_offset_decode(m->key, m->key_len, m->payload, m->len,
		    s->w->src.alias, topic, sizeof(topic), &p, &next) == 1)
			src_progress_put(&s->mm2_progress, topic, p, next);
	}
}

/* Read the whole progress topic (read_committed, so only what committed
 * transactions wrote) before replicating newly taken shards. */
static void
src_load_progress(struct src *s)
{
	char gid[400];
	/* a short fetch wait: the end of a partition is only known from an
	 * empty fetch, which the broker holds for fetch.wait.max.ms */
	const char *extra[] = { "group.id", gid, "enable.auto.commit", "false",
		"enable.partition.eof", "true", "isolation.level", "read_committed",
		"fetch.wait.max.ms", "10", NULL };
	rd_kafka_topic_partition_list_t *l;

	if (s->loading) {
		s->load_again = 1;
		return;
	}
	s->loading = 1;
	snprintf(gid, sizeof(gid), "%s.progress-reader", s->group);
	/* KC_F_GROUP: fetched messages arrive as FETCH events on our queue */
	s->loader = kclient_new(s->w, RD_KAFKA_CONSUMER, &s->w->dst, KM_SCOPE_CONSUMER,
	    "progress", extra, KC_F_GROUP, src_loader_event, s);
	l = rd_kafka_topic_partition_list_new(32);
	rd_kafka_topic_partition_list_add(l, s->progress_topic, 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	/* MM2 replicated this flow before? Its Connect offsets tell where it
	 * stopped, for partitions we have no progress of our own for. */
	const struct rd_kafka_metadata *md = NULL;
	if (rd_kafka_metadata(kclient_rk(s->tadm), 1, NULL, &md, SRC_META_TIMEOUT) == 0) {
		for (int i = 0; i < md->topic_cnt; i++)
			if (strcmp(md->topics[i].topic, s->mm2_offsets_topic) == 0 &&
			    !md->topics[i].err)
				for (int p = 0; p < md->topics[i].partition_cnt; p++)
					rd_kafka_topic_partition_list_add(l, s->mm2_offsets_topic,
					    p)->offset = RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_metadata_destroy(md);
	}
	s->load_pending = l->cnt;
	rd_kafka_assign(kclient_rk(s->loader), l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---------------------------------------------------------------- topics */

/* Read the source topics' configs (one request for up to SRC_ADMIN_BATCH
 * topics), then create the remote topics with the ones MM2 would copy: set
 * (non-default), not read-only, not sensitive, not static broker configs,
 * not excluded. */
static void
src_topics_create(struct src *s, struct src_topic **ts, size_t n)
{
	char err[256];
	rd_kafka_ConfigResource_t *r[SRC_ADMIN_BATCH];
	rd_kafka_AdminOptions_t *o;

	for (size_t i = 0; i < n; i += SRC_ADMIN_BATCH) {
		size_t k = n - i < SRC_ADMIN_BATCH ? n - i : SRC_ADMIN_BATCH;
		for (size_t j = 0; j < k; j++) {
			ts[i + j]->state = RT_CREATING;
			r[j] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, ts[i + j]->name);
		}
		o = rd_kafka_AdminOptions_new(kclient_rk(s->sadm),
		    RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
		rd_kafka_AdminOptions_set_request_timeout(o, 30000, err, sizeof(err));
		rd_kafka_DescribeConfigs(kclient_rk(s->sadm), r, k, o, kclient_queue(s->sadm));
		rd_kafka_AdminOptions_destroy(o);
		rd_kafka_ConfigResource_destroy_array(r, k);
	}
}

static void
src_topic_failed(struct src *s, struct src_topic *t, const char *why)
{
	int64_t now = worker_now_ms(), interval = FLOW_INT(&s->w->flow,
	    FS_REFRESH_TOPICS_INTERVAL_MS);

	t->state = RT_FAILED;
	t->retry_at = now + (interval > SRC_RETRY_MS ? interval : SRC_RETRY_MS);
	/* the reason, at most once per interval */
	if (strcmp(t->err, why) != 0 || now - t->logged_at >= interval) {
		log_error("cannot create %s on %s for %s: %s; retrying", t->remote,
		    s->w->dst.alias, t->name, why);
		t->logged_at = now;
	}
	snprintf(t->err, sizeof(t->err), "%s", why);
}

static void
src_on_describe(struct src *s, rd_kafka_event_t *ev)
{
	const rd_kafka_DescribeConfigs_result_t *res = rd_kafka_event_DescribeConfigs_result(ev);
	const rd_kafka_ConfigResource_t **rs;
	size_t n = 0;

	rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
	rd_kafka_NewTopic_t **nts = calloc(n ? n : 1, sizeof(*nts));
	size_t nn = 0;
	for (size_t i = 0; i < n; i++) {
		struct src_topic *t = hmap_get(&s->topics, rd_kafka_ConfigResource_name(rs[i]));
		const rd_kafka_ConfigEntry_t **es;
		const char *cfg[256];
		size_t ne = 0, nc = 0;

		if (t == NULL || t->state != RT_CREATING)
			continue;
		if (rd_kafka_ConfigResource_error(rs[i])) {
			src_topic_failed(s, t, rd_kafka_ConfigResource_error_string(rs[i]));
			continue;
		}
		es = rd_kafka_ConfigResource_configs(rs[i], &ne);
		for (size_t j = 0; j < ne && nc + 2 < 256; j++) {
			const rd_kafka_ConfigEntry_t *c = es[j];
			if (!topicsync_config_filter(c, &s->cfg_exclude) ||
			    rd_kafka_ConfigEntry_is_default(c) ||
			    rd_kafka_ConfigEntry_source(c) == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG ||
			    rd_kafka_ConfigEntry_value(c) == NULL)
				continue;
			cfg[nc++] = rd_kafka_ConfigEntry_name(c);
			cfg[nc++] = rd_kafka_ConfigEntry_value(c);
		}
		cfg[nc] = NULL;
		if ((nts[nn] = kclient_new_topic(s->tadm, t->remote, t->nsrc, s->remote_rf,
		    cfg)) == NULL)
			src_topic_failed(s, t, "cannot build the CreateTopics request");
		else
			nn++;
	}
	if (nn)
		kclient_create_topics(s->tadm, nts, nn, NULL);
	free(nts);
}

static struct src_topic *
src_topic_by_remote(struct src *s, const char *remote)
{
	struct hmap_entry *e;
	size_t it;

	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it))
		if (strcmp(((struct src_topic *)e->val)->remote, remote) == 0)
			return e->val;
	return NULL;
}

static void
src_on_created(struct src *s, rd_kafka_event_t *ev)
{
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	const rd_kafka_topic_result_t **ts;
	size_t n = 0;
	int any = 0;

	ts = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct src_topic *t = src_topic_by_remote(s, rd_kafka_topic_result_name(ts[i]));
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(ts[i]);
		if (t == NULL || t->state != RT_CREATING)
			continue;
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
				log_info("created %s on %s (%d partitions)", t->remote,
				    s->w->dst.alias, t->nsrc);
			t->state = RT_READY;
			t->err[0] = '\0';
			any = 1;
			continue;
		}
		char why[512];
		snprintf(why, sizeof(why), "%s: %s", rd_kafka_err2name(e),
		    rd_kafka_topic_result_error_string(ts[i]) ?
		    rd_kafka_topic_result_error_string(ts[i]) : rd_kafka_err2str(e));
		src_topic_failed(s, t, why);
	}
	if (any)
		src_refresh_soon(s);
}

static void
src_grow(struct src *s, const char *topic, int total)
{
	char err[256];
	rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(topic, total, err,
	    sizeof(err));
	rd_kafka_AdminOptions_t *o;

	if (np == NULL)
		return;
	o = rd_kafka_AdminOptions_new(kclient_rk(s->tadm), RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
	rd_kafka_AdminOptions_set_request_timeout(o, 30000, err, sizeof(err));
	rd_kafka_CreatePartitions(kclient_rk(s->tadm), &np, 1, o, kclient_queue(s->tadm));
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_NewPartitions_destroy(np);
	log_info("growing %s on %s to %d partitions", topic, s->w->dst.alias, total);
}

/* Start position of a partition taken now: stored progress, else the
 * flow's auto_offset_reset. */
static int64_t
src_start_offset(struct src *s, struct src_part *sp)
{
	char key[320];
	int64_t *v;

	if (sp->committed != -1 && sp->committed != RD_KAFKA_OFFSET_BEGINNING &&
	    sp->committed != RD_KAFKA_OFFSET_END)
		return sp->committed;
	shard_progress_key(key, sizeof(key), sp->t->name, sp->p);
	if ((v = hmap_get(&s->progress, key)) != NULL)
		return *v;
	if ((v = hmap_get(&s->mm2_progress, key)) != NULL) {
		log_notice("%s [%d]: taking over from MirrorMaker 2 at offset %" PRId64,
		    sp->t->name, sp->p, *v);
		return *v;
	}
	return FLOW_INT(&s->w->flow, FS_AUTO_OFFSET_RESET) == 0 ?
	    RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
}

/* Look at both clusters: new topics and partitions, remote topics to create
 * or grow, partitions of owned shards to start. */
static void
src_refresh(struct src *s)
{
	if (s->draining || !s->subscribed)
		return;
	if (s->meta_busy) {
		s->meta_again = 1;
		return;
	}
	s->meta_busy = 1;
	s->meta_again = 0;
	if (pthread_create(&s->meta_thr, NULL, src_meta_thread, s) != 0) {
		s->meta_busy = 0;
		worker_error(s->w, "cannot start a thread to list the topics");
	}
}

/* Listing both clusters blocks for as long as the brokers take (seconds
 * for thousands of partitions on a busy broker): done on a thread of its
 * own, which wakes the loop when both answered. */
static void *
src_meta_thread(void *arg)
{
	struct src *s = arg;
	char one = 1;

	s->meta_err[0] = rd_kafka_metadata(kclient_rk(s->sadm), 1, NULL, &s->meta[0],
	    SRC_META_TIMEOUT);
	if (s->meta_err[0] == 0)
		s->meta_err[1] = rd_kafka_metadata(kclient_rk(s->tadm), 1, NULL, &s->meta[1],
		    SRC_META_TIMEOUT);
	while (write(s->meta_pipe[1], &one, 1) == -1 && errno == EINTR)
		;
	return NULL;
}

/* Wait for the listing thread, keep its result in ms/mt (NULL on failure,
 * said in the log). */
static void
src_meta_join(struct src *s, const struct rd_kafka_metadata **ms,
    const struct rd_kafka_metadata **mt)
{
	char buf[16];

	*ms = *mt = NULL;
	if (!s->meta_busy)
		return;
	pthread_join(s->meta_thr, NULL);
	while (read(s->meta_pipe[0], buf, sizeof(buf)) > 0)
		;
	s->meta_busy = 0;
	if (s->meta_err[0] || s->meta_err[1]) {
		int i = s->meta_err[0] ? 0 : 1;
		worker_error(s->w, "cannot list the topics of %s: %s",
		    i == 0 ? s->w->src.alias : s->w->dst.alias, rd_kafka_err2str(s->meta_err[i]));
		if (s->meta_err[0] == 0)
			rd_kafka_metadata_destroy(s->meta[0]);
	} else {
		*ms = s->meta[0];
		*mt = s->meta[1];
	}
	s->meta[0] = s->meta[1] = NULL;
	s->meta_err[0] = s->meta_err[1] = 0;
}

static void
src_meta_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	const struct rd_kafka_metadata *ms, *mt;

	(void)fd;
	(void)what;
	src_meta_join(s, &ms, &mt);
	if (ms && mt && !s->draining)
		src_refresh_apply(s, ms, mt);
	if (ms)
		rd_kafka_metadata_destroy(ms);
	if (mt)
		rd_kafka_metadata_destroy(mt);
	if (s->meta_again)
		src_refresh(s);
}

/* What both clusters hold now, against what this worker replicates. */
static void
src_refresh_apply(struct src *s, const struct rd_kafka_metadata *ms,
    const struct rd_kafka_metadata *mt)
{
	rd_kafka_topic_partition_list_t *l;
	struct hmap tgt = { 0 };
	int64_t now = worker_now_ms();
	char why[256];

	for (int i = 0; i < mt->topic_cnt; i++)
		if (!mt->topics[i].err)
			hmap_put(&tgt, mt->topics[i].topic, &mt->topics[i]);
	{
		const struct rd_kafka_metadata_topic *sht = hmap_get(&tgt, s->shards_topic);
		if (sht && sht->partition_cnt < s->tasks && !s->static_split)
			src_grow(s, s->shards_topic, s->tasks);
	}
	l = rd_kafka_topic_partition_list_new(64);
	struct src_topic **create = calloc(ms->topic_cnt ? ms->topic_cnt : 1, sizeof(*create));
	size_t ncreate = 0;
	for (int i = 0; i < ms->topic_cnt; i++) {
		const struct rd_kafka_metadata_topic *mtp = &ms->topics[i];
		const struct rd_kafka_metadata_topic *rt;
		struct src_topic *t;
		int mine = 0;

		/* MM2's rule: the filter, or a heartbeats topic; never internal
		 * topics, never a cycle back to the target */
		if (mtp->err || !policy_should_replicate_topic_filtered(&s->pol,
		    s->w->src.alias, s->w->dst.alias, mtp->topic,
		    filter_match(&s->filt, mtp->topic),
		    (int)FLOW_INT(&s->w->flow, FS_HEARTBEATS_REPLICATION_ENABLED)))
			continue;
		/* does this worker hold (own, or is about to) any of its
		 * partitions? Then it creates and grows the remote topic. */
		for (int p = 0; p < mtp->partition_cnt && !mine; p++)
			mine = src_holds(s, shard_of(mtp->topic, p, s->tasks));
		if (!mine)
			continue;
		if ((t = src_topic_get(s, mtp->topic)) == NULL)
			continue;
		t->nsrc = mtp->partition_cnt;
		rt = hmap_get(&tgt, t->remote);
		t->ntgt = rt ? rt->partition_cnt : -1;
		if (t->state == RT_FAILED && now < t->retry_at)
			continue;
		if (rt == NULL) {
			if (t->state != RT_CREATING)
				create[ncreate++] = t;
			continue;
		}
		if (t->state != RT_CREATING)
			t->state = RT_READY;
		if (t->ntgt < t->nsrc && !t->growing) {
			src_grow(s, t->remote, t->nsrc);
			t->growing = 1;
		} else if (t->ntgt >= t->nsrc)
			t->growing = 0;
		for (int32_t p = 0; p < t->nsrc && p < t->ntgt; p++) {
			if (!src_owns(s, shard_of(t->name, p, s->tasks)))
				continue;
			struct src_part *sp = src_part_get(t, p);
			if (sp->active)
				continue;
			sp->active = 1;
			sp->committed = sp->next = src_start_offset(s, sp);
			offsync_reset(&sp->os);
			rd_kafka_topic_partition_list_add(l, t->name, p)->offset = sp->next;
		}
	}
	if (l->cnt) {
		rd_kafka_error_t *e = rd_kafka_incremental_assign(kclient_rk(s->cons), l);
		if (e) {
			snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
			worker_error(s->w, "cannot assign %d partitions: %s", l->cnt, why);
			rd_kafka_error_destroy(e);
		} else
			log_info("replicating %d more partitions (%d shards owned)", l->cnt,
			    s->nowned);
	}
	rd_kafka_topic_partition_list_destroy(l);
	src_topics_create(s, create, ncreate);
	free(create);
	hmap_free(&tgt, NULL);
	if (s->nowned > 0 && s->w->last_error[0] && strstr(s->w->last_error, "cannot list"))
		worker_clear_error(s->w);
}

static void
src_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	(void)fd;
	(void)what;
	s->refresh_soon = 0;
	src_refresh(s);
	src_arm(s->refresh_ev, FLOW_INT(&s->w->flow, FS_REFRESH_TOPICS_INTERVAL_MS));
}

/* Look again shortly (remote topics were created): one refresh for all
 * that ask within SRC_REFRESH_SOON ms, since each lists both clusters. */
static void
src_refresh_soon(struct src *s)
{
	if (s->refresh_soon)
		return;
	s->refresh_soon = 1;
	src_arm(s->refresh_ev, SRC_REFRESH_SOON);
}

/* ---------------------------------------------------------------- members */

/* Shards arrive and leave through the group's rebalances, which are eager
 * (kclient_new_member): each takes every shard back, then hands out a
 * whole new assignment. A shard given back with its transaction committed
 * is parked: the pump stops until the new assignment, which most often
 * gives it back, and then it goes on where it was (its producer, progress
 * and fetch position are still right, since nobody else held it in
 * between). A parked shard not given back is dropped then. */
static void
src_on_rebalance(struct src *s, rd_kafka_event_t *ev)
{
	rd_kafka_t *rk = kclient_rk(s->member);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_event_topic_partition_list(ev);

	if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		int kept = 0;
		rd_kafka_assign(rk, parts);
		for (int id = 0; id < s->tasks; id++) {
			int given = 0;
			if (s->shards[id] == NULL || !s->shards[id]->parked)
				continue;
			for (int i = 0; parts && i < parts->cnt && !given; i++)
				given = parts->elems[i].partition == id;
			/* parked for longer than a session: this member may have been
			 * dropped from the group meanwhile, and the shard held by
			 * another: take it anew (fence, read the progress) */
			if (given && worker_now_ms() - s->shards[id]->parked_at <
			    FLOW_INT(&s->w->flow, FS_SHARD_SESSION_TIMEOUT_MS)) {
				s->shards[id]->parked = 0;
				kept++;
			} else
				src_shard_drop(s, id, 0);
		}
		s->nparked = 0;
		if (kept)
			log_info("kept %d shards of flow %s through the rebalance", kept,
			    s->w->flow.name);
		for (int i = 0; parts && i < parts->cnt; i++)
			src_shard_take(s, parts->elems[i].partition);
		src_arm(s->pump, 0);
		return;
	}
	int lost = rd_kafka_assignment_lost(rk);
	/* hand the shards over cleanly: commit their open transactions side by
	 * side, within SRC_HANDOVER_MS so the loop keeps reporting; what is not
	 * committed by then is left to the new owner, which replicates it again
	 * from the stored progress */
	int64_t deadline = worker_now_ms() + SRC_HANDOVER_MS;
	for (int busy = !lost; busy && worker_now_ms() < deadline; ) {
		busy = 0;
		for (int i = 0; parts && i < parts->cnt; i++) {
			int id = parts->elems[i].partition;
			if (id < s->tasks && s->shards[id] && s->shards[id]->state == SH_ACTIVE)
				busy |= src_shard_finish(s, s->shards[id]);
		}
		if (busy)	/* deliveries still on their way: not a busy loop */
			poll(NULL, 0, 1);
	}
	for (int i = 0; parts && i < parts->cnt; i++) {
		int id = parts->elems[i].partition;
		struct src_shard *sh = id < s->tasks ? s->shards[id] : NULL;
		if (sh && !lost && sh->state == SH_ACTIVE && !sh->in_txn) {
			sh->parked = 1;
			sh->parked_at = worker_now_ms();
			s->nparked++;
		} else
			src_shard_drop(s, id, lost);
	}
	rd_kafka_assign(rk, NULL);
}

/* No group protocol: worker `index` takes shard `index` and every
 * source_workers-th after it. */
static void
src_take_static(struct src *s)
{
	s->static_split = 1;
	int workers = km_flow_source_workers(&s->w->flow);

	for (int i = s->w->index; i < s->tasks; i += workers)
		src_shard_take(s, i);
}

static void
src_subscribe(struct src *s)
{
	rd_kafka_topic_partition_list_t *l;
	char detail[512];

	s->subscribed = 1;
	if (FLOW_INT(&s->w->flow, FS_SHARD_ASSIGNMENT) == KM_SHARDS_STATIC) {
		log_notice("shards split statically among local workers (shard_assignment = static)");
		src_take_static(s);
		snprintf(detail, sizeof(detail), "static shard split, %d shards", s->tasks);
	} else {
		l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, s->shards_topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t err = rd_kafka_subscribe(kclient_rk(s->member), l);
		rd_kafka_topic_partition_list_destroy(l);
		if (err) {
			log_notice("the group protocol is not available on %s (%s): splitting "
			    "shards statically among local workers", s->w->dst.alias,
			    rd_kafka_err2str(err));
			src_take_static(s);
		}
		snprintf(detail, sizeof(detail), "member of group %s, %d shards", s->group,
		    s->tasks);
	}
	worker_ready(s->w, detail);
	src_arm(s->refresh_ev, FLOW_INT(&s->w->flow, FS_REFRESH_TOPICS_INTERVAL_MS));
}

/* One of our internal topics was created (or existed); subscribe to the
 * shards once all of them are there. A failure is reported; the
 * subscription or the progress read will say more. */
static void
src_internal_created(struct src *s, rd_kafka_event_t *ev, const char *cluster)
{
	const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
	size_t n = 0;
	const rd_kafka_topic_result_t **ts = r ? rd_kafka_CreateTopics_result_topics(r, &n) :
	    NULL;
	const char *name = n ? rd_kafka_topic_result_name(ts[0]) : "?";
	char err[512];

	if (kclient_topic_result(ev, name, err, sizeof(err)) == -1)
		worker_error(s->w, "cannot create %s on %s: %s", name, cluster, err);
	if (--s->internal_pending == 0 && !s->subscribed)
		src_subscribe(s);
}

static void
src_member_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct src *s = arg;

	(void)kc;
	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_REBALANCE:
		src_on_rebalance(s, ev);
		break;
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		if (rd_kafka_event_opaque(ev) == s)
			src_internal_created(s, ev, s->w->dst.alias);
		else
			src_on_created(s, ev);
		break;
	case RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT:
		/* success or "already has N": the next refresh sees the truth */
		break;
	case RD_KAFKA_EVENT_ERROR:
		if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE &&
		    !s->static_split && s->nowned == 0) {
			log_notice("the group protocol is not available on %s (%s): "
			    "splitting shards statically among local workers",
			    s->w->dst.alias, rd_kafka_event_error_string(ev));
			rd_kafka_unsubscribe(kclient_rk(s->member));
			src_take_static(s);
		}
		break;
	default:
		break;
	}
}

static void
src_cons_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct src *s = arg;

	(void)kc;
	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT:
		src_on_describe(s, ev);
		break;
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		/* the offset-syncs topic, when it lives on the source */
		src_internal_created(s, ev, s->w->src.alias);
		break;
	default:
		break;
	}
}

static void
src_syncp_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct src *s = arg;
	const rd_kafka_message_t *m;

	(void)kc;
	if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_DR)
		return;
	while ((m = rd_kafka_event_message_next(ev)) != NULL) {
		if (m->err) {
			s->syncs_failed++;
			worker_error(s->w, "offset sync not written to %s: %s", s->syncs_topic,
			    rd_kafka_err2str(m->err));
		} else
			s->syncs_sent++;
	}
}

/* ---------------------------------------------------------------- role */

static void
src_rf_cb(struct kclient *kc, int rf, const char *err, void *arg)
{
	struct src *s = arg;
	static const char *const compact[] = { "cleanup.policy", "compact", NULL };

	(void)kc;
	if (err) {
		worker_error(s->w, "cannot learn the default replication factor of %s: %s",
		    s->w->dst.alias, err);
		rf = 1;
	}
	s->remote_rf = rf;
	worker_set_state(s->w, "creating internal topics");
	s->internal_pending = 3;
	kclient_create_topic(s->tadm, s->progress_topic, 1, rf, compact, s);
	kclient_create_topic(s->tadm, s->shards_topic, s->tasks, rf, NULL, s);
	if (FLOW_INT(&s->w->flow, FS_OFFSET_SYNCS_LOCATION) == KM_LOC_TARGET)
		kclient_create_compacted(s->tadm, s->syncs_topic,
		    (int)FLOW_INT(&s->w->flow, FS_OFFSET_SYNCS_RF) > 0 ?
		    (int)FLOW_INT(&s->w->flow, FS_OFFSET_SYNCS_RF) : rf, s);
	else
		kclient_create_compacted(s->sadm, s->syncs_topic,
		    (int)FLOW_INT(&s->w->flow, FS_OFFSET_SYNCS_RF) > 0 ?
		    (int)FLOW_INT(&s->w->flow, FS_OFFSET_SYNCS_RF) : rf, s);
}

static void
src_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	(void)fd;
	(void)what;
	/* serving the member's queue counts as polling (max.poll.interval.ms) */
	kclient_serve(s->member);
}


static void src_drain_cb(evutil_socket_t fd, short what, void *arg);

static int
src_start(struct worker *w)
{
	struct src *s = calloc(1, sizeof(*s));
	const struct km_flow *f = &w->flow;
	char err[512], gid[400], idx[16];

	w->data = s;
	s->w = w;
	s->tasks = (int)FLOW_INT(f, FS_TASKS);
	s->shards = calloc(s->tasks, sizeof(*s->shards));
	if (policy_init(&s->pol, (enum km_policy_kind)FLOW_INT(f, FS_REPLICATION_POLICY),
	    FLOW_STR(f, FS_SEPARATOR), (int)FLOW_INT(f, FS_INTERNAL_SEPARATOR_ENABLED),
	    w->src.alias) == -1) {
		worker_error(w, "bad replication policy settings");
		return -1;
	}
	if (filter_init(&s->filt, (const char *const *)f->v[FS_TOPICS].list,
	    f->v[FS_TOPICS].nlist, (const char *const *)f->v[FS_TOPICS_EXCLUDE].list,
	    f->v[FS_TOPICS_EXCLUDE].nlist, err, sizeof(err)) == -1 ||
	    filter_init(&s->cfg_exclude, (const char *const *)f->v[FS_CONFIG_PROPERTIES_EXCLUDE].list,
	    f->v[FS_CONFIG_PROPERTIES_EXCLUDE].nlist, NULL, 0, err, sizeof(err)) == -1) {
		worker_error(w, "flow %s: %s", f->name, err);
		return -1;
	}
	snprintf(s->group, sizeof(s->group), "kmirror.%s.%s", w->src.alias, w->dst.alias);
	snprintf(s->shards_topic, sizeof(s->shards_topic), "kmirror-shards.%s.internal",
	    w->src.alias);
	snprintf(s->progress_topic, sizeof(s->progress_topic),
	    "kmirror-progress.%s.internal", w->src.alias);
	snprintf(s->mm2_offsets_topic, sizeof(s->mm2_offsets_topic), "mm2-offsets.%s.internal",
	    w->src.alias);
	policy_offset_syncs_topic(&s->pol, FLOW_INT(f, FS_OFFSET_SYNCS_LOCATION) ==
	    KM_LOC_SOURCE ? w->dst.alias : w->src.alias, s->syncs_topic,
	    sizeof(s->syncs_topic));

	snprintf(gid, sizeof(gid), "%s.data", s->group);
	const char *cons_extra[] = { "group.id", gid, "enable.auto.commit", "false",
		"auto.offset.reset", "error", "enable.partition.eof", "false",
		"isolation.level", FLOW_INT(f, FS_ISOLATION_LEVEL) == 0 ?
		"read_committed" : "read_uncommitted",
		/* prefetch: since src_refetch wakes the fetcher, a small queue
		 * is as fast as a large one (100-byte records: 635k/s at 100,000
		 * records and 16 MB, 555k/s at 200,000 and 32 MB) and costs less
		 * memory (each queued record also costs ~0.5 KB in librdkafka) */
		"?queued.min.messages", "100000", "?queued.max.messages.kbytes", "16384",
		"?fetch.message.max.bytes", "2097152",
		NULL };
	s->cons = kclient_new(w, RD_KAFKA_CONSUMER, &w->src, KM_SCOPE_CONSUMER, "data",
	    cons_extra, 0, src_cons_event, s);
	s->cq = rd_kafka_queue_get_consumer(kclient_rk(s->cons));
	kclient_watch_queue(s->cons, s->cq, src_queue_cb, s);

	/* metadata and admin calls on idle handles: on a consumer they would
	 * wait behind its fetch long-poll */
	s->sadm = kclient_new(w, RD_KAFKA_PRODUCER, &w->src, KM_SCOPE_ADMIN, "admin", NULL, 0,
	    src_cons_event, s);
	s->tadm = kclient_new(w, RD_KAFKA_PRODUCER, &w->dst, KM_SCOPE_ADMIN, "admin", NULL, 0,
	    src_member_event, s);

	snprintf(idx, sizeof(idx), "%d", w->index);
	s->member = kclient_new_member(w, s->group, idx, "member", src_member_event, s);

	static const char *const sync_extra[] = { "acks", "all", "enable.idempotence",
		"true", "linger.ms", "20", NULL };
	s->syncp = kclient_new(w, RD_KAFKA_PRODUCER, FLOW_INT(f, FS_OFFSET_SYNCS_LOCATION) ==
	    KM_LOC_SOURCE ? &w->src : &w->dst, KM_SCOPE_PRODUCER, "offset-syncs",
	    sync_extra, 0, src_syncp_event, s);

	s->pump = event_new(w->base, -1, 0, src_pump_cb, s);
	s->commit_ev = evtimer_new(w->base, src_commit_cb, s);
	s->refresh_ev = evtimer_new(w->base, src_refresh_cb, s);
	s->init_ev = evtimer_new(w->base, src_init_cb, s);
	s->drain_ev = event_new(w->base, -1, 0, src_drain_cb, s);
	s->loaded_ev = event_new(w->base, -1, 0, src_loader_done_cb, s);
	s->keepalive = event_new(w->base, -1, EV_PERSIST, src_keepalive_cb, s);
	if (pipe2(s->meta_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		worker_fatal(w, 1, "pipe: out of descriptors");
	s->meta_ev = event_new(w->base, s->meta_pipe[0], EV_READ | EV_PERSIST, src_meta_cb, s);
	event_add(s->meta_ev, NULL);
	struct timeval one = { 1, 0 };
	event_add(s->keepalive, &one);
	src_arm(s->commit_ev, FLOW_INT(f, FS_COMMIT_INTERVAL_MS));
	worker_set_state(w, "connecting");
	kclient_resolve_rf(s->tadm, (int)FLOW_INT(f, FS_REPLICATION_FACTOR), src_rf_cb, s);
	return 0;
}

static void
src_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	(void)fd;
	(void)what;
	worker_exit(s->w, 0);
}

/* Drain: commit what is in flight, then exit. */
static void
src_stop(struct worker *w)
{
	struct src *s = w->data;

	s->draining = 1;
	event_del(s->commit_ev);
	event_active(s->commit_ev, EV_TIMEOUT, 0);
}

static void
src_status(struct worker *w, struct evbuffer *b)
{
	struct src *s = w->data;
	struct hmap_entry *e;
	size_t it;
	char shards[1024] = "", parts[8192] = "", key[400], failed[2048] = "";
	long long lag = 0;
	int nparts = 0, nstat = 0;

	for (int i = 0; i < s->tasks; i++)
		if (s->shards[i])
			snprintf(shards + strlen(shards), sizeof(shards) - strlen(shards), "%s%d",
			    shards[0] ? "," : "", i);
	for (e = hmap_first(&s->topics, &it); e; e = hmap_next(&s->topics, e, &it)) {
		struct src_topic *t = e->val;
		if (t->state == RT_FAILED)
			snprintf(failed + strlen(failed), sizeof(failed) - strlen(failed),
			    "%s%s: %s", failed[0] ? "; " : "", t->name, t->err);
		for (int32_t p = 0; p < t->nparts; p++) {
			struct src_part *sp = t->parts[p];
			int64_t lo = 0, hi = 0, pos;
			if (!sp || !sp->active)
				continue;
			nparts++;
			snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts), "%s%s:%d",
			    parts[0] ? "," : "", t->name, p);
			pos = sp->next >= 0 ? sp->next : 0;
			if (rd_kafka_get_watermark_offsets(kclient_rk(s->cons), t->name, p, &lo,
			    &hi) == 0 && hi >= pos && sp->next >= 0)
				lag += hi - pos;
			if (nstat++ < SRC_STATUS_PARTS) {
				snprintf(key, sizeof(key), "p.%s/%d", t->name, p);
				kvl_putf(b, key, "records=%lld bytes=%lld lag=%lld latency_ms=%lld "
				    "age_ms=%lld", sp->records, sp->bytes, (long long)(hi >= pos &&
				    sp->next >= 0 ? hi - pos : 0), (long long)sp->latency_ms,
				    (long long)sp->age_ms);
			}
		}
	}
	kvl_put(b, "shards", shards);
	kvl_putf(b, "shards_parked", "%d", s->nparked);
	kvl_put(b, "partitions", parts);
	kvl_putf(b, "partitions_owned", "%d", nparts);
	kvl_put(b, "shard_assignment", s->static_split ? "static" : "group");
	kvl_putf(b, "records", "%lld", s->records);
	kvl_putf(b, "bytes", "%lld", s->bytes);
	kvl_putf(b, "lag", "%lld", lag);
	kvl_putf(b, "latency_max_ms", "%lld", (long long)s->latency_max_ms);
	kvl_putf(b, "txn_commits", "%lld", s->txn_commits);
	kvl_putf(b, "txn_aborts", "%lld", s->txn_aborts);
	kvl_putf(b, "txn_commit_ms", "%lld", s->commit_ms);
	kvl_putf(b, "starved", "%lld", s->starved);
	kvl_putf(b, "refetches", "%lld", s->refetches);
	kvl_putf(b, "offset_gaps", "%lld", s->offset_gaps);
	kvl_putf(b, "offset_syncs", "%lld", s->syncs_sent);
	kvl_put(b, "topics_failed", failed);
	topicsync_status(s->tsync, b);
	{
		/* cumulative buckets, Prometheus style: "le:count,...;sum" */
		char h[512] = "";
		long long cum = 0;
		for (int i = 0; i <= SRC_LAT_BUCKETS; i++) {
			cum += s->lat_hist[i];
			if (i < SRC_LAT_BUCKETS)
				snprintf(h + strlen(h), sizeof(h) - strlen(h), "%d:%lld,",
				    src_lat_bounds[i], cum);
			else
				snprintf(h + strlen(h), sizeof(h) - strlen(h), "+Inf:%lld;%.0f",
				    cum, s->lat_sum_ms);
		}
		kvl_put(b, "latency_hist", h);
	}
	s->latency_max_ms = 0;
}

static void
src_topic_free(void *v)
{
	struct src_topic *t = v;
	for (int32_t p = 0; p < t->nparts; p++)
		if (t->parts[p])
			src_part_free(t->parts[p]);
	free(t->parts);
	if (t->crkt)
		rd_kafka_topic_destroy(t->crkt);
	free(t->name);
	free(t->remote);
	free(t);
}

static void
src_destroy(struct worker *w)
{
	struct src *s = w->data;

	if (s == NULL)
		return;
	for (size_t b = s->iback; b < s->nback; b++)
		if (s->backlog[b])
			rd_kafka_message_destroy(s->backlog[b]);
	s->nback = s->iback = 0;
	for (int i = 0; i < s->tasks; i++)
		if (s->shards[i])
			src_shard_drop(s, i, 1);
	free(s->shards);
	if (s->loader)
		kclient_destroy(s->loader);
	{
		/* the listing thread uses the admin handles: wait for it */
		const struct rd_kafka_metadata *ms, *mt;
		src_meta_join(s, &ms, &mt);
		if (ms)
			rd_kafka_metadata_destroy(ms);
		if (mt)
			rd_kafka_metadata_destroy(mt);
	}
	/* consumed messages reference the consumer: gone before it */
	hmap_free(&s->topics, src_topic_free);
	hmap_free(&s->progress, free);
	hmap_free(&s->mm2_progress, free);
	kclient_destroy(s->syncp);
	kclient_destroy(s->member);
	kclient_destroy(s->tadm);
	kclient_destroy(s->sadm);
	kclient_destroy(s->cons);
	filter_free(&s->filt);
	filter_free(&s->cfg_exclude);
	event_free(s->pump);
	event_free(s->commit_ev);
	event_free(s->refresh_ev);
	event_free(s->init_ev);
	event_free(s->drain_ev);
	event_free(s->loaded_ev);
	event_free(s->keepalive);
	event_free(s->meta_ev);
	close(s->meta_pipe[0]);
	close(s->meta_pipe[1]);
	free(s);
	w->data = NULL;
}

/* Paused: stop taking records (the consumer's queue fills and librdkafka
 * stops fetching); resumed: pump again. Transactions keep committing. */
static void
src_pause(struct worker *w, int paused)
{
	struct src *s = w->data;

	if (!paused)
		src_arm(s->pump, 0);	/* next loop turn: never starve timers */
}

const struct worker_role source_role = {
	.name = "source",
	.start = src_start,
	.stop = src_stop,
	.pause = src_pause,
	.status = src_status,
	.destroy = src_destroy,
};

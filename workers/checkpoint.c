/*
 * checkpoint.c: the checkpoint role (docs/checkpoints.md). Lists the
 * source's consumer groups (MM2's group filter), reads their committed
 * offsets, translates them through the flow's offset syncs (translate.c:
 * exact where the syncs prove it, MM2's rule otherwise) and writes MM2
 * checkpoints to <S>.checkpoints.internal on the target, only when they
 * move (MM2's monotonic rule). When group offset sync is on, it commits the
 * translated offsets to the same group on the target while that group is
 * absent or empty there, only forward. It runs once per flow (lease.c) and
 * reads back what was written before emitting, so nothing regresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "filter.h"
#include "hmap.h"
#include "kafka.h"
#include "lease.h"
#include "log.h"
#include "mm2fmt.h"
#include "msg.h"
#include "policy.h"
#include "translate.h"
#include "worker.h"

#define CP_RETRY_MS		5000
#define CP_MAX_INFLIGHT		32	/* admin requests in flight */
#define CP_STATUS_GROUPS	200	/* groups detailed in STATUS */
#define CP_ADMIN_TIMEOUT_MS	30000

/*
 * Phases of the worker:
 *   CP_CONNECTING  learning the replication factor for the checkpoints topic
 *   CP_CREATING    creating <S>.checkpoints.internal on the target
 *   CP_STANDBY     another instance holds the flow's lease: read syncs only
 *   CP_LOADING     active; reading back the checkpoints already written and
 *                  the offset syncs up to their end; nothing is emitted
 *   CP_RUNNING     emitting checkpoints and syncing group offsets
 */
enum cp_phase {
	CP_CONNECTING,
	CP_CREATING,
	CP_STANDBY,
	CP_LOADING,
	CP_RUNNING,
	CP__PHASES
};
static const char *const cp_phase_names[CP__PHASES] = {
	"connecting", "creating topic", "standby", "loading", "running"
};

/* Queued admin requests. */
enum cp_req {
	CP_REQ_SRC_OFFSETS,	/* a group's committed offsets on the source */
	CP_REQ_TGT_OFFSETS,	/* an empty target group's offsets, then alter */
	CP_REQ_TGT_ALTER	/* commit to a target group absent there */
};

/* The latest checkpoint of (group, target topic-partition). */
struct cp_ckpt {
	char    *topic;		/* name on the target */
	int32_t  partition;
	int64_t  up;
	int64_t  down;
	char    *meta;
};

struct cp_group {
	char        *name;
	struct hmap  ckpts;	/* "topic/partition" -> struct cp_ckpt */
	int          listed;	/* on the source and passing the filter */
	int          queued;	/* a source-offsets request pending */
	int          tqueued;	/* a target request pending */
	int          dirty;	/* checkpoints not yet committed on the target */
	int64_t      last_ckpt_ms;
	int          exact, conservative, none;	/* partitions, last reading */
};

struct cp_job {
	enum cp_req      req;
	struct cp_group *g;
};

struct cp {
	struct worker    *w;
	struct kclient   *src;		/* source admin */
	struct kclient   *dst;		/* checkpoint producer, target admin */
	struct kclient   *syncs;	/* offset-syncs reader */
	struct kclient   *loader;	/* checkpoints reader (while loading) */
	struct lease     *lease;
	struct event     *retry_ev, *emit_ev, *refresh_ev, *gsync_ev;
	struct event     *loaded_ev, *lease_ev, *drain_ev;
	struct km_policy  pol;
	struct km_filter  topics, groups_filt;
	char              ckpt_topic[300];
	char              syncs_topic[300];
	struct tr_store   store;
	struct hmap       groups;	/* name -> struct cp_group */
	struct cp_job    *jobs;
	size_t            jhead, jn, jcap;
	int               inflight;
	enum cp_phase     phase;
	int               topic_ok, active, loaded, loading, load_again, syncs_eof;
	int               lease_changed;
	int               create_marker;
	struct mm2_checkpoint rec;	/* decode scratch */
	/* counters */
	long long         emitted, acked, failed, skipped, loaded_records;
	long long         tgt_commits, tgt_partitions, tgt_active_skips, tgt_errors;
	long long         round_written;
	int64_t           last_ckpt_ms;
	int               nlisted;
};

static void cp_pump(struct cp *cp);
static void cp_load(struct cp *cp);

static void
cp_arm(struct event *ev, long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	event_add(ev, &tv);
}

static int
cp_can_emit(const struct cp *cp)
{
	return cp->topic_ok && cp->active && cp->loaded && cp->syncs_eof &&
	    !cp->w->paused && !cp->w->stopping;
}

static void
cp_set_phase(struct cp *cp)
{
	enum cp_phase ph = !cp->topic_ok ? cp->phase :
	    !cp->active ? CP_STANDBY : cp_can_emit(cp) || (cp->loaded && cp->syncs_eof) ?
	    CP_RUNNING : CP_LOADING;

	if (ph != cp->phase) {
		log_info("checkpoints %s -> %s", cp_phase_names[cp->phase], cp_phase_names[ph]);
		cp->phase = ph;
	}
	if (cp->w->ready && !cp->w->paused)
		worker_set_state(cp->w, cp->active ? "running" : "standby");
}

/* ---------------------------------------------------------------- groups */

static struct cp_group *
cp_group_get(struct cp *cp, const char *name)
{
	struct cp_group *g = hmap_get(&cp->groups, name);

	if (g || strlen(name) >= MM2_GROUP_MAX)
		return g;
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->name = strdup(name)) == NULL ||
	    hmap_put(&cp->groups, name, g) == -1) {
		if (g)
			free(g->name);
		free(g);
		return NULL;
	}
	return g;
}

static void
cp_ckpt_free(void *v)
{
	struct cp_ckpt *c = v;
	free(c->topic);
	free(c->meta);
	free(c);
}

static void
cp_group_free(void *v)
{
	struct cp_group *g = v;
	hmap_free(&g->ckpts, cp_ckpt_free);
	free(g->name);
	free(g);
}

/* Remember a checkpoint as the latest of its (group, partition). */
static int
cp_ckpt_set(struct cp_group *g, const char *topic, int32_t partition, int64_t up,
    int64_t down, const char *meta)
{
	char key[MM2_TOPIC_MAX + 16];
	struct cp_ckpt *c;
	char *m;

	snprintf(key, sizeof(key), "%s/%d", topic, (int)partition);
	if ((c = hmap_get(&g->ckpts, key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL || (c->topic = strdup(topic)) == NULL ||
		    hmap_put(&g->ckpts, key, c) == -1) {
			if (c)
				free(c->topic);
			free(c);
			return -1;
		}
		c->partition = partition;
	}
	if ((m = strdup(meta ? meta : "")) == NULL)
		return -1;
	free(c->meta);
	c->meta = m;
	c->up = up;
	c->down = down;
	return 0;
}

/* ---------------------------------------------------------------- jobs */

static void
cp_job_push(struct cp *cp, enum cp_req req, struct cp_group *g)
{
	if (cp->jhead > 0 && cp->jhead == cp->jn)
		cp->jhead = cp->jn = 0;
	if (cp->jn == cp->jcap) {
		if (cp->jhead > cp->jcap / 2) {
			memmove(cp->jobs, cp->jobs + cp->jhead, (cp->jn - cp->jhead) *
			    sizeof(*cp->jobs));
			cp->jn -= cp->jhead;
			cp->jhead = 0;
		} else {
			size_t cap = cp->jcap ? cp->jcap * 2 : 256;
			struct cp_job *j = realloc(cp->jobs, cap * sizeof(*j));
			if (j == NULL) {
				worker_error(cp->w, "out of memory queueing a request");
				return;
			}
			cp->jobs = j;
			cp->jcap = cap;
		}
	}
	if (req == CP_REQ_SRC_OFFSETS)
		g->queued = 1;
	else
		g->tqueued = 1;
	cp->jobs[cp->jn++] = (struct cp_job){ req, g };
}

static rd_kafka_AdminOptions_t *
cp_admin_opts(struct kclient *kc, rd_kafka_admin_op_t op, void *opaque)
{
	char err[256];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kclient_rk(kc), op);

	rd_kafka_AdminOptions_set_request_timeout(o, CP_ADMIN_TIMEOUT_MS, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, opaque);
	return o;
}

/* Ask for every committed offset of `group` (a result event follows). */
static void
cp_list_offsets(struct kclient *kc, const char *group, void *opaque)
{
	rd_kafka_ListConsumerGroupOffsets_t *lo =
	    rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_AdminOptions_t *o = cp_admin_opts(kc,
	    RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, opaque);

	rd_kafka_ListConsumerGroupOffsets(kclient_rk(kc), &lo, 1, o, kclient_queue(kc));
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ListConsumerGroupOffsets_destroy(lo);
}

static void
cp_list_groups(struct kclient *kc, void *opaque)
{
	rd_kafka_AdminOptions_t *o = cp_admin_opts(kc, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
	    opaque);

	rd_kafka_ListConsumerGroups(kclient_rk(kc), o, kclient_queue(kc));
	rd_kafka_AdminOptions_destroy(o);
}

/*
 * Commit a group's checkpoints on the target: all of them, or (tgt given:
 * the group's current target offsets) only those that move it forward.
 * Returns 1 if a request was sent.
 */
static int
cp_alter(struct cp *cp, struct cp_group *g, const rd_kafka_topic_partition_list_t *tgt)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(
	    (int)g->ckpts.n + 1);
	struct hmap_entry *e;
	size_t it;
	int sent = 0;

	for (e = hmap_first(&g->ckpts, &it); e; e = hmap_next(&g->ckpts, e, &it)) {
		struct cp_ckpt *c = e->val;
		const rd_kafka_topic_partition_t *cur = tgt ?
		    rd_kafka_topic_partition_list_find(tgt, c->topic, c->partition) : NULL;
		if (cur && cur->err == RD_KAFKA_RESP_ERR_NO_ERROR && cur->offset >= 0 &&
		    cur->offset >= c->down)
			continue;	/* only forward */
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(l, c->topic,
		    c->partition);
		p->offset = c->down;
		if (c->meta && *c->meta) {
			p->metadata = strdup(c->meta);
			p->metadata_size = p->metadata ? strlen(c->meta) : 0;
		}
	}
	g->dirty = 0;
	if (l->cnt > 0) {
		rd_kafka_AlterConsumerGroupOffsets_t *ao =
		    rd_kafka_AlterConsumerGroupOffsets_new(g->name, l);
		rd_kafka_AdminOptions_t *o = cp_admin_opts(cp->dst,
		    RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, g);
		rd_kafka_AlterConsumerGroupOffsets(kclient_rk(cp->dst), &ao, 1, o,
		    kclient_queue(cp->dst));
		rd_kafka_AdminOptions_destroy(o);
		rd_kafka_AlterConsumerGroupOffsets_destroy(ao);
		sent = 1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return sent;
}

/* Send queued requests while fewer than CP_MAX_INFLIGHT are out. */
static void
cp_pump(struct cp *cp)
{
	while (cp->inflight < CP_MAX_INFLIGHT && cp->jhead < cp->jn) {
		struct cp_job j = cp->jobs[cp->jhead++];
		switch (j.req) {
		case CP_REQ_SRC_OFFSETS:
			if (!cp_can_emit(cp)) {
				j.g->queued = 0;
				continue;
			}
			cp_list_offsets(cp->src, j.g->name, j.g);
			break;
		case CP_REQ_TGT_OFFSETS:
			if (!cp_can_emit(cp)) {
				j.g->tqueued = 0;
				continue;
			}
			cp_list_offsets(cp->dst, j.g->name, j.g);
			break;
		case CP_REQ_TGT_ALTER:
			if (!cp_can_emit(cp) || !cp_alter(cp, j.g, NULL)) {
				j.g->tqueued = 0;
				continue;
			}
			break;
		}
		cp->inflight++;
	}
}

/* ---------------------------------------------------------------- checkpoints */

/* Does this flow replicate `topic` (MM2's filter and policy), or is it a
 * topic that came from the target (failback)? */
static int
cp_topic_counts(struct cp *cp, const char *topic, char *remote, size_t cap)
{
	char alias[MM2_ALIAS_MAX];
	int accepted = filter_match(&cp->topics, topic);

	if (accepted && policy_topic_source(&cp->pol, topic, alias, sizeof(alias)) == 1 &&
	    strcmp(alias, cp->w->dst.alias) == 0)
		return policy_original_topic(&cp->pol, topic, remote, cap) >= 0;
	if (!policy_should_replicate_topic_filtered(&cp->pol, cp->w->src.alias,
	    cp->w->dst.alias, topic, accepted, 1))
		return 0;
	return policy_format_remote_topic(&cp->pol, cp->w->src.alias, topic, remote, cap) >= 0;
}

/* Produce one checkpoint record. */
static int
cp_produce(struct cp *cp, const char *group, const char *topic, int32_t partition,
    int64_t up, int64_t down, const char *meta, int64_t ts)
{
	char key[2 + MM2_GROUP_MAX + 2 + MM2_TOPIC_MAX + 4];
	char val[2 + 8 + 8 + 2 + MM2_METADATA_MAX];
	ssize_t kl = mm2_checkpoint_key_encode(key, sizeof(key), group, topic, partition);
	ssize_t vl = mm2_checkpoint_value_encode(val, sizeof(val), up, down, meta);
	rd_kafka_resp_err_t err;

	if (kl < 0 || vl < 0)
		return -1;
	err = rd_kafka_producev(kclient_rk(cp->dst), RD_KAFKA_V_TOPIC(cp->ckpt_topic),
	    RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, (size_t)kl),
	    RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_TIMESTAMP(ts),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (err) {
		worker_error(cp->w, "cannot queue a checkpoint: %s", rd_kafka_err2str(err));
		return -1;
	}
	cp->emitted++;
	return 0;
}

/*
 * A group's committed offsets on the source: translate each partition of a
 * replicated topic and write a checkpoint when it is more recent than the
 * last one (MM2: no previous one, the group rewound upstream, or the
 * downstream offset moved forward).
 */
static void
cp_on_src_offsets(struct cp *cp, struct cp_group *g, const rd_kafka_topic_partition_list_t *parts)
{
	int64_t ts = worker_wall_ms();
	char remote[MM2_TOPIC_MAX], key[MM2_TOPIC_MAX + 16], meta[MM2_METADATA_MAX];
	int exact = 0, cons = 0, none = 0, written = 0;

	for (int i = 0; parts && i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t down;
		enum tr_kind k;
		if (p->err || p->offset < 0 ||
		    !cp_topic_counts(cp, p->topic, remote, sizeof(remote)))
			continue;
		k = tr_translate(&cp->store, p->topic, p->partition, p->offset, &down);
		if (k == TR_NONE) {
			none++;
			continue;
		}
		(k == TR_EXACT ? exact++ : cons++);
		snprintf(key, sizeof(key), "%s/%d", remote, (int)p->partition);
		struct cp_ckpt *c = hmap_get(&g->ckpts, key);
		if (c && !(p->offset < c->up || down > c->down)) {
			cp->skipped++;
			continue;
		}
		size_t ml = p->metadata && p->metadata_size ? p->metadata_size : 0;
		if (ml >= sizeof(meta))
			ml = sizeof(meta) - 1;
		memcpy(meta, ml ? p->metadata : "", ml);
		meta[ml] = '\0';
		if (strlen(meta) != ml)
			meta[0] = '\0';		/* binary metadata: MM2 carries strings */
		if (cp_produce(cp, g->name, remote, p->partition, p->offset, down, meta, ts) == -1 ||
		    cp_ckpt_set(g, remote, p->partition, p->offset, down, meta) == -1)
			continue;
		log_debug("group %s: %s [%d] %lld -> %s [%d] %lld (%s)", g->name, p->topic,
		    (int)p->partition, (long long)p->offset, remote, (int)p->partition,
		    (long long)down, tr_kind_names[k]);
		written++;
	}
	g->exact = exact;
	g->conservative = cons;
	g->none = none;
	if (written) {
		if (g->last_ckpt_ms == 0)
			log_info("group %s: first checkpoints, %d partitions (%d exact, %d "
			    "conservative)", g->name, written, exact, cons);
		g->last_ckpt_ms = ts;
		g->dirty = 1;
		cp->last_ckpt_ms = ts;
		cp->round_written += written;
	}
}

/* Every emit interval: read every listed group's offsets again. */
static void
cp_emit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;
	struct hmap_entry *e;
	size_t it;
	int ex = 0, co = 0, no = 0, ng = 0;

	(void)fd;
	(void)what;
	cp_arm(cp->emit_ev, FLOW_INT(&cp->w->flow, FS_CHECKPOINTS_INTERVAL_MS));
	if (!cp_can_emit(cp))
		return;
	for (e = hmap_first(&cp->groups, &it); e; e = hmap_next(&cp->groups, e, &it)) {
		struct cp_group *g = e->val;
		if (!g->listed)
			continue;
		ex += g->exact;
		co += g->conservative;
		no += g->none;
		ng += g->last_ckpt_ms > 0;
		if (!g->queued)
			cp_job_push(cp, CP_REQ_SRC_OFFSETS, g);
	}
	if (cp->round_written)
		log_info("checkpoints: %lld written; %d of %d groups checkpointed; "
		    "partitions %d exact, %d conservative, %d untranslatable",
		    cp->round_written, ng, cp->nlisted, ex, co, no);
	cp->round_written = 0;
	cp_pump(cp);
}

/* The source's groups: keep those passing MM2's group filter. */
static void
cp_on_src_groups(struct cp *cp, rd_kafka_event_t *ev)
{
	const rd_kafka_ListConsumerGroups_result_t *res =
	    rd_kafka_event_ListConsumerGroups_result(ev);
	const rd_kafka_ConsumerGroupListing_t **gl;
	struct hmap_entry *e;
	size_t n = 0, ne = 0, it;
	int added = 0;

	if (rd_kafka_event_error(ev) || res == NULL) {
		worker_error(cp->w, "cannot list the groups of %s: %s", cp->w->src.alias,
		    rd_kafka_event_error_string(ev));
		return;
	}
	rd_kafka_ListConsumerGroups_result_errors(res, &ne);
	gl = rd_kafka_ListConsumerGroups_result_valid(res, &n);
	/* with partial results, groups not answered keep their flag */
	if (ne == 0)
		for (e = hmap_first(&cp->groups, &it); e; e = hmap_next(&cp->groups, e, &it))
			((struct cp_group *)e->val)->listed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = rd_kafka_ConsumerGroupListing_group_id(gl[i]);
		struct cp_group *g;
		if (!filter_match(&cp->groups_filt, name) || (g = cp_group_get(cp, name)) == NULL)
			continue;
		if (!g->listed && g->last_ckpt_ms == 0 && !g->queued && cp_can_emit(cp)) {
			cp_job_push(cp, CP_REQ_SRC_OFFSETS, g);	/* new: no need to wait */
			added++;
		}
		g->listed = 1;
	}
	cp->nlisted = 0;
	for (e = hmap_first(&cp->groups, &it); e; e = hmap_next(&cp->groups, e, &it))
		cp->nlisted += ((struct cp_group *)e->val)->listed;
	if (added)
		log_debug("%d new groups on %s", added, cp->w->src.alias);
	cp_pump(cp);
}

static void
cp_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	cp_arm(cp->refresh_ev, FLOW_INT(&cp->w->flow, FS_REFRESH_GROUPS_INTERVAL_MS));
	if (cp->topic_ok && cp->active)
		cp_list_groups(cp->src, cp);
}

/* ---------------------------------------------------------------- group offset sync */

/* The target's groups and their states: write to those absent or empty. */
static void
cp_on_tgt_groups(struct cp *cp, rd_kafka_event_t *ev)
{
	const rd_kafka_ListConsumerGroups_result_t *res =
	    rd_kafka_event_ListConsumerGroups_result(ev);
	const rd_kafka_ConsumerGroupListing_t **gl;
	struct hmap states = { 0 };
	struct hmap_entry *e;
	size_t n = 0, ne = 0, it;
	static const int st_base = 100;

	if (rd_kafka_event_error(ev) || res == NULL) {
		worker_error(cp->w, "cannot list the groups of %s: %s", cp->w->dst.alias,
		    rd_kafka_event_error_string(ev));
		return;
	}
	rd_kafka_ListConsumerGroups_result_errors(res, &ne);
	gl = rd_kafka_ListConsumerGroups_result_valid(res, &n);
	for (size_t i = 0; i < n; i++)
		hmap_put(&states, rd_kafka_ConsumerGroupListing_group_id(gl[i]),
		    (void *)(intptr_t)(st_base + rd_kafka_ConsumerGroupListing_state(gl[i])));
	for (e = hmap_first(&cp->groups, &it); e; e = hmap_next(&cp->groups, e, &it)) {
		struct cp_group *g = e->val;
		intptr_t st;
		if (!g->listed || !g->dirty || g->tqueued || g->ckpts.n == 0)
			continue;
		st = (intptr_t)hmap_get(&states, g->name);
		if (st == 0 && ne == 0)
			cp_job_push(cp, CP_REQ_TGT_ALTER, g);	/* absent */
		else if (st == 0 || st == st_base + RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY)
			/* empty, or unknown (a partial listing): forward only; the
			 * broker refuses a commit to a group with members */
			cp_job_push(cp, CP_REQ_TGT_OFFSETS, g);
		else if (st != 0) {
			if (cp->tgt_active_skips++ % 100 == 0)
				log_info("group %s has members on %s: its offsets are left alone",
				    g->name, cp->w->dst.alias);
		}
	}
	hmap_free(&states, NULL);
	cp_pump(cp);
}

static void
cp_gsync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	cp_arm(cp->gsync_ev, FLOW_INT(&cp->w->flow, FS_SYNC_GROUP_OFFSETS_INTERVAL_MS));
	if (cp_can_emit(cp) && FLOW_INT(&cp->w->flow, FS_SYNC_GROUP_OFFSETS_ENABLED))
		cp_list_groups(cp->dst, cp);
}

/* The result of committing a group's offsets on the target. */
static void
cp_on_alter(struct cp *cp, struct cp_group *g, rd_kafka_event_t *ev)
{
	const rd_kafka_AlterConsumerGroupOffsets_result_t *res =
	    rd_kafka_event_AlterConsumerGroupOffsets_result(ev);
	const rd_kafka_group_result_t **gr;
	size_t n = 0;
	int ok = 0, bad = 0;
	const char *why = NULL;

	gr = res ? rd_kafka_AlterConsumerGroupOffsets_result_groups(res, &n) : NULL;
	if (rd_kafka_event_error(ev))
		why = rd_kafka_event_error_string(ev);
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(gr[i]);
		if (rd_kafka_group_result_error(gr[i]))
			why = rd_kafka_error_string(rd_kafka_group_result_error(gr[i]));
		for (int j = 0; pl && j < pl->cnt; j++) {
			if (pl->elems[j].err) {
				bad++;
				why = rd_kafka_err2str(pl->elems[j].err);
			} else
				ok++;
		}
	}
	cp->tgt_partitions += ok;
	if (why || bad) {
		g->dirty = 1;
		cp->tgt_errors++;
		log_notice("group %s: offsets not committed on %s (%s); consumers are "
		    "probably using the group", g->name, cp->w->dst.alias, why ? why : "?");
	} else {
		cp->tgt_commits++;
		log_debug("group %s: %d offsets committed on %s", g->name, ok, cp->w->dst.alias);
	}
}

/* ---------------------------------------------------------------- events */

static void
cp_src_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct cp *cp = arg;

	(void)kc;
	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT:
		cp_on_src_groups(cp, ev);
		break;
	case RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT: {
		struct cp_group *g = rd_kafka_event_opaque(ev);
		const rd_kafka_ListConsumerGroupOffsets_result_t *res =
		    rd_kafka_event_ListConsumerGroupOffsets_result(ev);
		const rd_kafka_group_result_t **gr;
		size_t n = 0;
		cp->inflight--;
		g->queued = 0;
		gr = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
		if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_group_result_error(gr[0]))
			log_info("cannot read the offsets of group %s on %s: %s", g->name,
			    cp->w->src.alias, rd_kafka_event_error(ev) ?
			    rd_kafka_event_error_string(ev) : n == 1 ?
			    rd_kafka_error_string(rd_kafka_group_result_error(gr[0])) : "no result");
		else if (cp_can_emit(cp))
			cp_on_src_offsets(cp, g, rd_kafka_group_result_partitions(gr[0]));
		cp_pump(cp);
		break;
	}
	default:
		break;
	}
}

static void cp_rf_cb(struct kclient *kc, int rf, const char *err, void *arg);

static void
cp_dst_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct cp *cp = arg;
	const rd_kafka_message_t *m;
	char err[1024];

	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		if (kclient_topic_result(ev, cp->ckpt_topic, err, sizeof(err)) == -1) {
			worker_error(cp->w, "cannot create topic %s on %s: %s; retrying in %d s",
			    cp->ckpt_topic, kclient_cluster(kc), err, CP_RETRY_MS / 1000);
			cp_arm(cp->retry_ev, CP_RETRY_MS);
			return;
		}
		cp->topic_ok = 1;
		worker_clear_error(cp->w);
		snprintf(err, sizeof(err), "checkpoints to %s on %s every %lld ms, offset "
		    "syncs from %s", cp->ckpt_topic, kclient_cluster(kc),
		    FLOW_INT(&cp->w->flow, FS_CHECKPOINTS_INTERVAL_MS), cp->syncs_topic);
		worker_ready(cp->w, err);
		cp_set_phase(cp);
		if (cp->active)
			cp_load(cp);
		cp_arm(cp->refresh_ev, 0);
		cp_arm(cp->emit_ev, FLOW_INT(&cp->w->flow, FS_CHECKPOINTS_INTERVAL_MS));
		cp_arm(cp->gsync_ev, FLOW_INT(&cp->w->flow, FS_SYNC_GROUP_OFFSETS_INTERVAL_MS));
		break;
	case RD_KAFKA_EVENT_DR:
		while ((m = rd_kafka_event_message_next(ev)) != NULL) {
			if (m->err) {
				cp->failed++;
				worker_error(cp->w, "checkpoint not written to %s: %s",
				    cp->ckpt_topic, rd_kafka_err2str(m->err));
			} else
				cp->acked++;
		}
		break;
	case RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT:
		cp_on_tgt_groups(cp, ev);
		break;
	case RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT: {
		struct cp_group *g = rd_kafka_event_opaque(ev);
		const rd_kafka_ListConsumerGroupOffsets_result_t *res =
		    rd_kafka_event_ListConsumerGroupOffsets_result(ev);
		const rd_kafka_group_result_t **gr;
		size_t n = 0;
		gr = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
		if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_group_result_error(gr[0]) ||
		    !cp_can_emit(cp) || !cp_alter(cp, g, rd_kafka_group_result_partitions(gr[0]))) {
			/* nothing to move forward, or try again next interval */
			if (rd_kafka_event_error(ev) || n != 1)
				g->dirty = 1;
			cp->inflight--;
			g->tqueued = 0;
		}
		cp_pump(cp);
		break;
	}
	case RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT: {
		struct cp_group *g = rd_kafka_event_opaque(ev);
		cp->inflight--;
		g->tqueued = 0;
		cp_on_alter(cp, g, ev);
		cp_pump(cp);
		break;
	}
	default:
		break;
	}
}

/* Offset syncs, from the beginning of the topic and then as they come. */
static void
cp_syncs_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct cp *cp = arg;
	const rd_kafka_message_t *m;
	struct mm2_offset_sync s;
	int eof = 0;

	(void)kc;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR &&
	    rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		eof = 1;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_FETCH)
		while ((m = rd_kafka_event_message_next(ev)) != NULL) {
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				eof = 1;
				continue;
			}
			if (m->err)
				continue;
			if (m->key == NULL || m->payload == NULL || mm2_offset_sync_decode(m->key,
			    m->key_len, m->payload, m->len, &s) == -1)
				continue;
			if (tr_store_add(&cp->store, m->offset, s.topic, s.partition,
			    s.upstream_offset, s.offset) == -1)
				worker_fatal(cp->w, 1, "out of memory storing offset syncs");
		}
	if (eof && !cp->syncs_eof) {
		cp->syncs_eof = 1;
		log_info("offset syncs read to the end of %s: %lld syncs, %zu partitions",
		    cp->syncs_topic, cp->store.syncs, cp->store.parts.n);
		cp_set_phase(cp);
		if (cp_can_emit(cp))
			cp_arm(cp->refresh_ev, 0);
	}
}

/* ---------------------------------------------------------------- loading */

/* The checkpoints topic was read to its end (deferred: this destroys the
 * loader, which must not happen inside its own callback). */
static void
cp_loaded_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	kclient_destroy(cp->loader);
	cp->loader = NULL;
	cp->loading = 0;
	if (cp->load_again) {
		cp->load_again = 0;
		cp_load(cp);
		return;
	}
	cp->loaded = cp->active;
	log_info("checkpoints read back from %s: %lld records, %zu groups", cp->ckpt_topic,
	    cp->loaded_records, cp->groups.n);
	cp_set_phase(cp);
	if (cp_can_emit(cp))
		cp_arm(cp->refresh_ev, 0);
}

static void
cp_loader_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct cp *cp = arg;
	const rd_kafka_message_t *m;
	int done = 0;

	(void)kc;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR &&
	    rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		done = 1;
	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_FETCH)
		while ((m = rd_kafka_event_message_next(ev)) != NULL) {
			struct cp_group *g;
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				done = 1;
				continue;
			}
			if (m->err || m->key == NULL || m->payload == NULL ||
			    mm2_checkpoint_decode(m->key, m->key_len, m->payload, m->len,
			    &cp->rec) == -1 || (g = cp_group_get(cp, cp->rec.group)) == NULL)
				continue;	/* MM2 skips what it cannot parse */
			cp_ckpt_set(g, cp->rec.topic, cp->rec.partition, cp->rec.upstream_offset,
			    cp->rec.offset, cp->rec.metadata);
			g->last_ckpt_ms = rd_kafka_message_timestamp(m, NULL);
			g->dirty = 1;
			cp->loaded_records++;
		}
	if (done && !cp->loaded && cp->loading)
		event_active(cp->loaded_ev, EV_TIMEOUT, 0);
}

/* Read the checkpoints already written (by us or another instance) so
 * none regresses; called whenever this worker becomes active. */
static void
cp_load(struct cp *cp)
{
	char gid[400];
	const char *extra[] = { "group.id", gid, "enable.auto.commit", "false",
		"enable.partition.eof", "true", "auto.offset.reset", "earliest", NULL };
	rd_kafka_topic_partition_list_t *l;

	if (cp->loading) {
		cp->load_again = 1;
		return;
	}
	cp->loading = 1;
	cp->loaded = 0;
	cp->loaded_records = 0;
	snprintf(gid, sizeof(gid), "kmirror.%s.%s.checkpoint.reader", cp->w->src.alias,
	    cp->w->dst.alias);
	cp->loader = kclient_new(cp->w, RD_KAFKA_CONSUMER, &cp->w->dst, KM_SCOPE_CONSUMER,
	    "checkpoints", extra, KC_F_GROUP, cp_loader_event, cp);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, cp->ckpt_topic, 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(kclient_rk(cp->loader), l);
	rd_kafka_topic_partition_list_destroy(l);
	cp_set_phase(cp);
}

/* Start reading the offset syncs (kept while standby, so that taking
 * over is quick). */
static void
cp_start_syncs(struct cp *cp)
{
	struct worker *w = cp->w;
	int at_target = FLOW_INT(&w->flow, FS_OFFSET_SYNCS_LOCATION) == KM_LOC_TARGET;
	char gid[400];
	const char *extra[] = { "group.id", gid, "enable.auto.commit", "false",
		"enable.partition.eof", "true", "auto.offset.reset", "earliest",
		"isolation.level", "read_uncommitted", "fetch.wait.max.ms", "100",
		"topic.metadata.refresh.interval.ms", "5000", NULL };
	rd_kafka_topic_partition_list_t *l;

	snprintf(gid, sizeof(gid), "kmirror.%s.%s.checkpoint.syncs", w->src.alias,
	    w->dst.alias);
	cp->syncs = kclient_new(w, RD_KAFKA_CONSUMER, at_target ? &w->dst : &w->src,
	    KM_SCOPE_CONSUMER, "offset-syncs", extra, KC_F_GROUP, cp_syncs_event, cp);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, cp->syncs_topic, 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(kclient_rk(cp->syncs), l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---------------------------------------------------------------- lease, topic */

/* Lease changes are handled from the loop (lease_new may call back before
 * it returns). */
static void
cp_lease_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	if (cp->active && cp->topic_ok)
		cp_load(cp);
	if (!cp->active)
		cp->loaded = 0;
	cp_set_phase(cp);
}

static void
cp_lease_cb(void *arg, int active)
{
	struct cp *cp = arg;

	cp->active = active;
	event_active(cp->lease_ev, EV_TIMEOUT, 0);
}

static void
cp_rf_cb(struct kclient *kc, int rf, const char *err, void *arg)
{
	struct cp *cp = arg;

	if (err) {
		worker_error(cp->w, "cannot learn the default replication factor of %s: %s",
		    kclient_cluster(kc), err);
		cp_arm(cp->retry_ev, CP_RETRY_MS);
		return;
	}
	cp->phase = CP_CREATING;
	worker_set_state(cp->w, "creating topic");
	if (kclient_create_compacted(kc, cp->ckpt_topic, rf, &cp->create_marker) == -1)
		cp_arm(cp->retry_ev, CP_RETRY_MS);
}

static void
cp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	kclient_resolve_rf(cp->dst, (int)FLOW_INT(&cp->w->flow, FS_CHECKPOINTS_RF),
	    cp_rf_cb, cp);
}

/* ---------------------------------------------------------------- role */

static int
cp_start(struct worker *w)
{
	static const char *const prod_extra[] = { "acks", "all", "enable.idempotence",
		"true", "linger.ms", "5", NULL };
	struct km_flow *f = &w->flow;
	struct cp *cp = calloc(1, sizeof(*cp));
	char err[512];

	if (cp == NULL)
		return -1;
	w->data = cp;
	cp->w = w;
	tr_store_init(&cp->store, 0);
	if (policy_init(&cp->pol, (enum km_policy_kind)FLOW_INT(f, FS_REPLICATION_POLICY),
	    FLOW_STR(f, FS_SEPARATOR), (int)FLOW_INT(f, FS_INTERNAL_SEPARATOR_ENABLED),
	    w->src.alias) == -1) {
		worker_error(w, "bad replication policy settings");
		return -1;
	}
	if (filter_init(&cp->topics, (const char *const *)f->v[FS_TOPICS].list,
	    f->v[FS_TOPICS].nlist, (const char *const *)f->v[FS_TOPICS_EXCLUDE].list,
	    f->v[FS_TOPICS_EXCLUDE].nlist, err, sizeof(err)) == -1 ||
	    filter_init(&cp->groups_filt, (const char *const *)f->v[FS_GROUPS].list,
	    f->v[FS_GROUPS].nlist, (const char *const *)f->v[FS_GROUPS_EXCLUDE].list,
	    f->v[FS_GROUPS_EXCLUDE].nlist, err, sizeof(err)) == -1) {
		worker_error(w, "flow %s: %s", f->name, err);
		return -1;
	}
	policy_checkpoints_topic(&cp->pol, w->src.alias, cp->ckpt_topic,
	    sizeof(cp->ckpt_topic));
	policy_offset_syncs_topic(&cp->pol, FLOW_INT(f, FS_OFFSET_SYNCS_LOCATION) ==
	    KM_LOC_SOURCE ? w->dst.alias : w->src.alias, cp->syncs_topic,
	    sizeof(cp->syncs_topic));

	cp->retry_ev = evtimer_new(w->base, cp_retry_cb, cp);
	cp->emit_ev = evtimer_new(w->base, cp_emit_cb, cp);
	cp->refresh_ev = evtimer_new(w->base, cp_refresh_cb, cp);
	cp->gsync_ev = evtimer_new(w->base, cp_gsync_cb, cp);
	cp->loaded_ev = event_new(w->base, -1, 0, cp_loaded_cb, cp);
	cp->lease_ev = event_new(w->base, -1, 0, cp_lease_ev_cb, cp);

	cp->src = kclient_new(w, RD_KAFKA_PRODUCER, &w->src, KM_SCOPE_ADMIN, "groups",
	    NULL, 0, cp_src_event, cp);
	cp->dst = kclient_new(w, RD_KAFKA_PRODUCER, &w->dst, KM_SCOPE_PRODUCER, "checkpoints",
	    prod_extra, 0, cp_dst_event, cp);
	cp_start_syncs(cp);
	cp->lease = lease_new(w, cp_lease_cb, cp);
	worker_set_state(w, "connecting");
	kclient_resolve_rf(cp->dst, (int)FLOW_INT(f, FS_CHECKPOINTS_RF), cp_rf_cb, cp);
	return 0;
}

static void
cp_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd;
	(void)what;
	if (rd_kafka_outq_len(kclient_rk(cp->dst)) == 0)
		worker_exit(cp->w, 0);
	cp_arm(cp->drain_ev, 50);
}

/* Stop reading and emitting; wait for checkpoints in flight. */
static void
cp_stop(struct worker *w)
{
	struct cp *cp = w->data;

	event_del(cp->emit_ev);
	event_del(cp->refresh_ev);
	event_del(cp->gsync_ev);
	event_del(cp->retry_ev);
	cp->drain_ev = evtimer_new(w->base, cp_drain_cb, cp);
	cp_drain_cb(-1, 0, cp);
}

static void
cp_status(struct worker *w, struct evbuffer *b)
{
	struct cp *cp = w->data;
	struct hmap_entry *e;
	size_t it;
	int ex = 0, co = 0, no = 0, ng = 0, shown = 0;

	for (e = hmap_first(&cp->groups, &it); e; e = hmap_next(&cp->groups, e, &it)) {
		struct cp_group *g = e->val;
		if (!g->listed)
			continue;
		ex += g->exact;
		co += g->conservative;
		no += g->none;
		ng += g->last_ckpt_ms > 0;
		if (shown < CP_STATUS_GROUPS && (g->last_ckpt_ms > 0 || g->none)) {
			char key[KVL_KEY_MAX];
			snprintf(key, sizeof(key), "g.%s", g->name);
			kvl_putf(b, key, "last_checkpoint_ms=%lld exact=%d conservative=%d "
			    "untranslatable=%d", (long long)g->last_ckpt_ms, g->exact,
			    g->conservative, g->none);
			shown++;
		}
	}
	kvl_put(b, "phase", cp_phase_names[cp->phase]);
	kvl_put(b, "active", cp->active ? "yes" : "standby");
	kvl_putf(b, "groups", "%d", cp->nlisted);
	kvl_putf(b, "groups_checkpointed", "%d", ng);
	kvl_putf(b, "partitions_exact", "%d", ex);
	kvl_putf(b, "partitions_conservative", "%d", co);
	kvl_putf(b, "partitions_untranslatable", "%d", no);
	kvl_putf(b, "checkpoints_emitted", "%lld", cp->emitted);
	kvl_putf(b, "checkpoints_acked", "%lld", cp->acked);
	kvl_putf(b, "checkpoints_failed", "%lld", cp->failed);
	kvl_putf(b, "checkpoints_unchanged", "%lld", cp->skipped);
	kvl_putf(b, "last_checkpoint_ms", "%lld", (long long)cp->last_ckpt_ms);
	kvl_putf(b, "offset_syncs_read", "%lld", cp->store.syncs);
	kvl_putf(b, "offset_syncs_partitions", "%zu", cp->store.parts.n);
	kvl_putf(b, "offset_syncs_gaps", "%lld", cp->store.gaps);
	kvl_putf(b, "offset_sync_store_bytes", "%zu", tr_store_bytes(&cp->store));
	kvl_putf(b, "group_offsets_commits", "%lld", cp->tgt_commits);
	kvl_putf(b, "group_offsets_partitions", "%lld", cp->tgt_partitions);
	kvl_putf(b, "group_offsets_active_skips", "%lld", cp->tgt_active_skips);
	kvl_putf(b, "group_offsets_errors", "%lld", cp->tgt_errors);
}

static void
cp_destroy(struct worker *w)
{
	struct cp *cp = w->data;
	struct event *evs[] = { cp ? cp->retry_ev : NULL, cp ? cp->emit_ev : NULL,
		cp ? cp->refresh_ev : NULL, cp ? cp->gsync_ev : NULL,
		cp ? cp->loaded_ev : NULL, cp ? cp->lease_ev : NULL,
		cp ? cp->drain_ev : NULL };

	if (cp == NULL)
		return;
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	lease_free(cp->lease);
	kclient_destroy(cp->loader);
	kclient_destroy(cp->syncs);
	kclient_destroy(cp->src);
	kclient_destroy(cp->dst);
	hmap_free(&cp->groups, cp_group_free);
	tr_store_free(&cp->store);
	filter_free(&cp->topics);
	filter_free(&cp->groups_filt);
	free(cp->jobs);
	free(cp);
	w->data = NULL;
}

const struct worker_role checkpoint_role = {
	.name = "checkpoint",
	.start = cp_start,
	.stop = cp_stop,
	.status = cp_status,
	.destroy = cp_destroy,
};

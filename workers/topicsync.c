/*
 * topicsync.c: topic config and ACL sync from a flow's source to its
 * target, with MM2's rules (docs/topic-sync.md).
 *
 * Config sync, every sync_topic_configs_interval_ms:
 *   1. list both clusters; the flow's topics are the source topics that
 *      pass the topic filter and the replication policy and whose remote
 *      topic exists on the target;
 *   2. describe their configs on the source and on the target;
 *   3. per topic, compute the changes (topicsync_config_plan) and, when
 *      there are any, alter that one topic, so a refused change is
 *      reported for its topic and never holds up the others.
 * librdkafka < 2.2 has no IncrementalAlterConfigs, so there the alter is
 * the legacy AlterConfigs, which replaces all dynamic configs of the
 * topic: we send the target's current dynamic configs with the source's
 * changes applied. Kafka 4.3 still serves AlterConfigs (v0-v2).
 *
 * ACL sync, every sync_topic_acls_interval_ms: describe the source's topic
 * ACLs, keep and transform them (topicsync_acl_rule), describe the
 * target's literal topic ACLs and create the missing ones. Nothing is
 * ever deleted on the target.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "filter.h"
#include "hmap.h"
#include "kafka.h"
#include "log.h"
#include "msg.h"
#include "policy.h"
#include "topicsync.h"
#include "worker.h"

#if RD_KAFKA_VERSION >= 0x020200ff
#define TS_INCREMENTAL 1	/* IncrementalAlterConfigs exists */
#else
#define TS_INCREMENTAL 0
#endif

#define TS_FIRST_RUN_MS   1000	/* first runs, soon after start */
#define TS_META_TIMEOUT   5000
#define TS_REQ_TIMEOUT    30000
#define TS_ROUND_STUCK_MS 120000	/* a round older than this is abandoned */
#define TS_DESCRIBE_CHUNK 100	/* resources per DescribeConfigs */
#define TS_STATUS_MAX     2048	/* bytes of failure text in STATUS */

const char *const topicsync_cfg_op_names[] = { "skip", "set", "delete" };

/* A topic in the running config round. */
struct ts_topic {
	char                *name;		/* on the source */
	char                *remote;	/* on the target */
	int                  got_src, got_dst;
	struct topicsync_kvs ops;	/* from the source: SET / DELETE */
	struct topicsync_kvs cur;	/* target's dynamic topic configs */
	char                *hidden;	/* a target dynamic config without value */
	int                  nchanges;	/* sent in this round's alter */
	char                 summary[512];
	char                 err[512];
};

/* One ACL to create, with its own copies of the strings. */
struct ts_acl {
	struct topicsync_acl a;
	char                *key;
};

/*
 * Round states (config and ACL rounds each have one):
 *   IDLE     waiting for the timer
 *   RUNNING  requests in flight; the timer only re-checks for a stuck round
 */
enum ts_round { TS_IDLE, TS_RUNNING };

struct topicsync {
	struct worker          *w;
	const struct km_policy *pol;
	const struct km_filter *topics;
	const struct km_filter *cfg_exclude;
	struct kclient         *src;
	struct kclient         *dst;
	struct event           *cfg_ev;
	struct event           *acl_ev;

	/* config rounds */
	enum ts_round cfg_state;
	int64_t       cfg_started;
	int           cfg_pending;		/* requests in flight */
	struct hmap   cfg_by_name;		/* source name -> ts_topic */
	struct hmap   cfg_by_remote;		/* remote name -> same ts_topic */
	char          cfg_src_err[256], cfg_dst_err[256];
	struct hmap   cfg_failed;		/* remote -> reason, last round */
	int           cfg_rounds;
	int64_t       cfg_synced_at;		/* wall ms */
	long long     cfg_changes;		/* applied since start */
	int           cfg_marker_src, cfg_marker_dst;
	char          cfg_list_err[256];

	/* ACL rounds */
	enum ts_round acl_state;
	int64_t       acl_started;
	struct ts_acl *want;
	size_t        nwant, capwant;
	struct ts_acl **missing;		/* points into want */
	size_t        nmissing;
	int           acl_rounds;
	int64_t       acl_synced_at;
	long long     acls_created;
	char          acls_failed[TS_STATUS_MAX];	/* last round */
	char          acls_skipped[256];		/* last round, why */
	char          acl_round_failed[TS_STATUS_MAX];
	char          acl_round_skipped[256];
	int           acl_round_created;
	int           acl_marker_src, acl_marker_dst, acl_marker_create, acl_marker_auth;
};

static void ts_cfg_finish(struct topicsync *ts);
static void ts_acl_finish(struct topicsync *ts);
static void ts_acl_check_authorizer(struct topicsync *ts);

/* ---------------------------------------------------------------- rules */

enum topicsync_cfg_op
topicsync_config_rule(const char *name, const char *value, rd_kafka_ConfigSource_t source,
    int is_default, int read_only, int sensitive, const struct km_filter *cfg_exclude)
{
	if (name == NULL || read_only || sensitive ||
	    source == RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG ||
	    (cfg_exclude && filter_match(cfg_exclude, name)))
		return TS_CFG_SKIP;
	if (is_default || source == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
		return TS_CFG_DELETE;
	if (value == NULL)
		return TS_CFG_SKIP;
	return TS_CFG_SET;
}

enum topicsync_cfg_op
topicsync_config_op(const rd_kafka_ConfigEntry_t *e, const struct km_filter *cfg_exclude)
{
	return topicsync_config_rule(rd_kafka_ConfigEntry_name(e),
	    rd_kafka_ConfigEntry_value(e), rd_kafka_ConfigEntry_source(e),
	    rd_kafka_ConfigEntry_is_default(e), rd_kafka_ConfigEntry_is_read_only(e),
	    rd_kafka_ConfigEntry_is_sensitive(e), cfg_exclude);
}

int
topicsync_config_filter(const rd_kafka_ConfigEntry_t *e, const struct km_filter *cfg_exclude)
{
	return topicsync_config_op(e, cfg_exclude) == TS_CFG_SET;
}

int
topicsync_kvs_add(struct topicsync_kvs *l, const char *name, const char *value)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct topicsync_kv *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	l->v[l->n].value = value ? strdup(value) : NULL;
	if (l->v[l->n].name == NULL || (value && l->v[l->n].value == NULL)) {
		free(l->v[l->n].name);
		free(l->v[l->n].value);
		return -1;
	}
	l->n++;
	return 0;
}

const struct topicsync_kv *
topicsync_kvs_find(const struct topicsync_kvs *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

void
topicsync_kvs_free(struct topicsync_kvs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* The changes that bring `cur` to what the source says, and the full set
 * the topic ends with; configs the source does not speak about are kept. */
int
topicsync_config_plan(const struct topicsync_kvs *cur, const struct topicsync_kvs *ops,
    struct topicsync_kvs *changes, struct topicsync_kvs *want)
{
	int n = 0;

	for (size_t i = 0; i < ops->n; i++) {
		const struct topicsync_kv *op = &ops->v[i], *c = topicsync_kvs_find(cur, op->name);
		if (topicsync_kvs_find(changes, op->name))
			continue;	/* a name twice: the first wins */
		if (op->value == NULL ? c == NULL :
		    (c != NULL && c->value != NULL && strcmp(c->value, op->value) == 0))
			continue;	/* already so */
		if (topicsync_kvs_add(changes, op->name, op->value) == -1)
			return -1;
		n++;
	}
	for (size_t i = 0; i < cur->n; i++)
		if (topicsync_kvs_find(changes, cur->v[i].name) == NULL &&
		    topicsync_kvs_add(want, cur->v[i].name, cur->v[i].value) == -1)
			return -1;
	for (size_t i = 0; i < changes->n; i++)
		if (changes->v[i].value &&
		    topicsync_kvs_add(want, changes->v[i].name, changes->v[i].value) == -1)
			return -1;
	return n;
}

int
topicsync_acl_rule(const struct topicsync_acl *a, rd_kafka_AclOperation_t *op)
{
	if (a->restype != RD_KAFKA_RESOURCE_TOPIC ||
	    a->pattern != RD_KAFKA_RESOURCE_PATTERN_LITERAL ||
	    a->name == NULL || strcmp(a->name, "*") == 0)
		return 0;
	if (a->perm == RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW) {
		if (a->op == RD_KAFKA_ACL_OPERATION_WRITE)
			return 0;	/* only kmirror writes remote topics */
		*op = a->op == RD_KAFKA_ACL_OPERATION_ALL ? RD_KAFKA_ACL_OPERATION_READ : a->op;
		return 1;
	}
	if (a->perm != RD_KAFKA_ACL_PERMISSION_TYPE_DENY)
		return 0;
	*op = a->op;
	return 1;
}

int
topicsync_acl_format(const struct topicsync_acl *a, char *out, size_t cap)
{
	return snprintf(out, cap, "%s@%s %s %s %s %s %s", a->principal ? a->principal : "",
	    a->host ? a->host : "", rd_kafka_AclPermissionType_name(a->perm),
	    rd_kafka_AclOperation_name(a->op), rd_kafka_ResourceType_name(a->restype),
	    rd_kafka_ResourcePatternType_name(a->pattern), a->name ? a->name : "");
}

/* ---------------------------------------------------------------- helpers */

static void
ts_arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(ev, &tv);
}

static void __attribute__((format(printf, 3, 4)))
ts_append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + l, cap - l, fmt, ap);
	va_end(ap);
}

/* Is `topic` one of the flow's source topics (as source.c decides)? */
static int
ts_replicated(struct topicsync *ts, const char *topic)
{
	return filter_match(ts->topics, topic) &&
	    policy_should_replicate_topic(ts->pol, ts->w->src.alias, ts->w->dst.alias, topic);
}

/* ---------------------------------------------------------------- configs */

static void
ts_topic_free(void *v)
{
	struct ts_topic *t = v;
	topicsync_kvs_free(&t->ops);
	topicsync_kvs_free(&t->cur);
	free(t->hidden);
	free(t->name);
	free(t->remote);
	free(t);
}

static void
ts_cfg_clear(struct topicsync *ts)
{
	hmap_free(&ts->cfg_by_remote, NULL);
	hmap_free(&ts->cfg_by_name, ts_topic_free);
	ts->cfg_pending = 0;
	ts->cfg_src_err[0] = ts->cfg_dst_err[0] = '\0';
}

/* Ask one cluster for the configs of `names` (a chunk per request). */
static void
ts_describe(struct topicsync *ts, struct kclient *kc, const char **names, size_t n,
    void *marker)
{
	char err[256];

	for (size_t off = 0; off < n; off += TS_DESCRIBE_CHUNK) {
		size_t cnt = n - off < TS_DESCRIBE_CHUNK ? n - off : TS_DESCRIBE_CHUNK;
		rd_kafka_ConfigResource_t *rs[TS_DESCRIBE_CHUNK];
		for (size_t i = 0; i < cnt; i++)
			rs[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[off + i]);
		rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kclient_rk(kc),
		    RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
		rd_kafka_AdminOptions_set_request_timeout(o, TS_REQ_TIMEOUT, err, sizeof(err));
		rd_kafka_AdminOptions_set_opaque(o, marker);
		rd_kafka_DescribeConfigs(kclient_rk(kc), rs, cnt, o, kclient_queue(kc));
		rd_kafka_AdminOptions_destroy(o);
		rd_kafka_ConfigResource_destroy_array(rs, cnt);
		ts->cfg_pending++;
	}
}

/* Start a config round: find the flow's topics, describe both sides. */
static void
ts_cfg_start(struct topicsync *ts)
{
	const struct rd_kafka_metadata *ms = NULL, *mt = NULL;
	struct hmap tgt = { 0 };
	rd_kafka_resp_err_t err;
	const char **sn = NULL, **rn = NULL;
	size_t n = 0;
	char remote[512], why[256] = "";
	int64_t t0 = worker_now_ms();

	if ((err = rd_kafka_metadata(kclient_rk(ts->src), 1, NULL, &ms, TS_META_TIMEOUT)))
		snprintf(why, sizeof(why), "cannot list the topics of %s: %s", ts->w->src.alias,
		    rd_kafka_err2str(err));
	else if ((err = rd_kafka_metadata(kclient_rk(ts->dst), 1, NULL, &mt, TS_META_TIMEOUT)))
		snprintf(why, sizeof(why), "cannot list the topics of %s: %s", ts->w->dst.alias,
		    rd_kafka_err2str(err));
	if (why[0]) {
		if (strcmp(why, ts->cfg_list_err) != 0)
			log_warn("topic config sync: %s; retrying", why);
		snprintf(ts->cfg_list_err, sizeof(ts->cfg_list_err), "%s", why);
		if (ms)
			rd_kafka_metadata_destroy(ms);
		ts_arm(ts->cfg_ev, FLOW_INT(&ts->w->flow, FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS));
		return;
	}
	ts->cfg_list_err[0] = '\0';
	ts->cfg_state = TS_RUNNING;
	log_debug("topic config sync: both clusters listed in %lld ms",
	    (long long)(worker_now_ms() - t0));
	ts->cfg_started = t0;
	for (int i = 0; i < mt->topic_cnt; i++)
		if (!mt->topics[i].err)
			hmap_put(&tgt, mt->topics[i].topic, &mt->topics[i]);
	sn = calloc(ms->topic_cnt + 1, sizeof(*sn));
	rn = calloc(ms->topic_cnt + 1, sizeof(*rn));
	for (int i = 0; sn && rn && i < ms->topic_cnt; i++) {
		const char *name = ms->topics[i].topic;
		struct ts_topic *t;
		if (ms->topics[i].err || !ts_replicated(ts, name) ||
		    policy_format_remote_topic(ts->pol, ts->w->src.alias, name, remote,
		    sizeof(remote)) < 0 || hmap_get(&tgt, remote) == NULL ||
		    hmap_get(&ts->cfg_by_name, name) || hmap_get(&ts->cfg_by_remote, remote))
			continue;
		if ((t = calloc(1, sizeof(*t))) == NULL)
			break;
		t->name = strdup(name);
		t->remote = strdup(remote);
		hmap_put(&ts->cfg_by_name, name, t);
		hmap_put(&ts->cfg_by_remote, remote, t);
		sn[n] = t->name;
		rn[n] = t->remote;
		n++;
	}
	if (n > 0) {
		ts_describe(ts, ts->src, sn, n, &ts->cfg_marker_src);
		ts_describe(ts, ts->dst, rn, n, &ts->cfg_marker_dst);
	}
	free(sn);
	free(rn);
	hmap_free(&tgt, NULL);
	rd_kafka_metadata_destroy(ms);
	rd_kafka_metadata_destroy(mt);
	if (ts->cfg_pending == 0)
		ts_cfg_finish(ts);
}

static void
ts_cfg_send_alter(struct topicsync *ts, struct ts_topic *t,
    const struct topicsync_kvs *changes, const struct topicsync_kvs *want)
{
	rd_kafka_t *rk = kclient_rk(ts->dst);
	rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
	    t->remote);
	rd_kafka_AdminOptions_t *o;
	char err[256];

#if TS_INCREMENTAL
	(void)want;
	for (size_t i = 0; i < changes->n; i++) {
		rd_kafka_error_t *e = rd_kafka_ConfigResource_add_incremental_config(r,
		    changes->v[i].name, changes->v[i].value ? RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET :
		    RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE, changes->v[i].value);
		if (e) {
			snprintf(t->err, sizeof(t->err), "%s: %s", changes->v[i].name,
			    rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			rd_kafka_ConfigResource_destroy(r);
			return;
		}
	}
	o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS);
#else
	(void)changes;
	for (size_t i = 0; i < want->n; i++)
		rd_kafka_ConfigResource_set_config(r, want->v[i].name, want->v[i].value);
	o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
#endif
	rd_kafka_AdminOptions_set_request_timeout(o, TS_REQ_TIMEOUT, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, t);
#if TS_INCREMENTAL
	rd_kafka_IncrementalAlterConfigs(rk, &r, 1, o, kclient_queue(ts->dst));
#else
	rd_kafka_AlterConfigs(rk, &r, 1, o, kclient_queue(ts->dst));
#endif
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ConfigResource_destroy(r);
	ts->cfg_pending++;
}

/* Both sides described: plan every topic, alter those that differ. */
static void
ts_cfg_apply(struct topicsync *ts)
{
	struct hmap_entry *e;
	size_t it;

	for (e = hmap_first(&ts->cfg_by_name, &it); e; e = hmap_next(&ts->cfg_by_name, e, &it)) {
		struct ts_topic *t = e->val;
		struct topicsync_kvs changes = { 0 }, want = { 0 };
		int n;

		if (t->err[0])
			continue;
		if (!t->got_src || !t->got_dst) {
			snprintf(t->err, sizeof(t->err), "cannot describe its configs on %s: %s",
			    !t->got_src ? ts->w->src.alias : ts->w->dst.alias,
			    !t->got_src ? (ts->cfg_src_err[0] ? ts->cfg_src_err : "no result") :
			    (ts->cfg_dst_err[0] ? ts->cfg_dst_err : "no result"));
			continue;
		}
		n = topicsync_config_plan(&t->cur, &t->ops, &changes, &want);
		if (n < 0)
			snprintf(t->err, sizeof(t->err), "out of memory");
		else if (n > 0 && !TS_INCREMENTAL && t->hidden)
			snprintf(t->err, sizeof(t->err), "its dynamic config %s has no readable "
			    "value, which a full-replace AlterConfigs would drop", t->hidden);
		else if (n > 0) {
			t->nchanges = n;
			for (size_t i = 0; i < changes.n; i++)
				ts_append(t->summary, sizeof(t->summary), "%s%s%s%s",
				    t->summary[0] ? ", " : "", changes.v[i].name,
				    changes.v[i].value ? "=" : " reverted to the target's default",
				    changes.v[i].value ? changes.v[i].value : "");
			ts_cfg_send_alter(ts, t, &changes, &want);
		}
		topicsync_kvs_free(&changes);
		topicsync_kvs_free(&want);
	}
	if (ts->cfg_pending == 0)
		ts_cfg_finish(ts);
}

/* A DescribeConfigs result from either side. */
static void
ts_cfg_on_describe(struct topicsync *ts, rd_kafka_event_t *ev, int is_src)
{
	const rd_kafka_DescribeConfigs_result_t *res = rd_kafka_event_DescribeConfigs_result(ev);
	const rd_kafka_ConfigResource_t **rs;
	size_t n = 0;

	if (ts->cfg_state != TS_RUNNING)
		return;
	ts->cfg_pending--;
	if (rd_kafka_event_error(ev))
		snprintf(is_src ? ts->cfg_src_err : ts->cfg_dst_err, sizeof(ts->cfg_src_err),
		    "%s", rd_kafka_event_error_string(ev));
	rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		const char *name = rd_kafka_ConfigResource_name(rs[i]);
		struct ts_topic *t = hmap_get(is_src ? &ts->cfg_by_name : &ts->cfg_by_remote, name);
		const rd_kafka_ConfigEntry_t **es;
		size_t ne = 0;

		if (t == NULL)
			continue;
		if (rd_kafka_ConfigResource_error(rs[i])) {
			snprintf(t->err, sizeof(t->err), "cannot describe %s on %s: %s", name,
			    is_src ? ts->w->src.alias : ts->w->dst.alias,
			    rd_kafka_ConfigResource_error_string(rs[i]) ?
			    rd_kafka_ConfigResource_error_string(rs[i]) :
			    rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[i])));
			continue;
		}
		es = rd_kafka_ConfigResource_configs(rs[i], &ne);
		for (size_t j = 0; j < ne; j++) {
			const rd_kafka_ConfigEntry_t *c = es[j];
			const char *cn = rd_kafka_ConfigEntry_name(c);
			if (is_src) {
				enum topicsync_cfg_op op = topicsync_config_op(c, ts->cfg_exclude);
				if (op != TS_CFG_SKIP)
					topicsync_kvs_add(&t->ops, cn, op == TS_CFG_SET ?
					    rd_kafka_ConfigEntry_value(c) : NULL);
			} else if (rd_kafka_ConfigEntry_source(c) ==
			    RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
				if (rd_kafka_ConfigEntry_value(c))
					topicsync_kvs_add(&t->cur, cn, rd_kafka_ConfigEntry_value(c));
				else if (t->hidden == NULL)
					t->hidden = strdup(cn);
			}
		}
		if (is_src)
			t->got_src = 1;
		else
			t->got_dst = 1;
	}
	if (ts->cfg_pending == 0)
		ts_cfg_apply(ts);
}

static int
ts_cfg_has(struct topicsync *ts, const struct ts_topic *t)
{
	struct hmap_entry *e;
	size_t it;

	for (e = hmap_first(&ts->cfg_by_name, &it); e; e = hmap_next(&ts->cfg_by_name, e, &it))
		if (e->val == t)
			return 1;
	return 0;
}

/* The result of one topic's alter (legacy or incremental). */
static void
ts_cfg_on_alter(struct topicsync *ts, rd_kafka_event_t *ev)
{
	struct ts_topic *t = rd_kafka_event_opaque(ev);
	const rd_kafka_ConfigResource_t **rs = NULL;
	size_t n = 0;

	if (ts->cfg_state != TS_RUNNING || !ts_cfg_has(ts, t))
		return;		/* from an abandoned round */
	ts->cfg_pending--;
#if TS_INCREMENTAL
	const rd_kafka_IncrementalAlterConfigs_result_t *res =
	    rd_kafka_event_IncrementalAlterConfigs_result(ev);
	if (res)
		rs = rd_kafka_IncrementalAlterConfigs_result_resources(res, &n);
#else
	const rd_kafka_AlterConfigs_result_t *res = rd_kafka_event_AlterConfigs_result(ev);
	if (res)
		rs = rd_kafka_AlterConfigs_result_resources(res, &n);
#endif
	if (rd_kafka_event_error(ev))
		snprintf(t->err, sizeof(t->err), "%s", rd_kafka_event_error_string(ev));
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(rs[i]);
		if (e)
			snprintf(t->err, sizeof(t->err), "%s: %s", rd_kafka_err2name(e),
			    rd_kafka_ConfigResource_error_string(rs[i]) ?
			    rd_kafka_ConfigResource_error_string(rs[i]) : rd_kafka_err2str(e));
	}
	if (t->err[0] == '\0' && n == 0 && !rd_kafka_event_error(ev))
		snprintf(t->err, sizeof(t->err), "no result for %s", t->remote);
	if (t->err[0] == '\0') {
		ts->cfg_changes += t->nchanges;
		log_info("topic config sync: %s on %s: %s", t->remote, ts->w->dst.alias,
		    t->summary);
	} else
		t->nchanges = 0;
	if (ts->cfg_pending == 0)
		ts_cfg_finish(ts);
}

/* The round is over: record failures (log new ones), say what was done. */
static void
ts_cfg_finish(struct topicsync *ts)
{
	struct hmap failed = { 0 };
	struct hmap_entry *e;
	size_t it;
	int ntopics = 0, nchanged = 0, nfailed = 0, changes = 0;
	int64_t took = worker_now_ms() - ts->cfg_started;

	for (e = hmap_first(&ts->cfg_by_name, &it); e; e = hmap_next(&ts->cfg_by_name, e, &it)) {
		struct ts_topic *t = e->val;
		const char *was = hmap_get(&ts->cfg_failed, t->remote);
		ntopics++;
		if (t->err[0]) {
			nfailed++;
			if (was == NULL || strcmp(was, t->err) != 0)
				log_warn("topic config sync: %s on %s refused or failed: %s; the other "
				    "topics go on, retrying every %lld ms", t->remote, ts->w->dst.alias,
				    t->err, FLOW_INT(&ts->w->flow, FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS));
			hmap_put(&failed, t->remote, strdup(t->err));
		} else {
			if (was)
				log_info("topic config sync: %s on %s is in step again", t->remote,
				    ts->w->dst.alias);
			if (t->nchanges) {
				nchanged++;
				changes += t->nchanges;
			}
		}
	}
	hmap_free(&ts->cfg_failed, free);
	ts->cfg_failed = failed;
	ts->cfg_synced_at = worker_wall_ms();
	log_msg(changes || nfailed || ts->cfg_rounds == 0 ? LOG_LV_INFO : LOG_LV_DEBUG,
	    "topic configs synced %s->%s: %d topics, %d changes applied to %d topics, "
	    "%d failed (%lld ms, %s)", ts->w->src.alias, ts->w->dst.alias, ntopics, changes,
	    nchanged, nfailed, (long long)took,
	    TS_INCREMENTAL ? "IncrementalAlterConfigs" : "AlterConfigs, full replace");
	ts->cfg_rounds++;
	ts_cfg_clear(ts);
	ts->cfg_state = TS_IDLE;
	ts_arm(ts->cfg_ev, FLOW_INT(&ts->w->flow, FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS));
}

static void
ts_cfg_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct topicsync *ts = arg;

	(void)fd;
	(void)what;
	if (ts->cfg_state == TS_RUNNING) {
		if (worker_now_ms() - ts->cfg_started < TS_ROUND_STUCK_MS) {
			ts_arm(ts->cfg_ev, 1000);
			return;
		}
		log_warn("topic config sync: a round got no answer in %d s; starting over",
		    TS_ROUND_STUCK_MS / 1000);
		ts_cfg_clear(ts);
		ts->cfg_state = TS_IDLE;
	}
	ts_cfg_start(ts);
}

/* ---------------------------------------------------------------- ACLs */

static void
ts_acl_clear(struct topicsync *ts)
{
	for (size_t i = 0; i < ts->nwant; i++) {
		free((char *)ts->want[i].a.name);
		free((char *)ts->want[i].a.principal);
		free((char *)ts->want[i].a.host);
		free(ts->want[i].key);
	}
	free(ts->want);
	free(ts->missing);
	ts->want = NULL;
	ts->missing = NULL;
	ts->nwant = ts->capwant = ts->nmissing = 0;
}

static void
ts_acl_from_binding(const rd_kafka_AclBinding_t *b, struct topicsync_acl *a)
{
	a->restype = rd_kafka_AclBinding_restype(b);
	a->name = rd_kafka_AclBinding_name(b);
	a->pattern = rd_kafka_AclBinding_resource_pattern_type(b);
	a->principal = rd_kafka_AclBinding_principal(b);
	a->host = rd_kafka_AclBinding_host(b);
	a->op = rd_kafka_AclBinding_operation(b);
	a->perm = rd_kafka_AclBinding_permission_type(b);
}

static int
ts_acl_want(struct topicsync *ts, const struct topicsync_acl *a)
{
	char key[1024];

	topicsync_acl_format(a, key, sizeof(key));
	for (size_t i = 0; i < ts->nwant; i++)
		if (strcmp(ts->want[i].key, key) == 0)
			return 0;	/* ALL -> READ may repeat a READ */
	if (ts->nwant == ts->capwant) {
		size_t cap = ts->capwant ? ts->capwant * 2 : 16;
		struct ts_acl *v = realloc(ts->want, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		ts->want = v;
		ts->capwant = cap;
	}
	struct ts_acl *w = &ts->want[ts->nwant++];
	w->a = *a;
	w->a.name = strdup(a->name);
	w->a.principal = strdup(a->principal ? a->principal : "");
	w->a.host = strdup(a->host ? a->host : "*");
	w->key = strdup(key);
	return 0;
}

static rd_kafka_AclBindingFilter_t *
ts_acl_filter(rd_kafka_ResourcePatternType_t pattern)
{
	char err[256];
	return rd_kafka_AclBindingFilter_new(RD_KAFKA_RESOURCE_TOPIC, NULL, pattern, NULL,
	    NULL, RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err,
	    sizeof(err));
}

static void
ts_acl_describe(struct topicsync *ts, struct kclient *kc,
    rd_kafka_ResourcePatternType_t pattern, void *marker)
{
	char err[256];
	rd_kafka_AclBindingFilter_t *f = ts_acl_filter(pattern);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kclient_rk(kc),
	    RD_KAFKA_ADMIN_OP_DESCRIBEACLS);

	rd_kafka_AdminOptions_set_request_timeout(o, TS_REQ_TIMEOUT, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, marker);
	rd_kafka_DescribeAcls(kclient_rk(kc), f, o, kclient_queue(kc));
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_AclBinding_destroy(f);
}

static void
ts_acl_start(struct topicsync *ts)
{
	ts->acl_state = TS_RUNNING;
	ts->acl_started = worker_now_ms();
	ts->acl_round_failed[0] = ts->acl_round_skipped[0] = '\0';
	ts->acl_round_created = 0;
	ts_acl_describe(ts, ts->src, RD_KAFKA_RESOURCE_PATTERN_ANY, &ts->acl_marker_src);
}

/* The describe on one side failed: no authorizer means skip, quietly
 * after the first time; anything else is a failed round. */
static void
ts_acl_describe_failed(struct topicsync *ts, rd_kafka_event_t *ev, const char *alias)
{
	if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
		snprintf(ts->acl_round_skipped, sizeof(ts->acl_round_skipped),
		    "no authorizer on %s", alias);
		if (strcmp(ts->acl_round_skipped, ts->acls_skipped) != 0)
			log_notice("topic ACL sync %s->%s skipped: no authorizer on %s (%s)",
			    ts->w->src.alias, ts->w->dst.alias, alias,
			    rd_kafka_event_error_string(ev));
	} else {
		snprintf(ts->acl_round_failed, sizeof(ts->acl_round_failed), "cannot %s the "
		    "ACLs of %s: %s", alias == ts->w->src.alias ? "describe" : "read or create",
		    alias, rd_kafka_event_error_string(ev));
		if (strcmp(ts->acl_round_failed, ts->acls_failed) != 0)
			log_warn("topic ACL sync %s->%s: %s; retrying", ts->w->src.alias,
			    ts->w->dst.alias, ts->acl_round_failed);
	}
	ts_acl_finish(ts);
}

/*
 * No topic ACL at all on the source: is there an authorizer? librdkafka
 * (2.0.2 and later) drops the error code of a DescribeAcls response, so
 * SECURITY_DISABLED looks like "no ACLs"; a broker's
 * authorizer.class.name tells.
 */
static void
ts_acl_check_authorizer(struct topicsync *ts)
{
	rd_kafka_t *rk = kclient_rk(ts->src);
	int32_t id = rd_kafka_controllerid(rk, 0);
	char name[16], err[256];

	if (id < 0) {
		ts_acl_finish(ts);
		return;
	}
	snprintf(name, sizeof(name), "%d", (int)id);
	rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, name);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk,
	    RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_AdminOptions_set_request_timeout(o, TS_REQ_TIMEOUT, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, &ts->acl_marker_auth);
	rd_kafka_DescribeConfigs(rk, &r, 1, o, kclient_queue(ts->src));
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ConfigResource_destroy(r);
}

static void
ts_acl_on_authorizer(struct topicsync *ts, rd_kafka_event_t *ev)
{
	const rd_kafka_DescribeConfigs_result_t *res = rd_kafka_event_DescribeConfigs_result(ev);
	const rd_kafka_ConfigResource_t **rs;
	size_t n = 0, ne = 0;

	rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[i], &ne);
		for (size_t j = 0; j < ne; j++) {
			const char *v = rd_kafka_ConfigEntry_value(es[j]);
			if (strcmp(rd_kafka_ConfigEntry_name(es[j]), "authorizer.class.name") != 0 ||
			    (v && *v))
				continue;
			snprintf(ts->acl_round_skipped, sizeof(ts->acl_round_skipped),
			    "no authorizer on %s", ts->w->src.alias);
			if (strcmp(ts->acl_round_skipped, ts->acls_skipped) != 0)
				log_notice("topic ACL sync %s->%s skipped: no authorizer on %s "
				    "(authorizer.class.name is empty)", ts->w->src.alias,
				    ts->w->dst.alias, ts->w->src.alias);
		}
	}
	ts_acl_finish(ts);
}

/* The source's topic ACLs: keep what MM2 keeps, then look at the target. */
static void
ts_acl_on_source(struct topicsync *ts, rd_kafka_event_t *ev)
{
	const rd_kafka_DescribeAcls_result_t *res = rd_kafka_event_DescribeAcls_result(ev);
	const rd_kafka_AclBinding_t **bs;
	size_t n = 0;
	char remote[512];

	if (rd_kafka_event_error(ev)) {
		ts_acl_describe_failed(ts, ev, ts->w->src.alias);
		return;
	}
	bs = res ? rd_kafka_DescribeAcls_result_acls(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct topicsync_acl a;
		rd_kafka_AclOperation_t op;
		ts_acl_from_binding(bs[i], &a);
		if (!topicsync_acl_rule(&a, &op) || !ts_replicated(ts, a.name) ||
		    policy_format_remote_topic(ts->pol, ts->w->src.alias, a.name, remote,
		    sizeof(remote)) < 0)
			continue;
		a.name = remote;
		a.op = op;
		if (ts_acl_want(ts, &a) == -1)
			break;
	}
	if (n == 0) {
		ts_acl_check_authorizer(ts);
		return;
	}
	if (ts->nwant == 0) {
		ts_acl_finish(ts);
		return;
	}
	ts_acl_describe(ts, ts->dst, RD_KAFKA_RESOURCE_PATTERN_LITERAL, &ts->acl_marker_dst);
}

/* The target's literal topic ACLs: create what is missing. */
static void
ts_acl_on_target(struct topicsync *ts, rd_kafka_event_t *ev)
{
	const rd_kafka_DescribeAcls_result_t *res = rd_kafka_event_DescribeAcls_result(ev);
	const rd_kafka_AclBinding_t **bs;
	struct hmap have = { 0 };
	size_t n = 0;
	char key[1024], err[256];
	rd_kafka_AclBinding_t **nb;

	if (rd_kafka_event_error(ev)) {
		ts_acl_describe_failed(ts, ev, ts->w->dst.alias);
		return;
	}
	bs = res ? rd_kafka_DescribeAcls_result_acls(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct topicsync_acl a;
		ts_acl_from_binding(bs[i], &a);
		topicsync_acl_format(&a, key, sizeof(key));
		hmap_put(&have, key, &have);
	}
	ts->missing = calloc(ts->nwant, sizeof(*ts->missing));
	nb = calloc(ts->nwant, sizeof(*nb));
	for (size_t i = 0; ts->missing && nb && i < ts->nwant; i++) {
		struct topicsync_acl *a = &ts->want[i].a;
		if (hmap_get(&have, ts->want[i].key))
			continue;
		nb[ts->nmissing] = rd_kafka_AclBinding_new(a->restype, a->name, a->pattern,
		    a->principal, a->host, a->op, a->perm, err, sizeof(err));
		if (nb[ts->nmissing] == NULL) {
			ts_append(ts->acl_round_failed, sizeof(ts->acl_round_failed), "%s%s: %s",
			    ts->acl_round_failed[0] ? "; " : "", ts->want[i].key, err);
			continue;
		}
		ts->missing[ts->nmissing++] = &ts->want[i];
	}
	hmap_free(&have, NULL);
	if (ts->nmissing == 0) {
		free(nb);
		ts_acl_finish(ts);
		return;
	}
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kclient_rk(ts->dst),
	    RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_AdminOptions_set_request_timeout(o, TS_REQ_TIMEOUT, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, &ts->acl_marker_create);
	rd_kafka_CreateAcls(kclient_rk(ts->dst), nb, ts->nmissing, o, kclient_queue(ts->dst));
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_AclBinding_destroy_array(nb, ts->nmissing);
	free(nb);
}

static void
ts_acl_on_created(struct topicsync *ts, rd_kafka_event_t *ev)
{
	const rd_kafka_CreateAcls_result_t *res = rd_kafka_event_CreateAcls_result(ev);
	const rd_kafka_acl_result_t **rs;
	size_t n = 0;
	int created = 0;

	rs = res ? rd_kafka_CreateAcls_result_acls(res, &n) : NULL;
	if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_SECURITY_DISABLED ||
	    (n == 0 && rd_kafka_event_error(ev))) {
		ts_acl_describe_failed(ts, ev, ts->w->dst.alias);
		return;
	}
	for (size_t i = 0; i < ts->nmissing; i++) {
		const char *key = ts->missing[i]->key;
		const rd_kafka_error_t *e = i < n ? rd_kafka_acl_result_error(rs[i]) : NULL;
		const char *why = rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) :
		    i >= n ? "no result" : e ? rd_kafka_error_string(e) : NULL;
		if (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
			snprintf(ts->acl_round_skipped, sizeof(ts->acl_round_skipped),
			    "no authorizer on %s", ts->w->dst.alias);
			if (i == 0 && strcmp(ts->acl_round_skipped, ts->acls_skipped) != 0)
				log_notice("topic ACL sync %s->%s skipped: no authorizer on %s (%s)",
				    ts->w->src.alias, ts->w->dst.alias, ts->w->dst.alias, why);
			continue;
		}
		if (why) {
			if (strstr(ts->acls_failed, key) == NULL)
					log_warn("topic ACL sync: cannot create %s on %s: %s", key,
				    ts->w->dst.alias, why);
			ts_append(ts->acl_round_failed, sizeof(ts->acl_round_failed), "%s%s: %s",
			    ts->acl_round_failed[0] ? "; " : "", key, why);
			continue;
		}
		created++;
		log_info("topic ACL sync: created %s on %s", key, ts->w->dst.alias);
	}
	ts->acls_created += created;
	ts->acl_round_created = created;
	ts_acl_finish(ts);
}

static void
ts_acl_finish(struct topicsync *ts)
{
	int64_t took = worker_now_ms() - ts->acl_started;

	if (ts->acls_failed[0] && !ts->acl_round_failed[0] && !ts->acl_round_skipped[0])
		log_info("topic ACL sync %s->%s works again", ts->w->src.alias, ts->w->dst.alias);
	memcpy(ts->acls_failed, ts->acl_round_failed, sizeof(ts->acls_failed));
	memcpy(ts->acls_skipped, ts->acl_round_skipped, sizeof(ts->acls_skipped));
	if (ts->acls_skipped[0] == '\0') {
		ts->acl_synced_at = worker_wall_ms();
		log_msg(ts->nmissing || ts->acls_failed[0] || ts->acl_rounds == 0 ?
		    LOG_LV_INFO : LOG_LV_DEBUG, "topic ACLs synced %s->%s: %zu to copy, %zu "
		    "were missing, %d created, %zu failed (%lld ms)", ts->w->src.alias,
		    ts->w->dst.alias, ts->nwant, ts->nmissing, ts->acl_round_created,
		    ts->nmissing - (size_t)ts->acl_round_created, (long long)took);
	}
	ts->acl_rounds++;
	ts_acl_clear(ts);
	ts->acl_state = TS_IDLE;
	ts_arm(ts->acl_ev, FLOW_INT(&ts->w->flow, FS_SYNC_TOPIC_ACLS_INTERVAL_MS));
}

static void
ts_acl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct topicsync *ts = arg;

	(void)fd;
	(void)what;
	if (ts->acl_state == TS_RUNNING) {
		if (worker_now_ms() - ts->acl_started < TS_ROUND_STUCK_MS) {
			ts_arm(ts->acl_ev, 1000);
			return;
		}
		log_warn("topic ACL sync: a round got no answer in %d s; starting over",
		    TS_ROUND_STUCK_MS / 1000);
		ts_acl_clear(ts);
		ts->acl_state = TS_IDLE;
	}
	ts_acl_start(ts);
}

/* ---------------------------------------------------------------- events */

static void
ts_on_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct topicsync *ts = arg;
	void *op = rd_kafka_event_opaque(ev);

	(void)kc;
	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT:
		if (op == &ts->cfg_marker_src || op == &ts->cfg_marker_dst)
			ts_cfg_on_describe(ts, ev, op == &ts->cfg_marker_src);
		else if (op == &ts->acl_marker_auth && ts->acl_state == TS_RUNNING)
			ts_acl_on_authorizer(ts, ev);
		break;
	case RD_KAFKA_EVENT_ALTERCONFIGS_RESULT:
#if TS_INCREMENTAL
	case RD_KAFKA_EVENT_INCREMENTALALTERCONFIGS_RESULT:
#endif
		ts_cfg_on_alter(ts, ev);
		break;
	case RD_KAFKA_EVENT_DESCRIBEACLS_RESULT:
		if (ts->acl_state != TS_RUNNING)
			break;
		if (op == &ts->acl_marker_src)
			ts_acl_on_source(ts, ev);
		else if (op == &ts->acl_marker_dst)
			ts_acl_on_target(ts, ev);
		break;
	case RD_KAFKA_EVENT_CREATEACLS_RESULT:
		if (ts->acl_state == TS_RUNNING && op == &ts->acl_marker_create)
			ts_acl_on_created(ts, ev);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------- life */

struct topicsync *
topicsync_new(struct worker *w, const struct km_policy *pol, const struct km_filter *topics,
    const struct km_filter *cfg_exclude)
{
	struct topicsync *ts = calloc(1, sizeof(*ts));
	const struct km_flow *f = &w->flow;

	if (ts == NULL)
		return NULL;
	ts->w = w;
	ts->pol = pol;
	ts->topics = topics;
	ts->cfg_exclude = cfg_exclude;
	ts->src = kclient_new(w, RD_KAFKA_PRODUCER, &w->src, KM_SCOPE_ADMIN, "topicsync",
	    NULL, 0, ts_on_event, ts);
	ts->dst = kclient_new(w, RD_KAFKA_PRODUCER, &w->dst, KM_SCOPE_ADMIN, "topicsync",
	    NULL, 0, ts_on_event, ts);
	ts->cfg_ev = evtimer_new(w->base, ts_cfg_timer_cb, ts);
	ts->acl_ev = evtimer_new(w->base, ts_acl_timer_cb, ts);
	if (FLOW_INT(f, FS_SYNC_TOPIC_CONFIGS_ENABLED))
		ts_arm(ts->cfg_ev, TS_FIRST_RUN_MS);
	if (FLOW_INT(f, FS_SYNC_TOPIC_ACLS_ENABLED))
		ts_arm(ts->acl_ev, TS_FIRST_RUN_MS);
	else
		snprintf(ts->acls_skipped, sizeof(ts->acls_skipped),
		    "disabled (sync_topic_acls_enabled = false)");
	log_info("topic sync for %s: configs %s, ACLs %s", f->name,
	    FLOW_INT(f, FS_SYNC_TOPIC_CONFIGS_ENABLED) ? "every interval" : "off",
	    FLOW_INT(f, FS_SYNC_TOPIC_ACLS_ENABLED) ? "every interval" : "off");
	log_debug("topic sync intervals: configs %lld ms, ACLs %lld ms",
	    FLOW_INT(f, FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS),
	    FLOW_INT(f, FS_SYNC_TOPIC_ACLS_INTERVAL_MS));
	return ts;
}

void
topicsync_free(struct topicsync *ts)
{
	if (ts == NULL)
		return;
	event_free(ts->cfg_ev);
	event_free(ts->acl_ev);
	/* results still queued are dropped with the handles */
	kclient_destroy(ts->src);
	kclient_destroy(ts->dst);
	ts_cfg_clear(ts);
	hmap_free(&ts->cfg_failed, free);
	ts_acl_clear(ts);
	free(ts);
}

void
topicsync_status(struct topicsync *ts, struct evbuffer *kv)
{
	char failed[TS_STATUS_MAX] = "";
	struct hmap_entry *e;
	size_t it;

	if (ts == NULL)
		return;
	for (e = hmap_first(&ts->cfg_failed, &it); e; e = hmap_next(&ts->cfg_failed, e, &it)) {
		ts_append(failed, sizeof(failed), "%s%s: %s", failed[0] ? "; " : "", e->key,
		    (const char *)e->val);
	}
	kvl_putf(kv, "configs_synced_at", "%lld", (long long)ts->cfg_synced_at);
	kvl_putf(kv, "configs_changes", "%lld", ts->cfg_changes);
	kvl_put(kv, "configs_failed", failed);
	kvl_putf(kv, "acls_synced_at", "%lld", (long long)ts->acl_synced_at);
	kvl_putf(kv, "acls_created", "%lld", ts->acls_created);
	kvl_put(kv, "acls_failed", ts->acls_failed);
	kvl_put(kv, "acls_skipped", ts->acls_skipped);
}

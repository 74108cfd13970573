/*
 * kafka.c: build librdkafka handles from a cluster's properties and serve
 * their events from the worker's libevent loop.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "kafka.h"
#include "log.h"
#include "worker.h"

struct kclient {
	struct worker    *w;
	rd_kafka_t       *rk;
	rd_kafka_queue_t *q;
	int               pipefd[2];
	struct event     *ev;
	kclient_event_cb *cb;
	void             *arg;
	char              cluster[72];
	/* broker default replication factor, for librdkafka < 2.4 */
	int               rf_default;
	kclient_rf_cb    *rf_cb;
	void             *rf_arg;
	struct event     *rf_timer;
	int               rf_marker;
	kclient_ready_cb *ready_cb;
	void             *ready_arg;
	/* a second queue (a consumer's messages) watched for the role */
	rd_kafka_queue_t *wq;
	int               wpipe[2];
	struct event     *wev;
	kclient_queue_cb *wcb;
	void             *warg;
};

rd_kafka_t *
kclient_rk(struct kclient *kc)
{
	return kc->rk;
}

rd_kafka_queue_t *
kclient_queue(struct kclient *kc)
{
	return kc->q;
}

const char *
kclient_cluster(struct kclient *kc)
{
	return kc->cluster;
}

/* librdkafka log levels are syslog levels. */
static enum log_level
kclient_log_level(int sysl)
{
	if (sysl <= 3)
		return LOG_LV_ERROR;
	if (sysl == 4)
		return LOG_LV_WARN;
	if (sysl == 5)
		return LOG_LV_NOTICE;
	if (sysl == 6)
		return LOG_LV_INFO;
	return LOG_LV_DEBUG;
}

static void kclient_rf_result(struct kclient *kc, rd_kafka_event_t *ev);

/* A producer fenced by a newer one with its transactional id: a newer
 * owner took its shard while the worker stalled. Exit to be respawned: the
 * restart rejoins the group as the same static member and takes what the
 * group gives it. Any other fatal error will not mend by itself (78). */
int
kclient_fatal_code(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
	    err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ? WORKER_EX_TEMPFAIL :
	    WORKER_EX_CONFIG;
}


/* Handle what is ours (logs, errors) and pass the rest on. */
static void
kclient_dispatch(struct kclient *kc, rd_kafka_event_t *ev)
{
	const char *fac, *str;
	int lvl;

	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_LOG:
		if (rd_kafka_event_log(ev, &fac, &str, &lvl) == 0)
			log_msg(kclient_log_level(lvl), "librdkafka %s %s: %s", kc->cluster,
			    fac, str);
		break;
	case RD_KAFKA_EVENT_ERROR: {
		rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
		const char *why = rd_kafka_event_error_string(ev);
		if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* not an error: the reader asked to hear about it */
			if (kc->cb)
				kc->cb(kc, ev, kc->arg);
			break;
		}
		if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
			worker_fatal(kc->w, WORKER_EX_CONFIG, "authentication to cluster %s "
			    "failed: %s", kc->cluster, why);
		if (rd_kafka_event_error_is_fatal(ev)) {
			char fs[512];
			int code = kclient_fatal_code(rd_kafka_fatal_error(kc->rk, fs, sizeof(fs)));
			worker_fatal(kc->w, code, "fatal error on cluster %s: %s%s", kc->cluster, fs,
			    code == WORKER_EX_TEMPFAIL ? KCLIENT_FENCED_SAYS : "");
		}
		if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			/* a subscribed topic another worker is about to create */
			log_info("cluster %s: %s", kc->cluster, why);
		else
			worker_error(kc->w, "cluster %s: %s", kc->cluster, why);
		if (kc->cb)
			kc->cb(kc, ev, kc->arg);
		break;
	}
	case RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT:
		if (rd_kafka_event_opaque(ev) == &kc->rf_marker) {
			kclient_rf_result(kc, ev);
			break;
		}
		/* FALLTHROUGH */
	default:
		if (kc->cb)
			kc->cb(kc, ev, kc->arg);
	}
}

/* Serve every queued event; librdkafka only signals the pipe when the
 * queue becomes non-empty, so drain it completely each time. */
void
kclient_serve(struct kclient *kc)
{
	rd_kafka_event_t *ev;

	while ((ev = rd_kafka_queue_poll(kc->q, 0)) != NULL) {
		kclient_dispatch(kc, ev);
		rd_kafka_event_destroy(ev);
	}
}

static void
kclient_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	kclient_serve(arg);
}

static void
kclient_client_id(char *out, size_t len, const struct worker *w, const char *purpose)
{
	snprintf(out, len, "kmirror-%s-%s-%s-%d", w->flow.name, w->role->name,
	    purpose, w->index);
	for (char *p = out; *p; p++)
		if (!(((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '_' || *p == '-'))
			*p = '_';
}

/*
 * Create a handle: the cluster's common properties, then the role's
 * overrides, then `extra` (key, value, ..., NULL) which kmirror needs.
 * A property librdkafka refuses is a config error: the worker exits 78.
 */
struct kclient *
kclient_new(struct worker *w, rd_kafka_type_t type, const struct km_cluster *c,
    enum km_scope scope, const char *purpose, const char *const *extra,
    int flags, kclient_event_cb *cb, void *arg)
{
	struct kclient *kc = calloc(1, sizeof(*kc));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512], cid[256];
	const struct km_props *sets[2] = { &c->props[KM_SCOPE_COMMON], &c->props[scope] };

	kc->w = w;
	kc->cb = cb;
	kc->arg = arg;
	kc->rf_default = -1;
	snprintf(kc->cluster, sizeof(kc->cluster), "%s", c->alias);
	kclient_client_id(cid, sizeof(cid), w, purpose);
	rd_kafka_conf_set(conf, "client.id", cid, err, sizeof(err));
	/* "?key": kmirrord's default, which the operator's properties override */
	for (int i = 0; extra && extra[i]; i += 2)
		if (extra[i][0] == '?' && rd_kafka_conf_set(conf, extra[i] + 1, extra[i + 1],
		    err, sizeof(err)) != RD_KAFKA_CONF_OK)
			worker_fatal(w, WORKER_EX_CONFIG, "cluster %s: %s: %s", c->alias,
			    extra[i] + 1, err);
	for (int s = 0; s < (scope == KM_SCOPE_COMMON ? 1 : 2); s++)
		for (size_t i = 0; i < sets[s]->n; i++)
			if (rd_kafka_conf_set(conf, sets[s]->v[i].key, sets[s]->v[i].val, err,
			    sizeof(err)) != RD_KAFKA_CONF_OK)
				worker_fatal(w, WORKER_EX_CONFIG, "cluster %s: property %s: %s",
				    c->alias, sets[s]->v[i].key, err);
	for (int i = 0; extra && extra[i]; i += 2)
		if (extra[i][0] != '?' && rd_kafka_conf_set(conf, extra[i], extra[i + 1], err,
		    sizeof(err)) != RD_KAFKA_CONF_OK)
			worker_fatal(w, WORKER_EX_CONFIG, "cluster %s: %s: %s", c->alias,
			    extra[i], err);
	rd_kafka_conf_set(conf, "log.queue", "true", err, sizeof(err));
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_LOG | RD_KAFKA_EVENT_ERROR |
	    (type == RD_KAFKA_PRODUCER ? RD_KAFKA_EVENT_DR : 0) |
	    (flags & KC_F_GROUP ? RD_KAFKA_EVENT_REBALANCE | RD_KAFKA_EVENT_OFFSET_COMMIT : 0));
	kc->rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (kc->rk == NULL)
		worker_fatal(w, WORKER_EX_CONFIG, "cannot create a client for cluster %s: %s",
		    c->alias, err);
	if (flags & KC_F_GROUP) {
		rd_kafka_poll_set_consumer(kc->rk);
		kc->q = rd_kafka_queue_get_consumer(kc->rk);
	} else
		kc->q = rd_kafka_queue_get_main(kc->rk);
	rd_kafka_set_log_queue(kc->rk, kc->q);
	if (pipe2(kc->pipefd, O_NONBLOCK | O_CLOEXEC) == -1)
		worker_fatal(w, 1, "pipe: out of descriptors");
	rd_kafka_queue_io_event_enable(kc->q, kc->pipefd[1], "1", 1);
	kc->ev = event_new(w->base, kc->pipefd[0], EV_READ | EV_PERSIST, kclient_pipe_cb, kc);
	event_add(kc->ev, NULL);
	kclient_serve(kc);
	return kc;
}

void
kclient_destroy(struct kclient *kc)
{
	if (kc == NULL)
		return;
	if (kc->rf_timer)
		event_free(kc->rf_timer);
	rd_kafka_queue_io_event_enable(kc->q, -1, NULL, 0);
	event_free(kc->ev);
	if (kc->wq) {
		rd_kafka_queue_io_event_enable(kc->wq, -1, NULL, 0);
		event_free(kc->wev);
		rd_kafka_queue_destroy(kc->wq);
		close(kc->wpipe[0]);
		close(kc->wpipe[1]);
	}
	/* drop what is left on the queue, then the handle */
	rd_kafka_event_t *ev;
	while ((ev = rd_kafka_queue_poll(kc->q, 0)) != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(kc->q);
	/* a consumer with a group.instance.id keeps its place in the group
	 * until the session times out, so a restart gets its shards back */
	rd_kafka_destroy_flags(kc->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	close(kc->pipefd[0]);
	close(kc->pipefd[1]);
	free(kc);
}

static void
kclient_rf_result(struct kclient *kc, rd_kafka_event_t *ev)
{
	const rd_kafka_DescribeConfigs_result_t *res =
	    rd_kafka_event_DescribeConfigs_result(ev);
	const rd_kafka_ConfigResource_t **rs;
	size_t n = 0, ne = 0;
	char err[256] = "default.replication.factor not found";

	if (rd_kafka_event_error(ev))
		snprintf(err, sizeof(err), "%s", rd_kafka_event_error_string(ev));
	rs = res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[i], &ne);
		for (size_t j = 0; j < ne; j++)
			if (strcmp(rd_kafka_ConfigEntry_name(es[j]), "default.replication.factor") == 0 &&
			    rd_kafka_ConfigEntry_value(es[j]))
				kc->rf_default = atoi(rd_kafka_ConfigEntry_value(es[j]));
	}
	if (kc->rf_cb) {
		kclient_rf_cb *cb = kc->rf_cb;
		kc->rf_cb = NULL;
		cb(kc, kc->rf_default, kc->rf_default > 0 ? NULL : err, kc->rf_arg);
	}
}

/* Poll (without blocking) until librdkafka knows a broker, then ask it. */
static void
kclient_rf_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kclient *kc = arg;
	int32_t id = rd_kafka_controllerid(kc->rk, 0);
	char name[16], err[256];

	(void)fd;
	(void)what;
	if (id < 0) {
		struct timeval tv = { 0, 200000 };
		event_add(kc->rf_timer, &tv);
		return;
	}
	if (kc->ready_cb) {
		kclient_ready_cb *cb = kc->ready_cb;
		kc->ready_cb = NULL;
		cb(kc, kc->ready_arg);
		if (kc->rf_cb == NULL)
			return;
	}
	snprintf(name, sizeof(name), "%d", (int)id);
	rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, name);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kc->rk,
	    RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_AdminOptions_set_request_timeout(o, 10000, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, &kc->rf_marker);
	rd_kafka_DescribeConfigs(kc->rk, &r, 1, o, kc->q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ConfigResource_destroy(r);
}

/*
 * The replication factor to create a topic with: `wanted`, or for -1 the
 * broker's default. librdkafka takes -1 itself only from 2.4.0 on; before
 * that we read default.replication.factor from a broker.
 */
void
kclient_resolve_rf(struct kclient *kc, int wanted, kclient_rf_cb *cb, void *arg)
{
	if (wanted > 0 || rd_kafka_version() >= 0x020400ff || kc->rf_default > 0) {
		cb(kc, wanted > 0 ? wanted : (kc->rf_default > 0 &&
		    rd_kafka_version() < 0x020400ff ? kc->rf_default : -1), NULL, arg);
		return;
	}
	kc->rf_cb = cb;
	kc->rf_arg = arg;
	if (kc->rf_timer == NULL)
		kc->rf_timer = evtimer_new(kc->w->base, kclient_rf_timer_cb, kc);
	kclient_rf_timer_cb(-1, 0, kc);
}

static void
kclient_wpipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kclient *kc = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	kc->wcb(kc->warg);
}

/*
 * Static membership: a restarted worker rejoins under the same
 * group.instance.id and gets its partitions back without a rebalance.
 *
 * Eager, not cooperative, assignment (librdkafka's eager assignors are
 * range and roundrobin; neither is sticky): the cooperative protocol moves
 * a partition in two rebalances, and between them it belongs to nobody. When
 * the member giving it up is killed then, its restart rejoins a stable
 * group with the same instance id, is handed its cached (smaller)
 * assignment, and no second rebalance ever comes: the shard stayed
 * unowned for good (seen in a kill -9 test: 4 of 8 partitions stopped).
 * Every eager assignment covers every partition.
 */
struct kclient *
kclient_new_member(struct worker *w, const char *group, const char *who,
    const char *purpose, kclient_event_cb *cb, void *arg)
{
	char inst[400], sess[32];

	snprintf(inst, sizeof(inst), "%s.%s.%s", w->g.instance_id && *w->g.instance_id ?
	    w->g.instance_id : "kmirrord", w->flow.name, who);
	for (char *p = inst; *p; p++)
		if (*p == '>' || *p == ' ')
			*p = '_';
	snprintf(sess, sizeof(sess), "%lld", FLOW_INT(&w->flow, FS_SHARD_SESSION_TIMEOUT_MS));
	const char *extra[] = { "group.id", group, "group.instance.id", inst,
		"partition.assignment.strategy", "roundrobin",
		"session.timeout.ms", sess, "enable.auto.commit", "false",
		"auto.offset.reset", "latest",
		/* see a grown shards topic (tasks raised) in seconds, not 5 min */
		"topic.metadata.refresh.interval.ms", "5000", NULL };
	return kclient_new(w, RD_KAFKA_CONSUMER, &w->dst, KM_SCOPE_CONSUMER, purpose, extra,
	    KC_F_GROUP, cb, arg);
}

/* Call `cb` from the event loop whenever `q` (e.g. a consumer's queue,
 * which kclient takes over) becomes non-empty; cb must drain it or
 * re-check later itself. */
int
kclient_watch_queue(struct kclient *kc, rd_kafka_queue_t *q, kclient_queue_cb *cb,
    void *arg)
{
	if (pipe2(kc->wpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	kc->wq = q;
	kc->wcb = cb;
	kc->warg = arg;
	rd_kafka_queue_io_event_enable(q, kc->wpipe[1], "1", 1);
	kc->wev = event_new(kc->w->base, kc->wpipe[0], EV_READ | EV_PERSIST,
	    kclient_wpipe_cb, kc);
	event_add(kc->wev, NULL);
	return 0;
}

/* Call `cb` once librdkafka has metadata from the cluster, which proves
 * that connecting and authenticating worked. */
void
kclient_when_connected(struct kclient *kc, kclient_ready_cb *cb, void *arg)
{
	kc->ready_cb = cb;
	kc->ready_arg = arg;
	if (kc->rf_timer == NULL)
		kc->rf_timer = evtimer_new(kc->w->base, kclient_rf_timer_cb, kc);
	kclient_rf_timer_cb(-1, 0, kc);
}

/* A topic to create, with the given configs (NULL-terminated key, value
 * list); NULL (said in the log) when librdkafka refuses it. */
rd_kafka_NewTopic_t *
kclient_new_topic(struct kclient *kc, const char *topic, int partitions, int rf,
    const char *const *configs)
{
	char err[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, rf, err,
	    sizeof(err));

	if (nt == NULL) {
		worker_error(kc->w, "cannot create topic %s on %s: %s", topic, kc->cluster, err);
		return NULL;
	}
	for (int i = 0; configs && configs[i]; i += 2)
		rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
	return nt;
}

/* Ask for the topics in one request, and free them; the result comes back
 * as a CREATETOPICS_RESULT event with `opaque`. */
void
kclient_create_topics(struct kclient *kc, rd_kafka_NewTopic_t **nts, size_t n, void *opaque)
{
	char err[512];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(kc->rk,
	    RD_KAFKA_ADMIN_OP_CREATETOPICS);

	rd_kafka_AdminOptions_set_request_timeout(o, 30000, err, sizeof(err));
	rd_kafka_AdminOptions_set_opaque(o, opaque);
	rd_kafka_CreateTopics(kc->rk, nts, n, o, kc->q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_NewTopic_destroy_array(nts, n);
}

/* One topic: kclient_new_topic, then kclient_create_topics. */
int
kclient_create_topic(struct kclient *kc, const char *topic, int partitions, int rf,
    const char *const *configs, void *opaque)
{
	rd_kafka_NewTopic_t *nt = kclient_new_topic(kc, topic, partitions, rf, configs);

	if (nt == NULL)
		return -1;
	kclient_create_topics(kc, &nt, 1, opaque);
	return 0;
}

/* MM2's internal topics: compacted, one partition. */
int
kclient_create_compacted(struct kclient *kc, const char *topic, int rf, void *opaque)
{
	static const char *const compact[] = { "cleanup.policy", "compact", NULL };
	return kclient_create_topic(kc, topic, 1, rf, compact, opaque);
}

/* Result of a CreateTopics for `topic`: 0 created or already there. */
int
kclient_topic_result(rd_kafka_event_t *ev, const char *topic, char *err, size_t errlen)
{
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	const rd_kafka_topic_result_t **ts;
	size_t n = 0;

	if (rd_kafka_event_error(ev)) {
		snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
		return -1;
	}
	ts = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rd_kafka_topic_result_name(ts[i]), topic) != 0)
			continue;
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(ts[i]);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			return 0;
		snprintf(err, errlen, "%s: %s", rd_kafka_err2name(e),
		    rd_kafka_topic_result_error_string(ts[i]) ?
		    rd_kafka_topic_result_error_string(ts[i]) : rd_kafka_err2str(e));
		return -1;
	}
	snprintf(err, errlen, "no result for topic %s", topic);
	return -1;
}

/*
 * heartbeat.c: the heartbeat role. Creates `heartbeats` on the target
 * (compacted, one partition) and writes one MM2 heartbeat (key: source and
 * target aliases; value: version 0 and the time) every interval, so
 * replicated heartbeat topics show lineage and liveness downstream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "kafka.h"
#include "lease.h"
#include "log.h"
#include "mm2fmt.h"
#include "msg.h"
#include "worker.h"

#define HB_TOPIC "heartbeats"
#define HB_RETRY_MS 5000

struct hb {
	struct worker  *w;
	struct kclient *kc;
	struct lease   *lease;
	struct event   *timer;
	struct event   *drain;
	int             topic_ok;
	int             create_marker;
	long long       sent;
	long long       acked;
	long long       failed;
	int64_t         last_ack_wall_ms;
};

static void
hb_arm(struct hb *hb, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(hb->timer, &tv);
}

static void hb_rf_cb(struct kclient *kc, int rf, const char *err, void *arg);

/* Write one heartbeat, then wait an interval. */
static void
hb_emit(struct hb *hb)
{
	struct worker *w = hb->w;
	char key[2 * MM2_ALIAS_MAX + 8], val[16];
	int64_t now = worker_wall_ms();
	ssize_t kl = mm2_heartbeat_key_encode(key, sizeof(key), w->src.alias, w->dst.alias);
	ssize_t vl = mm2_heartbeat_value_encode(val, sizeof(val), now);
	rd_kafka_resp_err_t err;

	if (kl < 0 || vl < 0) {
		worker_error(w, "cannot encode a heartbeat for %s->%s", w->src.alias,
		    w->dst.alias);
		return;
	}
	if (!w->paused && lease_active(hb->lease)) {
		err = rd_kafka_producev(kclient_rk(hb->kc), RD_KAFKA_V_TOPIC(HB_TOPIC),
		    RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, (size_t)kl),
		    RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_TIMESTAMP(now),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (err)
			worker_error(w, "cannot queue a heartbeat: %s", rd_kafka_err2str(err));
		else
			hb->sent++;
	}
	hb_arm(hb, (int)FLOW_INT(&w->flow, FS_HEARTBEATS_INTERVAL_MS));
}

static void
hb_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hb *hb = arg;
	(void)fd;
	(void)what;
	if (hb->topic_ok)
		hb_emit(hb);
	else
		kclient_resolve_rf(hb->kc, (int)FLOW_INT(&hb->w->flow, FS_HEARTBEATS_RF),
		    hb_rf_cb, hb);
}

static void
hb_rf_cb(struct kclient *kc, int rf, const char *err, void *arg)
{
	struct hb *hb = arg;

	if (err) {
		worker_error(hb->w, "cannot learn the default replication factor of %s: %s",
		    kclient_cluster(kc), err);
		hb_arm(hb, HB_RETRY_MS);
		return;
	}
	worker_set_state(hb->w, "creating topic");
	if (kclient_create_compacted(kc, HB_TOPIC, rf, &hb->create_marker) == -1)
		hb_arm(hb, HB_RETRY_MS);
}

static void
hb_on_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct hb *hb = arg;
	const rd_kafka_message_t *m;
	char err[512];

	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		if (kclient_topic_result(ev, HB_TOPIC, err, sizeof(err)) == -1) {
			worker_error(hb->w, "cannot create topic %s on %s: %s; retrying in %d s",
			    HB_TOPIC, kclient_cluster(kc), err, HB_RETRY_MS / 1000);
			hb_arm(hb, HB_RETRY_MS);
			return;
		}
		hb->topic_ok = 1;
		worker_clear_error(hb->w);
		snprintf(err, sizeof(err), "writing heartbeats to %s on %s every %lld ms",
		    HB_TOPIC, kclient_cluster(kc),
		    FLOW_INT(&hb->w->flow, FS_HEARTBEATS_INTERVAL_MS));
		worker_ready(hb->w, err);
		/* MM2 waits one interval before the first heartbeat */
		hb_arm(hb, (int)FLOW_INT(&hb->w->flow, FS_HEARTBEATS_INTERVAL_MS));
		break;
	case RD_KAFKA_EVENT_DR:
		while ((m = rd_kafka_event_message_next(ev)) != NULL) {
			if (m->err) {
				hb->failed++;
				worker_error(hb->w, "heartbeat not delivered to %s: %s",
				    kclient_cluster(kc), rd_kafka_err2str(m->err));
			} else {
				hb->acked++;
				hb->last_ack_wall_ms = worker_wall_ms();
				if (hb->w->last_error[0] && hb->topic_ok)
					worker_clear_error(hb->w);
			}
		}
		break;
	default:
		break;
	}
}

static void
hb_lease_cb(void *arg, int active)
{
	struct hb *hb = arg;
	worker_set_state(hb->w, active ? "running" : "standby");
}

static int
hb_start(struct worker *w)
{
	static const char *const extra[] = { "acks", "all", "linger.ms", "5", NULL };
	struct hb *hb = calloc(1, sizeof(*hb));

	if (hb == NULL)
		return -1;
	w->data = hb;
	hb->w = w;
	hb->kc = kclient_new(w, RD_KAFKA_PRODUCER, &w->dst, KM_SCOPE_PRODUCER,
	    "heartbeats", extra, 0, hb_on_event, hb);
	hb->timer = evtimer_new(w->base, hb_timer_cb, hb);
	hb->lease = lease_new(w, hb_lease_cb, hb);
	worker_set_state(w, "connecting");
	kclient_resolve_rf(hb->kc, (int)FLOW_INT(&w->flow, FS_HEARTBEATS_RF), hb_rf_cb, hb);
	return 0;
}

static void
hb_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hb *hb = arg;
	struct timeval tv = { 0, 50000 };
	(void)fd;
	(void)what;

	if (rd_kafka_outq_len(kclient_rk(hb->kc)) == 0)
		worker_exit(hb->w, 0);
	event_add(hb->drain, &tv);
}

/* Stop emitting and wait for what is in flight. */
static void
hb_stop(struct worker *w)
{
	struct hb *hb = w->data;

	event_del(hb->timer);
	hb->drain = evtimer_new(w->base, hb_drain_cb, hb);
	hb_drain_cb(-1, 0, hb);
}

static void
hb_status(struct worker *w, struct evbuffer *b)
{
	struct hb *hb = w->data;

	kvl_putf(b, "heartbeats_sent", "%lld", hb->sent);
	kvl_putf(b, "heartbeats_acked", "%lld", hb->acked);
	kvl_putf(b, "heartbeats_failed", "%lld", hb->failed);
	kvl_putf(b, "last_heartbeat_ms", "%lld", (long long)hb->last_ack_wall_ms);
	kvl_put(b, "active", lease_active(hb->lease) ? "yes" : "standby");
}

static void
hb_destroy(struct worker *w)
{
	struct hb *hb = w->data;

	if (hb == NULL)
		return;
	if (hb->timer)
		event_free(hb->timer);
	if (hb->drain)
		event_free(hb->drain);
	lease_free(hb->lease);
	kclient_destroy(hb->kc);
	free(hb);
	w->data = NULL;
}

const struct worker_role heartbeat_role = {
	.name = "heartbeat",
	.start = hb_start,
	.stop = hb_stop,
	.status = hb_status,
	.destroy = hb_destroy,
};

/*
 * lease.c: the once-per-flow lease of the checkpoint and heartbeat roles,
 * through Kafka's group protocol (no home-made coordinator): active while
 * holding partition 0 of the shards topic. Static membership keeps a
 * restarted worker's lease without a rebalance (kclient_new_member).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "kafka.h"
#include "lease.h"
#include "log.h"
#include "worker.h"

struct lease {
	struct worker  *w;
	struct kclient *kc;
	struct event   *keepalive;
	lease_cb       *cb;
	void           *arg;
	int             active;
	char            group[300];
};

int
lease_active(const struct lease *l)
{
	return l->active;
}

static void
lease_set(struct lease *l, int active)
{
	if (active == l->active)
		return;
	l->active = active;
	log_notice("%s for flow %s (group %s)", active ? "active" : "standby",
	    l->w->flow.name, l->group);
	l->cb(l->arg, active);
}

static void
lease_event(struct kclient *kc, rd_kafka_event_t *ev, void *arg)
{
	struct lease *l = arg;
	rd_kafka_t *rk = kclient_rk(kc);
	rd_kafka_topic_partition_list_t *parts;
	int has0 = 0;

	if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR &&
	    rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
		log_notice("no group protocol on %s: this worker stays active",
		    l->w->dst.alias);
		lease_set(l, 1);
		return;
	}
	if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_REBALANCE)
		return;
	parts = rd_kafka_event_topic_partition_list(ev);
	for (int i = 0; parts && i < parts->cnt; i++)
		if (parts->elems[i].partition == 0)
			has0 = 1;
	/* eager assignment (kclient_new_member): every rebalance takes all
	 * back first, then hands out a whole new assignment */
	if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_assign(rk, parts);
		if (has0)
			lease_set(l, 1);
	} else {
		lease_set(l, 0);
		rd_kafka_assign(rk, NULL);
	}
}

static void
lease_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;
	(void)fd;
	(void)what;
	kclient_serve(l->kc);
}

struct lease *
lease_new(struct worker *w, lease_cb *cb, void *arg)
{
	struct lease *l = calloc(1, sizeof(*l));
	char topic[300];
	rd_kafka_topic_partition_list_t *tl;

	l->w = w;
	l->cb = cb;
	l->arg = arg;
	snprintf(l->group, sizeof(l->group), "kmirror.%s.%s.%s", w->src.alias, w->dst.alias,
	    w->role->name);
	snprintf(topic, sizeof(topic), "kmirror-shards.%s.internal", w->src.alias);
	l->kc = kclient_new_member(w, l->group, w->role->name, "lease", lease_event, l);
	if (FLOW_INT(&w->flow, FS_SHARD_ASSIGNMENT) == KM_SHARDS_STATIC) {
		lease_set(l, 1);
		return l;
	}
	tl = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(kclient_rk(l->kc), tl);
	rd_kafka_topic_partition_list_destroy(tl);
	if (err) {
		log_notice("cannot join group %s (%s): this worker stays active", l->group,
		    rd_kafka_err2str(err));
		lease_set(l, 1);
	}
	l->keepalive = event_new(w->base, -1, EV_PERSIST, lease_keepalive_cb, l);
	struct timeval one = { 1, 0 };
	event_add(l->keepalive, &one);
	return l;
}

void
lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	if (l->keepalive)
		event_free(l->keepalive);
	kclient_destroy(l->kc);
	free(l);
}

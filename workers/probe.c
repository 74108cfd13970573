/*
 * probe.c: connect to the flow's source and target clusters and report
 * READY when both have answered a metadata request.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kafka.h"
#include "lease.h"
#include "log.h"
#include "probe.h"
#include "worker.h"

struct probe {
	struct kclient *src;
	struct kclient *dst;
	struct lease   *lease;
	int             up;
};

static void
probe_lease_cb(void *arg, int active)
{
	struct worker *w = arg;
	worker_set_state(w, active ? "running" : "standby");
}

static void
probe_connected(struct kclient *kc, void *arg)
{
	struct worker *w = arg;
	struct probe *p = w->data;
	char detail[256];

	(void)kc;
	if (++p->up < 2)
		return;
	snprintf(detail, sizeof(detail), "connected to %s and %s", w->src.alias,
	    w->dst.alias);
	worker_ready(w, detail);
}

int
probe_start(struct worker *w)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	w->data = p;
	worker_set_state(w, "connecting");
	p->src = kclient_new(w, RD_KAFKA_PRODUCER, &w->src, KM_SCOPE_ADMIN, "probe",
	    NULL, 0, NULL, NULL);
	p->dst = kclient_new(w, RD_KAFKA_PRODUCER, &w->dst, KM_SCOPE_ADMIN, "probe",
	    NULL, 0, NULL, NULL);
	kclient_when_connected(p->src, probe_connected, w);
	kclient_when_connected(p->dst, probe_connected, w);
	p->lease = lease_new(w, probe_lease_cb, w);
	return 0;
}

void
probe_stop(struct worker *w)
{
	worker_exit(w, 0);
}

void
probe_destroy(struct worker *w)
{
	struct probe *p = w->data;

	if (p == NULL)
		return;
	lease_free(p->lease);
	kclient_destroy(p->src);
	kclient_destroy(p->dst);
	free(p);
	w->data = NULL;
}

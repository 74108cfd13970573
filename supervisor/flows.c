/*
 * flows.c: turn the config into running flows. At start and on every reload
 * the wanted flows are compared with the running ones by their CONFIG bytes:
 * new flows start, removed flows drain, changed flows restart, unchanged
 * flows keep their processes. Also the ordered drain on SIGTERM.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "channel.h"
#include "log.h"
#include "mm2props.h"
#include "sup.h"

/* The bytes that decide whether a flow changed: its CONFIG without the
 * per-worker parts. */
static struct evbuffer *
flows_fingerprint(const struct km_config *cfg, const struct km_flow *f)
{
	struct evbuffer *b = evbuffer_new();

	if (b && flowconf_encode(b, f, config_cluster(cfg, f->source),
	    config_cluster(cfg, f->target), NULL) == 0)
		return b;
	if (b)
		evbuffer_free(b);
	return NULL;
}

static int
flows_same(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);

	return n == evbuffer_get_length(b) &&
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0;
}

struct sup_flow *
flows_find(struct sup *s, const char *name)
{
	for (size_t i = 0; i < s->nflows; i++)
		if (!s->flows[i]->removing && strcmp(s->flows[i]->name, name) == 0)
			return s->flows[i];
	return NULL;
}

static void
flows_add_slot(struct sup_flow *fl, enum sup_role role, int index)
{
	struct slot *sl = calloc(1, sizeof(*sl));

	sl->flow = fl;
	sl->role = role;
	sl->index = index;
	sl->state = SLOT_STOPPED;
	sl->exit_code = -1;
	restart_init(&sl->rs, &fl->sup->cfg.restart);
	fl->slots = realloc(fl->slots, (fl->nslots + 1) * sizeof(*fl->slots));
	fl->slots[fl->nslots++] = sl;
}

/* Create a flow's slots and start its workers. */
static void
flows_start(struct sup *s, const struct km_flow *f, struct evbuffer *fp)
{
	struct sup_flow *fl = calloc(1, sizeof(*fl));

	fl->sup = s;
	fl->name = strdup(f->name);
	fl->id = ++s->next_flow_id;
	fl->conf = f;
	fl->fingerprint = fp;
	int workers = km_flow_source_workers(f);
	for (int i = 0; i < workers; i++)
		flows_add_slot(fl, ROLE_SOURCE, i);
	if (FLOW_INT(f, FS_EMIT_CHECKPOINTS_ENABLED))
		flows_add_slot(fl, ROLE_CHECKPOINT, 0);
	if (FLOW_INT(f, FS_EMIT_HEARTBEATS_ENABLED))
		flows_add_slot(fl, ROLE_HEARTBEAT, 0);
	s->flows = realloc(s->flows, (s->nflows + 1) * sizeof(*s->flows));
	s->flows[s->nflows++] = fl;
	log_info("starting flow %s (%zu workers)", fl->name, fl->nslots);
	for (size_t i = 0; i < fl->nslots; i++)
		if (proc_spawn(fl->slots[i]) == -1) {
			fl->slots[i]->state = SLOT_BACKOFF;
			proc_schedule(fl->slots[i], 1000);
		}
}

static void
flows_free(struct sup_flow *fl)
{
	for (size_t i = 0; i < fl->nslots; i++) {
		struct slot *sl = fl->slots[i];
		if (sl->timer)
			event_free(sl->timer);
		if (sl->ch)
			ipc_channel_free(sl->ch);
		kvl_free(&sl->status);
		free(sl);
	}
	free(fl->slots);
	if (fl->fingerprint)
		evbuffer_free(fl->fingerprint);
	free(fl->name);
	free(fl);
}

/* Stop every worker of a flow and drop the flow once they are gone. */
static void
flows_remove(struct sup_flow *fl)
{
	fl->removing = 1;
	for (size_t i = 0; i < fl->nslots; i++)
		proc_stop_slot(fl->slots[i], SIGTERM);
	flows_slot_stopped(fl->sup);
}

/* Called whenever a slot reaches STOPPED; the work is deferred to flows_gc
 * so that no caller sees the flow table change under its feet. */
void
flows_slot_stopped(struct sup *s)
{
	event_active(s->gc, EV_TIMEOUT, 0);
}

/* Free removed flows whose workers are all gone, and move the drain on. */
void
flows_gc(struct sup *s)
{
	for (size_t i = 0; i < s->nflows; ) {
		struct sup_flow *fl = s->flows[i];
		int busy = 0;
		for (size_t j = 0; j < fl->nslots; j++)
			if (fl->slots[j]->pid > 0)
				busy = 1;
		if (fl->removing && !busy) {
			log_info("flow %s removed", fl->name);
			flows_free(fl);
			memmove(&s->flows[i], &s->flows[i + 1],
			    (s->nflows - i - 1) * sizeof(*s->flows));
			s->nflows--;
			continue;
		}
		i++;
	}
	if (s->draining)
		flows_drain_step(s);
}

/*
 * Make the running flows match `newcfg`, which the supervisor then owns.
 * Flows whose fingerprint is unchanged keep their workers (and pids).
 */
int
flows_apply(struct sup *s, struct km_config *newcfg, int initial)
{
	struct km_config old = s->cfg;
	struct evbuffer **fps = calloc(newcfg->nflows + 1, sizeof(*fps));
	int started = 0, restarted = 0, removed = 0, kept = 0;

	s->cfg = *newcfg;
	memset(newcfg, 0, sizeof(*newcfg));
	for (size_t i = 0; i < s->cfg.nflows; i++)
		fps[i] = flows_fingerprint(&s->cfg, &s->cfg.flows[i]);

	/* removed or changed flows */
	for (size_t i = 0; i < s->nflows; i++) {
		struct sup_flow *fl = s->flows[i];
		const struct km_flow *nf = NULL;
		size_t k;
		if (fl->removing)
			continue;
		for (k = 0; k < s->cfg.nflows; k++)
			if (strcmp(s->cfg.flows[k].name, fl->name) == 0) {
				nf = &s->cfg.flows[k];
				break;
			}
		if (nf && FLOW_INT(nf, FS_ENABLED) && flows_same(fl->fingerprint, fps[k])) {
			fl->conf = nf;
			kept++;
			continue;
		}
		log_info("flow %s %s", fl->name, nf && FLOW_INT(nf, FS_ENABLED) ?
		    "changed: restarting its workers" : "removed: draining its workers");
		if (nf && FLOW_INT(nf, FS_ENABLED))
			restarted++;
		else
			removed++;
		fl->conf = NULL;
		flows_remove(fl);
	}
	/* new (or changed, whose old incarnation is draining) flows */
	for (size_t k = 0; k < s->cfg.nflows; k++) {
		const struct km_flow *f = &s->cfg.flows[k];
		if (!FLOW_INT(f, FS_ENABLED) || flows_find(s, f->name) != NULL) {
			if (fps[k])
				evbuffer_free(fps[k]);
			continue;
		}
		flows_start(s, f, fps[k]);
		started++;
	}
	free(fps);
	if (!initial)
		log_notice("reloaded %s: %d flows kept, %d restarted, %d removed, %d new",
		    s->cfg.file, kept, restarted, removed, started - restarted);
	config_free(&old);
	return 0;
}

/* SIGHUP: parse and validate first; a bad config changes nothing. */
int
flows_reload(struct sup *s, char *err, size_t errlen)
{
	struct km_config nc;

	char warn[8192] = "";
	if ((s->cfg.is_mm2 ? mm2props_load(s->cfg.file, &nc, err, errlen, warn,
	    sizeof(warn)) : config_load(s->cfg.file, &nc, err, errlen)) == -1) {
		log_error("reload refused, keeping the running config: %s", err);
		return -1;
	}
	if (warn[0])
		log_warn("%s", warn);
	if (strcmp(nc.control_socket, s->cfg.control_socket) != 0 ||
	    strcmp(nc.pidfile, s->cfg.pidfile) != 0)
		log_warn("reload: pidfile and control_socket changes need a restart");
	log_configure(nc.log_target < 0 ? (s->foreground ? LOG_TO_STDERR :
	    LOG_TO_SYSLOG) : nc.log_target, nc.log_file, nc.log_level, nc.log_json);
	proc_clear_failed(s);
	flows_apply(s, &nc, 0);
	return 0;
}

/* Begin the ordered drain: sources first, then checkpoints, then heartbeats. */
int
flows_start_drain(struct sup *s)
{
	if (s->draining)
		return 0;
	s->draining = 1;
	log_notice("draining: stopping source workers, then checkpoint, then heartbeat");
	flows_drain_step(s);
	return 0;
}

/* Stop the workers of the current phase; move to the next phase when none
 * of them is left; leave the loop when all are gone. */
void
flows_drain_step(struct sup *s)
{
	while (s->draining && s->draining <= ROLE__COUNT) {
		enum sup_role phase = (enum sup_role)(s->draining - 1);
		int alive = 0;
		for (size_t i = 0; i < s->nflows; i++)
			for (size_t j = 0; j < s->flows[i]->nslots; j++) {
				struct slot *sl = s->flows[i]->slots[j];
				if (sl->role != phase) {
					if (sl->pid <= 0 && sl->timer)
						event_del(sl->timer);
					continue;
				}
				if (sl->pid > 0) {
					alive++;
					if (sl->state != SLOT_STOPPING)
						proc_stop_slot(sl, SIGTERM);
				} else if (sl->timer)
					event_del(sl->timer);
			}
		if (alive)
			return;
		s->draining++;
	}
	if (s->draining > ROLE__COUNT)
		event_base_loopexit(s->base, NULL);
}

/* Free every flow and the config at exit (workers are already gone). */
void
sup_free(struct sup *s)
{
	for (size_t i = 0; i < s->nflows; i++)
		flows_free(s->flows[i]);
	free(s->flows);
	s->flows = NULL;
	s->nflows = 0;
	config_free(&s->cfg);
}

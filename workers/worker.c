/*
 * worker.c: the common worker bootstrap. A worker is kmirrord re-executed
 * with -x ROLE; fd 3 is its socket to the supervisor. It says HELLO, waits
 * for CONFIG, starts its role, says READY when the role's Kafka handles
 * work, and sends STATUS every status interval. It exits when the
 * supervisor's socket closes, so no worker outlives its supervisor.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "channel.h"
#include "clock.h"
#include "log.h"
#include "msg.h"
#include "worker.h"

#define WORKER_STOP_DEADLINE_MS 5000

static struct worker worker;

int64_t
worker_now_ms(void)
{
	return km_mono_ms();
}

int64_t
worker_wall_ms(void)
{
	return km_wall_ms();
}

void
worker_set_state(struct worker *w, const char *state)
{
	snprintf(w->state, sizeof(w->state), "%s", state);
}

/* Remember an error for STATUS; log it only when it changes. */
void
worker_error(struct worker *w, const char *fmt, ...)
{
	char buf[sizeof(w->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, w->last_error) != 0)
		log_error("%s", buf);
	memcpy(w->last_error, buf, sizeof(buf));
}

void
worker_clear_error(struct worker *w)
{
	w->last_error[0] = '\0';
}

void
worker_exit(struct worker *w, int code)
{
	if (w->role && w->role->destroy && w->configured)
		w->role->destroy(w);
	if (w->ch) {
		ipc_channel_flush_sync(w->ch, 1000);
		ipc_channel_free(w->ch);
	}
	if (w->status_ev)
		event_free(w->status_ev);
	if (w->stop_deadline)
		event_free(w->stop_deadline);
	for (int i = 0; i < 3; i++)
		if (w->sig_ev[i])
			event_free(w->sig_ev[i]);
	km_flow_free(&w->flow);
	km_cluster_free(&w->src);
	km_cluster_free(&w->dst);
	free(w->g.log_file);
	free(w->g.instance_id);
	if (w->base)
		event_base_free(w->base);
	exit(code);
}

/* Tell the supervisor why we give up, then exit with `code` (78: do not
 * respawn). The reason must not contain secrets. */
void
worker_fatal(struct worker *w, int code, const char *fmt, ...)
{
	struct evbuffer *b = evbuffer_new();
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_error("fatal: %s (exit %d)", reason, code);
	if (b && w->ch) {
		kvl_putf(b, "exit_code", "%d", code);
		kvl_put(b, "reason", reason);
		ipc_channel_send(w->ch, IPC_FATAL, b);
	}
	if (b)
		evbuffer_free(b);
	/* no orderly teardown: we may be inside a librdkafka event of the very
	 * handle that failed, and destroying it there would wait forever */
	if (w->ch)
		ipc_channel_flush_sync(w->ch, 1000);
	_exit(code);
}

static void
worker_send_status(struct worker *w)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		return;
	kvl_put(b, "state", w->state);
	kvl_put(b, "last_error", w->last_error);
	kvl_putf(b, "uptime_ms", "%lld", (long long)(worker_now_ms() - w->started_at));
	if (w->configured && w->role->status)
		w->role->status(w, b);
	ipc_channel_send(w->ch, IPC_STATUS, b);
	evbuffer_free(b);
}

void
worker_ready(struct worker *w, const char *detail)
{
	struct evbuffer *b = evbuffer_new();

	if (w->ready || b == NULL) {
		if (b)
			evbuffer_free(b);
		return;
	}
	w->ready = 1;
	worker_set_state(w, "running");
	if (detail)
		kvl_put(b, "detail", detail);
	ipc_channel_send(w->ch, IPC_READY, b);
	evbuffer_free(b);
	log_info("ready%s%s", detail ? ": " : "", detail ? detail : "");
	worker_send_status(w);
}

static void
worker_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_send_status(arg);
}

static void
worker_stop_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	log_warn("drain took longer than %d ms; exiting", WORKER_STOP_DEADLINE_MS);
	worker_exit(arg, 0);
}

/* Begin an orderly stop: the role drains and calls worker_exit. */
static void
worker_stop(struct worker *w, const char *why)
{
	struct timeval tv = { WORKER_STOP_DEADLINE_MS / 1000,
	    (WORKER_STOP_DEADLINE_MS % 1000) * 1000 };

	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("stopping: %s", why);
	worker_set_state(w, "stopping");
	if (!w->configured || w->role->stop == NULL)
		worker_exit(w, 0);
	w->stop_deadline = evtimer_new(w->base, worker_stop_deadline_cb, w);
	event_add(w->stop_deadline, &tv);
	w->role->stop(w);
}

static void
worker_on_config(struct worker *w, const unsigned char *payload, size_t len)
{
	struct kvl l;
	char err[512];
	long long idx;

	if (w->configured)
		worker_fatal(w, 1, "protocol error: second CONFIG");
	if (kvl_decode(payload, len, &l, err, sizeof(err)) == -1)
		worker_fatal(w, 1, "protocol error: bad CONFIG: %s", err);
	if (kvl_get_ll(&l, "worker.index", &idx) == 0 && idx != w->index)
		worker_fatal(w, 1, "protocol error: CONFIG is for worker %lld", idx);
	/* worker.* items are ours, not the flow's */
	for (size_t i = 0; i < l.n; i++)
		if (strncmp(l.items[i].key, "worker.", 7) == 0) {
			free(l.items[i].key);
			free(l.items[i].val);
			memmove(&l.items[i], &l.items[i + 1], (l.n - i - 1) * sizeof(l.items[0]));
			l.n--;
			i--;
		}
	if (flowconf_decode(&l, &w->flow, &w->src, &w->dst, &w->g, err, sizeof(err)) == -1)
		worker_fatal(w, 1, "protocol error: %s", err);
	for (size_t i = 0; i < l.n; i++)
		explicit_bzero(l.items[i].val, strlen(l.items[i].val));
	kvl_free(&l);
	log_configure(w->g.log_target, w->g.log_file, w->g.log_level, w->g.log_json);
	w->configured = 1;
	worker_set_state(w, "starting");

	struct timeval tv = { w->g.status_interval_ms / 1000,
	    (w->g.status_interval_ms % 1000) * 1000 };
	w->status_ev = event_new(w->base, -1, EV_PERSIST, worker_status_cb, w);
	event_add(w->status_ev, &tv);
	if (w->role->start(w) == -1)
		worker_fatal(w, WORKER_EX_CONFIG, "%s worker could not start: %s",
		    w->role->name, w->last_error[0] ? w->last_error : "see the log");
}

static void
worker_on_msg(struct ipc_channel *ch, const struct ipc_hdr *h,
    const unsigned char *payload, void *arg)
{
	struct worker *w = arg;

	(void)ch;
	switch (h->type) {
	case IPC_CONFIG:
		ipc_channel_adopt_ids(w->ch, h->flow, h->gen);
		worker_on_config(w, payload, h->len);
		break;
	case IPC_STOP:
		worker_stop(w, "asked by the supervisor");
		break;
	case IPC_REOPEN_LOGS:
		log_reopen();
		break;
	case IPC_PAUSE:
	case IPC_RESUME:
		w->paused = h->type == IPC_PAUSE;
		log_info("%s by the supervisor", w->paused ? "paused" : "resumed");
		if (w->configured && w->role->pause)
			w->role->pause(w, w->paused);
		worker_set_state(w, w->paused ? "paused" : "running");
		break;
	default:
		worker_fatal(w, 1, "protocol error: the supervisor sent %s",
		    ipc_msg_type_name(h->type));
	}
}

static void
worker_on_close(struct ipc_channel *ch, const char *reason, void *arg)
{
	struct worker *w = arg;

	(void)ch;
	log_warn("supervisor channel closed (%s): exiting", reason);
	ipc_channel_free(w->ch);
	w->ch = NULL;
	/* nobody to report to: drain briefly and go */
	worker_stop(w, "supervisor gone");
}

static void
worker_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGUSR1)
		log_reopen();
	else
		worker_stop(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

int
worker_main(const char *role, const char *flow, int index)
{
	static const struct worker_role *const roles[] = { &source_role,
		&checkpoint_role, &heartbeat_role, NULL };
	struct worker *w = &worker;
	struct evbuffer *b;
	struct stat st;
	char name[16];

	for (int i = 0; roles[i]; i++)
		if (strcmp(roles[i]->name, role) == 0)
			w->role = roles[i];
	if (w->role == NULL || flow == NULL || fstat(3, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "kmirrord: -x is for workers started by the supervisor\n");
		return 64;
	}
	log_set_ident(role, flow);
	snprintf(name, sizeof(name), "km-%s", role);
	prctl(PR_SET_NAME, name);
	signal(SIGPIPE, SIG_IGN);
	w->index = index;
	w->started_at = worker_now_ms();
	worker_set_state(w, "hello");
	w->base = event_base_new();
	w->ch = ipc_channel_new(w->base, 3, 0, 0, worker_on_msg, worker_on_close, w);
	if (w->base == NULL || w->ch == NULL)
		return 1;
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	for (size_t i = 0; i < 3; i++) {
		w->sig_ev[i] = evsignal_new(w->base, sigs[i], worker_on_signal, w);
		event_add(w->sig_ev[i], NULL);
	}
	signal(SIGHUP, SIG_IGN);
	b = evbuffer_new();
	kvl_put(b, "role", role);
	kvl_put(b, "flow", flow);
	kvl_putf(b, "proto", "%d", IPC_PROTO_VERSION);
	ipc_channel_send(w->ch, IPC_HELLO, b);
	evbuffer_free(b);
	event_base_dispatch(w->base);
	worker_exit(w, 0);
}

/*
 * worker.h: what every worker role shares: the bootstrap (fd 3, HELLO,
 * CONFIG, READY, STATUS), signals, and the exit paths.
 */
#ifndef KM_WORKER_H
#define KM_WORKER_H
#include <stdint.h>
#include "flowconf.h"

struct event_base;
struct event;
struct evbuffer;
struct ipc_channel;
struct worker;

#define WORKER_EX_CONFIG 78	/* do not respawn */
#define WORKER_EX_TEMPFAIL 75	/* respawned (after the usual backoff) */

/* A role: started once CONFIG arrived, asked to stop on SIGTERM or STOP. */
struct worker_role {
	const char *name;
	int  (*start)(struct worker *w);
	void (*stop)(struct worker *w);		/* begin draining; call worker_exit */
	void (*status)(struct worker *w, struct evbuffer *kv);
	void (*destroy)(struct worker *w);
	void (*pause)(struct worker *w, int paused);
};

struct worker {
	struct event_base        *base;
	struct ipc_channel       *ch;
	const struct worker_role *role;
	int                       index;
	struct km_flow            flow;
	struct km_cluster         src;
	struct km_cluster         dst;
	struct km_worker_globals  g;
	int                       configured;
	int                       ready;
	int                       stopping;
	int                       paused;
	int64_t                   started_at;
	struct event             *status_ev;
	struct event             *stop_deadline;
	struct event             *sig_ev[3];
	char                      state[32];
	char                      last_error[512];
	void                     *data;		/* the role's own state */
};

extern const struct worker_role heartbeat_role;
extern const struct worker_role source_role;
extern const struct worker_role checkpoint_role;

int  worker_main(const char *role, const char *flow, int index);
void worker_ready(struct worker *w, const char *detail);
void worker_set_state(struct worker *w, const char *state);
void worker_error(struct worker *w, const char *fmt, ...)
         __attribute__((format(printf, 2, 3)));
void worker_clear_error(struct worker *w);
void worker_fatal(struct worker *w, int code, const char *fmt, ...)
         __attribute__((format(printf, 3, 4), noreturn));
void worker_exit(struct worker *w, int code) __attribute__((noreturn));
int64_t worker_now_ms(void);
int64_t worker_wall_ms(void);

#endif

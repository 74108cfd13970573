/*
 * sup.h: the supervisor's state: flows, their worker slots, and the
 * functions of proc.c (process table), flows.c (start, stop, reload) and
 * ctl.c (control socket).
 */
#ifndef KM_SUP_H
#define KM_SUP_H
#include <stdint.h>
#include <sys/types.h>
#include "config.h"
#include "msg.h"
#include "restart.h"

struct event;
struct event_base;
struct evbuffer;
struct ipc_channel;
struct evhttp;

/* Worker roles; names in sup_role_names[]. */
enum sup_role {
	ROLE_SOURCE,
	ROLE_CHECKPOINT,
	ROLE_HEARTBEAT,
	ROLE__COUNT
};
extern const char *const sup_role_names[ROLE__COUNT];
int sup_role_parse(const char *name);

/*
 * Slot states:
 *   STARTING  forked; waiting for HELLO and READY
 *   RUNNING   READY received; STATUS expected every status interval
 *   BACKOFF   exited; a timer respawns it after the backoff delay
 *   FAILED    too many failures in the window; waits for SIGHUP or cooldown
 *   FATAL     exited 78 (bad credentials, rejected config): never respawned
 *   STOPPING  asked to stop (drain, reload, removal); no respawn
 *   STOPPED   not running and not to be restarted
 */
enum slot_state {
	SLOT_STARTING,
	SLOT_RUNNING,
	SLOT_BACKOFF,
	SLOT_FAILED,
	SLOT_FATAL,
	SLOT_STOPPING,
	SLOT_STOPPED,
	SLOT__COUNT
};
extern const char *const slot_state_names[SLOT__COUNT];

struct sup;
struct sup_flow;

struct slot {
	struct sup_flow     *flow;
	enum sup_role        role;
	int                  index;
	enum slot_state      state;
	pid_t                pid;
	uint32_t             gen;
	struct ipc_channel  *ch;
	int64_t              spawned_at;
	int64_t              last_msg_at;
	int                  hung;		/* we killed it for silence */
	int                  restart_now;	/* operator asked: respawn at once */
	int                  exit_code;		/* from FATAL, if sent */
	struct restart_state rs;
	struct event        *timer;		/* backoff / cooldown */
	char                 last_exit[128];
	char                 last_error[512];
	struct kvl           status;		/* last STATUS */
	double               records_per_s;	/* between the last two STATUS */
	double               bytes_per_s;
	double               prev_records, prev_bytes;
	int64_t              prev_status_at;
};

struct sup_flow {
	struct sup           *sup;
	char                 *name;
	uint32_t              id;
	const struct km_flow *conf;		/* into sup->cfg */
	struct evbuffer      *fingerprint;	/* the CONFIG bytes of the flow */
	struct slot         **slots;
	size_t                nslots;
	int                   removing;		/* drop when all slots stopped */
	int                   paused;		/* kmirrorctl pause */
};

struct sup {
	struct event_base *base;
	struct km_config   cfg;
	char               self[4096];		/* path of our own binary */
	int                foreground;
	int64_t            started_at;
	struct sup_flow  **flows;
	size_t             nflows;
	uint32_t           next_flow_id;
	int                draining;		/* 0, or the role phase + 1 */
	struct event      *tick;
	struct event      *gc;
	struct event      *drain_deadline;
	int                ctl_fd;
	char              *ctl_path;
	struct event      *ctl_ev;
	struct evhttp     *http;
};

int64_t sup_now_ms(void);

/* proc.c */
int  proc_spawn(struct slot *sl);
void proc_reap(struct sup *s);
void proc_tick(struct sup *s);
void proc_stop_slot(struct slot *sl, int sig);
void proc_clear_failed(struct sup *s);
int  proc_alive(const struct slot *sl);
void proc_schedule(struct slot *sl, int64_t ms);
void proc_send_all(struct sup *s, uint32_t type);
void proc_restart_slot(struct slot *sl);
void proc_send_flow(struct sup_flow *fl, uint32_t type);

/* flows.c */
int  flows_apply(struct sup *s, struct km_config *newcfg, int initial);
void flows_slot_stopped(struct sup *s);
void flows_gc(struct sup *s);
struct sup_flow *flows_find(struct sup *s, const char *name);
int  flows_start_drain(struct sup *s);
void flows_drain_step(struct sup *s);
int  flows_reload(struct sup *s, char *err, size_t errlen);
void sup_free(struct sup *s);

/* ctltranslate.c (kmirrorctl only) */
int  ctl_translate(const struct km_config *cfg, const char *remote, const char *target,
         const char *group, int json, int timeout_ms);

/* privdrop.c */
int  privdrop(const char *user, const char *group, const char *const *own,
         char *err, size_t errlen);

/* metrics.c */
int  metrics_listen(struct sup *s, const char *addr);
void metrics_close(struct sup *s);

/* ctl.c */
int  ctl_listen(struct sup *s, const char *path, int mode);
void ctl_close(struct sup *s);
char *ctl_status_json(struct sup *s);

#endif

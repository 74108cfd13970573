/*
 * proc.c: the process table. Spawns workers by fork + exec of our own binary
 * with the IPC socket on fd 3, talks to them, notices hung ones, reaps them
 * and applies the restart policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "channel.h"
#include "clock.h"
#include "flowconf.h"
#include "log.h"
#include "sup.h"

#define EX_CONFIG 78

const char *const sup_role_names[ROLE__COUNT] = {
	"source", "checkpoint", "heartbeat"
};
const char *const slot_state_names[SLOT__COUNT] = {
	"starting", "running", "backoff", "failed", "fatal", "stopping", "stopped"
};

int
sup_role_parse(const char *name)
{
	for (int i = 0; i < ROLE__COUNT; i++)
		if (strcmp(name, sup_role_names[i]) == 0)
			return i;
	return -1;
}

int64_t
sup_now_ms(void)
{
	return km_mono_ms();
}

int
proc_alive(const struct slot *sl)
{
	return sl->pid > 0;
}

/* Environment variables a worker may inherit: nothing that could hold a
 * secret referenced with env:. */
static int
proc_env_allowed(const char *kv)
{
	static const char *const allow[] = { "PATH=", "TZ=", "LANG=", "LC_ALL=",
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TMPDIR=", NULL };
	for (int i = 0; allow[i]; i++)
		if (strncmp(kv, allow[i], strlen(allow[i])) == 0)
			return 1;
	return 0;
}

static void proc_on_msg(struct ipc_channel *ch, const struct ipc_hdr *h,
    const unsigned char *payload, void *arg);
static void proc_on_close(struct ipc_channel *ch, const char *reason, void *arg);

/* Fork and exec one worker; the child sees its socket as fd 3. */
int
proc_spawn(struct slot *sl)
{
	struct sup *s = sl->flow->sup;
	extern char **environ;
	char *envp[16], idx[16];
	int sv[2], ne = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("socketpair for %s worker of %s: %s", sup_role_names[sl->role],
		    sl->flow->name, strerror(errno));
		return -1;
	}
	for (char **e = environ; *e && ne < 15; e++)
		if (proc_env_allowed(*e))
			envp[ne++] = *e;
	envp[ne] = NULL;
	snprintf(idx, sizeof(idx), "%d", sl->index);

	pid = fork();
	if (pid == -1) {
		log_error("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		char *argv[] = { s->self, "-x", (char *)sup_role_names[sl->role], "-f",
			sl->flow->name, "-i", idx, NULL };
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* drain when the supervisor dies, whatever killed it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* own process group: a terminal's ^C or a group kill reaches the
		 * supervisor alone, which then drains the workers in order */
		setpgid(0, 0);
		if (getppid() == 1)
			_exit(1);
		if (dup2(sv[1], 3) == -1)
			_exit(127);
		closefrom(4);
		execve(s->self, argv, envp);
		_exit(127);
	}
	close(sv[1]);
	sl->gen++;
	sl->ch = ipc_channel_new(s->base, sv[0], sl->flow->id, sl->gen, proc_on_msg,
	    proc_on_close, sl);
	if (sl->ch == NULL) {
		log_error("cannot set up the channel of pid %d", (int)pid);
		close(sv[0]);
		kill(pid, SIGKILL);
	}
	sl->pid = pid;
	sl->state = SLOT_STARTING;
	sl->spawned_at = sl->last_msg_at = sup_now_ms();
	sl->hung = 0;
	sl->exit_code = -1;
	restart_note_start(&sl->rs, sl->spawned_at);
	log_info("started %s worker %d of flow %s, pid %d", sup_role_names[sl->role],
	    sl->index, sl->flow->name, (int)pid);
	return 0;
}

/* Send the worker its configuration. */
static void
proc_send_config(struct slot *sl)
{
	struct sup *s = sl->flow->sup;
	struct evbuffer *b = evbuffer_new();
	struct km_worker_globals g = {
		.status_interval_ms = s->cfg.status_interval_ms,
		.log_level = s->cfg.log_level,
		.log_target = s->cfg.log_target < 0 ? (s->foreground ? LOG_TO_STDERR :
		    LOG_TO_SYSLOG) : s->cfg.log_target,
		.log_json = s->cfg.log_json,
		.log_file = s->cfg.log_file,
		.instance_id = s->cfg.instance_id,
	};
	const struct km_flow *f = sl->flow->conf;

	if (b == NULL || flowconf_encode(b, f, config_cluster(&s->cfg, f->source),
	    config_cluster(&s->cfg, f->target), &g) == -1 ||
	    kvl_putf(b, "worker.index", "%d", sl->index) == -1 ||
	    ipc_channel_send(sl->ch, IPC_CONFIG, b) == -1) {
		log_error("cannot send CONFIG to pid %d", (int)sl->pid);
		kill(sl->pid, SIGKILL);
	}
	if (b) {
		/* the buffer held secrets: wipe before freeing */
		size_t n = evbuffer_get_length(b);
		if (n)
			explicit_bzero(evbuffer_pullup(b, -1), n);
		evbuffer_free(b);
	}
}

static void
proc_on_msg(struct ipc_channel *ch, const struct ipc_hdr *h,
    const unsigned char *payload, void *arg)
{
	struct slot *sl = arg;
	struct kvl l;
	char err[256];
	const char *v;

	(void)ch;
	sl->last_msg_at = sup_now_ms();
	if ((pid_t)h->pid != sl->pid || (h->type != IPC_HELLO &&
	    (h->gen != sl->gen || h->flow != sl->flow->id))) {
		log_error("pid %d: message from pid %u gen %u flow %u does not match "
		    "the slot; killing it", (int)sl->pid, h->pid, h->gen, h->flow);
		kill(sl->pid, SIGKILL);
		return;
	}
	if (kvl_decode(payload, h->len, &l, err, sizeof(err)) == -1) {
		log_error("pid %d: bad %s payload: %s; killing it", (int)sl->pid,
		    ipc_msg_type_name(h->type), err);
		kill(sl->pid, SIGKILL);
		return;
	}
	switch (h->type) {
	case IPC_HELLO:
		v = kvl_get(&l, "role");
		if (v == NULL || sup_role_parse(v) != (int)sl->role ||
		    (v = kvl_get(&l, "flow")) == NULL || strcmp(v, sl->flow->name) != 0) {
			log_error("pid %d: HELLO does not match its slot; killing it",
			    (int)sl->pid);
			kill(sl->pid, SIGKILL);
			break;
		}
		proc_send_config(sl);
		if (sl->flow->paused)
			ipc_channel_send(sl->ch, IPC_PAUSE, NULL);
		break;
	case IPC_READY:
		if (sl->state == SLOT_STARTING)
			sl->state = SLOT_RUNNING;
		sl->last_error[0] = '\0';
		log_info("%s worker %d of flow %s (pid %d) is ready%s%s",
		    sup_role_names[sl->role], sl->index, sl->flow->name, (int)sl->pid,
		    kvl_get(&l, "detail") ? ": " : "",
		    kvl_get(&l, "detail") ? kvl_get(&l, "detail") : "");
		break;
	case IPC_STATUS: {
		long long rec, byt;
		kvl_free(&sl->status);
		sl->status = l;
		memset(&l, 0, sizeof(l));
		if (kvl_get_ll(&sl->status, "records", &rec) == 0 &&
		    kvl_get_ll(&sl->status, "bytes", &byt) == 0) {
			int64_t dt = sl->last_msg_at - sl->prev_status_at;
			if (sl->prev_status_at && dt > 0 && rec >= sl->prev_records) {
				sl->records_per_s = (rec - sl->prev_records) * 1000.0 / dt;
				sl->bytes_per_s = (byt - sl->prev_bytes) * 1000.0 / dt;
			}
			sl->prev_records = (double)rec;
			sl->prev_bytes = (double)byt;
			sl->prev_status_at = sl->last_msg_at;
		}
		if ((v = kvl_get(&sl->status, "last_error")) != NULL && *v)
			snprintf(sl->last_error, sizeof(sl->last_error), "%s", v);
		break;
	}
	case IPC_FATAL: {
		long long code = EX_CONFIG;
		kvl_get_ll(&l, "exit_code", &code);
		sl->exit_code = (int)code;
		v = kvl_get(&l, "reason");
		snprintf(sl->last_error, sizeof(sl->last_error), "%s", v ? v : "fatal error");
		break;
	}
	default:
		log_error("pid %d sent %s, which workers may not send; killing it",
		    (int)sl->pid, ipc_msg_type_name(h->type));
		kill(sl->pid, SIGKILL);
	}
	kvl_free(&l);
}

static void
proc_on_close(struct ipc_channel *ch, const char *reason, void *arg)
{
	struct slot *sl = arg;

	if (sl->state != SLOT_STOPPING)
		log_debug("channel of pid %d closed: %s", (int)sl->pid, reason);
	if (strstr(reason, "peer closed") == NULL && sl->pid > 0) {
		log_error("pid %d: protocol error: %s; killing it", (int)sl->pid, reason);
		kill(sl->pid, SIGKILL);
	}
	ipc_channel_free(ch);
	sl->ch = NULL;
}

/* Ask a worker to stop; it will not be restarted. */
void
proc_stop_slot(struct slot *sl, int sig)
{
	if (sl->timer)
		event_del(sl->timer);
	if (sl->pid > 0) {
		sl->state = SLOT_STOPPING;
		kill(sl->pid, sig);
	} else if (sl->state != SLOT_STOPPED) {
		sl->state = SLOT_STOPPED;
		flows_slot_stopped(sl->flow->sup);
	}
}

static void
proc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *sl = arg;
	(void)fd;
	(void)what;

	if (sl->state == SLOT_FAILED)
		restart_reset(&sl->rs, &sl->flow->sup->cfg.restart);
	if ((sl->state == SLOT_BACKOFF || sl->state == SLOT_FAILED) &&
	    !sl->flow->removing && !sl->flow->sup->draining) {
		if (proc_spawn(sl) == -1) {
			sl->state = SLOT_BACKOFF;
			struct timeval tv = { 1, 0 };
			event_add(sl->timer, &tv);
		}
	}
}

void
proc_schedule(struct slot *sl, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (sl->timer == NULL)
		sl->timer = evtimer_new(sl->flow->sup->base, proc_timer_cb, sl);
	event_add(sl->timer, &tv);
}

/* A worker has exited: record why and decide about a restart. */
static void
proc_exited(struct slot *sl, int status)
{
	struct sup *s = sl->flow->sup;
	enum restart_exit how;
	int64_t delay;
	int code = -1;

	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		snprintf(sl->last_exit, sizeof(sl->last_exit), "exit %d", code);
	} else if (WIFSIGNALED(status))
		snprintf(sl->last_exit, sizeof(sl->last_exit), "killed by signal %d%s",
		    WTERMSIG(status), sl->hung ? " (no STATUS)" : "");
	if (sl->ch) {
		ipc_channel_free(sl->ch);
		sl->ch = NULL;
	}
	sl->pid = 0;
	kvl_free(&sl->status);
	sl->prev_status_at = 0;
	sl->records_per_s = sl->bytes_per_s = 0;

	if (sl->restart_now && !s->draining && !sl->flow->removing) {
		/* asked for by the operator: not a failure, no backoff */
		sl->restart_now = 0;
		log_info("%s worker %d of flow %s restarted on request (%s)",
		    sup_role_names[sl->role], sl->index, sl->flow->name, sl->last_exit);
		sl->rs.restarts++;
		if (proc_spawn(sl) == -1) {
			sl->state = SLOT_BACKOFF;
			proc_schedule(sl, 1000);
		}
		return;
	}
	if (sl->state == SLOT_STOPPING || s->draining) {
		log_info("%s worker %d of flow %s stopped (%s)", sup_role_names[sl->role],
		    sl->index, sl->flow->name, sl->last_exit);
		sl->state = SLOT_STOPPED;
		flows_slot_stopped(sl->flow->sup);
		return;
	}
	if (code == EX_CONFIG)
		how = RESTART_EXIT_CONFIG;
	else if (sl->hung)
		how = RESTART_EXIT_HUNG;
	else
		how = code == 0 ? RESTART_EXIT_CLEAN : RESTART_EXIT_CRASH;

	switch (restart_decide(&sl->rs, &s->cfg.restart, how, sup_now_ms(),
	    (double)random() / RAND_MAX, &delay)) {
	case RESTART_ACT_GIVE_UP:
		sl->state = SLOT_FATAL;
		log_error("%s worker %d of flow %s exited with code 78 and will not be "
		    "restarted until the config is reloaded: %s", sup_role_names[sl->role],
		    sl->index, sl->flow->name, sl->last_error[0] ? sl->last_error :
		    "configuration error");
		break;
	case RESTART_ACT_FAILED:
		sl->state = SLOT_FAILED;
		log_error("%s worker %d of flow %s failed %d times within %d s (%s); "
		    "FAILED until SIGHUP%s", sup_role_names[sl->role], sl->index,
		    sl->flow->name, s->cfg.restart.max_failures,
		    s->cfg.restart.failure_window_ms / 1000, sl->last_exit,
		    s->cfg.restart.failed_cooldown_ms ? " or cooldown" : "");
		if (s->cfg.restart.failed_cooldown_ms)
			proc_schedule(sl, s->cfg.restart.failed_cooldown_ms);
		break;
	case RESTART_ACT_RESPAWN:
		sl->state = SLOT_BACKOFF;
		log_warn("%s worker %d of flow %s %s; restarting in %lld ms",
		    sup_role_names[sl->role], sl->index, sl->flow->name, sl->last_exit,
		    (long long)delay);
		proc_schedule(sl, delay);
		break;
	}
}

static struct slot *
proc_find_pid(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++)
			if (s->flows[i]->slots[j]->pid == pid)
				return s->flows[i]->slots[j];
	return NULL;
}

/* Reap every exited child (SIGCHLD). */
void
proc_reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *sl = proc_find_pid(s, pid);
		if (sl)
			proc_exited(sl, status);
	}
}

/* Once a second: kill workers that went silent. */
void
proc_tick(struct sup *s)
{
	int64_t now = sup_now_ms();

	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++) {
			struct slot *sl = s->flows[i]->slots[j];
			if (sl->pid <= 0 || sl->hung ||
			    (sl->state != SLOT_STARTING && sl->state != SLOT_RUNNING))
				continue;
			if (now - sl->last_msg_at > s->cfg.hang_timeout_ms) {
				log_error("%s worker %d of flow %s (pid %d) sent no STATUS for "
				    "%lld ms; killing it", sup_role_names[sl->role], sl->index,
				    sl->flow->name, (int)sl->pid,
				    (long long)(now - sl->last_msg_at));
				snprintf(sl->last_error, sizeof(sl->last_error),
				    "hung: no STATUS for %lld ms", (long long)(now - sl->last_msg_at));
				sl->hung = 1;
				kill(sl->pid, SIGKILL);
			}
		}
}

/* SIGHUP: FAILED and FATAL slots get a fresh start. */
void
proc_clear_failed(struct sup *s)
{
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++) {
			struct slot *sl = s->flows[i]->slots[j];
			if (sl->state != SLOT_FAILED && sl->state != SLOT_FATAL)
				continue;
			log_notice("clearing %s state of %s worker %d of flow %s",
			    slot_state_names[sl->state], sup_role_names[sl->role], sl->index,
			    sl->flow->name);
			restart_reset(&sl->rs, &s->cfg.restart);
			if (sl->timer)
				event_del(sl->timer);
			if (proc_spawn(sl) == -1) {
				sl->state = SLOT_BACKOFF;
				proc_schedule(sl, 1000);
			}
		}
}

/* kmirrorctl restart: a clean stop and an immediate respawn. */
void
proc_restart_slot(struct slot *sl)
{
	if (sl->pid > 0) {
		sl->restart_now = 1;
		sl->state = SLOT_STOPPING;
		kill(sl->pid, SIGTERM);
		return;
	}
	if (sl->timer)
		event_del(sl->timer);
	restart_reset(&sl->rs, &sl->flow->sup->cfg.restart);
	if (proc_spawn(sl) == -1) {
		sl->state = SLOT_BACKOFF;
		proc_schedule(sl, 1000);
	}
}

void
proc_send_flow(struct sup_flow *fl, uint32_t type)
{
	for (size_t j = 0; j < fl->nslots; j++)
		if (fl->slots[j]->ch)
			ipc_channel_send(fl->slots[j]->ch, type, NULL);
}

void
proc_send_all(struct sup *s, uint32_t type)
{
	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++)
			if (s->flows[i]->slots[j]->ch)
				ipc_channel_send(s->flows[i]->slots[j]->ch, type, NULL);
}

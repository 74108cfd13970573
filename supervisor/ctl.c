/*
 * ctl.c: the control socket kmirrorctl talks to. One request line per
 * connection ("status", "reload", ...), one JSON document in reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "sup.h"

#define CTL_MAX_REQUEST 4096

static json_t *
ctl_slot_json(const struct slot *sl, int64_t now)
{
	json_t *o = json_object(), *st = json_object();

	json_object_set_new(o, "role", json_string(sup_role_names[sl->role]));
	json_object_set_new(o, "index", json_integer(sl->index));
	json_object_set_new(o, "state", json_string(slot_state_names[sl->state]));
	json_object_set_new(o, "pid", sl->pid > 0 ? json_integer(sl->pid) : json_null());
	json_object_set_new(o, "uptime_s", sl->pid > 0 ?
	    json_integer((now - sl->spawned_at) / 1000) : json_integer(0));
	json_object_set_new(o, "restarts", json_integer(sl->rs.restarts));
	json_object_set_new(o, "last_exit", json_string(sl->last_exit));
	json_object_set_new(o, "last_error", json_string(sl->last_error));
	json_object_set_new(o, "records_per_s", json_real(sl->records_per_s));
	json_object_set_new(o, "bytes_per_s", json_real(sl->bytes_per_s));
	for (size_t i = 0; i < sl->status.n; i++)
		json_object_set_new(st, sl->status.items[i].key,
		    json_string(sl->status.items[i].val));
	json_object_set_new(o, "status", st);
	return o;
}

/* The whole state as JSON; the caller frees the string. */
char *
ctl_status_json(struct sup *s)
{
	json_t *root = json_object(), *flows = json_array();
	int64_t now = sup_now_ms();
	char *out;

	json_object_set_new(root, "pid", json_integer(getpid()));
	json_object_set_new(root, "uptime_s", json_integer((now - s->started_at) / 1000));
	json_object_set_new(root, "config", json_string(s->cfg.file));
	json_object_set_new(root, "draining", json_boolean(s->draining));
	for (size_t i = 0; i < s->nflows; i++) {
		struct sup_flow *fl = s->flows[i];
		json_t *f = json_object(), *ws = json_array();
		json_object_set_new(f, "name", json_string(fl->name));
		json_object_set_new(f, "state", json_string(fl->removing ? "removing" :
		    fl->paused ? "paused" : "active"));
		if (fl->conf) {
			json_object_set_new(f, "source", json_string(fl->conf->source));
			json_object_set_new(f, "target", json_string(fl->conf->target));
		}
		for (size_t j = 0; j < fl->nslots; j++)
			json_array_append_new(ws, ctl_slot_json(fl->slots[j], now));
		json_object_set_new(f, "workers", ws);
		json_array_append_new(flows, f);
	}
	json_object_set_new(root, "flows", flows);
	out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

static char *
ctl_result(int ok, const char *error)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "ok", json_boolean(ok));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* "FLOW" or "FLOW/role/index": the flow and, for a worker, its slot. */
static struct sup_flow *
ctl_target(struct sup *s, const char *arg, struct slot **slp, char *err, size_t errlen)
{
	char name[512], role[32] = "";
	const char *slash = strchr(arg, '/');
	int index = 0;
	struct sup_flow *fl;

	*slp = NULL;
	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - arg) : (int)strlen(arg), arg);
	if ((fl = flows_find(s, name)) == NULL) {
		snprintf(err, errlen, "no flow \"%s\"", name);
		return NULL;
	}
	if (slash == NULL)
		return fl;
	if (sscanf(slash + 1, "%31[a-z]/%d", role, &index) < 1 || sup_role_parse(role) < 0) {
		snprintf(err, errlen, "a worker is FLOW/ROLE/INDEX, e.g. %s/source/0", name);
		return NULL;
	}
	for (size_t j = 0; j < fl->nslots; j++)
		if ((int)fl->slots[j]->role == sup_role_parse(role) && fl->slots[j]->index == index)
			*slp = fl->slots[j];
	if (*slp == NULL) {
		snprintf(err, errlen, "flow %s has no %s worker %d", name, role, index);
		return NULL;
	}
	return fl;
}

/* Run one request; returns a malloc'd JSON reply. */
static char *
ctl_handle(struct sup *s, char *line)
{
	char err[4096], cmd[32] = "", arg[1024] = "";
	struct sup_flow *fl;
	struct slot *sl;

	line[strcspn(line, "\r\n")] = '\0';
	sscanf(line, "%31s %1023s", cmd, arg);
	if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0 ||
	    strcmp(cmd, "restart") == 0) {
		if (arg[0] == '\0')
			return ctl_result(0, "which flow (or FLOW/ROLE/INDEX for restart)?");
		if ((fl = ctl_target(s, arg, &sl, err, sizeof(err))) == NULL)
			return ctl_result(0, err);
		if (strcmp(cmd, "restart") == 0) {
			log_notice("restart of %s asked by kmirrorctl", arg);
			for (size_t j = 0; j < fl->nslots; j++)
				if (sl == NULL || fl->slots[j] == sl)
					proc_restart_slot(fl->slots[j]);
			return ctl_result(1, NULL);
		}
		if (sl)
			return ctl_result(0, "pause and resume take a flow, not a worker");
		fl->paused = strcmp(cmd, "pause") == 0;
		log_notice("flow %s %s by kmirrorctl", fl->name, fl->paused ? "paused" : "resumed");
		proc_send_flow(fl, fl->paused ? IPC_PAUSE : IPC_RESUME);
		return ctl_result(1, NULL);
	}
	if (strcmp(line, "status") == 0)
		return ctl_status_json(s);
	if (strcmp(line, "reload") == 0) {
		if (flows_reload(s, err, sizeof(err)) == -1)
			return ctl_result(0, err);
		return ctl_result(1, NULL);
	}
	if (strcmp(line, "ping") == 0)
		return ctl_result(1, NULL);
	snprintf(err, sizeof(err), "unknown command \"%.100s\"", line);
	return ctl_result(0, err);
}

static void
ctl_conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
ctl_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
ctl_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sup *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
	char *reply;

	if (line == NULL) {
		if (evbuffer_get_length(in) > CTL_MAX_REQUEST)
			bufferevent_free(bev);
		return;
	}
	reply = ctl_handle(s, line);
	free(line);
	bufferevent_disable(bev, EV_READ);
	bufferevent_write(bev, reply, strlen(reply));
	bufferevent_write(bev, "\n", 1);
	free(reply);
	bufferevent_setcb(bev, NULL, ctl_conn_write_cb, ctl_conn_event_cb, s);
}

static void
ctl_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	struct bufferevent *bev;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)what;
	if (c == -1)
		return;
	bev = bufferevent_socket_new(s->base, c, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(c);
		return;
	}
	bufferevent_setcb(bev, ctl_conn_read_cb, NULL, ctl_conn_event_cb, s);
	bufferevent_enable(bev, EV_READ);
}

/* Listen on the control socket; a stale socket file is replaced. */
int
ctl_listen(struct sup *s, const char *path, int mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	s->ctl_fd = -1;
	if (path == NULL || *path == '\0')
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("control socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* refuse to steal the socket of a running daemon */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		log_error("control socket %s is in use by a running kmirrord", path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	mode_t old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1) {
		umask(old);
		log_error("control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	chmod(path, mode);
	s->ctl_path = strdup(path);
	s->ctl_fd = fd;
	s->ctl_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, ctl_accept_cb, s);
	event_add(s->ctl_ev, NULL);
	return 0;
}

void
ctl_close(struct sup *s)
{
	if (s->ctl_ev) {
		event_free(s->ctl_ev);
		s->ctl_ev = NULL;
	}
	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		unlink(s->ctl_path);
		free(s->ctl_path);
		s->ctl_path = NULL;
		s->ctl_fd = -1;
	}
}

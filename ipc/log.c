/*
 * log.c: the logger every process links. Each line names the role, the flow
 * and the pid, so the interleaved output of many workers stays readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "log.h"

const char *const log_level_names[LOG_LV__COUNT] = {
	"error", "warn", "notice", "info", "debug"
};
const char *const log_target_names[LOG_TO__COUNT] = {
	"stderr", "syslog", "file"
};

static const int log_syslog_prio[LOG_LV__COUNT] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
};

static struct {
	enum log_target target;
	enum log_level  level;
	int             json;
	int             fd;
	char            file[4096];
	char            role[32];
	char            flow[128];
} log_state = { LOG_TO_STDERR, LOG_LV_INFO, 0, 2, "", "supervisor", "-" };

int
log_level_parse(const char *name)
{
	for (int i = 0; i < LOG_LV__COUNT; i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return i;
	return -1;
}

int
log_target_parse(const char *name)
{
	for (int i = 0; i < LOG_TO__COUNT; i++)
		if (strcmp(name, log_target_names[i]) == 0)
			return i;
	return -1;
}

void
log_set_ident(const char *role, const char *flow)
{
	snprintf(log_state.role, sizeof(log_state.role), "%s", role ? role : "-");
	snprintf(log_state.flow, sizeof(log_state.flow), "%s", flow ? flow : "-");
}

enum log_level
log_get_level(void)
{
	return log_state.level;
}

/* Open (or reopen) the log file; the old descriptor is closed only once the
 * new one is open, so a failed reopen keeps logging somewhere. */
static int
log_open_file(void)
{
	int fd = open(log_state.file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_state.fd > 2)
		close(log_state.fd);
	log_state.fd = fd;
	return 0;
}

int
log_configure(enum log_target target, const char *file, enum log_level level, int json)
{
	log_state.level = level;
	log_state.json = json;
	if (log_state.target == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG)
		closelog();
	log_state.target = target;
	switch (target) {
	case LOG_TO_FILE:
		snprintf(log_state.file, sizeof(log_state.file), "%s", file ? file : "");
		return log_open_file();
	case LOG_TO_SYSLOG:
		openlog("kmirrord", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		break;
	default:
		break;
	}
	if (log_state.fd > 2)
		close(log_state.fd);
	log_state.fd = 2;
	return 0;
}

int
log_reopen(void)
{
	if (log_state.target != LOG_TO_FILE)
		return 0;
	return log_open_file();
}

void
log_vmsg(enum log_level lv, const char *fmt, va_list ap)
{
	char msg[4096], line[8192], ts[64];
	struct timeval tv;
	struct tm tm;
	int saved_errno = errno, n;

	if (lv > log_state.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* one event, one line: fold embedded newlines */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	if (log_state.target == LOG_TO_SYSLOG && !log_state.json) {
		syslog(log_syslog_prio[lv], "%s %s: %s", log_state.role, log_state.flow, msg);
		errno = saved_errno;
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

	if (log_state.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "ts", ts,
		    "level", log_level_names[lv], "role", log_state.role,
		    "flow", log_state.flow, "pid", (int)getpid(), "msg", msg);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		snprintf(line, sizeof(line), "%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
		if (log_state.target == LOG_TO_SYSLOG) {
			syslog(log_syslog_prio[lv], "%s", line);
			errno = saved_errno;
			return;
		}
	} else {
		snprintf(line, sizeof(line), "%s kmirrord[%d] %s %s %s: %s\n", ts,
		    (int)getpid(), log_state.role, log_state.flow,
		    log_level_names[lv], msg);
	}
	/* a single write() per line keeps lines of concurrent processes whole */
	ssize_t w = write(log_state.fd, line, strlen(line));
	(void)w;
	errno = saved_errno;
}

void
log_msg(enum log_level lv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lv, fmt, ap);
	va_end(ap);
}

/*
 * main.c: kmirrord. Without -x it is the supervisor: read and check the
 * config, start the workers of every enabled flow, watch them, reload on
 * SIGHUP, drain on SIGTERM. With -x ROLE it is a worker (workers/worker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "log.h"
#include "mm2props.h"
#include "sup.h"
#include "worker.h"

#define EX_USAGE 64
#define KMIRROR_VERSION "0.1.0"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kmirrord [-d] [-n] [-v] [-c kmirrord.conf | -m mm2.properties]\n"
	    "  -c FILE  configuration file (default /etc/kmirrord/kmirrord.conf)\n"
	    "  -m FILE  run an MM2 dedicated-mode mm2.properties as it is\n"
	    "  -d       stay in the foreground and log to stderr\n"
	    "  -n       check the configuration and exit (0 valid, 1 invalid)\n"
	    "  -v       with -n, print the effective configuration, secrets masked\n"
	    "  -V       print the versions of kmirrord and its libraries\n");
	exit(EX_USAGE);
}

static struct sup sup;
static int pidfile_fd = -1;

/* Write the pidfile under an exclusive lock, so two daemons cannot share it. */
static int
pidfile_write(const char *path)
{
	char buf[32];
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_error("pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_error("pidfile %s is locked: is kmirrord already running?", path);
		close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		log_error("pidfile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	return 0;
}

static void
pidfile_remove(const char *path)
{
	if (pidfile_fd >= 0) {
		unlink(path);
		close(pidfile_fd);
		pidfile_fd = -1;
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sup *s = arg;
	char err[4096];

	(void)what;
	switch (sig) {
	case SIGCHLD:
		proc_reap(s);
		break;
	case SIGHUP:
		log_notice("SIGHUP: reloading %s", s->cfg.file);
		flows_reload(s, err, sizeof(err));
		break;
	case SIGTERM:
	case SIGINT:
		log_notice("%s: draining (deadline %d ms)", sig == SIGTERM ? "SIGTERM" :
		    "SIGINT", s->cfg.drain_timeout_ms);
		if (!s->draining) {
			struct timeval tv = { s->cfg.drain_timeout_ms / 1000,
			    (s->cfg.drain_timeout_ms % 1000) * 1000 };
			event_add(s->drain_deadline, &tv);
		}
		flows_start_drain(s);
		break;
	case SIGQUIT:
		log_notice("SIGQUIT: stopping at once");
		event_base_loopbreak(s->base);
		break;
	case SIGUSR1:
		log_reopen();
		proc_send_all(s, IPC_REOPEN_LOGS);
		log_notice("SIGUSR1: log reopened");
		break;
	}
}

static void
on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)fd;
	(void)what;
	log_warn("drain deadline passed: killing the workers left");
	event_base_loopbreak(s->base);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proc_tick(arg);
}

static void
on_gc(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flows_gc(arg);
}

/* SIGKILL whatever is still running and reap it, bounded. */
static void
kill_all_workers(struct sup *s)
{
	int left = 0;

	for (size_t i = 0; i < s->nflows; i++)
		for (size_t j = 0; j < s->flows[i]->nslots; j++)
			if (s->flows[i]->slots[j]->pid > 0) {
				kill(s->flows[i]->slots[j]->pid, SIGKILL);
				left++;
			}
	for (int tries = 0; left > 0 && tries < 500; tries++) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p > 0)
			left--;
		else if (p == -1 && errno == ECHILD)
			break;
		else
			usleep(10000);
	}
}

/* Detach from the terminal; the parent exits with the child's start-up
 * result, so an init script sees a failed start. */
static int
daemonize(int *report_fd, int keep_stderr)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		close(p[1]);
		exit(read(p[0], &c, 1) == 1 && c == '0' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if ((pid = fork()) == -1)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	int nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		if (!keep_stderr)
			dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	*report_fd = p[1];
	return 0;
}

static void
report_start(int *fd, char c)
{
	if (*fd >= 0) {
		if (write(*fd, &c, 1) != 1)
			(void)0;
		close(*fd);
		*fd = -1;
	}
}

int
main(int argc, char **argv)
{
	const char *conf = "/etc/kmirrord/kmirrord.conf";
	const char *role = NULL, *flow = NULL;
	int check = 0, verbose = 0, index = 0, ch, report_fd = -1, mm2 = 0;
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct event *sev[6];
	char err[16384], warn[16384];
	struct km_config cfg;

	while ((ch = getopt(argc, argv, "c:m:dnvVx:f:i:h")) != -1) {
		switch (ch) {
		case 'V':
			printf("kmirrord %s, librdkafka %s, libevent %s\n", KMIRROR_VERSION,
			    rd_kafka_version_str(), event_get_version());
			return 0;
		case 'c': conf = optarg; mm2 = 0; break;
		case 'm': conf = optarg; mm2 = 1; break;
		case 'd': sup.foreground = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		case 'x': role = optarg; break;
		case 'f': flow = optarg; break;
		case 'i': index = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (role)
		return worker_main(role, flow, index);

	warn[0] = '\0';
	if ((mm2 ? mm2props_load(conf, &cfg, err, sizeof(err), warn, sizeof(warn)) :
	    config_load(conf, &cfg, err, sizeof(err))) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (warn[0])
		fprintf(stderr, "warning: %s\n", warn);
	if (check) {
		if (verbose)
			config_print(&cfg, stdout);
		else
			printf("%s: configuration OK (%zu clusters, %zu flows)\n", conf,
			    cfg.nclusters, cfg.nflows);
		config_free(&cfg);
		return 0;
	}
	if (realpath("/proc/self/exe", sup.self) == NULL) {
		fprintf(stderr, "kmirrord: cannot find its own binary: %s\n", strerror(errno));
		return 1;
	}
	if (!sup.foreground && daemonize(&report_fd, cfg.log_target == LOG_TO_STDERR) == -1) {
		fprintf(stderr, "kmirrord: cannot become a daemon: %s\n", strerror(errno));
		return 1;
	}
	log_set_ident("supervisor", "-");
	log_configure(cfg.log_target < 0 ? (sup.foreground ? LOG_TO_STDERR :
	    LOG_TO_SYSLOG) : cfg.log_target, cfg.log_file, cfg.log_level, cfg.log_json);
	if (warn[0] && !sup.foreground)
		log_warn("%s", warn);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	signal(SIGPIPE, SIG_IGN);

	sup.base = event_base_new();
	sup.started_at = sup_now_ms();
	if (pidfile_write(cfg.pidfile) == -1) {
		report_start(&report_fd, '1');
		return 1;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sev[i] = evsignal_new(sup.base, sigs[i], on_signal, &sup);
		event_add(sev[i], NULL);
	}
	sup.tick = event_new(sup.base, -1, EV_PERSIST, on_tick, &sup);
	struct timeval one = { 1, 0 };
	event_add(sup.tick, &one);
	sup.gc = event_new(sup.base, -1, 0, on_gc, &sup);
	sup.drain_deadline = evtimer_new(sup.base, on_drain_deadline, &sup);

	if (ctl_listen(&sup, cfg.control_socket, cfg.control_socket_mode) == -1) {
		pidfile_remove(cfg.pidfile);
		report_start(&report_fd, '1');
		return 1;
	}
	if (metrics_listen(&sup, cfg.metrics_address) == -1) {
		ctl_close(&sup);
		pidfile_remove(cfg.pidfile);
		report_start(&report_fd, '1');
		return 1;
	}
	{
		const char *own[] = { cfg.pidfile, cfg.control_socket, NULL };
		if (privdrop(cfg.user, cfg.group, own, err, sizeof(err)) == -1) {
			log_error("%s", err);
			metrics_close(&sup);
			ctl_close(&sup);
			pidfile_remove(cfg.pidfile);
			report_start(&report_fd, '1');
			return 1;
		}
		if (cfg.user && *cfg.user)
			log_notice("running as user %s", cfg.user);
	}
	char *pidpath = strdup(cfg.pidfile);
	log_notice("kmirrord %s started, pid %d, %zu flows", cfg.file, (int)getpid(),
	    cfg.nflows);
	flows_apply(&sup, &cfg, 1);
	report_start(&report_fd, '0');

	event_base_dispatch(sup.base);

	kill_all_workers(&sup);
	metrics_close(&sup);
	ctl_close(&sup);
	sup_free(&sup);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(sev[i]);
	event_free(sup.tick);
	event_free(sup.gc);
	event_free(sup.drain_deadline);
	event_base_free(sup.base);
	pidfile_remove(pidpath);
	free(pidpath);
	log_notice("kmirrord stopped");
	return 0;
}

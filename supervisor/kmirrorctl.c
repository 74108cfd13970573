/*
 * kmirrorctl: the operator's command line. Talks to kmirrord's control
 * socket: one request line, one JSON reply.
 * Exit codes: 0 done, 1 the daemon refused or the command failed,
 * 64 usage error, 69 daemon unreachable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "sup.h"
#include "mm2props.h"

#define EX_FAIL        1
#define EX_USAGE       64
#define EX_UNAVAILABLE 69

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kmirrorctl [-s socket | -c kmirrord.conf] [--json] command\n"
	    "commands:\n"
	    "  status        flows and workers: state, pid, uptime, restarts, rates, lag, errors\n"
	    "  reload        reload the configuration (like SIGHUP)\n"
	    "  pause FLOW    stop copying records of a flow (workers stay up)\n"
	    "  resume FLOW   copy again\n"
	    "  restart FLOW|FLOW/ROLE/INDEX   restart a flow's workers or one worker\n"
	    "  ping          check that the daemon answers\n"
	    "  convert mm2.properties   print the equivalent kmirrord.conf (no daemon)\n"
	    "  translate --cluster ALIAS --group G [--target ALIAS]   (with -c; no daemon)\n"
	    "                the group's offsets on the target, from the checkpoints of\n"
	    "                the flow ALIAS->target, as RemoteClusterUtils gives them\n");
	exit(EX_USAGE);
}

/* Send one request and read the whole reply; NULL if unreachable. */
static char *
ctl_request(const char *path, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 30, 0 };
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return NULL;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "kmirrorctl: cannot reach kmirrord at %s: %s\n", path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1) {
		close(fd);
		return NULL;
	}
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	if (buf == NULL || len == 0) {
		fprintf(stderr, "kmirrorctl: kmirrord at %s closed the connection\n", path);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double
jnum(json_t *st, const char *k)
{
	const char *v = jstr(st, k);
	return *v ? strtod(v, NULL) : 0;
}

static void
print_status_table(json_t *root)
{
	json_t *flows = json_object_get(root, "flows"), *f, *wk;
	size_t i, j;

	printf("kmirrord pid %lld, up %lld s, config %s%s\n",
	    (long long)json_integer_value(json_object_get(root, "pid")),
	    (long long)json_integer_value(json_object_get(root, "uptime_s")),
	    jstr(root, "config"),
	    json_is_true(json_object_get(root, "draining")) ? " (draining)" : "");
	printf("%-18s %-10s %2s %-8s %7s %6s %4s %5s %9s %9s %8s %5s  %s\n", "FLOW", "ROLE", "#",
	    "STATE", "PID", "UP", "RST", "PARTS", "REC/S", "BYTES/S", "LAG", "DONE",
	    "LAST EXIT / ERROR");
	json_array_foreach(flows, i, f) {
		json_array_foreach(json_object_get(f, "workers"), j, wk) {
			json_t *pid = json_object_get(wk, "pid"), *st = json_object_get(wk, "status");
			char pids[32] = "-", detail[1024], parts[16] = "-", lag[24] = "-",
			    done[16] = "-", rps[24] = "-", bps[24] = "-";
			if (json_is_integer(pid))
				snprintf(pids, sizeof(pids), "%lld", (long long)json_integer_value(pid));
			if (*jstr(st, "partitions_owned")) {
				double rec = jnum(st, "records"), lg = jnum(st, "lag");
				snprintf(parts, sizeof(parts), "%s", jstr(st, "partitions_owned"));
				snprintf(lag, sizeof(lag), "%.0f", lg);
				snprintf(done, sizeof(done), "%.0f%%", rec + lg > 0 ?
				    100.0 * rec / (rec + lg) : 100.0);
				snprintf(rps, sizeof(rps), "%.0f", json_real_value(
				    json_object_get(wk, "records_per_s")));
				snprintf(bps, sizeof(bps), "%.0f", json_real_value(
				    json_object_get(wk, "bytes_per_s")));
			}
			snprintf(detail, sizeof(detail), "%s%s%s", jstr(wk, "last_exit"),
			    *jstr(wk, "last_exit") && *jstr(wk, "last_error") ? "; " : "",
			    jstr(wk, "last_error"));
			printf("%-18s %-10s %2lld %-8s %7s %5llds %4lld %5s %9s %9s %8s %5s  %s\n",
			    jstr(f, "name"), jstr(wk, "role"),
			    (long long)json_integer_value(json_object_get(wk, "index")),
			    strcmp(jstr(f, "state"), "paused") == 0 ? "paused" : jstr(wk, "state"),
			    pids, (long long)json_integer_value(json_object_get(wk, "uptime_s")),
			    (long long)json_integer_value(json_object_get(wk, "restarts")), parts,
			    rps, bps, lag, done, detail);
		}
	}
}

/* convert: an MM2 mm2.properties printed as kmirrord.conf. Secrets from
 * config providers stay references (env:NAME, file:/path); one that has
 * no kmirrord.conf form is written as "********" and fails the command. */
static int
cmd_convert(const char *path)
{
	struct km_config cfg;
	char err[16384], warn[16384];
	int unconv = 0;

	if (mm2props_load_flags(path, &cfg, err, sizeof(err), warn, sizeof(warn),
	    MM2P_KEEP_REFS, &unconv) == -1) {
		fprintf(stderr, "%s\n", err);
		if (warn[0])
			fprintf(stderr, "warning: %s\n", warn);
		return EX_FAIL;
	}
	if (warn[0])
		fprintf(stderr, "warning: %s\n", warn);
	config_print_flags(&cfg, stdout, CONFIG_PRINT_CONVERT);
	config_free(&cfg);
	if (unconv) {
		fprintf(stderr, "kmirrorctl: convert: %d secret%s could not be kept "
		    "as a reference (see the warning)\n", unconv, unconv == 1 ? "" : "s");
		return EX_FAIL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = "/run/kmirrord.sock", *conf = NULL;
	int json = 0, ai = 1, rc = 0;
	char req[1024] = "", *reply;
	json_t *root;
	json_error_t jerr;

	for (; ai < argc && argv[ai][0] == '-'; ai++) {
		if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (strcmp(argv[ai], "-s") == 0 && ai + 1 < argc)
			sock = argv[++ai];
		else if (strcmp(argv[ai], "-c") == 0 && ai + 1 < argc)
			conf = argv[++ai];
		else
			usage();
	}
	if (ai >= argc)
		usage();
	if (strcmp(argv[ai], "translate") == 0) {
		const char *remote = NULL, *target = NULL, *group = NULL;
		struct km_config cfg;
		char err[8192];
		for (int k = ai + 1; k < argc; k++) {
			if (strcmp(argv[k], "--json") == 0)
				json = 1;
			else if (strcmp(argv[k], "--cluster") == 0 && k + 1 < argc)
				remote = argv[++k];
			else if (strcmp(argv[k], "--target") == 0 && k + 1 < argc)
				target = argv[++k];
			else if (strcmp(argv[k], "--group") == 0 && k + 1 < argc)
				group = argv[++k];
			else
				usage();
		}
		if (remote == NULL || group == NULL || conf == NULL) {
			fprintf(stderr, "kmirrorctl: translate needs -c kmirrord.conf, "
			    "--cluster ALIAS and --group GROUP\n");
			usage();
		}
		if (config_load(conf, &cfg, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			return EX_USAGE;
		}
		rc = ctl_translate(&cfg, remote, target, group, json, 15000);
		config_free(&cfg);
		return rc ? EX_FAIL : 0;
	}
	if (strcmp(argv[ai], "convert") == 0) {
		if (ai + 2 != argc)
			usage();
		return cmd_convert(argv[ai + 1]);
	}
	for (int k = ai; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0) {
			json = 1;
			continue;
		}
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "%s%s",
		    req[0] ? " " : "", argv[k]);
	}
	static const char *const cmds[] = { "status", "reload", "ping", "pause", "resume",
		"restart", NULL };
	int known = 0;
	for (int c = 0; cmds[c]; c++)
		known |= strcmp(argv[ai], cmds[c]) == 0;
	if ((strcmp(argv[ai], "pause") == 0 || strcmp(argv[ai], "resume") == 0 ||
	    strcmp(argv[ai], "restart") == 0) && ai + 1 >= argc) {
		fprintf(stderr, "kmirrorctl: %s needs a flow\n", argv[ai]);
		usage();
	}
	if (!known) {
		fprintf(stderr, "kmirrorctl: unknown command \"%s\"\n", argv[ai]);
		usage();
	}
	if (conf) {
		struct km_config cfg;
		char err[8192];
		if (config_load(conf, &cfg, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			return EX_USAGE;
		}
		sock = strdup(cfg.control_socket);
		config_free(&cfg);
	}
	if ((reply = ctl_request(sock, req)) == NULL)
		return EX_UNAVAILABLE;
	root = json_loads(reply, 0, &jerr);
	if (root == NULL) {
		fprintf(stderr, "kmirrorctl: bad reply from kmirrord: %s\n", jerr.text);
		free(reply);
		return EX_FAIL;
	}
	json_t *ok = json_object_get(root, "ok");
	if (ok && !json_is_true(ok)) {
		fprintf(stderr, "kmirrorctl: %s failed: %s\n", argv[ai], jstr(root, "error"));
		rc = EX_FAIL;
	}
	if (json)
		printf("%s", reply);
	else if (strcmp(argv[ai], "status") == 0)
		print_status_table(root);
	else if (rc == 0)
		printf("%s: ok\n", argv[ai]);
	json_decref(root);
	free(reply);
	return rc;
}

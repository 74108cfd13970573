/*
 * test_config.c: kmirrord.conf loading. One complete valid file (clusters,
 * property names, secrets from env: and file:, flow defaults and per-flow
 * overrides), then one bad file per validation rule, each checked for the
 * file name, the line and the words of its error; and the masking of
 * secrets by config_print.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "t.h"
#include "config.h"
#include "log.h"

static char tmpdir[256];
static char paths[160][300];
static int npaths;

#define ENV_SECRET  "pw-from-env-Zq9v"
#define FILE_SECRET "pw-from-file-Xy7w"

/* Write text to a fresh file in the temp dir; returns its path. */
static const char *
write_file(const char *name, const char *text)
{
	char *p = paths[npaths < 159 ? npaths++ : 159];
	FILE *f;

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	if ((f = fopen(p, "w")) == NULL) {
		fprintf(stderr, "cannot write %s: %s\n", p, strerror(errno));
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return p;
}

static const char *
write_conf(const char *text)
{
	static int n;
	char name[32];

	snprintf(name, sizeof(name), "c%02d.conf", ++n);
	return write_file(name, text);
}

/* 1-based line of the first occurrence of needle in text. */
static int
line_of(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);
	int line = 1;

	if (p == NULL) {
		fprintf(stderr, "  test bug: marker \"%s\" not in the config\n", needle);
		return -1;
	}
	for (const char *q = text; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

/* Is there a line in err that starts with prefix and holds every word? */
static int
err_has_line(const char *err, const char *prefix, const char *w1,
    const char *w2)
{
	const char *l = err;

	while (l && *l) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		char line[2048];
		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (strncmp(line, prefix, strlen(prefix)) == 0 &&
		    strstr(line, w1) && (w2 == NULL || strstr(line, w2)))
			return 1;
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Load text and expect failure with an error at the line holding marker. */
static void
expect_bad(int at, const char *text, const char *marker, const char *w1,
    const char *w2)
{
	struct km_config cfg;
	char err[4096], prefix[400];
	const char *path = write_conf(text);
	int before = t_failed_checks;

	memset(&cfg, 0x5a, sizeof(cfg));
	T_EQ_INT(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line_of(text, marker));
	T_CHECK(err_has_line(err, prefix, w1, w2));
	/* nothing is left allocated: config_free on it is harmless */
	T_CHECK(cfg.clusters == NULL && cfg.nclusters == 0);
	T_CHECK(cfg.flows == NULL && cfg.nflows == 0);
	T_CHECK(cfg.file == NULL);
	config_free(&cfg);
	if (t_failed_checks != before)
		fprintf(stderr, "  case at line %d: want \"%s\" + \"%s\" + \"%s\"; "
		    "got:\n%s\n", at, prefix, w1, w2 ? w2 : "", err);
}

#define BAD(text, marker, w1, w2) expect_bad(__LINE__, text, marker, w1, w2)

/* Pieces of a small valid config, one setting per line where it matters. */
#define CF_GLOBAL \
	"global = {\n" \
	"  status_interval_ms = 1000;\n" \
	"  hang_timeout_ms = 5000;\n" \
	"};\n"
#define CF_CLUSTERS \
	"clusters = (\n" \
	"  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n" \
	"  { alias = \"B\"; bootstrap_servers = \"b:9092\"; }\n" \
	");\n"
#define CF_FLOWS \
	"flows = (\n" \
	"  { source = \"A\"; target = \"B\"; }\n" \
	");\n"

static void
test_minimal_valid(void)
{
	struct km_config cfg;
	char err[4096];
	const char *path = write_conf(CF_GLOBAL CF_CLUSTERS CF_FLOWS);

	T_EQ_INT(config_load(path, &cfg, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	T_EQ_INT(cfg.nclusters, 2);
	T_EQ_INT(cfg.nflows, 1);
	if (cfg.nflows == 1) {
		T_EQ_STR(cfg.flows[0].name, "A->B");
		/* nothing set: the table's defaults */
		T_EQ_INT(FLOW_INT(&cfg.flows[0], FS_TASKS), 1);
		T_EQ_INT(FLOW_INT(&cfg.flows[0], FS_ENABLED), 1);
		T_EQ_STR(FLOW_STR(&cfg.flows[0], FS_SEPARATOR), ".");
		T_EQ_INT(cfg.flows[0].v[FS_TOPICS_EXCLUDE].nlist, 3);
	}
	/* global defaults */
	T_EQ_STR(cfg.pidfile, "/run/kmirrord.pid");
	T_EQ_INT(cfg.control_socket_mode, 0600);
	T_EQ_INT(cfg.log_target, -1);
	T_EQ_INT(cfg.log_level, LOG_LV_INFO);
	T_EQ_INT(cfg.drain_timeout_ms, 10000);
	T_EQ_INT(cfg.restart.initial_delay_ms, 1000);
	T_EQ_INT(cfg.restart.max_delay_ms, 60000);
	T_EQ_INT(cfg.restart.stable_after_ms, 60000);
	T_EQ_INT(cfg.restart.max_failures, 5);
	T_EQ_INT(cfg.restart.failure_window_ms, 600000);
	T_EQ_INT(cfg.restart.failed_cooldown_ms, 0);
	T_EQ_INT(cfg.restart.jitter_pct, 20);
	config_free(&cfg);
	T_CHECK(cfg.clusters == NULL && cfg.file == NULL);
}

/* The valid config of the full test; %s is the secret file's path. */
static const char full_fmt[] =
	"# a full configuration\n"
	"global = {\n"
	"  pidfile = \"/tmp/kmt.pid\";\n"
	"  control_socket = \"/tmp/kmt.sock\";\n"
	"  control_socket_mode = \"0660\";\n"
	"  status_interval_ms = 1000;\n"
	"  hang_timeout_ms = 5000;\n"
	"  log = { level = \"debug\"; format = \"json\"; };\n"
	"  restart = { initial_delay_ms = 500; max_failures = 7; };\n"
	"};\n"
	"clusters = (\n"
	"  {\n"
	"    alias = \"east\";\n"
	"    bootstrap_servers = \"e1:9092,e2:9092\";\n"
	"    kafka = {\n"
	"      security_protocol = \"SASL_SSL\";\n"
	"      sasl_mechanisms = \"PLAIN\";\n"
	"      sasl_username = \"alice\";\n"
	"      sasl_password = \"env:KMT_TEST_PW\";\n"
	"    };\n"
	"    consumer = { fetch_max_bytes = 1048576; enable_auto_commit = false; };\n"
	"  },\n"
	"  {\n"
	"    alias = \"west-2\";\n"
	"    bootstrap_servers = \"w1:9092\";\n"
	"    kafka = {\n"
	"      client_id = \"kmirror-test\";\n"
	"      ssl_key_password = \"file:%s\";\n"
	"    };\n"
	"    producer = { compression_type = \"lz4\"; linger_ms = 5; };\n"
	"    admin = { request_timeout_ms = 3000; };\n"
	"  }\n"
	");\n"
	"flow_defaults = {\n"
	"  topics = [ \"orders\\\\..*\", \"a{1,3}\" ];\n"
	"  tasks = 3;\n"
	"  replication_policy = \"identity\";\n"
	"  emit_heartbeats_interval_ms = 2000;\n"
	"  sync_group_offsets_enabled = false;\n"
	"};\n"
	"flows = (\n"
	"  {\n"
	"    source = \"east\";\n"
	"    target = \"west-2\";\n"
	"    tasks = 5;\n"
	"    topics = \"x, y ,z\";\n"
	"    replication_policy = \"default\";\n"
	"    separator = \"_\";\n"
	"  },\n"
	"  { source = \"west-2\"; target = \"east\"; name = \"back\"; enabled = false;\n"
	"    groups_exclude = [ ];\n"
	"    auto_offset_reset = \"latest\"; }\n"
	");\n";

static const struct km_prop *
find_prop(const struct km_cluster *c, int scope, const char *key)
{
	for (size_t i = 0; i < c->props[scope].n; i++)
		if (strcmp(c->props[scope].v[i].key, key) == 0)
			return &c->props[scope].v[i];
	return NULL;
}

static int
load_full(struct km_config *cfg, char *text, size_t textlen, const char **pathp)
{
	char err[4096];
	const char *secret = write_file("key.pw", FILE_SECRET "\n");

	setenv("KMT_TEST_PW", ENV_SECRET, 1);
	snprintf(text, textlen, full_fmt, secret);
	*pathp = write_conf(text);
	int r = config_load(*pathp, cfg, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "  full config: %s\n", err);
	return r;
}

static void
test_full_valid(void)
{
	struct km_config cfg;
	char text[8192];
	const char *path;
	const struct km_prop *p;

	T_EQ_INT(load_full(&cfg, text, sizeof(text), &path), 0);
	T_EQ_STR(cfg.file, path);
	T_EQ_STR(cfg.pidfile, "/tmp/kmt.pid");
	T_EQ_STR(cfg.control_socket, "/tmp/kmt.sock");
	T_EQ_INT(cfg.control_socket_mode, 0660);
	T_EQ_INT(cfg.status_interval_ms, 1000);
	T_EQ_INT(cfg.hang_timeout_ms, 5000);
	T_EQ_INT(cfg.log_level, LOG_LV_DEBUG);
	T_EQ_INT(cfg.log_json, 1);
	T_EQ_INT(cfg.restart.initial_delay_ms, 500);
	T_EQ_INT(cfg.restart.max_failures, 7);
	T_EQ_INT(cfg.restart.max_delay_ms, 60000);

	T_EQ_INT(cfg.nclusters, 2);
	const struct km_cluster *e = config_cluster(&cfg, "east");
	const struct km_cluster *w = config_cluster(&cfg, "west-2");
	T_CHECK(e != NULL && w != NULL);
	T_CHECK(config_cluster(&cfg, "west") == NULL);
	if (e && w) {
		T_EQ_INT(e->line, line_of(text, "alias = \"east\"") - 1);
		T_EQ_STR(km_props_get(&e->props[KM_SCOPE_COMMON], "bootstrap.servers"),
		    "e1:9092,e2:9092");
		/* '_' in names became '.' */
		T_EQ_STR(km_props_get(&e->props[KM_SCOPE_COMMON], "security.protocol"),
		    "SASL_SSL");
		T_EQ_STR(km_props_get(&e->props[KM_SCOPE_COMMON], "sasl.mechanisms"),
		    "PLAIN");
		p = find_prop(e, KM_SCOPE_COMMON, "sasl.username");
		T_CHECK(p && !p->secret);
		if (p)
			T_EQ_INT(p->line, line_of(text, "sasl_username"));
		/* env: secret */
		p = find_prop(e, KM_SCOPE_COMMON, "sasl.password");
		T_CHECK(p != NULL);
		if (p) {
			T_EQ_STR(p->val, ENV_SECRET);
			T_EQ_INT(p->secret, 1);
		}
		/* scalars of other types become strings; scopes stay apart */
		T_EQ_STR(km_props_get(&e->props[KM_SCOPE_CONSUMER], "fetch.max.bytes"),
		    "1048576");
		T_EQ_STR(km_props_get(&e->props[KM_SCOPE_CONSUMER],
		    "enable.auto.commit"), "false");
		T_CHECK(km_props_get(&e->props[KM_SCOPE_COMMON], "fetch.max.bytes") == NULL);
		T_EQ_INT(e->props[KM_SCOPE_PRODUCER].n, 0);

		/* file: secret, trailing newline dropped */
		p = find_prop(w, KM_SCOPE_COMMON, "ssl.key.password");
		T_CHECK(p != NULL);
		if (p) {
			T_EQ_STR(p->val, FILE_SECRET);
			T_EQ_INT(p->secret, 1);
		}
		p = find_prop(w, KM_SCOPE_COMMON, "client.id");
		T_CHECK(p && !p->secret);
		if (p)
			T_EQ_STR(p->val, "kmirror-test");
		T_EQ_STR(km_props_get(&w->props[KM_SCOPE_PRODUCER], "compression.type"),
		    "lz4");
		T_EQ_STR(km_props_get(&w->props[KM_SCOPE_PRODUCER], "linger.ms"), "5");
		T_EQ_STR(km_props_get(&w->props[KM_SCOPE_ADMIN], "request.timeout.ms"),
		    "3000");
	}

	T_EQ_INT(cfg.nflows, 2);
	const struct km_flow *f = config_flow(&cfg, "east->west-2");
	const struct km_flow *b = config_flow(&cfg, "back");
	T_CHECK(f != NULL && b != NULL);
	if (f) {
		T_EQ_STR(f->source, "east");
		T_EQ_STR(f->target, "west-2");
		T_EQ_INT(f->line, line_of(text, "source = \"east\"") - 1);
		/* per-flow overrides */
		T_EQ_INT(FLOW_INT(f, FS_TASKS), 5);
		T_EQ_INT(f->v[FS_TASKS].line, line_of(text, "tasks = 5"));
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_POLICY), KM_POLICY_DEFAULT);
		T_EQ_STR(FLOW_STR(f, FS_SEPARATOR), "_");
		/* a string list is split on commas and trimmed */
		T_EQ_INT(f->v[FS_TOPICS].nlist, 3);
		if (f->v[FS_TOPICS].nlist == 3) {
			T_EQ_STR(f->v[FS_TOPICS].list[0], "x");
			T_EQ_STR(f->v[FS_TOPICS].list[1], "y");
			T_EQ_STR(f->v[FS_TOPICS].list[2], "z");
		}
		/* from flow_defaults */
		T_EQ_INT(FLOW_INT(f, FS_HEARTBEATS_INTERVAL_MS), 2000);
		T_EQ_INT(f->v[FS_HEARTBEATS_INTERVAL_MS].line,
		    line_of(text, "emit_heartbeats_interval_ms"));
		T_EQ_INT(FLOW_INT(f, FS_SYNC_GROUP_OFFSETS_ENABLED), 0);
		/* from the table */
		T_EQ_INT(FLOW_INT(f, FS_CHECKPOINTS_INTERVAL_MS), 5000);
		T_EQ_INT(f->v[FS_CHECKPOINTS_INTERVAL_MS].line, 0);
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 1);
		T_EQ_INT(f->v[FS_GROUPS_EXCLUDE].nlist, 3);
	}
	if (b) {
		T_EQ_STR(b->source, "west-2");
		T_EQ_STR(b->target, "east");
		T_EQ_INT(FLOW_INT(b, FS_ENABLED), 0);
		T_EQ_INT(FLOW_INT(b, FS_TASKS), 3);
		T_EQ_INT(FLOW_INT(b, FS_REPLICATION_POLICY), KM_POLICY_IDENTITY);
		T_EQ_INT(FLOW_INT(b, FS_AUTO_OFFSET_RESET), 1);
		T_EQ_INT(b->v[FS_GROUPS_EXCLUDE].nlist, 0);
		T_EQ_INT(b->v[FS_TOPICS].nlist, 2);
		if (b->v[FS_TOPICS].nlist == 2) {
			T_EQ_STR(b->v[FS_TOPICS].list[0], "orders\\..*");
			T_EQ_STR(b->v[FS_TOPICS].list[1], "a{1,3}");
		}
	}
	T_CHECK(config_flow(&cfg, "west-2->east") == NULL);
	config_free(&cfg);
	unsetenv("KMT_TEST_PW");
}

/* config_print masks secrets and prints libconfig syntax. */
static void
test_print_masks_secrets(void)
{
	struct km_config cfg;
	char text[8192];
	const char *path;
	char *out = NULL;
	size_t outlen = 0;

	T_EQ_INT(load_full(&cfg, text, sizeof(text), &path), 0);
	FILE *f = open_memstream(&out, &outlen);
	config_print(&cfg, f);
	fclose(f);
	T_CHECK(out != NULL && strstr(out, ENV_SECRET) == NULL);
	T_CHECK(out != NULL && strstr(out, FILE_SECRET) == NULL);
	T_CONTAINS(out, "sasl_password = \"********\"");
	T_CONTAINS(out, "ssl_key_password = \"********\"");
	T_CONTAINS(out, "sasl_username = \"alice\"");
	T_CONTAINS(out, "client_id = \"kmirror-test\"");
	T_CONTAINS(out, "name = \"east->west-2\"");
	T_CONTAINS(out, "tasks = 5;");
	T_CONTAINS(out, "\"orders\\\\..*\"");

	/* the printout is in kmirrord.conf (libconfig) syntax, and every flow
	 * setting reads back as the value in effect */
	if (out) {
		config_t lc;
		config_init(&lc);
		T_EQ_INT(config_read_string(&lc, out), CONFIG_TRUE);
		const config_setting_t *fl = config_lookup(&lc, "flows");
		T_CHECK(fl != NULL && config_setting_length(fl) == (int)cfg.nflows);
		for (size_t i = 0; fl && i < cfg.nflows; i++) {
			const config_setting_t *g = config_setting_get_elem(fl, i);
			const char *name = NULL;
			T_CHECK(config_setting_lookup_string(g, "name", &name) &&
			    strcmp(name, cfg.flows[i].name) == 0);
			for (int id = 0; id < FS__COUNT; id++) {
				const config_setting_t *s =
				    config_setting_get_member(g, fs_defs[id].name);
				const struct fs_value *v = &cfg.flows[i].v[id];
				char want[4096];
				T_CHECK(s != NULL);
				if (s == NULL)
					continue;
				fs_format(v, id, want, sizeof(want));
				switch (fs_defs[id].type) {
				case FS_T_BOOL:
					T_EQ_INT(config_setting_get_bool(s), v->i);
					break;
				case FS_T_INT:
					T_EQ_INT(config_setting_type(s) == CONFIG_TYPE_INT64 ?
					    config_setting_get_int64(s) :
					    config_setting_get_int(s), v->i);
					break;
				case FS_T_LIST:
					T_EQ_INT(config_setting_length(s), v->nlist);
					for (size_t j = 0; j < v->nlist &&
					    (int)j < config_setting_length(s); j++)
						T_EQ_STR(config_setting_get_string_elem(s, j),
						    v->list[j]);
					break;
				default:
					T_EQ_STR(config_setting_get_string(s), want);
				}
			}
		}
		config_destroy(&lc);
	}
	free(out);
	config_free(&cfg);
	unsetenv("KMT_TEST_PW");
}

static void
test_missing_file(void)
{
	struct km_config cfg;
	char err[1024], path[400];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	T_EQ_INT(config_load(path, &cfg, err, sizeof(err)), -1);
	T_CONTAINS(err, path);
	T_CONTAINS(err, "cannot read");
}

static void
test_bad_syntax(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\"; }\n"
	    "  { source = \"B\"; target = \"A\"; }\n);\n", "\"B\"; target = \"A\"",
	    "syntax error", NULL);
	BAD("global = {\n  status_interval_ms = = 1000;\n};\n" CF_CLUSTERS CF_FLOWS,
	    "= =", "syntax error", NULL);
}

static void
test_bad_unknown_keys(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS CF_FLOWS "bogus = 1;\n", "bogus", "unknown setting \"bogus\"",
	    "top level");
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  stauts_interval_ms = 1000;\n};\n" CF_CLUSTERS CF_FLOWS, "stauts",
	    "unknown setting \"stauts_interval_ms\"", "in global");
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  log = { level = \"info\";\n    colour = true; };\n};\n" CF_CLUSTERS CF_FLOWS,
	    "colour", "unknown setting \"colour\"", "global.log");
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  restart = { max_fails = 3; };\n};\n" CF_CLUSTERS CF_FLOWS, "max_fails",
	    "unknown setting \"max_fails\"", "global.restart");
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\";\n"
	    "    colour = \"red\"; },\n  { alias = \"B\"; bootstrap_servers = \"b\"; }\n"
	    ");\n" CF_FLOWS, "colour", "unknown setting \"colour\"", "cluster A");
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    taks = 2; }\n);\n", "taks", "unknown setting \"taks\"",
	    "flow A->B");
	BAD(CF_GLOBAL CF_CLUSTERS "flow_defaults = {\n  tasks = 2;\n  topic = \"x\";\n};\n" CF_FLOWS,
	    "topic =", "unknown setting \"topic\"", "flow_defaults");
}

static void
test_bad_librdkafka_props(void)
{
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\";\n"
	    "    kafka = {\n      no_such_property = 1;\n    }; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b\"; }\n);\n" CF_FLOWS,
	    "no_such_property", "unknown librdkafka property \"no.such.property\"",
	    "cluster A.kafka");
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b\";\n"
	    "    consumer = { security_protocol = \"BOGUS\"; }; }\n);\n" CF_FLOWS,
	    "BOGUS", "librdkafka refuses security.protocol", "cluster B.consumer");
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\";\n"
	    "    kafka = { nested = { x = 1; }; }; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b\"; }\n);\n" CF_FLOWS,
	    "nested", "property nested", "must be a scalar");
}

static void
test_bad_clusters(void)
{
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b:9092\"; },\n"
	    "  { alias = \"A\"; bootstrap_servers = \"c:9092\"; }\n);\n" CF_FLOWS,
	    "c:9092", "cluster alias \"A\" is defined twice", "(first at line 6)");
	BAD(CF_GLOBAL "clusters = ( );\n" CF_FLOWS, "clusters", "clusters must be a "
	    "non-empty list", NULL);
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n"
	    "  { alias = \"B\"; }\n);\n" CF_FLOWS, "alias = \"B\"",
	    "cluster B has no bootstrap_servers", NULL);
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n"
	    "  { alias = \"B.x\"; bootstrap_servers = \"b\"; }\n);\n"
	    "flows = ( { source = \"A\"; target = \"B.x\"; } );\n", "B.x",
	    "cluster alias \"B.x\" must be", NULL);
}

static void
test_bad_flow_ends(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\"; },\n"
	    "  {\n    source = \"X\";\n    target = \"B\"; }\n);\n",
	    "{\n    source = \"X\"", "unknown source cluster \"X\"", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\";\n    target = \"Y\"; }\n);\n",
	    "source = \"A\"", "unknown target cluster \"Y\"", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"B\"; target = \"A\"; },\n"
	    "  { source = \"A\"; target = \"A\"; }\n);\n", "source = \"A\"; target = \"A\"",
	    "replicates cluster A into itself", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\"; },\n"
	    "  { source = \"B\"; target = \"A\"; },\n"
	    "  { source = \"A\"; target = \"B\"; tasks = 2; }\n);\n", "tasks = 2",
	    "flow A->B is defined twice", "(first at line 10)");
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\"; },\n"
	    "  { source = \"A\"; target = \"B\"; name = \"again\"; }\n);\n", "again",
	    "duplicates flow A->B", "same source and target");
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; }\n);\n", "source = \"A\"",
	    "needs both source and target", NULL);
}

static void
test_bad_regex(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    topics = [ \"ok.*\", \"(unclosed\" ]; }\n);\n", "unclosed",
	    "topics in flow A->B: invalid regex \"(unclosed\"", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flow_defaults = {\n  groups = \".*\";\n"
	    "  groups_exclude = \"a, b[, c\";\n};\n" CF_FLOWS, "b[",
	    "groups_exclude in flow_defaults: invalid regex \"b[\"", NULL);
}

static void
test_bad_ranges(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    tasks = 0; }\n);\n", "tasks", "tasks = 0 is out of range", "[1, 256]");
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    tasks = 100000; }\n);\n", "tasks", "tasks = 100000 is out of range",
	    NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flow_defaults = {\n  tasks = 2;\n"
	    "  emit_heartbeats_interval_ms = 1;\n};\n" CF_FLOWS, "emit_heartbeats",
	    "emit_heartbeats_interval_ms = 1 is out of range", "flow_defaults");
	BAD("global = {\n  hang_timeout_ms = 5000;\n  status_interval_ms = 5;\n};\n"
	    CF_CLUSTERS CF_FLOWS, "status_interval_ms", "status_interval_ms = 5 in global is "
	    "out of range", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    emit_checkpoints_interval_ms = 100000000000; }\n);\n",
	    "100000000000", "out of range", NULL);
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  restart = {\n    jitter_pct = 101; };\n};\n" CF_CLUSTERS CF_FLOWS, "jitter",
	    "jitter_pct = 101", "out of range");
}

static void
test_bad_types(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    tasks = \"x\"; }\n);\n", "tasks", "tasks in flow A->B must be an "
	    "integer", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    enabled = 1; }\n);\n", "enabled", "enabled in flow A->B must be "
	    "true or false", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    topics = 5; }\n);\n", "topics", "topics in flow A->B must be a "
	    "string or a list", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    topics = ( \"a\",\n      7 ); }\n);\n", "7 )",
	    "must list strings", NULL);
	BAD("global = {\n  status_interval_ms = \"1000\";\n  hang_timeout_ms = 5000;\n"
	    "};\n" CF_CLUSTERS CF_FLOWS, "status_interval_ms", "status_interval_ms in global "
	    "must be an integer", NULL);
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    separator = \"\"; }\n);\n", "separator", "separator in flow A->B "
	    "must be 1 to 8 characters", NULL);
}

static void
test_bad_enum(void)
{
	BAD(CF_GLOBAL CF_CLUSTERS "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    replication_policy = \"foo\"; }\n);\n", "foo",
	    "replication_policy must be one of default, identity, not \"foo\"",
	    "flow A->B");
	BAD(CF_GLOBAL CF_CLUSTERS "flow_defaults = {\n  isolation_level = \"dirty\";\n};\n" CF_FLOWS,
	    "dirty", "isolation_level must be one of", "flow_defaults");
}

static void
test_bad_secrets(void)
{
	char text[2048], missing[400];

	unsetenv("KMT_SURELY_UNSET_VAR");
	BAD(CF_GLOBAL "clusters = (\n  { alias = \"A\"; bootstrap_servers = \"a:9092\";\n"
	    "    kafka = {\n      sasl_password = \"env:KMT_SURELY_UNSET_VAR\"; }; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b\"; }\n);\n" CF_FLOWS,
	    "sasl_password", "property sasl.password in cluster A.kafka",
	    "environment variable KMT_SURELY_UNSET_VAR is not set");

	snprintf(missing, sizeof(missing), "%s/no-such-secret", tmpdir);
	snprintf(text, sizeof(text), CF_GLOBAL "clusters = (\n"
	    "  { alias = \"A\"; bootstrap_servers = \"a:9092\"; },\n"
	    "  { alias = \"B\"; bootstrap_servers = \"b\";\n"
	    "    producer = {\n      ssl_key_password = \"file:%s\"; }; }\n);\n" CF_FLOWS,
	    missing);
	BAD(text, "ssl_key_password", "cannot read secret file", missing);
}

static void
test_bad_global(void)
{
	/* the error points at hang_timeout_ms */
	BAD("global = {\n  pidfile = \"/tmp/x.pid\";\n  status_interval_ms = 2000;\n"
	    "  hang_timeout_ms = 4000;\n};\n" CF_CLUSTERS CF_FLOWS, "hang_timeout_ms",
	    "hang_timeout_ms (4000) must be more than twice status_interval_ms "
	    "(2000)", NULL);
	/* or at status_interval_ms when hang_timeout_ms is the default 15 s */
	BAD("global = {\n  pidfile = \"/tmp/x.pid\";\n  status_interval_ms = 7500;\n"
	    "};\n" CF_CLUSTERS CF_FLOWS, "status_interval_ms",
	    "hang_timeout_ms (15000) must be more than twice", NULL);
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  log = {\n    level = \"loud\"; };\n};\n" CF_CLUSTERS CF_FLOWS, "loud",
	    "log level must be", "not \"loud\"");
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  log = {\n    format = \"xml\"; };\n};\n" CF_CLUSTERS CF_FLOWS, "xml",
	    "log format must be text or json", NULL);
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  log = {\n    target = \"printer\"; };\n};\n" CF_CLUSTERS CF_FLOWS, "printer",
	    "log target must be", NULL);
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  control_socket_mode = \"rw\";\n};\n" CF_CLUSTERS CF_FLOWS, "control_socket_mode",
	    "control_socket_mode \"rw\" must be an octal mode", NULL);
	/* the breaker can only count RESTART_HISTORY failures */
	BAD("global = {\n  status_interval_ms = 1000;\n  hang_timeout_ms = 5000;\n"
	    "  restart = {\n    max_failures = 65; };\n};\n" CF_CLUSTERS CF_FLOWS,
	    "max_failures", "max_failures = 65 in global.restart is out of range",
	    NULL);
}

/* Every problem is reported, each on its own line. */
static void
test_all_errors_reported(void)
{
	static const char text[] = CF_GLOBAL CF_CLUSTERS
	    "flows = (\n  { source = \"A\"; target = \"B\";\n"
	    "    tasks = 0;\n    enabled = 1;\n    topics = \"(\"; }\n);\n";
	struct km_config cfg;
	char err[4096];
	const char *path = write_conf(text);
	char p1[400], p2[400], p3[400];

	T_EQ_INT(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(p1, sizeof(p1), "%s:%d: ", path, line_of(text, "tasks"));
	snprintf(p2, sizeof(p2), "%s:%d: ", path, line_of(text, "enabled"));
	snprintf(p3, sizeof(p3), "%s:%d: ", path, line_of(text, "topics"));
	T_CHECK(err_has_line(err, p1, "tasks = 0", NULL));
	T_CHECK(err_has_line(err, p2, "enabled", NULL));
	T_CHECK(err_has_line(err, p3, "invalid regex", NULL));
}

int
main(void)
{
	char tmpl[] = "/tmp/kmt-config-XXXXXX";

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	T_RUN(test_minimal_valid);
	T_RUN(test_full_valid);
	T_RUN(test_print_masks_secrets);
	T_RUN(test_missing_file);
	T_RUN(test_bad_syntax);
	T_RUN(test_bad_unknown_keys);
	T_RUN(test_bad_librdkafka_props);
	T_RUN(test_bad_clusters);
	T_RUN(test_bad_flow_ends);
	T_RUN(test_bad_regex);
	T_RUN(test_bad_ranges);
	T_RUN(test_bad_types);
	T_RUN(test_bad_enum);
	T_RUN(test_bad_secrets);
	T_RUN(test_bad_global);
	T_RUN(test_all_errors_reported);

	/* clean up the temp dir */
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	rmdir(tmpdir);
	return T_DONE();
}

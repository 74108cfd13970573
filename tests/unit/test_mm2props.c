/*
 * test_mm2props.c: the MM2 mm2.properties loader. The Java properties
 * reading rules; the resolution of clusters, flows, per-flow overrides and
 * top-level defaults with MM2's defaults; the translation of each Java
 * client property to librdkafka; config providers; the one warning listing
 * unused keys; errors naming file and line; convert (references kept, the
 * output loads with the native loader).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "t.h"
#include "config.h"
#include "mm2props.h"

static char tmpdir[256];

static const char *
write_file(const char *name, const char *text)
{
	static char paths[64][300];
	static int n;
	char *p = paths[n++ % 64];
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
prop(const struct km_cluster *c, int scope, const char *key)
{
	return km_props_get(&c->props[scope], key);
}

static int
prop_secret(const struct km_cluster *c, int scope, const char *key)
{
	for (size_t i = 0; i < c->props[scope].n; i++)
		if (strcmp(c->props[scope].v[i].key, key) == 0)
			return c->props[scope].v[i].secret;
	return -1;
}

/* Load text as an mm2.properties; returns 0/-1, err and warn filled. */
static char err[16384], warn[16384];

static int
load(const char *name, const char *text, struct km_config *cfg)
{
	const char *p = write_file(name, text);
	return mm2props_load(p, cfg, err, sizeof(err), warn, sizeof(warn));
}

static int
parse(const char *text, struct jprops *jp)
{
	return jprops_parse(text, strlen(text), "x.properties", jp, err, sizeof(err));
}

/* ------------------------------------------------------------ properties */

static void
test_properties_syntax(void)
{
	struct jprops jp;
	const char *t =
	    "# comment\n"
	    "! also a comment \\\n"
	    "a=1\n"
	    "b : two words  \n"
	    "   c    three\n"
	    "d\n"
	    "e = first \\\n"
	    "     second\\\n"
	    "third\n"
	    "f\\:g\\=h = x\n"
	    "tab = a\\tb\\nc\n"
	    "uni = caf\\u00e9 \\u20ac\n"
	    "esc = back\\\\slash\n"
	    "a = again\r\n"
	    "win = crlf\r\n"
	    "key\\ space = v\n"
	    "empty =\n"
	    "ends.with.even = x\\\\\n"
	    "next = y\n";

	T_EQ_INT(parse(t, &jp), 0);
	T_EQ_STR(jprops_get(&jp, "a"), "again");
	T_EQ_STR(jprops_get(&jp, "b"), "two words");
	T_EQ_STR(jprops_get(&jp, "c"), "three");
	T_EQ_STR(jprops_get(&jp, "d"), "");
	T_EQ_STR(jprops_get(&jp, "e"), "first secondthird");
	T_EQ_STR(jprops_get(&jp, "f:g=h"), "x");
	T_EQ_STR(jprops_get(&jp, "tab"), "a\tb\nc");
	T_EQ_STR(jprops_get(&jp, "uni"), "caf\xc3\xa9 \xe2\x82\xac");
	T_EQ_STR(jprops_get(&jp, "esc"), "back\\slash");
	T_EQ_STR(jprops_get(&jp, "win"), "crlf");
	T_EQ_STR(jprops_get(&jp, "key space"), "v");
	T_EQ_STR(jprops_get(&jp, "empty"), "");
	T_EQ_STR(jprops_get(&jp, "ends.with.even"), "x\\");
	T_EQ_STR(jprops_get(&jp, "next"), "y");
	T_CHECK(jprops_get(&jp, "!") == NULL);
	/* the last value wins, with its line */
	for (size_t i = 0; i < jp.n; i++) {
		if (strcmp(jp.v[i].key, "a") == 0)
			T_EQ_INT(jp.v[i].line, 14);
		if (strcmp(jp.v[i].key, "e") == 0)
			T_EQ_INT(jp.v[i].line, 7);
		if (strcmp(jp.v[i].key, "next") == 0)
			T_EQ_INT(jp.v[i].line, 19);
	}
	jprops_free(&jp);

	T_EQ_INT(parse("ok = 1\n\nbad = \\u12g4\n", &jp), -1);
	T_CONTAINS(err, "x.properties:3:");
	T_CONTAINS(err, "\\uXXXX");
	/* surrogate pair */
	T_EQ_INT(parse("s = \\ud83d\\ude00\n", &jp), 0);
	T_EQ_STR(jprops_get(&jp, "s"), "\xf0\x9f\x98\x80");
	jprops_free(&jp);
}

/* ------------------------------------------------------ resolution, flows */

static void
test_flows_and_defaults(void)
{
	struct km_config cfg;
	const struct km_flow *f;

	int rc = load("flows.properties",
	    "clusters = A, B, C\n"
	    "A.bootstrap.servers = a:9092\n"
	    "B.bootstrap.servers = b:9092\n"
	    "C.bootstrap.servers = c:9092\n"
	    "A->B.enabled = true\n"
	    "A->C.enabled = TRUE\n"
	    "B->A.enabled = yes\n"
	    "C->A.topics = x\n"
	    "topics = orders.*, payments\n"
	    "topics.exclude = .*\\\\.internal\n"
	    "groups.exclude =\n"
	    "A->C.topics = only\n"
	    "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
	    "A->B.replication.policy.class = DefaultReplicationPolicy\n"
	    "replication.policy.separator = _\n"
	    "tasks.max = 4\n"
	    "A->B.tasks.max = 12\n"
	    "replication.factor = 1\n"
	    "checkpoints.topic.replication.factor = 1\n"
	    "heartbeats.topic.replication.factor = 1\n"
	    "offset-syncs.topic.replication.factor = 1\n"
	    "offset-syncs.topic.location = target\n"
	    "emit.heartbeats.interval.seconds = 5\n"
	    "A->B.emit.checkpoints.interval.seconds = 10\n"
	    "sync.group.offsets.enabled = true\n"
	    "refresh.groups.interval.seconds = 60\n"
	    "A->B.kmirrord.commit_interval_ms = 250\n", &cfg);
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	T_EQ_INT(cfg.is_mm2, 1);
	T_EQ_INT(cfg.nclusters, 3);
	T_EQ_STR(prop(&cfg.clusters[1], KM_SCOPE_COMMON, "bootstrap.servers"), "b:9092");
	/* A->B, A->C, B->A, C->A: every pair with a key; enabled only if true */
	T_EQ_INT(cfg.nflows, 4);
	T_CHECK((f = config_flow(&cfg, "A->B")) != NULL);
	if (f) {
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 1);
		T_EQ_INT(FLOW_INT(f, FS_TASKS), 12);
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_POLICY), KM_POLICY_DEFAULT);
		T_EQ_STR(FLOW_STR(f, FS_SEPARATOR), "_");
		T_EQ_INT(f->v[FS_TOPICS].nlist, 2);
		T_EQ_STR(f->v[FS_TOPICS].list[0], "orders.*");
		T_EQ_STR(f->v[FS_TOPICS].list[1], "payments");
		T_EQ_INT(f->v[FS_TOPICS_EXCLUDE].nlist, 1);
		T_EQ_STR(f->v[FS_TOPICS_EXCLUDE].list[0], ".*\\.internal");
		T_EQ_INT(f->v[FS_GROUPS_EXCLUDE].nlist, 0);
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_FACTOR), 1);
		T_EQ_INT(FLOW_INT(f, FS_OFFSET_SYNCS_LOCATION), KM_LOC_TARGET);
		T_EQ_INT(FLOW_INT(f, FS_HEARTBEATS_INTERVAL_MS), 5000);
		T_EQ_INT(FLOW_INT(f, FS_CHECKPOINTS_INTERVAL_MS), 10000);
		T_EQ_INT(FLOW_INT(f, FS_SYNC_GROUP_OFFSETS_ENABLED), 1);
		T_EQ_INT(FLOW_INT(f, FS_REFRESH_GROUPS_INTERVAL_MS), 60000);
		T_EQ_INT(FLOW_INT(f, FS_COMMIT_INTERVAL_MS), 250);
		/* MM2's defaults where kmirror's differ */
		T_EQ_INT(FLOW_INT(f, FS_REFRESH_TOPICS_INTERVAL_MS), 600000);
		T_EQ_INT(FLOW_INT(f, FS_SYNC_GROUP_OFFSETS_INTERVAL_MS), 60000);
		T_EQ_INT(FLOW_INT(f, FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS), 600000);
		T_EQ_INT(FLOW_INT(f, FS_ISOLATION_LEVEL), 1);	/* read_uncommitted */
		T_EQ_INT(FLOW_INT(f, FS_AUTO_OFFSET_RESET), 0);	/* earliest */
	}
	T_CHECK((f = config_flow(&cfg, "A->C")) != NULL);
	if (f) {
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 1);
		T_EQ_INT(FLOW_INT(f, FS_TASKS), 4);
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_POLICY), KM_POLICY_IDENTITY);
		T_EQ_INT(f->v[FS_TOPICS].nlist, 1);
		T_EQ_STR(f->v[FS_TOPICS].list[0], "only");
		T_EQ_INT(FLOW_INT(f, FS_CHECKPOINTS_INTERVAL_MS), 60000);
	}
	T_CHECK((f = config_flow(&cfg, "B->A")) != NULL);
	if (f)
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 0);	/* "yes" is not true */
	T_CHECK((f = config_flow(&cfg, "C->A")) != NULL);
	if (f)
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 0);
	T_CHECK(config_flow(&cfg, "B->C") == NULL);
	T_CONTAINS(warn, "line 7: B->A.enabled: \"yes\" is not true");
	T_CONTAINS(warn, "heartbeat-only");
	config_free(&cfg);

	/* MM2's defaults when nothing is set */
	T_EQ_INT(load("defaults.properties",
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "A->B.enabled = true\n", &cfg), 0);
	f = config_flow(&cfg, "A->B");
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_FACTOR), 2);
		T_EQ_INT(FLOW_INT(f, FS_CHECKPOINTS_RF), 3);
		T_EQ_INT(FLOW_INT(f, FS_HEARTBEATS_RF), 3);
		T_EQ_INT(FLOW_INT(f, FS_OFFSET_SYNCS_RF), 3);
		T_EQ_INT(FLOW_INT(f, FS_CHECKPOINTS_INTERVAL_MS), 60000);
		T_EQ_INT(FLOW_INT(f, FS_SYNC_GROUP_OFFSETS_ENABLED), 0);
		T_EQ_INT(FLOW_INT(f, FS_REFRESH_GROUPS_INTERVAL_MS), 600000);
		T_EQ_INT(FLOW_INT(f, FS_TASKS), 1);
		T_EQ_INT(FLOW_INT(f, FS_REPLICATION_POLICY), KM_POLICY_DEFAULT);
		T_EQ_INT(f->v[FS_TOPICS_EXCLUDE].nlist, 3);
	}
	/* the defaults of kmirrord's global section */
	T_EQ_STR(cfg.pidfile, "/run/kmirrord.pid");
	T_EQ_STR(cfg.control_socket, "/run/kmirrord.sock");
	config_free(&cfg);

	/* Strimzi's names, kmirrord.* globals */
	T_EQ_INT(load("strimzi.properties",
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "A->B.enabled = true\n"
	    "topicsPattern = .*\n"
	    "A->B.groupsPattern = g.*\n"
	    "kmirrord.pidfile = /tmp/x.pid\n"
	    "kmirrord.control_socket = /tmp/x.sock\n"
	    "kmirrord.control_socket_mode = 0660\n"
	    "kmirrord.log.level = debug\n"
	    "kmirrord.restart.max_failures = 7\n"
	    "kmirrord.hang_timeout_ms = 20000\n", &cfg), 0);
	f = config_flow(&cfg, "A->B");
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_STR(f->v[FS_TOPICS].list[0], ".*");
		T_EQ_STR(f->v[FS_GROUPS].list[0], "g.*");
	}
	T_CONTAINS(warn, "line 5: topicsPattern: a Strimzi");
	T_CONTAINS(warn, "line 6: A->B.groupsPattern: a Strimzi");
	T_EQ_STR(cfg.pidfile, "/tmp/x.pid");
	T_EQ_STR(cfg.control_socket, "/tmp/x.sock");
	T_EQ_INT(cfg.control_socket_mode, 0660);
	T_EQ_INT(cfg.restart.max_failures, 7);
	T_EQ_INT(cfg.hang_timeout_ms, 20000);
	config_free(&cfg);
}

/* ------------------------------------------------ client property translation */

static void
test_client_translation(void)
{
	struct km_config cfg;
	const struct km_cluster *a, *b;

	setenv("M2_TEST_PW", "pw-from-env", 1);
	int rc = load("clients.properties",
	    "clusters = A, B\n"
	    "A.bootstrap.servers = a:9093\n"
	    "B.bootstrap.servers = b:9093\n"
	    "security.protocol = sasl_ssl\n"
	    "sasl.mechanism = SCRAM-SHA-256\n"
	    "A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule "
	    "required username=\"alice\" password=\"a \\\\\"quoted\\\\\" pw\";\n"
	    "B.sasl.mechanism = PLAIN\n"
	    "B.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username='bob' password='b;pw';\n"
	    "A.ssl.endpoint.identification.algorithm =\n"
	    "B.ssl.endpoint.identification.algorithm = HTTPS\n"
	    "A.consumer.fetch.max.bytes = 1048576\n"
	    "A.consumer.isolation.level = read_committed\n"
	    "A.consumer.auto.offset.reset = latest\n"
	    "A.consumer.group.id = mine\n"
	    "B.producer.compression.type = zstd\n"
	    "B.producer.acks = 1\n"
	    "B.admin.request.timeout.ms = 12345\n"
	    "A.client.id = quota-a\n"
	    "A.consumer.max.poll.records = 10\n"
	    "consumer.fetch.min.bytes = 1\n"
	    "A->B.enabled = true\n"
	    "B->A.enabled = true\n", &cfg);
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	a = config_cluster(&cfg, "A");
	b = config_cluster(&cfg, "B");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "security.protocol"), "SASL_SSL");
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "security.protocol"), "SASL_SSL");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.mechanisms"), "SCRAM-SHA-256");
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.mechanisms"), "PLAIN");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.username"), "alice");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.password"), "a \"quoted\" pw");
	T_EQ_INT(prop_secret(a, KM_SCOPE_COMMON, "sasl.password"), 1);
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.username"), "bob");
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.password"), "b;pw");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "ssl.endpoint.identification.algorithm"), "none");
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "ssl.endpoint.identification.algorithm"), "https");
	T_EQ_STR(prop(a, KM_SCOPE_CONSUMER, "fetch.max.bytes"), "1048576");
	T_EQ_STR(prop(b, KM_SCOPE_PRODUCER, "compression.type"), "zstd");
	T_EQ_STR(prop(b, KM_SCOPE_ADMIN, "request.timeout.ms"), "12345");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "client.id"), "quota-a");
	T_CHECK(prop(a, KM_SCOPE_CONSUMER, "group.id") == NULL);
	T_CHECK(prop(b, KM_SCOPE_PRODUCER, "acks") == NULL);
	const struct km_flow *f = config_flow(&cfg, "A->B");
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_INT(FLOW_INT(f, FS_ISOLATION_LEVEL), 0);	/* read_committed */
		T_EQ_INT(FLOW_INT(f, FS_AUTO_OFFSET_RESET), 1);	/* latest */
	}
	f = config_flow(&cfg, "B->A");
	if (f)
		T_EQ_INT(FLOW_INT(f, FS_ISOLATION_LEVEL), 1);
	/* one warning lists what is not used */
	T_CONTAINS(warn, "line 14: A.consumer.group.id: ignored: set by kmirror");
	T_CONTAINS(warn, "line 16: B.producer.acks: ignored");
	T_CONTAINS(warn, "line 19: A.consumer.max.poll.records: not supported: "
	    "librdkafka has no property max.poll.records");
	T_CONTAINS(warn, "line 20: consumer.fetch.min.bytes: ignored, as MM2 ignores it");
	config_free(&cfg);

	/* providers in the JAAS text stay secret; the mechanism is kept */
	rc = load("jaasenv.properties",
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "config.providers = env\n"
	    "config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
	    "B.security.protocol = SASL_SSL\n"
	    "B.sasl.mechanism = PLAIN\n"
	    "B.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username=\"${env:M2_TEST_USER_UNSET}\" password=\"${env:M2_TEST_PW}\";\n"
	    "A->B.enabled = true\n", &cfg);
	T_EQ_INT(rc, -1);
	T_CONTAINS(err, "jaasenv.properties:8: sasl.jaas.config username: "
	    "environment variable M2_TEST_USER_UNSET is not set");
	setenv("M2_TEST_USER_UNSET", "carol", 1);
	rc = load("jaasenv.properties",
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "config.providers = env\n"
	    "config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
	    "B.security.protocol = SASL_SSL\n"
	    "B.sasl.mechanism = PLAIN\n"
	    "B.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username=\"${env:M2_TEST_USER_UNSET}\" password=\"${env:M2_TEST_PW}\";\n"
	    "A->B.enabled = true\n", &cfg);
	unsetenv("M2_TEST_USER_UNSET");
	T_EQ_INT(rc, 0);
	if (rc == 0) {
		b = config_cluster(&cfg, "B");
		T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.username"), "carol");
		T_EQ_INT(prop_secret(b, KM_SCOPE_COMMON, "sasl.username"), 1);
		T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.password"), "pw-from-env");
		config_free(&cfg);
	}

	/* refused login modules and malformed JAAS text */
	T_EQ_INT(load("oauth.properties",
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer."
	    "OAuthBearerLoginModule required;\n", &cfg), -1);
	T_CONTAINS(err, "oauth.properties:3: sasl.jaas.config: login module");
	T_EQ_INT(load("jaasbad.properties",
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username=\"x password=y;\n", &cfg), -1);
	T_CONTAINS(err, "jaasbad.properties:3: sasl.jaas.config: unterminated");
	T_EQ_INT(load("ssleia.properties",
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "\n"
	    "A.ssl.endpoint.identification.algorithm = ldap\n", &cfg), -1);
	T_CONTAINS(err, "ssleia.properties:4: A.ssl.endpoint.identification.algorithm");
}

/* Make a CA and a client certificate with the openssl command line, and
 * PKCS12 stores of them. */
static int
make_pki(void)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
	    "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
	    "-out ca.pem -days 2 -subj /CN=m2test-ca >/dev/null 2>&1 && "
	    "cat ca.key ca.pem > keystore.pem && "
	    "openssl pkcs12 -export -in ca.pem -inkey ca.key -out keystore.p12 "
	    "-passout pass:kspw >/dev/null 2>&1 && "
	    "openssl pkcs12 -export -nokeys -in ca.pem -out truststore.p12 "
	    "-passout pass:tspw >/dev/null 2>&1", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_ssl_stores(void)
{
	struct km_config cfg;
	const struct km_cluster *a, *b;
	char text[8192];

	if (make_pki() == -1) {
		fprintf(stderr, "  (openssl not found: store tests skipped)\n");
		return;
	}
	snprintf(text, sizeof(text),
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "security.protocol = SSL\n"
	    "A.ssl.truststore.type = PEM\n"
	    "A.ssl.truststore.location = %s/ca.pem\n"
	    "A.ssl.keystore.type = PEM\n"
	    "A.ssl.keystore.location = %s/keystore.pem\n"
	    "B.ssl.truststore.type = PKCS12\n"
	    "B.ssl.truststore.location = %s/truststore.p12\n"
	    "B.ssl.truststore.password = tspw\n"
	    "B.ssl.keystore.type = PKCS12\n"
	    "B.ssl.keystore.location = %s/keystore.p12\n"
	    "B.ssl.keystore.password = kspw\n"
	    "B.ssl.key.password = kspw\n"
	    "A->B.enabled = true\n", tmpdir, tmpdir, tmpdir, tmpdir);
	int rc = load("stores.properties", text, &cfg);
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	a = config_cluster(&cfg, "A");
	b = config_cluster(&cfg, "B");
	T_CONTAINS(prop(a, KM_SCOPE_COMMON, "ssl.ca.location"), "/ca.pem");
	T_CONTAINS(prop(a, KM_SCOPE_COMMON, "ssl.key.location"), "/keystore.pem");
	T_CONTAINS(prop(a, KM_SCOPE_COMMON, "ssl.certificate.location"), "/keystore.pem");
	T_CONTAINS(prop(b, KM_SCOPE_COMMON, "ssl.ca.pem"), "-----BEGIN CERTIFICATE-----");
	/* the PKCS12 key store is read here and handed over as PEM text */
	T_CONTAINS(prop(b, KM_SCOPE_COMMON, "ssl.certificate.pem"),
	    "-----BEGIN CERTIFICATE-----");
	T_CONTAINS(prop(b, KM_SCOPE_COMMON, "ssl.key.pem"), "PRIVATE KEY-----");
	T_EQ_INT(prop_secret(b, KM_SCOPE_COMMON, "ssl.key.pem"), 1);
	T_CHECK(prop(b, KM_SCOPE_COMMON, "ssl.keystore.location") == NULL);
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "security.protocol"), "SSL");
	config_free(&cfg);
	/* convert keeps the file and its password */
	{
		const char *path = write_file("stores2.properties", text);
		T_EQ_INT(mm2props_load_flags(path, &cfg, err, sizeof(err), warn,
		    sizeof(warn), MM2P_KEEP_REFS, NULL), 0);
		b = config_cluster(&cfg, "B");
		T_CONTAINS(prop(b, KM_SCOPE_COMMON, "ssl.keystore.location"),
		    "/keystore.p12");
		T_EQ_STR(prop(b, KM_SCOPE_COMMON, "ssl.keystore.password"), "kspw");
		T_EQ_INT(prop_secret(b, KM_SCOPE_COMMON, "ssl.keystore.password"), 1);
		T_CHECK(prop(b, KM_SCOPE_COMMON, "ssl.key.pem") == NULL);
		config_free(&cfg);
	}
	snprintf(text, sizeof(text),
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.ssl.keystore.location = %s/keystore.p12\n"
	    "A.ssl.keystore.password = wrong\n", tmpdir);
	T_EQ_INT(load("kspw.properties", text, &cfg), -1);
	T_CONTAINS(err, "kspw.properties:3: ssl.keystore.location: cannot open "
	    "the PKCS12 key store");

	/* a wrong trust store password; a JKS store */
	snprintf(text, sizeof(text),
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.ssl.truststore.location = %s/truststore.p12\n"
	    "A.ssl.truststore.password = wrong\n", tmpdir);
	T_EQ_INT(load("badpw.properties", text, &cfg), -1);
	T_CONTAINS(err, "badpw.properties:3: ssl.truststore.location: cannot open "
	    "the PKCS12 trust store");
	write_file("store.jks", "\xfe\xed\xfe\xed\x00\x00\x00\x02rest");
	snprintf(text, sizeof(text),
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.ssl.truststore.location = %s/store.jks\n"
	    "A.ssl.keystore.location = %s/store.jks\n", tmpdir, tmpdir);
	T_EQ_INT(load("jks.properties", text, &cfg), -1);
	T_CONTAINS(err, "jks.properties:3: ssl.truststore.location:");
	T_CONTAINS(err, "is a Java key store (JKS), which librdkafka cannot read");
	T_CONTAINS(err, "jks.properties:4: ssl.keystore.location:");
	T_CONTAINS(err, "keytool -importkeystore");
	snprintf(text, sizeof(text),
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.ssl.keystore.location = %s/keystore.p12\n"
	    "A.ssl.keystore.password = kspw\n"
	    "A.ssl.key.password = other\n", tmpdir);
	T_EQ_INT(load("keypw.properties", text, &cfg), -1);
	T_CONTAINS(err, "keypw.properties:5: ssl.key.password differs");
}

/* ------------------------------------------------------------- providers */

static void
test_providers(void)
{
	struct km_config cfg;
	char text[8192];

	write_file("secrets.properties", "# secrets\nb.pw = pw-from-file\n");
	mkdir(strcat(strcpy(text, tmpdir), "/dir"), 0700);
	write_file("dir/user", "dave");
	setenv("M2_TEST_PW", "pw-from-env", 1);
	snprintf(text, sizeof(text),
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "config.providers = env, file, dir\n"
	    "config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
	    "config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n"
	    "config.providers.dir.class = org.apache.kafka.common.config.provider.DirectoryConfigProvider\n"
	    "config.providers.file.param.allowed.paths = /etc\n"
	    "A.sasl.mechanism = SCRAM-SHA-512\n"
	    "A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule "
	    "required username=\"${dir:%s/dir:user}\" password=\"${env:M2_TEST_PW}\";\n"
	    "B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule "
	    "required username=\"bob\" password=\"${file:%s/secrets.properties:b.pw}\";\n"
	    "A->B.enabled = true\n", tmpdir, tmpdir);
	const char *path = write_file("providers.properties", text);
	int rc = mm2props_load(path, &cfg, err, sizeof(err), warn, sizeof(warn));
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	const struct km_cluster *a = config_cluster(&cfg, "A"),
	    *b = config_cluster(&cfg, "B");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.username"), "dave");
	T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.password"), "pw-from-env");
	T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.password"), "pw-from-file");
	T_EQ_INT(prop_secret(a, KM_SCOPE_COMMON, "sasl.username"), 1);
	T_CONTAINS(warn, "line 8: config.providers.file.param.allowed.paths: ignored");
	config_free(&cfg);

	/* convert: references kept where kmirrord.conf has them */
	int unconv = -1;
	rc = mm2props_load_flags(path, &cfg, err, sizeof(err), warn, sizeof(warn),
	    MM2P_KEEP_REFS, &unconv);
	T_EQ_INT(rc, 0);
	T_EQ_INT(unconv, 1);
	if (rc == 0) {
		char want[600];
		a = config_cluster(&cfg, "A");
		b = config_cluster(&cfg, "B");
		snprintf(want, sizeof(want), "file:%s/dir/user", tmpdir);
		T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.username"), want);
		T_EQ_STR(prop(a, KM_SCOPE_COMMON, "sasl.password"), "env:M2_TEST_PW");
		T_EQ_STR(prop(b, KM_SCOPE_COMMON, "sasl.password"), "********");
		T_CONTAINS(warn, "line 11: sasl.jaas.config password: NOT CONVERTED");
		config_free(&cfg);
	}

	/* undeclared provider, ${file:/path} without a key, missing key */
	T_EQ_INT(load("undeclared.properties",
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "A.sasl.jaas.config = x.PlainLoginModule required username=u "
	    "password=\"${env:M2_TEST_PW}\";\n", &cfg), -1);
	T_CONTAINS(err, "undeclared.properties:3: A.sasl.jaas.config: \"${env:M2_TEST_PW}\" "
	    "refers to config provider \"env\", which config.providers does not declare");
	snprintf(text, sizeof(text),
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "config.providers = file\n"
	    "config.providers.file.class = FileConfigProvider\n"
	    "A.sasl.jaas.config = x.PlainLoginModule required username=u "
	    "password=\"${file:%s/secrets.properties}\";\n"
	    "A.sasl.username = ${file:%s/secrets.properties:nokey}\n", tmpdir, tmpdir);
	T_EQ_INT(load("nokey.properties", text, &cfg), -1);
	T_CONTAINS(err, "nokey.properties:5: sasl.jaas.config password: "
	    "FileConfigProvider needs a path and a key");
	T_CONTAINS(err, "nokey.properties:6: A.sasl.username: ");
	T_CONTAINS(err, "has no key \"nokey\"");
	T_EQ_INT(load("badclass.properties",
	    "clusters = A\nA.bootstrap.servers = a:1\n"
	    "config.providers = vault\n"
	    "config.providers.vault.class = com.example.VaultConfigProvider\n",
	    &cfg), -1);
	T_CONTAINS(err, "badclass.properties:4: config provider class "
	    "com.example.VaultConfigProvider is not supported");
}

/* ----------------------------------------------- the warning and errors */

static void
test_warning_lists_unused(void)
{
	struct km_config cfg;

	int rc = load("connect.properties",
	    "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
	    "A->B.enabled = true\n"
	    "offset.storage.replication.factor = 1\n"
	    "config.storage.replication.factor = 1\n"
	    "status.storage.replication.factor = 1\n"
	    "dedicated.mode.enable.internal.rest = true\n"
	    "key.converter = org.apache.kafka.connect.converters.ByteArrayConverter\n"
	    "B.exactly.once.source.support = enabled\n"
	    "offset.lag.max = 100\n"
	    "A->B.source.consumer.fetch.min.bytes = 1\n"
	    "no.such.setting = 1\n"
	    "enabled = true\n"
	    "refresh.topics.enabled = true\n"
	    "sync.topic.acls.enabled = false\n"
	    "A.ssl.cipher.suites = TLS_AES_128_GCM_SHA256\n", &cfg);
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	/* one warning, a line per key, in file order */
	T_CONTAINS(warn, "connect.properties: kmirror does not use 11 settings");
	T_CONTAINS(warn, "line 5: offset.storage.replication.factor: ignored: a "
	    "Connect worker setting");
	T_CONTAINS(warn, "line 6: config.storage.replication.factor: ignored");
	T_CONTAINS(warn, "line 7: status.storage.replication.factor: ignored");
	T_CONTAINS(warn, "line 8: dedicated.mode.enable.internal.rest: ignored");
	T_CONTAINS(warn, "line 9: key.converter: ignored");
	T_CONTAINS(warn, "line 10: B.exactly.once.source.support: ignored");
	T_CONTAINS(warn, "line 11: offset.lag.max: ignored");
	T_CONTAINS(warn, "line 12: A->B.source.consumer.fetch.min.bytes: not supported");
	T_CONTAINS(warn, "line 13: no.such.setting: not supported: unknown setting");
	T_CONTAINS(warn, "line 14: enabled: ignored");
	T_CONTAINS(warn, "line 17: A.ssl.cipher.suites: not supported");
	T_CHECK(strstr(warn, "refresh.topics.enabled") == NULL);
	T_CHECK(strstr(warn, "sync.topic.acls.enabled") == NULL);
	T_CHECK(strstr(warn, "line 5") < strstr(warn, "line 13"));
	const struct km_flow *f = config_flow(&cfg, "A->B");
	if (f)
		T_EQ_INT(FLOW_INT(f, FS_SYNC_TOPIC_ACLS_ENABLED), 0);
	config_free(&cfg);
}

static void
test_errors_name_file_and_line(void)
{
	struct km_config cfg;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "A.bootstrap.servers = a:1\n", ": clusters is missing" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\n",
		  ":1: cluster B has no B.bootstrap.servers" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "A->C.enabled = true\n", ":4: A->C.enabled: C is not in clusters" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "A->B.enabled = true\nA->B.sync.group.offsets.enabled = yes\n",
		  ":5: A->B.sync.group.offsets.enabled must be true or false" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "replication.policy.class = com.example.MyPolicy\n",
		  ":4: replication.policy.class: com.example.MyPolicy cannot run in kmirror" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "\ntopics = foo(\n", ":5: topics: invalid regex \"foo(\"" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "emit.checkpoints.interval.seconds = -1\n",
		  ":4: emit.checkpoints.interval.seconds = -1: kmirror takes" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "tasks.max = many\n", ":4: tasks.max: tasks must be an integer" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "tasks.max = 0\n", ":4: tasks.max: tasks = 0 is out of range" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "offset-syncs.topic.location = middle\n",
		  ":4: offset-syncs.topic.location: offset_syncs_topic_location must be" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "kmirrord.pidfile = /tmp/p\nkmirrord.nonsense = 1\n",
		  ":5: unknown kmirrord setting \"kmirrord.nonsense\"" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "kmirrord.pidfile = /tmp/p\n\nkmirrord.log.level = loud\n",
		  ":6: kmirrord settings: log level must be" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "kmirrord.hang_timeout_ms = 10\n",
		  ":4: kmirrord settings: hang_timeout_ms = 10 in global is out of range" },
		{ "clusters = A, A\nA.bootstrap.servers = a:1\n",
		  ":1: cluster alias \"A\" is listed twice" },
		{ "clusters = A.x\n", ":1: cluster alias \"A.x\" must be" },
		{ "clusters = A\nA.bootstrap.servers = a:1\nA.consumer.fetch.max.bytes = lots\n",
		  ":3: A.consumer.fetch.max.bytes (cluster A consumer as librdkafka "
		  "fetch.max.bytes): librdkafka refuses" },
		{ "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
		  "topic.filter.class = com.example.Filter\n",
		  ":4: topic.filter.class: custom filter classes cannot run" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32], want[300];
		snprintf(name, sizeof(name), "bad%02zu.properties", i);
		int rc = load(name, bad[i].text, &cfg);
		T_EQ_INT(rc, -1);
		snprintf(want, sizeof(want), "%s%s", name, bad[i].want);
		if (rc == -1 && strstr(err, want) == NULL)
			fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err, want);
		T_CONTAINS(err, want);
		if (rc == 0)
			config_free(&cfg);
	}
	T_EQ_INT(mm2props_load("/nonexistent/mm2.properties", &cfg, err, sizeof(err),
	    warn, sizeof(warn)), -1);
	T_CONTAINS(err, "/nonexistent/mm2.properties: cannot read the file");
}

/* ------------------------------------------------------------- convert */

static void
test_convert_loads_natively(void)
{
	struct km_config cfg, back;
	char text[8192], path2[400], e2[8192];
	FILE *out;

	setenv("M2_TEST_PW", "pw-from-env", 1);
	snprintf(text, sizeof(text),
	    "clusters = source, target\n"
	    "source.bootstrap.servers = s:1\n"
	    "target.bootstrap.servers = t:1\n"
	    "config.providers = env\n"
	    "config.providers.env.class = EnvVarConfigProvider\n"
	    "target.security.protocol = SASL_SSL\n"
	    "target.sasl.mechanism = PLAIN\n"
	    "target.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username=\"u\" password=\"${env:M2_TEST_PW}\";\n"
	    "source.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
	    "required username=\"v\" password=\"literal\\\\\\\"pw\";\n"
	    "source->target.enabled = true\n"
	    "source->target.topics = products, a\\\\.b\n"
	    "tasks.max = 10\n"
	    "kmirrord.pidfile = %s/conv.pid\n", tmpdir);
	const char *path = write_file("convert.properties", text);
	int unconv = -1;
	T_EQ_INT(mm2props_load_flags(path, &cfg, err, sizeof(err), warn, sizeof(warn),
	    MM2P_KEEP_REFS, &unconv), 0);
	T_EQ_INT(unconv, 0);
	snprintf(path2, sizeof(path2), "%s/converted.conf", tmpdir);
	out = fopen(path2, "w");
	config_print_flags(&cfg, out, CONFIG_PRINT_CONVERT);
	fclose(out);
	config_free(&cfg);
	{
		FILE *f = fopen(path2, "r");
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	T_CONTAINS(text, "sasl_password = \"env:M2_TEST_PW\";\n");
	T_CONTAINS(text, "sasl_password = \"literal\\\"pw\";  # literal secret");
	T_CHECK(strstr(text, "pw-from-env") == NULL);
	int rc = config_load(path2, &back, e2, sizeof(e2));
	T_EQ_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "%s\n%s\n", e2, text);
		return;
	}
	const struct km_cluster *t = config_cluster(&back, "target");
	T_EQ_STR(prop(t, KM_SCOPE_COMMON, "sasl.password"), "pw-from-env");
	T_EQ_STR(prop(config_cluster(&back, "source"), KM_SCOPE_COMMON,
	    "sasl.password"), "literal\"pw");
	const struct km_flow *f = config_flow(&back, "source->target");
	T_CHECK(f != NULL);
	if (f) {
		T_EQ_INT(FLOW_INT(f, FS_TASKS), 10);
		T_EQ_INT(FLOW_INT(f, FS_ENABLED), 1);
		T_EQ_STR(f->v[FS_TOPICS].list[1], "a\\.b");
		T_EQ_INT(FLOW_INT(f, FS_SYNC_GROUP_OFFSETS_ENABLED), 0);
	}
	T_CHECK(back.is_mm2 == 0);
	config_free(&back);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mm2props.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	T_RUN(test_properties_syntax);
	T_RUN(test_flows_and_defaults);
	T_RUN(test_client_translation);
	T_RUN(test_ssl_stores);
	T_RUN(test_providers);
	T_RUN(test_warning_lists_unused);
	T_RUN(test_errors_name_file_and_line);
	T_RUN(test_convert_loads_natively);
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			(void)0;
	}
	return T_DONE();
}

/*
 * test_topicsync.c: the pure rules of topic config and ACL sync
 * (mm2-facts.md §3.4, §3.5): which source config entries become SET,
 * DELETE or nothing; the plan for a target topic (changes and the full
 * set a replacing AlterConfigs sends); which ACLs are copied and how.
 */
#include <string.h>

#include "t.h"
#include "filter.h"
#include "topicsync.h"

static struct km_filter excl;

#define DYN_TOPIC   RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG
#define DYN_BROKER  RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG
#define DYN_DEFAULT RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG
#define STATIC      RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG
#define DEFAULT     RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG

static enum topicsync_cfg_op
rule(const char *name, const char *value, rd_kafka_ConfigSource_t src, int def, int ro,
    int sens)
{
	return topicsync_config_rule(name, value, src, def, ro, sens, &excl);
}

static void
test_config_rule(void)
{
	/* set on the topic: copied */
	T_EQ_INT(rule("retention.ms", "1000", DYN_TOPIC, 0, 0, 0), TS_CFG_SET);
	T_EQ_INT(rule("cleanup.policy", "compact", DYN_TOPIC, 0, 0, 0), TS_CFG_SET);
	/* inherited from dynamic broker configs: non-default, set explicitly */
	T_EQ_INT(rule("retention.ms", "1000", DYN_BROKER, 0, 0, 0), TS_CFG_SET);
	T_EQ_INT(rule("segment.ms", "1000", DYN_DEFAULT, 0, 0, 0), TS_CFG_SET);
	/* a default on the source: the target reverts to its own default */
	T_EQ_INT(rule("retention.ms", "604800000", DEFAULT, 1, 0, 0), TS_CFG_DELETE);
	T_EQ_INT(rule("retention.ms", "604800000", DEFAULT, 0, 0, 0), TS_CFG_DELETE);
	/* never touched */
	T_EQ_INT(rule("log.dir", "/x", STATIC, 0, 0, 0), TS_CFG_SKIP);
	T_EQ_INT(rule("segment.bytes", "1", DYN_TOPIC, 0, 1, 0), TS_CFG_SKIP);
	T_EQ_INT(rule("secret", NULL, DYN_TOPIC, 0, 0, 1), TS_CFG_SKIP);
	T_EQ_INT(rule("secret", NULL, DEFAULT, 1, 0, 1), TS_CFG_SKIP);
	T_EQ_INT(rule("x", NULL, DYN_TOPIC, 0, 0, 0), TS_CFG_SKIP);
	/* MM2's default exclusions, also when at default (not reverted) */
	T_EQ_INT(rule("min.insync.replicas", "2", DYN_TOPIC, 0, 0, 0), TS_CFG_SKIP);
	T_EQ_INT(rule("min.insync.replicas", "1", DEFAULT, 1, 0, 0), TS_CFG_SKIP);
	T_EQ_INT(rule("message.timestamp.type", "LogAppendTime", DYN_TOPIC, 0, 0, 0),
	    TS_CFG_SKIP);
	T_EQ_INT(rule("unclean.leader.election.enable", "true", DYN_TOPIC, 0, 0, 0),
	    TS_CFG_SKIP);
	T_EQ_INT(rule("leader.replication.throttled.replicas", "*", DYN_TOPIC, 0, 0, 0),
	    TS_CFG_SKIP);
	/* whole-name match: a name containing an excluded one is copied */
	T_EQ_INT(rule("xmin.insync.replicas", "2", DYN_TOPIC, 0, 0, 0), TS_CFG_SET);
	/* no exclusion list */
	T_EQ_INT(topicsync_config_rule("min.insync.replicas", "2", DYN_TOPIC, 0, 0, 0, NULL),
	    TS_CFG_SET);
	T_EQ_STR(topicsync_cfg_op_names[TS_CFG_DELETE], "delete");
}

static void
kvs(struct topicsync_kvs *l, const char *const *kv)
{
	for (int i = 0; kv[i]; i += 2)
		topicsync_kvs_add(l, kv[i], strcmp(kv[i + 1], "-") == 0 ? NULL : kv[i + 1]);
}

/* "a=1,b=2" of a list, in order, for comparisons. */
static const char *
str(const struct topicsync_kvs *l)
{
	static char buf[1024];
	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s=%s", i ? "," : "",
		    l->v[i].name, l->v[i].value ? l->v[i].value : "(delete)");
	return buf;
}

static void
test_config_plan(void)
{
	struct topicsync_kvs cur = { 0 }, ops = { 0 }, ch = { 0 }, want = { 0 };

	/* target has its own override (kept: the source says nothing about it),
	 * an old retention (changed), a segment.ms the source has at default
	 * (reverted), and cleanup.policy already in step */
	kvs(&cur, (const char *const[]){ "min.insync.replicas", "2", "retention.ms", "1",
	    "segment.ms", "5", "cleanup.policy", "compact", NULL });
	kvs(&ops, (const char *const[]){ "retention.ms", "2", "segment.ms", "-",
	    "cleanup.policy", "compact", "max.message.bytes", "9", "flush.ms", "-", NULL });
	T_EQ_INT(topicsync_config_plan(&cur, &ops, &ch, &want), 3);
	T_EQ_STR(str(&ch), "retention.ms=2,segment.ms=(delete),max.message.bytes=9");
	T_EQ_STR(str(&want), "min.insync.replicas=2,cleanup.policy=compact,retention.ms=2,"
	    "max.message.bytes=9");
	topicsync_kvs_free(&ch);
	topicsync_kvs_free(&want);

	/* in step: no changes; want is the current set */
	topicsync_kvs_free(&ops);
	kvs(&ops, (const char *const[]){ "retention.ms", "1", "segment.ms", "5", NULL });
	T_EQ_INT(topicsync_config_plan(&cur, &ops, &ch, &want), 0);
	T_EQ_INT(ch.n, 0);
	T_EQ_INT(want.n, 4);
	topicsync_kvs_free(&ch);
	topicsync_kvs_free(&want);

	/* nothing on the target: every SET is a change, DELETEs are not */
	topicsync_kvs_free(&cur);
	T_EQ_INT(topicsync_config_plan(&cur, &ops, &ch, &want), 2);
	topicsync_kvs_free(&ch);
	topicsync_kvs_free(&want);
	topicsync_kvs_free(&ops);
	kvs(&ops, (const char *const[]){ "retention.ms", "-", NULL });
	T_EQ_INT(topicsync_config_plan(&cur, &ops, &ch, &want), 0);
	T_EQ_INT(want.n, 0);
	topicsync_kvs_free(&ch);
	topicsync_kvs_free(&want);
	topicsync_kvs_free(&ops);
	T_CHECK(topicsync_kvs_find(&ops, "x") == NULL);
}

static struct topicsync_acl
acl(rd_kafka_ResourcePatternType_t pat, const char *name, rd_kafka_AclOperation_t op,
    rd_kafka_AclPermissionType_t perm)
{
	return (struct topicsync_acl){ RD_KAFKA_RESOURCE_TOPIC, name, pat, "User:alice", "*",
	    op, perm };
}

static int
acl_op(struct topicsync_acl a)
{
	rd_kafka_AclOperation_t op = RD_KAFKA_ACL_OPERATION_UNKNOWN;
	return topicsync_acl_rule(&a, &op) ? (int)op : -1;
}

static void
test_acl_rule(void)
{
	const rd_kafka_ResourcePatternType_t L = RD_KAFKA_RESOURCE_PATTERN_LITERAL,
	    P = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
	const rd_kafka_AclPermissionType_t A = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
	    D = RD_KAFKA_ACL_PERMISSION_TYPE_DENY;
	struct topicsync_acl g;

	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_READ, A)), RD_KAFKA_ACL_OPERATION_READ);
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_DESCRIBE, A)),
	    RD_KAFKA_ACL_OPERATION_DESCRIBE);
	/* ALLOW WRITE dropped: only kmirror writes remote topics */
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_WRITE, A)), -1);
	/* ALLOW ALL downgraded to READ */
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_ALL, A)), RD_KAFKA_ACL_OPERATION_READ);
	/* DENY copied as it is */
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_WRITE, D)), RD_KAFKA_ACL_OPERATION_WRITE);
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_ALL, D)), RD_KAFKA_ACL_OPERATION_ALL);
	T_EQ_INT(acl_op(acl(L, "t", RD_KAFKA_ACL_OPERATION_READ, D)), RD_KAFKA_ACL_OPERATION_READ);
	/* literal only */
	T_EQ_INT(acl_op(acl(P, "t", RD_KAFKA_ACL_OPERATION_READ, A)), -1);
	T_EQ_INT(acl_op(acl(P, "t", RD_KAFKA_ACL_OPERATION_WRITE, D)), -1);
	/* the wildcard "*" names no replicated topic */
	T_EQ_INT(acl_op(acl(L, "*", RD_KAFKA_ACL_OPERATION_READ, A)), -1);
	/* topic ACLs only */
	g = acl(L, "t", RD_KAFKA_ACL_OPERATION_READ, A);
	g.restype = RD_KAFKA_RESOURCE_GROUP;
	T_EQ_INT(acl_op(g), -1);
	g.restype = RD_KAFKA_RESOURCE_TOPIC;
	g.perm = RD_KAFKA_ACL_PERMISSION_TYPE_ANY;
	T_EQ_INT(acl_op(g), -1);
}

static void
test_acl_format(void)
{
	char buf[256];
	struct topicsync_acl a = acl(RD_KAFKA_RESOURCE_PATTERN_LITERAL, "A.orders",
	    RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW);

	topicsync_acl_format(&a, buf, sizeof(buf));
	T_EQ_STR(buf, "User:alice@* ALLOW READ TOPIC LITERAL A.orders");
}

int
main(void)
{
	char err[256];

	if (filter_init_csv(&excl, FILTER_CONFIG_PROPERTIES_EXCLUDE_DEFAULT, NULL, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "filter: %s\n", err);
		return 1;
	}
	T_RUN(test_config_rule);
	T_RUN(test_config_plan);
	T_RUN(test_acl_rule);
	T_RUN(test_acl_format);
	filter_free(&excl);
	return T_DONE();
}

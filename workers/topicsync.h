/*
 * topicsync.h: keep the target's remote topics in step with the source:
 * topic configs and topic ACLs, with MM2's rules (docs/topic-sync.md).
 *
 * One topicsync runs per flow (the source worker that owns shard 0 makes
 * it). It has two admin clients of its own and two timers: config sync
 * every sync_topic_configs_interval_ms, ACL sync every
 * sync_topic_acls_interval_ms, both soon after start. Scope: the source
 * topics of the whole flow (topic filter and replication policy) whose
 * remote topic exists on the target.
 *
 * The rules themselves are pure functions, below, for the unit tests and
 * for topic creation in source.c.
 */
#ifndef KM_TOPICSYNC_H
#define KM_TOPICSYNC_H
#include <stddef.h>
#include <librdkafka/rdkafka.h>

struct worker;
struct evbuffer;
struct km_policy;
struct km_filter;
struct topicsync;

struct topicsync *topicsync_new(struct worker *w, const struct km_policy *pol,
	    const struct km_filter *topics, const struct km_filter *cfg_exclude);
void	topicsync_free(struct topicsync *ts);
/* STATUS keys: configs_synced_at, configs_changes, configs_failed,
 * acls_synced_at, acls_created, acls_failed, acls_skipped */
void	topicsync_status(struct topicsync *ts, struct evbuffer *kv);

/*
 * What config sync does with one described source config entry
 * (mm2-facts §3.4):
 *   SKIP    read-only, sensitive, a static broker config, excluded by
 *           config.properties.exclude, or without a value: the target's
 *           own setting is left alone
 *   DELETE  a default on the source: the target reverts to its own default
 *   SET     anything else (dynamic topic, broker or cluster-default
 *           values): the target gets the source's value
 */
enum topicsync_cfg_op { TS_CFG_SKIP, TS_CFG_SET, TS_CFG_DELETE };
extern const char *const topicsync_cfg_op_names[];

enum topicsync_cfg_op topicsync_config_rule(const char *name, const char *value,
	    rd_kafka_ConfigSource_t source, int is_default, int read_only,
	    int sensitive, const struct km_filter *cfg_exclude);
enum topicsync_cfg_op topicsync_config_op(const rd_kafka_ConfigEntry_t *e,
	    const struct km_filter *cfg_exclude);
/* 1 = copy it when creating a remote topic (the SET case above) */
int	topicsync_config_filter(const rd_kafka_ConfigEntry_t *e,
	    const struct km_filter *cfg_exclude);

/* A list of config names and values; value NULL means "delete". */
struct topicsync_kv {
	char *name;
	char *value;
};
struct topicsync_kvs {
	struct topicsync_kv *v;
	size_t               n, cap;
};
int	topicsync_kvs_add(struct topicsync_kvs *l, const char *name, const char *value);
const struct topicsync_kv *topicsync_kvs_find(const struct topicsync_kvs *l,
	    const char *name);
void	topicsync_kvs_free(struct topicsync_kvs *l);

/*
 * Plan one target topic: `cur` is its dynamic topic configs, `ops` the
 * source's SET (value) and DELETE (NULL) operations. Fills `changes` with
 * the operations that change something and `want` with the complete set
 * of dynamic topic configs the topic should end with (what a full-replace
 * AlterConfigs sends). Returns the number of changes, -1 out of memory.
 */
int	topicsync_config_plan(const struct topicsync_kvs *cur,
	    const struct topicsync_kvs *ops, struct topicsync_kvs *changes,
	    struct topicsync_kvs *want);

/* One ACL binding, fields as librdkafka names them. */
struct topicsync_acl {
	rd_kafka_ResourceType_t        restype;
	const char                    *name;
	rd_kafka_ResourcePatternType_t pattern;
	const char                    *principal;
	const char                    *host;
	rd_kafka_AclOperation_t        op;
	rd_kafka_AclPermissionType_t   perm;
};

/*
 * MM2's ACL rules (mm2-facts §3.5), without the topic-name check: 1 and
 * the operation to create on the target in *op, or 0 to drop. Kept:
 * literal topic ACLs except ALLOW WRITE; ALLOW ALL becomes ALLOW READ;
 * DENY is copied as it is. The literal name "*" (every topic) is dropped:
 * it names no replicated topic.
 */
int	topicsync_acl_rule(const struct topicsync_acl *a, rd_kafka_AclOperation_t *op);
/* "User:alice@* ALLOW READ topic orders" for logs and as a set key */
int	topicsync_acl_format(const struct topicsync_acl *a, char *out, size_t cap);

#endif

/*
 * flowconf.h: what a worker needs to know about its flow, shared by the
 * supervisor (which parses it from the config file) and the workers (which
 * receive it in the CONFIG message). The flow settings are described once,
 * in a table, which drives parsing, validation, defaults, the IPC encoding
 * and the printing of the effective config.
 */
#ifndef KM_FLOWCONF_H
#define KM_FLOWCONF_H
#include <stddef.h>

struct evbuffer;
struct kvl;

/* Client roles that can override a cluster's properties. */
enum km_scope {
	KM_SCOPE_COMMON,
	KM_SCOPE_CONSUMER,
	KM_SCOPE_PRODUCER,
	KM_SCOPE_ADMIN,
	KM_SCOPE__COUNT
};
extern const char *const km_scope_names[KM_SCOPE__COUNT];

struct km_prop {
	char *key;	/* librdkafka property name, with dots */
	char *val;	/* resolved value (secrets already read) */
	int   secret;	/* mask when printed */
	int   line;
};

struct km_props {
	struct km_prop *v;
	size_t          n;
};

struct km_cluster {
	char           *alias;
	struct km_props props[KM_SCOPE__COUNT];
	int             line;
};

/* Value types of flow settings. */
enum fs_type {
	FS_T_BOOL,
	FS_T_INT,
	FS_T_STR,
	FS_T_LIST,
	FS_T_ENUM
};

/* Every flow setting; the order is the table's order in flowconf.c. */
enum fs_id {
	FS_ENABLED,
	FS_TOPICS,
	FS_TOPICS_EXCLUDE,
	FS_GROUPS,
	FS_GROUPS_EXCLUDE,
	FS_REPLICATION_POLICY,
	FS_SEPARATOR,
	FS_INTERNAL_SEPARATOR_ENABLED,
	FS_TASKS,
	FS_REPLICATION_FACTOR,
	FS_EMIT_HEARTBEATS_ENABLED,
	FS_HEARTBEATS_INTERVAL_MS,
	FS_HEARTBEATS_RF,
	FS_EMIT_CHECKPOINTS_ENABLED,
	FS_CHECKPOINTS_INTERVAL_MS,
	FS_CHECKPOINTS_RF,
	FS_SYNC_GROUP_OFFSETS_ENABLED,
	FS_SYNC_GROUP_OFFSETS_INTERVAL_MS,
	FS_REFRESH_TOPICS_INTERVAL_MS,
	FS_REFRESH_GROUPS_INTERVAL_MS,
	FS_EMIT_OFFSET_SYNCS_ENABLED,
	FS_OFFSET_SYNC_INTERVAL_MS,
	FS_OFFSET_SYNCS_LOCATION,
	FS_OFFSET_SYNCS_RF,
	FS_SYNC_TOPIC_CONFIGS_ENABLED,
	FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS,
	FS_SYNC_TOPIC_ACLS_ENABLED,
	FS_SYNC_TOPIC_ACLS_INTERVAL_MS,
	FS_CONFIG_PROPERTIES_EXCLUDE,
	FS_AUTO_OFFSET_RESET,
	FS_ISOLATION_LEVEL,
	FS_COMMIT_INTERVAL_MS,
	FS_SHARD_ASSIGNMENT,
	FS_SHARD_SESSION_TIMEOUT_MS,
	FS_SOURCE_WORKERS,
	FS_HEARTBEATS_REPLICATION_ENABLED,
	FS__COUNT
};

struct fs_def {
	const char         *name;	/* key in kmirrord.conf */
	const char         *mm2_name;	/* the mm2.properties key, or NULL */
	enum fs_type        type;
	long long           def_int;
	const char         *def_str;	/* default; lists: comma-separated */
	long long           min, max;
	const char *const  *enum_names;	/* NULL-terminated, FS_T_ENUM */
	const char         *help;
};
extern const struct fs_def fs_defs[FS__COUNT];

struct fs_value {
	long long i;		/* BOOL, INT, ENUM index */
	char     *s;		/* STR */
	char    **list;		/* LIST */
	size_t    nlist;
	int       line;		/* where it was set, 0 = default */
};

enum km_policy_kind { KM_POLICY_DEFAULT, KM_POLICY_IDENTITY };
enum km_location { KM_LOC_SOURCE, KM_LOC_TARGET };
enum km_shard_assign { KM_SHARDS_GROUP, KM_SHARDS_STATIC };

struct km_flow {
	char           *name;	/* "A->B" */
	char           *source;
	char           *target;
	int             line;
	struct fs_value v[FS__COUNT];
};

/* Settings every worker gets from the global section. */
struct km_worker_globals {
	int status_interval_ms;
	int log_level;
	int log_target;
	int log_json;
	char *log_file;
	char *instance_id;
};

#define FLOW_INT(f, id)  ((f)->v[(id)].i)
#define FLOW_STR(f, id)  ((f)->v[(id)].s)

int  fs_lookup(const char *name);
int  fs_set_default(struct fs_value *v, int id);
int  fs_set_from_string(struct fs_value *v, int id, const char *s, char *err,
         size_t errlen);
int  fs_list_append(struct fs_value *v, const char *s);
void fs_value_free(struct fs_value *v, int id);
int  fs_copy(struct fs_value *dst, const struct fs_value *src, int id);
void fs_format(const struct fs_value *v, int id, char *buf, size_t len);

void km_flow_init_defaults(struct km_flow *f);
/* Source workers (processes) an instance runs for the flow: source_workers
 * if set (at most tasks), else min(tasks, online CPUs). */
int  km_flow_source_workers(const struct km_flow *f);
void km_flow_free(struct km_flow *f);
void km_cluster_free(struct km_cluster *c);
int  km_props_add(struct km_props *p, const char *key, const char *val,
         int secret, int line);
const char *km_props_get(const struct km_props *p, const char *key);
int  km_prop_is_secret_key(const char *key);

/* The CONFIG message: a flow, its two clusters and the worker globals. */
int  flowconf_encode(struct evbuffer *b, const struct km_flow *f,
         const struct km_cluster *src, const struct km_cluster *dst,
         const struct km_worker_globals *g);
int  flowconf_decode(const struct kvl *l, struct km_flow *f,
         struct km_cluster *src, struct km_cluster *dst,
         struct km_worker_globals *g, char *err, size_t errlen);

#endif

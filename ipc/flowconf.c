/*
 * flowconf.c: the flow settings table and the CONFIG message codec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "filter.h"	/* MM2's default filters: one place */
#include "flowconf.h"
#include "msg.h"

const char *const km_scope_names[KM_SCOPE__COUNT] = {
	"kafka", "consumer", "producer", "admin"
};

static const char *const fs_policy_names[] = { "default", "identity", NULL };
static const char *const fs_location_names[] = { "source", "target", NULL };
static const char *const fs_reset_names[] = { "earliest", "latest", NULL };
static const char *const fs_isolation_names[] = { "read_committed",
	"read_uncommitted", NULL };
static const char *const fs_shard_names[] = { "group", "static", NULL };

#define DAY_MS (24LL * 3600 * 1000)

/* Defaults are kmirror's; where they differ from MM2's, the help says so. */
const struct fs_def fs_defs[FS__COUNT] = {
	[FS_ENABLED] = { "enabled", "enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "replicate this flow" },
	[FS_TOPICS] = { "topics", "topics", FS_T_LIST, 0, FILTER_TOPICS_INCLUDE_DEFAULT, 0, 0, NULL,
	    "Java regexes of topics to replicate (whole-name match)" },
	[FS_TOPICS_EXCLUDE] = { "topics_exclude", "topics.exclude", FS_T_LIST, 0,
	    FILTER_TOPICS_EXCLUDE_DEFAULT, 0, 0, NULL,
	    "Java regexes of topics never replicated; exclude wins" },
	[FS_GROUPS] = { "groups", "groups", FS_T_LIST, 0, FILTER_GROUPS_INCLUDE_DEFAULT, 0, 0, NULL,
	    "Java regexes of consumer groups to checkpoint" },
	[FS_GROUPS_EXCLUDE] = { "groups_exclude", "groups.exclude", FS_T_LIST, 0,
	    FILTER_GROUPS_EXCLUDE_DEFAULT, 0, 0, NULL,
	    "Java regexes of groups never checkpointed" },
	[FS_REPLICATION_POLICY] = { "replication_policy", "replication.policy.class",
	    FS_T_ENUM, 0, NULL, 0, 1, fs_policy_names,
	    "default (A.topic) or identity (topic)" },
	[FS_SEPARATOR] = { "separator", "replication.policy.separator", FS_T_STR,
	    0, ".", 0, 0, NULL, "separator of remote topic names" },
	[FS_INTERNAL_SEPARATOR_ENABLED] = { "internal_topic_separator_enabled",
	    "replication.policy.internal.topic.separator.enabled", FS_T_BOOL, 1,
	    NULL, 0, 1, NULL, "use the separator in internal topic names too" },
	[FS_TASKS] = { "tasks", "tasks.max", FS_T_INT, 1, NULL, 1, 256, NULL,
	    "source workers (shards) of this flow" },
	[FS_REPLICATION_FACTOR] = { "replication_factor", "replication.factor",
	    FS_T_INT, -1, NULL, -1, 32767, NULL,
	    "replication factor of remote topics; -1 = broker default (MM2: 2)" },
	[FS_EMIT_HEARTBEATS_ENABLED] = { "emit_heartbeats_enabled",
	    "emit.heartbeats.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "write heartbeats to the target" },
	[FS_HEARTBEATS_INTERVAL_MS] = { "emit_heartbeats_interval_ms",
	    "emit.heartbeats.interval.seconds", FS_T_INT, 1000, NULL, 10, DAY_MS,
	    NULL, "heartbeat period" },
	[FS_HEARTBEATS_RF] = { "heartbeats_topic_replication_factor",
	    "heartbeats.topic.replication.factor", FS_T_INT, -1, NULL, -1, 32767,
	    NULL, "replication factor of the heartbeats topic (MM2: 3)" },
	[FS_EMIT_CHECKPOINTS_ENABLED] = { "emit_checkpoints_enabled",
	    "emit.checkpoints.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "write checkpoints to the target" },
	[FS_CHECKPOINTS_INTERVAL_MS] = { "emit_checkpoints_interval_ms",
	    "emit.checkpoints.interval.seconds", FS_T_INT, 5000, NULL, 100, DAY_MS,
	    NULL, "checkpoint period (MM2: 60 s)" },
	[FS_CHECKPOINTS_RF] = { "checkpoints_topic_replication_factor",
	    "checkpoints.topic.replication.factor", FS_T_INT, -1, NULL, -1, 32767,
	    NULL, "replication factor of the checkpoints topic (MM2: 3)" },
	[FS_SYNC_GROUP_OFFSETS_ENABLED] = { "sync_group_offsets_enabled",
	    "sync.group.offsets.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "commit translated offsets to idle target groups (MM2: false)" },
	[FS_SYNC_GROUP_OFFSETS_INTERVAL_MS] = { "sync_group_offsets_interval_ms",
	    "sync.group.offsets.interval.seconds", FS_T_INT, 5000, NULL, 100,
	    DAY_MS, NULL, "group offset sync period (MM2: 60 s)" },
	[FS_REFRESH_TOPICS_INTERVAL_MS] = { "refresh_topics_interval_ms",
	    "refresh.topics.interval.seconds", FS_T_INT, 5000, NULL, 100, DAY_MS,
	    NULL, "how often new topics and partitions are looked for (MM2: 600 s)" },
	[FS_REFRESH_GROUPS_INTERVAL_MS] = { "refresh_groups_interval_ms",
	    "refresh.groups.interval.seconds", FS_T_INT, 10000, NULL, 100, DAY_MS,
	    NULL, "how often new groups are looked for (MM2: 600 s)" },
	[FS_EMIT_OFFSET_SYNCS_ENABLED] = { "emit_offset_syncs_enabled",
	    "emit.offset-syncs.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "write offset syncs" },
	[FS_OFFSET_SYNC_INTERVAL_MS] = { "offset_sync_interval_ms", NULL, FS_T_INT,
	    1000, NULL, 10, DAY_MS, NULL,
	    "longest time between two offset syncs of a moving partition" },
	[FS_OFFSET_SYNCS_LOCATION] = { "offset_syncs_topic_location",
	    "offset-syncs.topic.location", FS_T_ENUM, 0, NULL, 0, 1,
	    fs_location_names, "cluster holding the offset-syncs topic" },
	[FS_OFFSET_SYNCS_RF] = { "offset_syncs_topic_replication_factor",
	    "offset-syncs.topic.replication.factor", FS_T_INT, -1, NULL, -1, 32767,
	    NULL, "replication factor of the offset-syncs topic (MM2: 3)" },
	[FS_SYNC_TOPIC_CONFIGS_ENABLED] = { "sync_topic_configs_enabled",
	    "sync.topic.configs.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "keep remote topic configs in step" },
	[FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS] = { "sync_topic_configs_interval_ms",
	    "sync.topic.configs.interval.seconds", FS_T_INT, 30000, NULL, 100,
	    DAY_MS, NULL, "config sync period (MM2: 600 s)" },
	[FS_SYNC_TOPIC_ACLS_ENABLED] = { "sync_topic_acls_enabled",
	    "sync.topic.acls.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "copy topic ACLs" },
	[FS_SYNC_TOPIC_ACLS_INTERVAL_MS] = { "sync_topic_acls_interval_ms",
	    "sync.topic.acls.interval.seconds", FS_T_INT, 30000, NULL, 100, DAY_MS,
	    NULL, "ACL sync period (MM2: 600 s)" },
	[FS_CONFIG_PROPERTIES_EXCLUDE] = { "config_properties_exclude",
	    "config.properties.exclude", FS_T_LIST, 0,
	    FILTER_CONFIG_PROPERTIES_EXCLUDE_DEFAULT, 0, 0, NULL,
	    "topic configs never copied" },
	[FS_AUTO_OFFSET_RESET] = { "auto_offset_reset", NULL, FS_T_ENUM, 0, NULL,
	    0, 1, fs_reset_names, "where a partition without progress starts" },
	[FS_ISOLATION_LEVEL] = { "isolation_level", NULL, FS_T_ENUM, 0, NULL, 0, 1,
	    fs_isolation_names, "read_committed skips aborted transactions" },
	[FS_COMMIT_INTERVAL_MS] = { "commit_interval_ms", NULL, FS_T_INT, 100, NULL,
	    5, 60000, NULL,
	    "how often a source worker commits its transaction (data + progress)" },
	[FS_SHARD_ASSIGNMENT] = { "shard_assignment", NULL, FS_T_ENUM, 0, NULL, 0, 1,
	    fs_shard_names, "group: shards shared through a Kafka consumer group "
	    "across instances; static: worker i of each instance takes shards i mod tasks" },
	[FS_SHARD_SESSION_TIMEOUT_MS] = { "shard_session_timeout_ms", NULL, FS_T_INT,
	    10000, NULL, 6000, 300000, NULL,
	    "how long a silent instance keeps its shards (brokers refuse less than "
	    "their group.min.session.timeout.ms, 6000 by default)" },
	[FS_HEARTBEATS_REPLICATION_ENABLED] = { "heartbeats_replication_enabled",
	    "heartbeats.replication.enabled", FS_T_BOOL, 1, NULL, 0, 1, NULL,
	    "replicate heartbeat topics whatever the topic filter says (MM2 4.x)" },
	[FS_SOURCE_WORKERS] = { "source_workers", NULL, FS_T_INT, 0, NULL, 0, 256, NULL,
	    "source workers (processes) this instance runs for the flow; 0 = tasks, "
	    "at most one per online CPU (8 workers on 2 CPUs copied 12-35 MB/s, 2 "
	    "workers with the same 8 shards 96 MB/s). With N instances, tasks / N "
	    "spreads the shards over all of them" },
};

int
fs_lookup(const char *name)
{
	for (int i = 0; i < FS__COUNT; i++)
		if (strcmp(fs_defs[i].name, name) == 0)
			return i;
	return -1;
}

int
fs_list_append(struct fs_value *v, const char *s)
{
	char **nl = realloc(v->list, (v->nlist + 1) * sizeof(*nl));
	if (nl == NULL)
		return -1;
	v->list = nl;
	if ((nl[v->nlist] = strdup(s)) == NULL)
		return -1;
	v->nlist++;
	return 0;
}

void
fs_value_free(struct fs_value *v, int id)
{
	(void)id;
	free(v->s);
	for (size_t i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

/* Split a comma list as MM2 does: items trimmed, empty items dropped. */
static int
fs_list_from_csv(struct fs_value *v, const char *csv)
{
	char *copy = strdup(csv), *save = NULL, *tok;
	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		char *end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok && fs_list_append(v, tok) == -1) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

int
fs_set_default(struct fs_value *v, int id)
{
	const struct fs_def *d = &fs_defs[id];

	fs_value_free(v, id);
	v->i = d->def_int;
	switch (d->type) {
	case FS_T_STR:
		return (v->s = strdup(d->def_str)) ? 0 : -1;
	case FS_T_LIST:
		return fs_list_from_csv(v, d->def_str);
	default:
		return 0;
	}
}

/* Parse a setting from its string form (IPC, mm2.properties); lists take a
 * comma-separated value. */
int
fs_set_from_string(struct fs_value *v, int id, const char *s, char *err,
    size_t errlen)
{
	const struct fs_def *d = &fs_defs[id];
	char *end;
	long long n;

	switch (d->type) {
	case FS_T_BOOL:
		if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
			v->i = 1;
		else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
			v->i = 0;
		else {
			snprintf(err, errlen, "%s must be true or false, not \"%s\"",
			    d->name, s);
			return -1;
		}
		return 0;
	case FS_T_INT:
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno || end == s || *end) {
			snprintf(err, errlen, "%s must be an integer, not \"%s\"", d->name, s);
			return -1;
		}
		if (n < d->min || n > d->max) {
			snprintf(err, errlen, "%s = %lld is out of range [%lld, %lld]",
			    d->name, n, d->min, d->max);
			return -1;
		}
		v->i = n;
		return 0;
	case FS_T_STR:
		free(v->s);
		return (v->s = strdup(s)) ? 0 : -1;
	case FS_T_LIST:
		fs_value_free(v, id);
		return fs_list_from_csv(v, s);
	case FS_T_ENUM:
		for (int i = 0; d->enum_names[i]; i++)
			if (strcmp(d->enum_names[i], s) == 0) {
				v->i = i;
				return 0;
			}
		{
			char choices[256] = "";
			for (int i = 0; d->enum_names[i]; i++)
				snprintf(choices + strlen(choices),
				    sizeof(choices) - strlen(choices), "%s%s",
				    i ? ", " : "", d->enum_names[i]);
			snprintf(err, errlen, "%s must be one of %s, not \"%s\"",
			    d->name, choices, s);
		}
		return -1;
	}
	return -1;
}

int
fs_copy(struct fs_value *dst, const struct fs_value *src, int id)
{
	fs_value_free(dst, id);
	dst->i = src->i;
	dst->line = src->line;
	if (src->s && (dst->s = strdup(src->s)) == NULL)
		return -1;
	for (size_t i = 0; i < src->nlist; i++)
		if (fs_list_append(dst, src->list[i]) == -1)
			return -1;
	return 0;
}

/* Human and IPC form of a value; lists are comma-joined. */
void
fs_format(const struct fs_value *v, int id, char *buf, size_t len)
{
	const struct fs_def *d = &fs_defs[id];

	buf[0] = '\0';
	switch (d->type) {
	case FS_T_BOOL:
		snprintf(buf, len, "%s", v->i ? "true" : "false");
		break;
	case FS_T_INT:
		snprintf(buf, len, "%lld", v->i);
		break;
	case FS_T_STR:
		snprintf(buf, len, "%s", v->s ? v->s : "");
		break;
	case FS_T_ENUM:
		snprintf(buf, len, "%s", d->enum_names[v->i]);
		break;
	case FS_T_LIST:
		for (size_t i = 0; i < v->nlist; i++)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			    i ? "," : "", v->list[i]);
		break;
	}
}

void
km_flow_init_defaults(struct km_flow *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < FS__COUNT; i++)
		fs_set_default(&f->v[i], i);
}

void
km_flow_free(struct km_flow *f)
{
	free(f->name);
	free(f->source);
	free(f->target);
	for (int i = 0; i < FS__COUNT; i++)
		fs_value_free(&f->v[i], i);
	memset(f, 0, sizeof(*f));
}

static void
km_props_free(struct km_props *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		if (p->v[i].val)
			explicit_bzero(p->v[i].val, strlen(p->v[i].val));
		free(p->v[i].val);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void
km_cluster_free(struct km_cluster *c)
{
	free(c->alias);
	for (int s = 0; s < KM_SCOPE__COUNT; s++)
		km_props_free(&c->props[s]);
	memset(c, 0, sizeof(*c));
}

/* Add or replace a property. */
int
km_props_add(struct km_props *p, const char *key, const char *val, int secret,
    int line)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0) {
			char *nv = strdup(val);
			if (nv == NULL)
				return -1;
			free(p->v[i].val);
			p->v[i].val = nv;
			p->v[i].secret = secret || km_prop_is_secret_key(key);
			p->v[i].line = line;
			return 0;
		}
	struct km_prop *nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	p->v = nv;
	nv[p->n].key = strdup(key);
	nv[p->n].val = strdup(val);
	nv[p->n].secret = secret || km_prop_is_secret_key(key);
	nv[p->n].line = line;
	if (!nv[p->n].key || !nv[p->n].val)
		return -1;
	p->n++;
	return 0;
}

const char *
km_props_get(const struct km_props *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return p->v[i].val;
	return NULL;
}

/* Keys whose values are never printed. */
int
km_prop_is_secret_key(const char *key)
{
	static const char *const marks[] = { "password", "secret", "sasl.jaas",
	    "oauthbearer.config", "ssl.key.pem", "private", "credential", NULL };
	for (int i = 0; marks[i]; i++)
		if (strstr(key, marks[i]))
			return 1;
	return 0;
}

static int
flowconf_put_cluster(struct evbuffer *b, const char *side,
    const struct km_cluster *c)
{
	char key[KVL_KEY_MAX + 1];

	snprintf(key, sizeof(key), "%s.alias", side);
	if (kvl_put(b, key, c->alias) == -1)
		return -1;
	for (int s = 0; s < KM_SCOPE__COUNT; s++)
		for (size_t i = 0; i < c->props[s].n; i++) {
			const struct km_prop *p = &c->props[s].v[i];
			int n = snprintf(key, sizeof(key), "%s.%s%s.%s", side,
			    p->secret ? "!" : "", km_scope_names[s], p->key);
			if (n < 0 || (size_t)n >= sizeof(key) ||
			    kvl_put(b, key, p->val) == -1)
				return -1;
		}
	return 0;
}

/* Encode what a worker needs; the same bytes serve as the flow's
 * fingerprint when a reload decides whether a flow changed. */
int
flowconf_encode(struct evbuffer *b, const struct km_flow *f,
    const struct km_cluster *src, const struct km_cluster *dst,
    const struct km_worker_globals *g)
{
	char val[8192], key[128];

	if (kvl_put(b, "flow.name", f->name) == -1)
		return -1;
	for (int i = 0; i < FS__COUNT; i++) {
		snprintf(key, sizeof(key), "flow.%s", fs_defs[i].name);
		if (fs_defs[i].type == FS_T_LIST) {
			/* one item per key: regexes may hold commas */
			if (kvl_put(b, key, "") == -1)
				return -1;
			for (size_t j = 0; j < f->v[i].nlist; j++)
				if (kvl_put(b, key, f->v[i].list[j]) == -1)
					return -1;
			continue;
		}
		fs_format(&f->v[i], i, val, sizeof(val));
		if (kvl_put(b, key, val) == -1)
			return -1;
	}
	if (flowconf_put_cluster(b, "source", src) == -1 ||
	    flowconf_put_cluster(b, "target", dst) == -1)
		return -1;
	if (g) {
		if (kvl_putf(b, "global.status_interval_ms", "%d", g->status_interval_ms) == -1 ||
		    kvl_putf(b, "global.log_level", "%d", g->log_level) == -1 ||
		    kvl_putf(b, "global.log_target", "%d", g->log_target) == -1 ||
		    kvl_putf(b, "global.log_json", "%d", g->log_json) == -1 ||
		    kvl_put(b, "global.log_file", g->log_file ? g->log_file : "") == -1 ||
		    kvl_put(b, "global.instance_id", g->instance_id ? g->instance_id : "") == -1)
			return -1;
	}
	return 0;
}

/* Decode one "source.<scope>.<key>" item into a cluster. */
static int
flowconf_take_cluster_item(struct km_cluster *c, const char *rest,
    const char *val)
{
	int secret = 0;

	if (strcmp(rest, "alias") == 0)
		return (c->alias = strdup(val)) ? 0 : -1;
	if (*rest == '!') {
		secret = 1;
		rest++;
	}
	for (int s = 0; s < KM_SCOPE__COUNT; s++) {
		size_t n = strlen(km_scope_names[s]);
		if (strncmp(rest, km_scope_names[s], n) == 0 && rest[n] == '.' && rest[n + 1])
			return km_props_add(&c->props[s], rest + n + 1, val, secret, 0);
	}
	return -1;
}

int
flowconf_decode(const struct kvl *l, struct km_flow *f, struct km_cluster *src,
    struct km_cluster *dst, struct km_worker_globals *g, char *err, size_t errlen)
{
	long long n;

	err[0] = '\0';
	km_flow_init_defaults(f);
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < l->n; i++) {
		const char *k = l->items[i].key, *v = l->items[i].val;
		int r = -1;
		if (strcmp(k, "flow.name") == 0) {
			free(f->name);
			r = (f->name = strdup(v)) ? 0 : -1;
		} else if (strncmp(k, "flow.", 5) == 0) {
			int id = fs_lookup(k + 5);
			if (id < 0)
				r = -1;
			else if (fs_defs[id].type == FS_T_LIST) {
				if (*v == '\0') {
					fs_value_free(&f->v[id], id);
					r = 0;
				} else
					r = fs_list_append(&f->v[id], v);
			} else
				r = fs_set_from_string(&f->v[id], id, v, err, errlen);
		} else if (strncmp(k, "source.", 7) == 0)
			r = flowconf_take_cluster_item(src, k + 7, v);
		else if (strncmp(k, "target.", 7) == 0)
			r = flowconf_take_cluster_item(dst, k + 7, v);
		else if (strncmp(k, "global.", 7) == 0) {
			if (strcmp(k, "global.log_file") == 0)
				r = (g->log_file = strdup(v)) ? 0 : -1;
			else if (strcmp(k, "global.instance_id") == 0)
				r = (g->instance_id = strdup(v)) ? 0 : -1;
			else if (kvl_get_ll(l, k, &n) == 0) {
				r = 0;
				if (strcmp(k, "global.status_interval_ms") == 0)
					g->status_interval_ms = (int)n;
				else if (strcmp(k, "global.log_level") == 0)
					g->log_level = (int)n;
				else if (strcmp(k, "global.log_target") == 0)
					g->log_target = (int)n;
				else if (strcmp(k, "global.log_json") == 0)
					g->log_json = (int)n;
				else
					r = -1;
			}
		}
		if (r == -1) {
			if (err[0] == '\0' || strstr(err, k) == NULL)
				snprintf(err, errlen, "bad CONFIG item \"%s\"", k);
			return -1;
		}
	}
	if (f->name == NULL || src->alias == NULL || dst->alias == NULL) {
		snprintf(err, errlen, "CONFIG lacks the flow name or a cluster alias");
		return -1;
	}
	f->source = strdup(src->alias);
	f->target = strdup(dst->alias);
	return 0;
}

int
km_flow_source_workers(const struct km_flow *f)
{
	long long tasks = FLOW_INT(f, FS_TASKS), workers = FLOW_INT(f, FS_SOURCE_WORKERS);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (workers <= 0)
		workers = cpus > 0 && cpus < tasks ? cpus : tasks;
	if (workers > tasks)
		workers = tasks;
	return workers > 0 ? (int)workers : 1;
}

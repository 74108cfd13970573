/*
 * policy.h: MM2's ReplicationPolicy: how remote topics are named and how
 * a topic's provenance is read back from its name.
 *
 *   KM_POLICY_DEFAULT   DefaultReplicationPolicy: "orders" from cluster A
 *                       is "A<sep>orders" on the target.
 *   KM_POLICY_IDENTITY  IdentityReplicationPolicy: names are kept, except
 *                       names ending in "heartbeats", which are prefixed
 *                       as by the default policy.  Cannot detect cycles.
 *
 * The separator (replication.policy.separator, default ".") is X; the
 * internal-topic separator X' is X if internal_sep_enabled
 * (replication.policy.internal.topic.separator.enabled), else ".".
 *
 * Name producers write a NUL-terminated name into out (capacity cap) and
 * return its length, or -1 if it does not fit.  Java's nullable results
 * (topicSource, upstreamTopic) return 1 and write the name, 0 for null
 * (nothing written), or -1 if it does not fit; note a non-null source may
 * be the empty string (".t" has source "").  Predicates return 0 or 1.
 */
#ifndef KM_POLICY_H
#define KM_POLICY_H
#include <stddef.h>
#include <sys/types.h>

#include "flowconf.h"	/* enum km_policy_kind */
#include "mm2fmt.h"	/* MM2_ALIAS_MAX */

#define POLICY_SEPARATOR_DEFAULT	"."
#define POLICY_SEPARATOR_MAX		16	/* bytes, with the NUL */
#define POLICY_HEARTBEATS_TOPIC		"heartbeats"

struct km_policy {
	enum km_policy_kind	 kind;
	char			 separator[POLICY_SEPARATOR_MAX];
	int			 internal_sep_enabled;
	/* identity only: Java's source.cluster.alias, or unset */
	int			 has_source_alias;
	char			 source_alias[MM2_ALIAS_MAX];
};

/*
 * Set up a policy.  separator NULL means the key is absent (then "." and
 * the flag is moot, as in Java); an empty or too long separator or alias is
 * refused with -1.  source_alias (identity only, NULL = unset) is what
 * topicSource reports for non-heartbeat topics.
 */
int	policy_init(struct km_policy *p, enum km_policy_kind kind,
	    const char *separator, int internal_sep_enabled,
	    const char *source_alias);

/* Java class simple name of a kind, for logs. */
const char *policy_kind_name(enum km_policy_kind kind);
/* Parse "default"/"identity" or the (simple or fully qualified) Java class
 * name of a policy: 0, or -1 if unknown. */
int	policy_kind_parse(const char *name, enum km_policy_kind *kind);

/* formatRemoteTopic(sourceAlias, topic) */
ssize_t	policy_format_remote_topic(const struct km_policy *p,
	    const char *source_alias, const char *topic, char *out, size_t cap);
/* topicSource(topic): 1 (alias in out), 0 (null) or -1 */
int	policy_topic_source(const struct km_policy *p, const char *topic,
	    char *out, size_t cap);
/* upstreamTopic(topic): 1 (name in out), 0 (null) or -1 */
int	policy_upstream_topic(const struct km_policy *p, const char *topic,
	    char *out, size_t cap);
/* originalTopic(topic): upstreamTopic repeated until null or unchanged */
ssize_t	policy_original_topic(const struct km_policy *p, const char *topic,
	    char *out, size_t cap);

/* heartbeatsTopic(): "heartbeats" */
ssize_t	policy_heartbeats_topic(const struct km_policy *p, char *out,
	    size_t cap);
/* offsetSyncsTopic(alias): "mm2-offset-syncs" X' alias X' "internal" */
ssize_t	policy_offset_syncs_topic(const struct km_policy *p,
	    const char *alias, char *out, size_t cap);
/* checkpointsTopic(alias): alias X' "checkpoints" X' "internal" */
ssize_t	policy_checkpoints_topic(const struct km_policy *p,
	    const char *alias, char *out, size_t cap);

/* originalTopic(topic) is "heartbeats" */
int	policy_is_heartbeats_topic(const struct km_policy *p,
	    const char *topic);
/* ends with X' "checkpoints" X' "internal" */
int	policy_is_checkpoints_topic(const struct km_policy *p,
	    const char *topic);
/* ends with X' "internal" */
int	policy_is_mm2_internal_topic(const struct km_policy *p,
	    const char *topic);
/* MM2-internal, or starts with "__" or ".", or ends with "-internal" or
 * ".internal": never replicated */
int	policy_is_internal_topic(const struct km_policy *p, const char *topic);

/*
 * MirrorSourceConnector.isCycle for a flow whose target is target_alias:
 * 1 if some cluster in the topic's prefix chain is the target.  Always 0
 * under identity for non-heartbeat topics (unless source == target).
 */
int	policy_is_cycle(const struct km_policy *p, const char *target_alias,
	    const char *topic);

/*
 * MM2's own rules for replicating `topic` in flow source_alias ->
 * target_alias, without the user's topic filter: not an internal topic and
 * not a cycle.  source_alias is what MM2 configures into the policy as
 * source.cluster.alias, so for identity it overrides p->source_alias
 * (NULL keeps it).
 */
int	policy_should_replicate_topic(const struct km_policy *p,
	    const char *source_alias, const char *target_alias,
	    const char *topic);

/*
 * The whole of MirrorSourceConnector.shouldReplicateTopic: (the topic
 * filter accepts it, or heartbeats replication is enabled and it is a
 * heartbeats topic) and policy_should_replicate_topic().
 */
int	policy_should_replicate_topic_filtered(const struct km_policy *p,
	    const char *source_alias, const char *target_alias,
	    const char *topic, int filter_accepts,
	    int heartbeats_replication_enabled);

#endif

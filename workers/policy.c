/*
 * policy.c: DefaultReplicationPolicy and IdentityReplicationPolicy.
 *
 * Every upstream name is a suffix of the topic name (the default policy
 * strips "<source>X"; identity returns the name itself), so the walks
 * below (originalTopic, isCycle) run on pointers into the caller's string
 * and need no buffers.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy.h"

static const char *const policy_kind_names[] = {
	[KM_POLICY_DEFAULT] = "DefaultReplicationPolicy",
	[KM_POLICY_IDENTITY] = "IdentityReplicationPolicy",
};

#define POLICY_JAVA_PACKAGE	"org.apache.kafka.connect.mirror."

/* The separator MM2 uses inside internal topic names (X'). */
static const char *
policy_internal_sep(const struct km_policy *p)
{
	return p->internal_sep_enabled ? p->separator : ".";
}

static int
policy_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Copy a built name out; its length, or -1 if it does not fit cap. */
static ssize_t
policy_put(char *out, size_t cap, const char *a, size_t alen, const char *b,
    const char *c, const char *d, const char *e)
{
	size_t bl = strlen(b), cl = strlen(c), dl = strlen(d), el = strlen(e);
	size_t n = alen + bl + cl + dl + el;

	if (out == NULL || n >= cap)
		return -1;
	memcpy(out, a, alen);
	memcpy(out + alen, b, bl);
	memcpy(out + alen + bl, c, cl);
	memcpy(out + alen + bl + cl, d, dl);
	memcpy(out + alen + bl + cl + dl, e, el);
	out[n] = '\0';
	return (ssize_t)n;
}

/* Fill in a policy from MM2's three settings; -1 on a bad value. */
int
policy_init(struct km_policy *p, enum km_policy_kind kind,
    const char *separator, int internal_sep_enabled, const char *source_alias)
{
	memset(p, 0, sizeof(*p));
	if (kind != KM_POLICY_DEFAULT && kind != KM_POLICY_IDENTITY)
		return -1;
	p->kind = kind;
	if (separator == NULL) {
		/* Java reads the flag only with an explicit separator; with
		 * "." both settings give the same names anyway. */
		separator = POLICY_SEPARATOR_DEFAULT;
		internal_sep_enabled = 1;
	}
	if (separator[0] == '\0' || strlen(separator) >= sizeof(p->separator))
		return -1;
	strcpy(p->separator, separator);
	p->internal_sep_enabled = internal_sep_enabled != 0;
	if (source_alias != NULL) {
		if (strlen(source_alias) >= sizeof(p->source_alias))
			return -1;
		strcpy(p->source_alias, source_alias);
		p->has_source_alias = 1;
	}
	return 0;
}

const char *
policy_kind_name(enum km_policy_kind kind)
{
	if ((unsigned)kind >= sizeof(policy_kind_names) /
	    sizeof(policy_kind_names[0]))
		return "unknown";
	return policy_kind_names[kind];
}

/* Accept our short names and MM2's class names (replication.policy.class). */
int
policy_kind_parse(const char *name, enum km_policy_kind *kind)
{
	size_t pl = strlen(POLICY_JAVA_PACKAGE);

	if (name == NULL)
		return -1;
	if (strncmp(name, POLICY_JAVA_PACKAGE, pl) == 0)
		name += pl;
	if (strcasecmp(name, "default") == 0 ||
	    strcmp(name, policy_kind_names[KM_POLICY_DEFAULT]) == 0)
		*kind = KM_POLICY_DEFAULT;
	else if (strcasecmp(name, "identity") == 0 ||
	    strcmp(name, policy_kind_names[KM_POLICY_IDENTITY]) == 0)
		*kind = KM_POLICY_IDENTITY;
	else
		return -1;
	return 0;
}

/* IdentityReplicationPolicy's special case: names ending in "heartbeats". */
static int
policy_identity_heartbeat_like(const struct km_policy *p, const char *topic)
{
	return p->kind == KM_POLICY_IDENTITY &&
	    policy_ends_with(topic, POLICY_HEARTBEATS_TOPIC);
}

/*
 * DefaultReplicationPolicy.topicSource: Java splits the name on the literal
 * separator X (String.split: trailing empty parts dropped) and takes part 0
 * if at least two parts remain.  Equivalently: remote iff X occurs and what
 * follows the first X is not just X repeated.  Sets *srclen to the length
 * of the source prefix (possibly 0).
 */
static int
policy_default_source(const struct km_policy *p, const char *topic,
    size_t *srclen)
{
	const char *x = p->separator, *first, *rest;
	size_t xl = strlen(x);

	if ((first = strstr(topic, x)) == NULL)
		return 0;
	for (rest = first + xl; strncmp(rest, x, xl) == 0; rest += xl)
		;
	if (*rest == '\0')
		return 0;
	*srclen = (size_t)(first - topic);
	return 1;
}

/*
 * topicSource as a (pointer, length) pair; ident is the identity policy's
 * source.cluster.alias (NULL if unset).  0 means Java's null.
 */
static int
policy_source(const struct km_policy *p, const char *ident, const char *topic,
    const char **src, size_t *srclen)
{
	if (p->kind == KM_POLICY_IDENTITY &&
	    !policy_identity_heartbeat_like(p, topic)) {
		if (ident == NULL)
			return 0;
		*src = ident;
		*srclen = strlen(ident);
		return 1;
	}
	if (!policy_default_source(p, topic, srclen))
		return 0;
	*src = topic;
	return 1;
}

/* upstreamTopic as a suffix of topic, or NULL for Java's null. */
static const char *
policy_upstream(const struct km_policy *p, const char *topic)
{
	size_t srclen;

	if (p->kind == KM_POLICY_IDENTITY &&
	    !policy_identity_heartbeat_like(p, topic))
		return topic;
	if (!policy_default_source(p, topic, &srclen))
		return NULL;
	return topic + srclen + strlen(p->separator);
}

/* originalTopic: follow upstreamTopic until null or unchanged. */
static const char *
policy_original(const struct km_policy *p, const char *topic)
{
	const char *up;

	while ((up = policy_upstream(p, topic)) != NULL &&
	    strcmp(up, topic) != 0)
		topic = up;
	return topic;
}

/* The identity alias the struct holds, or NULL. */
static const char *
policy_ident(const struct km_policy *p)
{
	return p->has_source_alias ? p->source_alias : NULL;
}

/* formatRemoteTopic; identity keeps every name not ending in heartbeats. */
ssize_t
policy_format_remote_topic(const struct km_policy *p, const char *source_alias,
    const char *topic, char *out, size_t cap)
{
	if (p->kind == KM_POLICY_IDENTITY &&
	    !policy_identity_heartbeat_like(p, topic))
		return policy_put(out, cap, topic, strlen(topic), "", "", "",
		    "");
	return policy_put(out, cap, source_alias, strlen(source_alias),
	    p->separator, topic, "", "");
}

int
policy_topic_source(const struct km_policy *p, const char *topic, char *out,
    size_t cap)
{
	const char *src;
	size_t len;

	if (!policy_source(p, policy_ident(p), topic, &src, &len))
		return 0;
	return policy_put(out, cap, src, len, "", "", "", "") == -1 ? -1 : 1;
}

int
policy_upstream_topic(const struct km_policy *p, const char *topic, char *out,
    size_t cap)
{
	const char *up;

	if ((up = policy_upstream(p, topic)) == NULL)
		return 0;
	return policy_put(out, cap, up, strlen(up), "", "", "", "") == -1 ?
	    -1 : 1;
}

ssize_t
policy_original_topic(const struct km_policy *p, const char *topic, char *out,
    size_t cap)
{
	const char *o = policy_original(p, topic);

	return policy_put(out, cap, o, strlen(o), "", "", "", "");
}

ssize_t
policy_heartbeats_topic(const struct km_policy *p, char *out, size_t cap)
{
	(void)p;
	return policy_put(out, cap, POLICY_HEARTBEATS_TOPIC,
	    strlen(POLICY_HEARTBEATS_TOPIC), "", "", "", "");
}

ssize_t
policy_offset_syncs_topic(const struct km_policy *p, const char *alias,
    char *out, size_t cap)
{
	const char *xs = policy_internal_sep(p);

	return policy_put(out, cap, "mm2-offset-syncs", 16, xs, alias, xs,
	    "internal");
}

ssize_t
policy_checkpoints_topic(const struct km_policy *p, const char *alias,
    char *out, size_t cap)
{
	const char *xs = policy_internal_sep(p);

	return policy_put(out, cap, alias, strlen(alias), xs, "checkpoints", xs,
	    "internal");
}

int
policy_is_heartbeats_topic(const struct km_policy *p, const char *topic)
{
	return strcmp(policy_original(p, topic), POLICY_HEARTBEATS_TOPIC) == 0;
}

int
policy_is_checkpoints_topic(const struct km_policy *p, const char *topic)
{
	char suffix[2 * POLICY_SEPARATOR_MAX + 32];
	const char *xs = policy_internal_sep(p);

	snprintf(suffix, sizeof(suffix), "%scheckpoints%sinternal", xs, xs);
	return policy_ends_with(topic, suffix);
}

int
policy_is_mm2_internal_topic(const struct km_policy *p, const char *topic)
{
	char suffix[POLICY_SEPARATOR_MAX + 16];

	snprintf(suffix, sizeof(suffix), "%sinternal", policy_internal_sep(p));
	return policy_ends_with(topic, suffix);
}

/* ReplicationPolicy.isInternalTopic: Kafka's, Connect's and MM2's topics. */
int
policy_is_internal_topic(const struct km_policy *p, const char *topic)
{
	return policy_is_mm2_internal_topic(p, topic) ||
	    strncmp(topic, "__", 2) == 0 || topic[0] == '.' ||
	    policy_ends_with(topic, "-internal") ||
	    policy_ends_with(topic, ".internal");
}

/*
 * MirrorSourceConnector.isCycle, iteratively: walk the prefix chain; a
 * cycle if some hop's source is the target; stop when the topic is not
 * remote or upstreamTopic no longer changes it (identity).
 */
static int
policy_cycle(const struct km_policy *p, const char *ident,
    const char *target_alias, const char *topic)
{
	const char *src, *up;
	size_t len, tl = strlen(target_alias);

	for (;;) {
		if (!policy_source(p, ident, topic, &src, &len))
			return 0;
		if (len == tl && memcmp(src, target_alias, tl) == 0)
			return 1;
		up = policy_upstream(p, topic);
		if (up == NULL || strcmp(up, topic) == 0)
			return 0;
		topic = up;
	}
}

int
policy_is_cycle(const struct km_policy *p, const char *target_alias,
    const char *topic)
{
	return policy_cycle(p, policy_ident(p), target_alias, topic);
}

/* Not internal and not a cycle, with MM2's source.cluster.alias. */
int
policy_should_replicate_topic(const struct km_policy *p,
    const char *source_alias, const char *target_alias, const char *topic)
{
	const char *ident = source_alias != NULL ? source_alias :
	    policy_ident(p);

	return !policy_is_internal_topic(p, topic) &&
	    !policy_cycle(p, ident, target_alias, topic);
}

int
policy_should_replicate_topic_filtered(const struct km_policy *p,
    const char *source_alias, const char *target_alias, const char *topic,
    int filter_accepts, int heartbeats_replication_enabled)
{
	if (!filter_accepts && !(heartbeats_replication_enabled &&
	    policy_is_heartbeats_topic(p, topic)))
		return 0;
	return policy_should_replicate_topic(p, source_alias, target_alias,
	    topic);
}

/*
 * test_policy.c: DefaultReplicationPolicy and IdentityReplicationPolicy
 * against every edge case of mm2-facts.md §2.1-§2.4.
 */
#include <string.h>

#include "t.h"
#include "policy.h"

static char buf[512];

/* topicSource as a string for easy checks: "(null)" for Java's null. */
static const char *
src(const struct km_policy *p, const char *topic)
{
	int rc = policy_topic_source(p, topic, buf, sizeof(buf));

	return rc == 1 ? buf : rc == 0 ? "(null)" : "(error)";
}

static const char *
up(const struct km_policy *p, const char *topic)
{
	int rc = policy_upstream_topic(p, topic, buf, sizeof(buf));

	return rc == 1 ? buf : rc == 0 ? "(null)" : "(error)";
}

static const char *
orig(const struct km_policy *p, const char *topic)
{
	return policy_original_topic(p, topic, buf, sizeof(buf)) >= 0 ? buf :
	    "(error)";
}

static const char *
remote(const struct km_policy *p, const char *alias, const char *topic)
{
	return policy_format_remote_topic(p, alias, topic, buf,
	    sizeof(buf)) >= 0 ? buf : "(error)";
}

static const char *
syncs(const struct km_policy *p, const char *alias)
{
	return policy_offset_syncs_topic(p, alias, buf, sizeof(buf)) >= 0 ?
	    buf : "(error)";
}

static const char *
ckpts(const struct km_policy *p, const char *alias)
{
	return policy_checkpoints_topic(p, alias, buf, sizeof(buf)) >= 0 ?
	    buf : "(error)";
}

static void
test_init(void)
{
	struct km_policy p;
	char alias[MM2_ALIAS_MAX + 1];

	T_EQ_INT(policy_init(&p, KM_POLICY_DEFAULT, NULL, 0, NULL), 0);
	T_EQ_STR(p.separator, ".");
	T_EQ_INT(p.internal_sep_enabled, 1);
	T_EQ_INT(p.has_source_alias, 0);
	T_EQ_INT(policy_init(&p, KM_POLICY_DEFAULT, "", 1, NULL), -1);
	T_EQ_INT(policy_init(&p, KM_POLICY_DEFAULT, "0123456789abcdef", 1,
	    NULL), -1);
	T_EQ_INT(policy_init(&p, KM_POLICY_DEFAULT, "0123456789abcde", 1,
	    NULL), 0);
	T_EQ_INT(policy_init(&p, (enum km_policy_kind)7, ".", 1, NULL), -1);
	memset(alias, 'a', MM2_ALIAS_MAX);
	alias[MM2_ALIAS_MAX] = '\0';
	T_EQ_INT(policy_init(&p, KM_POLICY_IDENTITY, ".", 1, alias), -1);
	alias[MM2_ALIAS_MAX - 1] = '\0';
	T_EQ_INT(policy_init(&p, KM_POLICY_IDENTITY, ".", 1, alias), 0);
	T_EQ_INT(policy_init(&p, KM_POLICY_IDENTITY, ".", 1, ""), 0);
	T_EQ_INT(p.has_source_alias, 1);
}

static void
test_kind_names(void)
{
	enum km_policy_kind k = KM_POLICY_IDENTITY;

	T_EQ_STR(policy_kind_name(KM_POLICY_DEFAULT), "DefaultReplicationPolicy");
	T_EQ_STR(policy_kind_name(KM_POLICY_IDENTITY),
	    "IdentityReplicationPolicy");
	T_EQ_STR(policy_kind_name((enum km_policy_kind)9), "unknown");
	T_EQ_INT(policy_kind_parse("default", &k), 0);
	T_EQ_INT(k, KM_POLICY_DEFAULT);
	T_EQ_INT(policy_kind_parse(
	    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy", &k), 0);
	T_EQ_INT(k, KM_POLICY_IDENTITY);
	T_EQ_INT(policy_kind_parse("DefaultReplicationPolicy", &k), 0);
	T_EQ_INT(k, KM_POLICY_DEFAULT);
	T_EQ_INT(policy_kind_parse("Identity", &k), 0);
	T_EQ_INT(k, KM_POLICY_IDENTITY);
	T_EQ_INT(policy_kind_parse("LegacyReplicationPolicy", &k), -1);
	T_EQ_INT(policy_kind_parse("com.example.DefaultReplicationPolicy", &k),
	    -1);
}

/* §2.2 formatRemoteTopic, topicSource, upstreamTopic with X = ".". */
static void
test_default_names(void)
{
	struct km_policy p;

	policy_init(&p, KM_POLICY_DEFAULT, NULL, 1, NULL);
	T_EQ_STR(remote(&p, "A", "orders"), "A.orders");
	T_EQ_STR(remote(&p, "B", "A.orders"), "B.A.orders");
	T_EQ_STR(remote(&p, "A", "heartbeats"), "A.heartbeats");

	/* the JVM-checked split edge cases */
	T_EQ_STR(src(&p, "t"), "(null)");
	T_EQ_STR(src(&p, "t."), "(null)");
	T_EQ_STR(src(&p, "t.."), "(null)");
	T_EQ_STR(src(&p, ".t"), "");
	T_EQ_STR(src(&p, "a..b"), "a");
	T_EQ_STR(src(&p, ".."), "(null)");
	T_EQ_STR(src(&p, "."), "(null)");
	T_EQ_STR(src(&p, ""), "(null)");
	T_EQ_STR(src(&p, "a.b.c"), "a");
	T_EQ_STR(src(&p, "a.b."), "a");
	T_EQ_STR(src(&p, "A.orders"), "A");
	T_EQ_STR(src(&p, "orders"), "(null)");

	T_EQ_STR(up(&p, "t"), "(null)");
	T_EQ_STR(up(&p, "t."), "(null)");
	T_EQ_STR(up(&p, ".t"), "t");
	T_EQ_STR(up(&p, "a..b"), ".b");
	T_EQ_STR(up(&p, ".."), "(null)");
	T_EQ_STR(up(&p, "a.b.c"), "b.c");
	T_EQ_STR(up(&p, "a.b."), "b.");
	T_EQ_STR(up(&p, "B.A.orders"), "A.orders");

	T_EQ_STR(orig(&p, "B.A.orders"), "orders");
	T_EQ_STR(orig(&p, "orders"), "orders");
	T_EQ_STR(orig(&p, "a..b"), "b");	/* a..b -> .b -> b */
	T_EQ_STR(orig(&p, "t."), "t.");
	T_EQ_STR(orig(&p, "C.B.A.heartbeats"), "heartbeats");

	/* an alias containing X breaks parsing (§2.2 derived consequence) */
	T_EQ_STR(remote(&p, "us.west", "t"), "us.west.t");
	T_EQ_STR(src(&p, "us.west.t"), "us");
	T_EQ_STR(up(&p, "us.west.t"), "west.t");

	/* the output buffer bound */
	T_EQ_INT(policy_topic_source(&p, "abc.d", buf, 3), -1);
	T_EQ_INT(policy_topic_source(&p, "abc.d", buf, 4), 1);
	T_EQ_STR(buf, "abc");
	T_EQ_INT(policy_topic_source(&p, "abc", buf, 0), 0);
	T_EQ_INT(policy_format_remote_topic(&p, "A", "t", buf, 3), -1);
	T_EQ_INT(policy_format_remote_topic(&p, "A", "t", buf, 4), 3);
	T_EQ_INT(policy_original_topic(&p, "A.orders", buf, 6), -1);
	T_EQ_INT(policy_original_topic(&p, "A.orders", buf, 7), 6);
	T_EQ_INT(policy_upstream_topic(&p, "A.orders", buf, 6), -1);
	T_EQ_INT(policy_heartbeats_topic(&p, buf, 10), -1);
	T_EQ_INT(policy_heartbeats_topic(&p, buf, 11), 10);
	T_EQ_STR(buf, "heartbeats");
	T_EQ_INT(policy_offset_syncs_topic(&p, "B", buf, 27), -1);
	T_EQ_INT(policy_offset_syncs_topic(&p, "B", buf, 28), 27);
}

/* §2.2 with custom separators "_" and "__". */
static void
test_custom_separator(void)
{
	struct km_policy p;

	policy_init(&p, KM_POLICY_DEFAULT, "_", 1, NULL);
	T_EQ_STR(remote(&p, "A", "orders"), "A_orders");
	T_EQ_STR(src(&p, "A_orders"), "A");
	T_EQ_STR(src(&p, "A.orders"), "(null)");
	T_EQ_STR(src(&p, "_confluent-foo"), "");
	T_EQ_STR(up(&p, "_confluent-foo"), "confluent-foo");
	T_EQ_STR(src(&p, "a_b_c"), "a");
	T_EQ_STR(up(&p, "B_A_orders"), "A_orders");
	T_EQ_STR(orig(&p, "B_A_orders"), "orders");
	T_EQ_STR(src(&p, "t__"), "(null)");
	T_EQ_STR(orig(&p, "B_A_heartbeats"), "heartbeats");
	T_EQ_INT(policy_is_heartbeats_topic(&p, "B_A_heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "A.heartbeats"), 0);

	policy_init(&p, KM_POLICY_DEFAULT, "__", 1, NULL);
	T_EQ_STR(remote(&p, "A", "orders"), "A__orders");
	T_EQ_STR(src(&p, "A__orders"), "A");
	T_EQ_STR(src(&p, "A_orders"), "(null)");
	/* non-overlapping left-to-right matches, as String.split */
	T_EQ_STR(src(&p, "a___b"), "a");
	T_EQ_STR(up(&p, "a___b"), "_b");
	T_EQ_STR(src(&p, "a____b"), "a");
	T_EQ_STR(up(&p, "a____b"), "__b");
	T_EQ_STR(src(&p, "a____"), "(null)");
	T_EQ_STR(src(&p, "a___"), "a");		/* ["a", "_"] */
	T_EQ_STR(up(&p, "a___"), "_");
	T_EQ_STR(src(&p, "__consumer_offsets"), "");
	T_EQ_STR(up(&p, "__consumer_offsets"), "consumer_offsets");
	T_EQ_STR(orig(&p, "C__B__x"), "x");

	/* a multi-character separator that overlaps itself */
	policy_init(&p, KM_POLICY_DEFAULT, "aba", 1, NULL);
	T_EQ_STR(src(&p, "xababay"), "x");	/* x|aba|bay */
	T_EQ_STR(up(&p, "xababay"), "bay");
	T_EQ_STR(src(&p, "xabaaba"), "(null)");	/* x|aba|aba| */
	T_EQ_STR(src(&p, "xabaab"), "x");
}

/* §1.6/§2.2 internal topic names, the separator flag and its history. */
static void
test_internal_names(void)
{
	struct km_policy p;

	policy_init(&p, KM_POLICY_DEFAULT, NULL, 1, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs.B.internal");
	T_EQ_STR(ckpts(&p, "A"), "A.checkpoints.internal");
	T_EQ_STR((policy_heartbeats_topic(&p, buf, sizeof(buf)), buf),
	    "heartbeats");

	/* flag on: the custom separator is used */
	policy_init(&p, KM_POLICY_DEFAULT, "_", 1, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs_B_internal");
	T_EQ_STR(ckpts(&p, "A"), "A_checkpoints_internal");
	T_EQ_STR((policy_heartbeats_topic(&p, buf, sizeof(buf)), buf),
	    "heartbeats");
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A_checkpoints_internal"), 1);
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A.checkpoints.internal"), 0);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "mm2-offset-syncs_B_internal"),
	    1);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "A.internal"), 0);

	policy_init(&p, KM_POLICY_DEFAULT, "__", 1, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs__B__internal");
	T_EQ_STR(ckpts(&p, "A"), "A__checkpoints__internal");
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A__checkpoints__internal"), 1);
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A_checkpoints_internal"), 0);

	/* flag off: pre-3.1 names with "." */
	policy_init(&p, KM_POLICY_DEFAULT, "_", 0, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs.B.internal");
	T_EQ_STR(ckpts(&p, "A"), "A.checkpoints.internal");
	T_EQ_STR(remote(&p, "A", "orders"), "A_orders");	/* data: still _ */
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A.checkpoints.internal"), 1);
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A_checkpoints_internal"), 0);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "x.internal"), 1);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "x_internal"), 0);

	/* flag without an explicit separator: ignored, and "." either way */
	policy_init(&p, KM_POLICY_DEFAULT, NULL, 0, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs.B.internal");
	T_EQ_STR(ckpts(&p, "A"), "A.checkpoints.internal");
	policy_init(&p, KM_POLICY_DEFAULT, ".", 0, NULL);
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs.B.internal");

	/* identity inherits the internal names */
	policy_init(&p, KM_POLICY_IDENTITY, "_", 1, "A");
	T_EQ_STR(syncs(&p, "B"), "mm2-offset-syncs_B_internal");
	T_EQ_STR(ckpts(&p, "A"), "A_checkpoints_internal");
}

/* §2.1 isHeartbeatsTopic, isCheckpointsTopic, isMM2InternalTopic,
 * isInternalTopic with the default separator. */
static void
test_predicates(void)
{
	struct km_policy p, u;

	policy_init(&p, KM_POLICY_DEFAULT, NULL, 1, NULL);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "A.heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "B.A.heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "myheartbeats"), 0);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "heartbeats.x"), 0);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "A.heartbeats.x"), 0);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "heartbeats."), 0);
	T_EQ_INT(policy_is_heartbeats_topic(&p, ".heartbeats"), 1);

	T_EQ_INT(policy_is_checkpoints_topic(&p, "A.checkpoints.internal"), 1);
	T_EQ_INT(policy_is_checkpoints_topic(&p, ".checkpoints.internal"), 1);
	T_EQ_INT(policy_is_checkpoints_topic(&p, "checkpoints.internal"), 0);
	T_EQ_INT(policy_is_checkpoints_topic(&p, "A.checkpoints.internal.x"),
	    0);

	T_EQ_INT(policy_is_mm2_internal_topic(&p, "A.checkpoints.internal"), 1);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "mm2-offset-syncs.B.internal"),
	    1);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "mm2-configs.A.internal"), 1);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "x-internal"), 0);
	T_EQ_INT(policy_is_mm2_internal_topic(&p, "internal"), 0);

	T_EQ_INT(policy_is_internal_topic(&p, "__consumer_offsets"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "__transaction_state"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "_confluent-foo"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "_schemas"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, ".hidden"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "connect-offsets-internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "x.internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "A.checkpoints.internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "mm2-offset-syncs.B.internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&p, "heartbeats"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "A.heartbeats"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "orders"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "x.internals"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "x_internal"), 0);
	T_EQ_INT(policy_is_internal_topic(&p, "_"), 0);

	/* with X = "_": "_internal" joins the list; ".internal" stays */
	policy_init(&u, KM_POLICY_DEFAULT, "_", 1, NULL);
	T_EQ_INT(policy_is_internal_topic(&u, "x_internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&u, "x.internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&u, "x-internal"), 1);
	T_EQ_INT(policy_is_internal_topic(&u, "_confluent-foo"), 0);
	T_EQ_INT(policy_is_internal_topic(&u, "__confluent-foo"), 1);
}

/* §2.3 IdentityReplicationPolicy. */
static void
test_identity(void)
{
	struct km_policy p, n;

	policy_init(&p, KM_POLICY_IDENTITY, NULL, 1, "A");
	policy_init(&n, KM_POLICY_IDENTITY, NULL, 1, NULL);

	T_EQ_STR(remote(&p, "A", "orders"), "orders");
	T_EQ_STR(remote(&p, "A", "B.orders"), "B.orders");
	T_EQ_STR(remote(&p, "A", "heartbeats"), "A.heartbeats");
	T_EQ_STR(remote(&p, "B", "A.heartbeats"), "B.A.heartbeats");
	/* endsWith, not equals */
	T_EQ_STR(remote(&p, "A", "myheartbeats"), "A.myheartbeats");
	T_EQ_STR(remote(&p, "A", "heartbeats2"), "heartbeats2");

	/* topicSource: the configured alias, or null when unset */
	T_EQ_STR(src(&p, "orders"), "A");
	T_EQ_STR(src(&p, "B.orders"), "A");
	T_EQ_STR(src(&n, "orders"), "(null)");
	T_EQ_STR(src(&n, "B.orders"), "(null)");
	/* heartbeat-like names are parsed as by the default policy */
	T_EQ_STR(src(&p, "B.heartbeats"), "B");
	T_EQ_STR(src(&n, "B.heartbeats"), "B");
	T_EQ_STR(src(&p, "heartbeats"), "(null)");
	T_EQ_STR(src(&p, "myheartbeats"), "(null)");

	/* upstreamTopic returns the topic itself, so originalTopic stops */
	T_EQ_STR(up(&p, "orders"), "orders");
	T_EQ_STR(up(&n, "B.orders"), "B.orders");
	T_EQ_STR(orig(&p, "B.orders"), "B.orders");
	T_EQ_STR(up(&p, "B.A.heartbeats"), "A.heartbeats");
	T_EQ_STR(orig(&p, "B.A.heartbeats"), "heartbeats");
	T_EQ_STR(up(&p, "heartbeats"), "(null)");

	T_EQ_INT(policy_is_heartbeats_topic(&p, "heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "A.heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&n, "B.A.heartbeats"), 1);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "myheartbeats"), 0);
	T_EQ_INT(policy_is_heartbeats_topic(&p, "A.orders"), 0);

	/* custom separator applies to heartbeats only */
	policy_init(&p, KM_POLICY_IDENTITY, "_", 1, "A");
	T_EQ_STR(remote(&p, "A", "heartbeats"), "A_heartbeats");
	T_EQ_STR(remote(&p, "A", "x_y"), "x_y");
	T_EQ_STR(src(&p, "B_heartbeats"), "B");
	T_EQ_STR(src(&p, "B.heartbeats"), "(null)");
}

/* §2.4 isCycle. */
static void
test_cycles(void)
{
	struct km_policy p, u, id, idn;

	/* flow A->B: the target is B */
	policy_init(&p, KM_POLICY_DEFAULT, NULL, 1, NULL);
	T_EQ_INT(policy_is_cycle(&p, "B", "orders"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "B.orders"), 1);
	T_EQ_INT(policy_is_cycle(&p, "B", "C.B.x"), 1);
	T_EQ_INT(policy_is_cycle(&p, "B", "D.C.B.x"), 1);
	T_EQ_INT(policy_is_cycle(&p, "B", "C.x"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "C.D.x"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "A.orders"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "A.B"), 0);	/* B is the topic */
	T_EQ_INT(policy_is_cycle(&p, "B", "BB.x"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "b.x"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", ".B.x"), 1);	/* "" then B */
	T_EQ_INT(policy_is_cycle(&p, "B", "B."), 0);	/* not remote */
	T_EQ_INT(policy_is_cycle(&p, "B", "heartbeats"), 0);
	T_EQ_INT(policy_is_cycle(&p, "B", "B.heartbeats"), 1);
	T_EQ_INT(policy_is_cycle(&p, "B", "C.B.heartbeats"), 1);
	T_EQ_INT(policy_is_cycle(&p, "B", "A.heartbeats"), 0);
	/* the A.B.x family: A->B does not send A.B.x back, B->A neither */
	T_EQ_INT(policy_is_cycle(&p, "B", "A.B.x"), 1);
	T_EQ_INT(policy_is_cycle(&p, "A", "A.B.x"), 1);
	T_EQ_INT(policy_is_cycle(&p, "C", "A.B.x"), 0);
	/* the empty source of ".t" only equals an empty target */
	T_EQ_INT(policy_is_cycle(&p, "", ".t"), 1);

	policy_init(&u, KM_POLICY_DEFAULT, "_", 1, NULL);
	T_EQ_INT(policy_is_cycle(&u, "B", "B_orders"), 1);
	T_EQ_INT(policy_is_cycle(&u, "B", "C_B_orders"), 1);
	T_EQ_INT(policy_is_cycle(&u, "B", "B.orders"), 0);

	/* identity cannot see cycles, except through heartbeats */
	policy_init(&id, KM_POLICY_IDENTITY, NULL, 1, "A");
	policy_init(&idn, KM_POLICY_IDENTITY, NULL, 1, NULL);
	T_EQ_INT(policy_is_cycle(&id, "B", "orders"), 0);
	T_EQ_INT(policy_is_cycle(&id, "B", "B.orders"), 0);
	T_EQ_INT(policy_is_cycle(&idn, "B", "B.orders"), 0);
	T_EQ_INT(policy_is_cycle(&id, "B", "B.heartbeats"), 1);
	T_EQ_INT(policy_is_cycle(&id, "B", "C.B.heartbeats"), 1);
	T_EQ_INT(policy_is_cycle(&id, "B", "heartbeats"), 0);
	T_EQ_INT(policy_is_cycle(&id, "B", "A.heartbeats"), 0);
	/* a flow whose source alias is its target: everything is a cycle */
	T_EQ_INT(policy_is_cycle(&id, "A", "orders"), 1);
}

/* §2.4 shouldReplicateTopic without and with the topic filter. */
static void
test_should_replicate(void)
{
	struct km_policy p, id;

	policy_init(&p, KM_POLICY_DEFAULT, NULL, 1, NULL);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "orders"), 1);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "C.orders"), 1);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "B.orders"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "C.B.x"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B",
	    "__consumer_offsets"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "_confluent-foo"),
	    1);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", ".hidden"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B",
	    "A.checkpoints.internal"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B",
	    "C.checkpoints.internal"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B",
	    "mm2-offset-syncs.B.internal"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "x-internal"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "heartbeats"), 1);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "C.heartbeats"), 1);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "B.heartbeats"), 0);
	T_EQ_INT(policy_should_replicate_topic(&p, "A", "B", "B.A.heartbeats"),
	    0);

	/* heartbeats pass a filter that rejects them, unless disabled */
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "heartbeats", 0, 1), 1);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "C.heartbeats", 0, 1), 1);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "heartbeats", 0, 0), 0);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "heartbeats", 1, 0), 1);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "B.heartbeats", 0, 1), 0);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "orders", 0, 1), 0);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "orders", 1, 1), 1);
	/* internal and cycle checks beat the filter */
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "B.orders", 1, 1), 0);
	T_EQ_INT(policy_should_replicate_topic_filtered(&p, "A", "B",
	    "__consumer_offsets", 1, 1), 0);

	/* identity: source.cluster.alias comes from the flow */
	policy_init(&id, KM_POLICY_IDENTITY, NULL, 1, NULL);
	T_EQ_INT(policy_should_replicate_topic(&id, "A", "B", "B.orders"), 1);
	T_EQ_INT(policy_should_replicate_topic(&id, "A", "B", "orders"), 1);
	T_EQ_INT(policy_should_replicate_topic(&id, "A", "B", "B.heartbeats"),
	    0);
	T_EQ_INT(policy_should_replicate_topic(&id, "B", "B", "orders"), 0);
	T_EQ_INT(policy_should_replicate_topic(&id, NULL, "B", "orders"), 1);
	policy_init(&id, KM_POLICY_IDENTITY, NULL, 1, "B");
	T_EQ_INT(policy_should_replicate_topic(&id, NULL, "B", "orders"), 0);
	T_EQ_INT(policy_should_replicate_topic(&id, "A", "B", "orders"), 1);
}

int
main(void)
{
	T_RUN(test_init);
	T_RUN(test_kind_names);
	T_RUN(test_default_names);
	T_RUN(test_custom_separator);
	T_RUN(test_internal_names);
	T_RUN(test_predicates);
	T_RUN(test_identity);
	T_RUN(test_cycles);
	T_RUN(test_should_replicate);
	return T_DONE();
}

/*
 * test_filter.c: MM2 topic/group filter semantics (mm2-facts.md §3.2,
 * §3.1 and §4.1 defaults) on PCRE2.
 */
#include <string.h>

#include "t.h"
#include "filter.h"

/* Build a filter from two comma lists; fails the test on error. */
static int
mk(struct km_filter *f, const char *inc, const char *exc)
{
	char err[512];

	if (filter_init_csv(f, inc, exc, err, sizeof(err)) == -1) {
		fprintf(stderr, "  filter_init_csv(%s, %s): %s\n", inc, exc, err);
		return -1;
	}
	return 0;
}

/* `topic` matches the whole name only. */
static void
test_whole_name(void)
{
	struct km_filter f;
	const char *inc[] = { "topic" };

	T_EQ_INT(filter_init(&f, inc, 1, NULL, 0, NULL, 0), 0);
	T_EQ_INT(filter_match(&f, "topic"), 1);
	T_EQ_INT(filter_match(&f, "topic1"), 0);
	T_EQ_INT(filter_match(&f, "mytopic"), 0);
	T_EQ_INT(filter_match(&f, "a.topic"), 0);
	filter_free(&f);

	/* alternation: the whole name must match one branch, with backtracking */
	T_EQ_INT(mk(&f, "a, ab, foo.*", ""), 0);
	T_EQ_INT(filter_match(&f, "a"), 1);
	T_EQ_INT(filter_match(&f, "ab"), 1);
	T_EQ_INT(filter_match(&f, "abc"), 0);
	T_EQ_INT(filter_match(&f, "foobar"), 1);
	T_EQ_INT(filter_match(&f, "xfoo"), 0);
	filter_free(&f);

	/* `$` does not let a trailing newline through a full match */
	T_EQ_INT(mk(&f, "a$", ""), 0);
	T_EQ_INT(filter_match(&f, "a"), 1);
	T_EQ_INT(filter_match(&f, "a\n"), 0);
	filter_free(&f);
}

/* Defaults: include everything but MM2's default exclusions. */
static void
test_topic_defaults(void)
{
	struct km_filter f;

	T_EQ_INT(mk(&f, FILTER_TOPICS_INCLUDE_DEFAULT,
	    FILTER_TOPICS_EXCLUDE_DEFAULT), 0);
	T_EQ_INT(filter_match(&f, "orders"), 1);
	T_EQ_INT(filter_match(&f, "A.orders"), 1);
	T_EQ_INT(filter_match(&f, "heartbeats"), 1);
	T_EQ_INT(filter_match(&f, "A.heartbeats"), 1);
	T_EQ_INT(filter_match(&f, "_confluent-foo"), 1);
	T_EQ_INT(filter_match(&f, "_schemas"), 1);
	T_EQ_INT(filter_match(&f, "internal"), 1);
	T_EQ_INT(filter_match(&f, "foo.internals"), 1);
	T_EQ_INT(filter_match(&f, "foo_internal"), 1);
	T_EQ_INT(filter_match(&f, "foo.replica1"), 1);
	T_EQ_INT(filter_match(&f, "foo-replica"), 1);
	/* .*[\-\.]internal */
	T_EQ_INT(filter_match(&f, "foo.internal"), 0);
	T_EQ_INT(filter_match(&f, "foo-internal"), 0);
	T_EQ_INT(filter_match(&f, ".internal"), 0);
	T_EQ_INT(filter_match(&f, "A.checkpoints.internal"), 0);
	T_EQ_INT(filter_match(&f, "mm2-offset-syncs.B.internal"), 0);
	T_EQ_INT(filter_match(&f, "mm2-configs.A.internal"), 0);
	T_EQ_INT(filter_match(&f, "connect-offsets-internal"), 0);
	/* .*\.replica */
	T_EQ_INT(filter_match(&f, "foo.replica"), 0);
	/* __.* */
	T_EQ_INT(filter_match(&f, "__consumer_offsets"), 0);
	T_EQ_INT(filter_match(&f, "__transaction_state"), 0);
	T_EQ_INT(filter_match(&f, "__"), 0);
	filter_free(&f);

	/* `.*` with no excludes takes everything, even __consumer_offsets */
	T_EQ_INT(mk(&f, ".*", ""), 0);
	T_EQ_INT(filter_match(&f, "__consumer_offsets"), 1);
	T_EQ_INT(filter_match(&f, "x"), 1);
	/* Java's `.` stops at line terminators */
	T_EQ_INT(filter_match(&f, "a\nb"), 0);
	T_EQ_INT(filter_match(&f, "a\xe2\x80\xa8" "b"), 0);	/* U+2028 */
	/* multi-byte UTF-8 is one character */
	T_EQ_INT(filter_match(&f, "gr\xc3\xbcn"), 1);
	filter_free(&f);
}

static void
test_group_defaults(void)
{
	struct km_filter f;

	T_EQ_INT(mk(&f, FILTER_GROUPS_INCLUDE_DEFAULT,
	    FILTER_GROUPS_EXCLUDE_DEFAULT), 0);
	T_EQ_INT(filter_match(&f, "billing"), 1);
	T_EQ_INT(filter_match(&f, "my-connect-group"), 1);
	T_EQ_INT(filter_match(&f, "console-consumer"), 1);
	T_EQ_INT(filter_match(&f, "console-consumer-12345"), 0);
	T_EQ_INT(filter_match(&f, "connect-MirrorSourceConnector"), 0);
	T_EQ_INT(filter_match(&f, "connect-"), 0);
	T_EQ_INT(filter_match(&f, "__amazon_msk_canary"), 0);
	filter_free(&f);

	T_EQ_INT(mk(&f, ".*", FILTER_CONFIG_PROPERTIES_EXCLUDE_DEFAULT), 0);
	T_EQ_INT(filter_match(&f, "retention.ms"), 1);
	T_EQ_INT(filter_match(&f, "min.insync.replicas"), 0);
	T_EQ_INT(filter_match(&f, "min_insync_replicas"), 1);
	T_EQ_INT(filter_match(&f, "message.timestamp.type"), 0);
	T_EQ_INT(filter_match(&f, "leader.replication.throttled.replicas"), 0);
	filter_free(&f);
}

/* Exclude beats include. */
static void
test_exclude_wins(void)
{
	struct km_filter f;

	T_EQ_INT(mk(&f, "orders.*, payments", "orders\\.test.*, payments"), 0);
	T_EQ_INT(filter_match(&f, "orders"), 1);
	T_EQ_INT(filter_match(&f, "orders.eu"), 1);
	T_EQ_INT(filter_match(&f, "orders.test"), 0);
	T_EQ_INT(filter_match(&f, "orders.test.1"), 0);
	T_EQ_INT(filter_match(&f, "payments"), 0);
	T_EQ_INT(filter_match(&f, "other"), 0);
	filter_free(&f);
}

/* An empty include list matches nothing; an empty exclude list, nothing. */
static void
test_empty_lists(void)
{
	struct km_filter f;
	const char *empty[] = { "" };

	T_EQ_INT(mk(&f, "", ""), 0);
	T_CHECK(f.include == NULL && f.exclude == NULL);
	T_EQ_INT(filter_match(&f, "orders"), 0);
	T_EQ_INT(filter_match(&f, ""), 0);
	filter_free(&f);

	T_EQ_INT(mk(&f, "  ", NULL), 0);
	T_EQ_INT(filter_match(&f, "orders"), 0);
	filter_free(&f);

	T_EQ_INT(filter_init(&f, NULL, 0, NULL, 0, NULL, 0), 0);
	T_EQ_INT(filter_match(&f, "orders"), 0);
	filter_free(&f);

	/* one empty pattern (not an empty list) matches only "" in Java */
	T_EQ_INT(filter_init(&f, empty, 1, NULL, 0, NULL, 0), 0);
	T_EQ_INT(filter_match(&f, ""), 1);
	T_EQ_INT(filter_match(&f, "orders"), 0);
	filter_free(&f);

	/* filter_free leaves a safe, matching-nothing filter */
	T_EQ_INT(filter_match(&f, "orders"), 0);
	filter_free(&f);
}

/* deployments.md §1: `clusterA\.*` only matches clusterA plus dots. */
static void
test_deployment_excludes(void)
{
	struct km_filter f;

	T_EQ_INT(mk(&f, ".*", "clusterA\\.*, .*[\\-\\.]internal, .*\\.replica, "
	    "__consumer_offsets, _schemas, _internal_connectors.*, "
	    "__redpanda.*"), 0);
	T_EQ_INT(filter_match(&f, "clusterA"), 0);
	T_EQ_INT(filter_match(&f, "clusterA."), 0);
	T_EQ_INT(filter_match(&f, "clusterA..."), 0);
	T_EQ_INT(filter_match(&f, "clusterA.orders"), 1);	/* not excluded */
	T_EQ_INT(filter_match(&f, "clusterAorders"), 1);
	T_EQ_INT(filter_match(&f, "orders"), 1);
	T_EQ_INT(filter_match(&f, "_schemas"), 0);
	T_EQ_INT(filter_match(&f, "_schemas2"), 1);
	T_EQ_INT(filter_match(&f, "_internal_connectors_status"), 0);
	T_EQ_INT(filter_match(&f, "__redpanda.x"), 0);
	T_EQ_INT(filter_match(&f, "__consumer_offsets"), 0);
	T_EQ_INT(filter_match(&f, "__transaction_state"), 1);	/* no __.* here */
	filter_free(&f);
}

/* Invalid regexes are reported with the item and the offset. */
static void
test_invalid_regex(void)
{
	struct km_filter f;
	char err[512];
	const char *inc[] = { "ok", "foo(", "bar" };
	const char *inc2[] = { "ok", "bad[", "x" };
	const char *exc[] = { "*oops" };
	const char *span[] = { "(a", "b)" };

	T_EQ_INT(filter_check_regex("foo(", err, sizeof(err)), -1);
	T_CONTAINS(err, "missing closing parenthesis");
	T_CONTAINS(err, "offset 4");
	T_EQ_INT(filter_check_regex("[a-", err, sizeof(err)), -1);
	T_CONTAINS(err, "missing terminating ]");
	T_EQ_INT(filter_check_regex("*x", err, sizeof(err)), -1);
	T_CONTAINS(err, "offset 0");
	T_EQ_INT(filter_check_regex(".*[\\-\\.]internal", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex(" foo ", err, sizeof(err)), 0);

	T_EQ_INT(filter_init(&f, inc, 3, NULL, 0, err, sizeof(err)), -1);
	T_CONTAINS(err, "include pattern 2 \"foo(\"");
	T_CONTAINS(err, "missing closing parenthesis");
	T_CONTAINS(err, "at offset 4");
	T_CHECK(f.include == NULL && f.exclude == NULL);
	filter_free(&f);

	/* the unterminated class would swallow "|x": still blame item 2 */
	T_EQ_INT(filter_init(&f, inc2, 3, NULL, 0, err, sizeof(err)), -1);
	T_CONTAINS(err, "include pattern 2 \"bad[\"");
	T_CONTAINS(err, "missing terminating ]");

	T_EQ_INT(filter_init(&f, inc, 1, exc, 1, err, sizeof(err)), -1);
	T_CONTAINS(err, "exclude pattern 1 \"*oops\"");
	T_CONTAINS(err, "offset 0");

	{
		const char *order[] = { "a", "b{2,1}" };

		T_EQ_INT(filter_init(&f, inc, 1, order, 2, err, sizeof(err)),
		    -1);
		T_CONTAINS(err, "exclude pattern 2 \"b{2,1}\"");
		T_CONTAINS(err, "out of order");
	}
	/* a comma list cuts "x{2,3}" in two, which Java rejects: so do we */
	T_EQ_INT(filter_init_csv(&f, ".*", "a, x{2,3}", err, sizeof(err)), -1);
	T_CONTAINS(err, "exclude pattern 2 \"x{2\"");
	T_CONTAINS(err, "'{' must be escaped");

	/* as in Java, items are joined before compiling, so this is valid */
	T_EQ_INT(filter_init(&f, span, 2, NULL, 0, err, sizeof(err)), 0);
	T_EQ_INT(filter_match(&f, "a"), 1);
	T_EQ_INT(filter_match(&f, "b"), 1);
	filter_free(&f);

	/* a tiny error buffer is not overrun */
	T_EQ_INT(filter_check_regex("(", err, 8), -1);
	T_EQ_INT(strlen(err), 7);
}

/* Java-only class syntax is refused; escaped or quoted brackets are not. */
static void
test_java_differences(void)
{
	struct km_filter f;
	char err[512];

	T_EQ_INT(filter_check_regex("[a-z&&[^e]]", err, sizeof(err)), -1);
	T_CONTAINS(err, "Java");
	T_EQ_INT(filter_check_regex("[a-z&&b]", err, sizeof(err)), -1);
	T_CONTAINS(err, "intersection");
	T_CONTAINS(err, "offset 4");
	T_EQ_INT(filter_check_regex("x[a[b]]", err, sizeof(err)), -1);
	T_CONTAINS(err, "nested character class");
	T_EQ_INT(filter_check_regex("[[:alpha:]]+", err, sizeof(err)), -1);
	T_EQ_INT(filter_check_regex("a&&b", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("[\\[]x", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("[]a]", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("[^]a]", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("\\Q[a[b]\\E", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("[\\Q[\\E]", err, sizeof(err)), 0);

	/* Java rejects a '{' that is not a repetition; PCRE2 would not */
	T_EQ_INT(filter_check_regex("a{", err, sizeof(err)), -1);
	T_CONTAINS(err, "offset 1");
	T_EQ_INT(filter_check_regex("${topic}", err, sizeof(err)), -1);
	T_EQ_INT(filter_check_regex("a{,2}", err, sizeof(err)), -1);
	T_EQ_INT(filter_check_regex("a{2}b{1,}c{0,3}", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("a\\{[{]\\Q{\\E", err, sizeof(err)), 0);
	T_EQ_INT(filter_check_regex("\\p{Lu}+\\P{L}", err, sizeof(err)), 0);

	/* \uXXXX and \x{...} as in Java */
	T_EQ_INT(mk(&f, "\\u0041.*, \\x{42}x, \\x43", ""), 0);
	T_EQ_INT(filter_match(&f, "Abc"), 1);
	T_EQ_INT(filter_match(&f, "Bx"), 1);
	T_EQ_INT(filter_match(&f, "C"), 1);
	T_EQ_INT(filter_match(&f, "abc"), 0);
	filter_free(&f);

	/* inline flags and quoting */
	T_EQ_INT(mk(&f, "(?i)orders, \\Qa.b\\E", ""), 0);
	T_EQ_INT(filter_match(&f, "ORDERS"), 1);
	T_EQ_INT(filter_match(&f, "a.b"), 1);
	T_EQ_INT(filter_match(&f, "axb"), 0);
	filter_free(&f);

	/* invalid UTF-8 in a name does not crash and does not match */
	T_EQ_INT(mk(&f, "a.*", ""), 0);
	T_EQ_INT(filter_match(&f, "a\xff"), 0);
	T_EQ_INT(filter_match(&f, "ab"), 1);
	filter_free(&f);
}

/* ConfigDef LIST splitting and array-item trimming. */
static void
test_list_split(void)
{
	struct km_filter f;
	char **v;
	size_t n;
	const char *padded[] = { "  orders ", "\tpay.*\n" };

	T_EQ_INT(filter_list_split(" a , b ,c ", &v, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_STR(v[0], "a");
	T_EQ_STR(v[1], "b");
	T_EQ_STR(v[2], "c");
	filter_list_free(v, n);

	T_EQ_INT(filter_list_split("", &v, &n), 0);
	T_EQ_INT(n, 0);
	T_CHECK(v == NULL);
	T_EQ_INT(filter_list_split(" \t ", &v, &n), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(filter_list_split(NULL, &v, &n), 0);
	T_EQ_INT(n, 0);

	T_EQ_INT(filter_list_split("a,,b", &v, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_STR(v[1], "");
	filter_list_free(v, n);
	T_EQ_INT(filter_list_split("a , , b", &v, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_STR(v[0], "a");
	T_EQ_STR(v[1], "");
	T_EQ_STR(v[2], "b");
	filter_list_free(v, n);
	T_EQ_INT(filter_list_split(",a", &v, &n), 0);
	T_EQ_INT(n, 2);
	T_EQ_STR(v[0], "");
	T_EQ_STR(v[1], "a");
	filter_list_free(v, n);
	T_EQ_INT(filter_list_split("a,", &v, &n), 0);
	T_EQ_INT(n, 2);
	T_EQ_STR(v[0], "a");
	T_EQ_STR(v[1], "");
	filter_list_free(v, n);
	T_EQ_INT(filter_list_split("a b ,c d", &v, &n), 0);
	T_EQ_INT(n, 2);
	T_EQ_STR(v[0], "a b");
	T_EQ_STR(v[1], "c d");
	filter_list_free(v, n);
	T_EQ_INT(filter_list_split(FILTER_TOPICS_EXCLUDE_DEFAULT, &v, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_STR(v[0], ".*[\\-\\.]internal");
	T_EQ_STR(v[1], ".*\\.replica");
	T_EQ_STR(v[2], "__.*");
	filter_list_free(v, n);

	T_EQ_INT(filter_init(&f, padded, 2, NULL, 0, NULL, 0), 0);
	T_EQ_INT(filter_match(&f, "orders"), 1);
	T_EQ_INT(filter_match(&f, "payments"), 1);
	T_EQ_INT(filter_match(&f, " orders"), 0);
	filter_free(&f);
}

/* One compiled filter serves many matches. */
static void
test_many_matches(void)
{
	struct km_filter f;
	char name[64];
	int i, hits = 0;

	T_EQ_INT(mk(&f, "t[0-9]+", "t[0-9]*7"), 0);
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		hits += filter_match(&f, name);
	}
	T_EQ_INT(hits, 9000);
	filter_free(&f);
}

int
main(void)
{
	T_RUN(test_whole_name);
	T_RUN(test_topic_defaults);
	T_RUN(test_group_defaults);
	T_RUN(test_exclude_wins);
	T_RUN(test_empty_lists);
	T_RUN(test_deployment_excludes);
	T_RUN(test_invalid_regex);
	T_RUN(test_java_differences);
	T_RUN(test_list_split);
	T_RUN(test_many_matches);
	return T_DONE();
}

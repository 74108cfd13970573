/*
 * ctltranslate.c: `kmirrorctl translate`: the offsets a consumer group
 * should use on a target cluster, read from the MM2-format checkpoints
 * there, as Kafka's RemoteClusterUtils.translateOffsets gives them: the last
 * checkpoint of the group for each topic-partition. Run by kmirrorctl only
 * (the supervisor itself never creates librdkafka handles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "hmap.h"
#include "mm2fmt.h"
#include "policy.h"
#include "sup.h"

struct ctl_ckpt {
	char    topic[MM2_TOPIC_MAX];
	int32_t partition;
	int64_t offset;
	int64_t upstream;
	char    metadata[256];
};

static rd_kafka_t *
ctl_consumer(const struct km_cluster *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct km_props *sets[2] = { &c->props[KM_SCOPE_COMMON],
		&c->props[KM_SCOPE_CONSUMER] };

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sets[s]->n; i++)
			if (rd_kafka_conf_set(conf, sets[s]->v[i].key, sets[s]->v[i].val, err,
			    errlen) != RD_KAFKA_CONF_OK) {
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
	rd_kafka_conf_set(conf, "group.id", "kmirrorctl-translate", err, errlen);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen);
	rd_kafka_conf_set(conf, "log_level", "3", err, errlen);
	return rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
}

/* Print the translated offsets of `group`; 0 done, 1 failed. */
int
ctl_translate(const struct km_config *cfg, const char *remote, const char *target,
    const char *group, int json, int timeout_ms)
{
	const struct km_flow *f = NULL;
	const struct km_cluster *tc;
	struct km_policy pol;
	char topic[512], err[512];
	rd_kafka_t *rk;
	int64_t lo = 0, hi = 0;
	struct hmap last = { 0 };
	int rc = 1;

	for (size_t i = 0; i < cfg->nflows; i++)
		if (strcmp(cfg->flows[i].source, remote) == 0 &&
		    (target == NULL || strcmp(cfg->flows[i].target, target) == 0)) {
			if (f && target == NULL) {
				fprintf(stderr, "kmirrorctl: several flows come from %s: say which "
				    "target with --target\n", remote);
				return 1;
			}
			f = &cfg->flows[i];
		}
	if (f == NULL) {
		fprintf(stderr, "kmirrorctl: no flow from cluster %s%s%s in %s\n", remote,
		    target ? " to " : "", target ? target : "", cfg->file);
		return 1;
	}
	tc = config_cluster(cfg, f->target);
	policy_init(&pol, (enum km_policy_kind)FLOW_INT(f, FS_REPLICATION_POLICY),
	    FLOW_STR(f, FS_SEPARATOR), (int)FLOW_INT(f, FS_INTERNAL_SEPARATOR_ENABLED), remote);
	if (policy_checkpoints_topic(&pol, remote, topic, sizeof(topic)) < 0)
		return 1;
	if ((rk = ctl_consumer(tc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kmirrorctl: cluster %s: %s\n", tc->alias, err);
		return 1;
	}
	rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi,
	    timeout_ms);
	if (e) {
		fprintf(stderr, "kmirrorctl: cannot read %s on %s: %s\n", topic, tc->alias,
		    rd_kafka_err2str(e));
		goto out;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = lo;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	for (int64_t pos = lo; pos < hi; ) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
		struct mm2_checkpoint *cp;
		if (m == NULL) {
			fprintf(stderr, "kmirrorctl: %s on %s: no record within %d ms\n", topic,
			    tc->alias, timeout_ms);
			goto out;
		}
		if (m->err == 0 && m->offset >= pos) {
			pos = m->offset + 1;
			cp = malloc(sizeof(*cp));
			/* records that fail to parse are skipped, as MirrorClient does */
			if (mm2_checkpoint_decode(m->key, m->key_len, m->payload, m->len, cp) == 0 &&
			    strcmp(cp->group, group) == 0) {
				char key[MM2_TOPIC_MAX + 16];
				struct ctl_ckpt *c = calloc(1, sizeof(*c)), *old;
				snprintf(c->topic, sizeof(c->topic), "%s", cp->topic);
				c->partition = cp->partition;
				c->offset = cp->offset;
				c->upstream = cp->upstream_offset;
				snprintf(c->metadata, sizeof(c->metadata), "%.255s", cp->metadata);
				snprintf(key, sizeof(key), "%s/%d", c->topic, (int)c->partition);
				if ((old = hmap_get(&last, key)) != NULL)
					free(old);
				hmap_put(&last, key, c);
			}
			free(cp);
		}
		rd_kafka_message_destroy(m);
	}
	json_t *arr = json_array();
	struct hmap_entry *he;
	size_t it;
	for (he = hmap_first(&last, &it); he; he = hmap_next(&last, he, &it)) {
		struct ctl_ckpt *c = he->val;
		if (json)
			json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:I,s:s}", "topic",
			    c->topic, "partition", (int)c->partition, "offset",
			    (json_int_t)c->offset, "upstream_offset", (json_int_t)c->upstream,
			    "metadata", c->metadata));
		else
			printf("%s\t%d\t%lld\n", c->topic, (int)c->partition, (long long)c->offset);
	}
	if (json) {
		char *s = json_dumps(arr, JSON_INDENT(1) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
	}
	json_decref(arr);
	rc = 0;
out:
	hmap_free(&last, free);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

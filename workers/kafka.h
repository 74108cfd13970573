/*
 * kafka.h: librdkafka glue for workers. A kclient is one librdkafka handle
 * whose events (logs, errors, delivery reports, admin results) arrive on one
 * queue wired into the worker's libevent loop, so every callback runs on the
 * worker's own thread.
 */
#ifndef KM_KAFKA_H
#define KM_KAFKA_H
#include <librdkafka/rdkafka.h>
#include "flowconf.h"

struct worker;
struct kclient;

typedef void kclient_event_cb(struct kclient *kc, rd_kafka_event_t *ev, void *arg);
typedef void kclient_rf_cb(struct kclient *kc, int rf, const char *err, void *arg);

/* kclient_new flags */
#define KC_F_GROUP 0x1	/* a consumer that subscribes: rebalances are events */

typedef void kclient_queue_cb(void *arg);

/* extra: NULL-terminated key, value pairs set after the operator's
 * properties (kmirrord needs them), except keys written "?key": those are
 * kmirrord's defaults, set before, so the operator's properties win. */
struct kclient *kclient_new(struct worker *w, rd_kafka_type_t type,
        const struct km_cluster *c, enum km_scope scope, const char *purpose,
        const char *const *extra, int flags, kclient_event_cb *cb, void *arg);
/* A member of one of the flow's groups on the target (shards, leases):
 * static membership "<instance_id>.<flow>.<who>", the flow's
 * shard_session_timeout_ms, eager round-robin assignment. */
struct kclient *kclient_new_member(struct worker *w, const char *group,
        const char *who, const char *purpose, kclient_event_cb *cb, void *arg);
/* The worker's exit code for a client's fatal error (see kafka.c) */
int  kclient_fatal_code(rd_kafka_resp_err_t err);
#define KCLIENT_FENCED_SAYS " (fenced by a newer owner: restarting to rejoin the group)"
int  kclient_watch_queue(struct kclient *kc, rd_kafka_queue_t *q,
         kclient_queue_cb *cb, void *arg);
rd_kafka_t       *kclient_rk(struct kclient *kc);
rd_kafka_queue_t *kclient_queue(struct kclient *kc);
const char       *kclient_cluster(struct kclient *kc);
void kclient_serve(struct kclient *kc);
void kclient_destroy(struct kclient *kc);
void kclient_resolve_rf(struct kclient *kc, int wanted, kclient_rf_cb *cb,
         void *arg);
typedef void kclient_ready_cb(struct kclient *kc, void *arg);
void kclient_when_connected(struct kclient *kc, kclient_ready_cb *cb, void *arg);
rd_kafka_NewTopic_t *kclient_new_topic(struct kclient *kc, const char *topic,
         int partitions, int rf, const char *const *configs);
void kclient_create_topics(struct kclient *kc, rd_kafka_NewTopic_t **nts,
         size_t n, void *opaque);
int  kclient_create_topic(struct kclient *kc, const char *topic, int partitions,
         int rf, const char *const *configs, void *opaque);
int  kclient_create_compacted(struct kclient *kc, const char *topic, int rf,
         void *opaque);
int  kclient_topic_result(rd_kafka_event_t *ev, const char *topic, char *err,
         size_t errlen);

#endif

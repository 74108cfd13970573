/*
 * lease.h: run a role once per flow across kmirrord instances. The worker
 * joins the consumer group kmirror.<S>.<T>.<role> on the target, subscribed
 * to the flow's shards topic; it is active while it owns partition 0.
 */
#ifndef KM_LEASE_H
#define KM_LEASE_H

struct worker;
struct lease;

typedef void lease_cb(void *arg, int active);

struct lease *lease_new(struct worker *w, lease_cb *cb, void *arg);
int  lease_active(const struct lease *l);
void lease_free(struct lease *l);

#endif

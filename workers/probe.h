/*
 * probe.h: a placeholder body for roles whose real work comes later: it
 * connects to both clusters and reports READY once both answer, so the
 * role runs under full supervision.
 */
#ifndef KM_PROBE_H
#define KM_PROBE_H
struct worker;
struct evbuffer;
int  probe_start(struct worker *w);
void probe_stop(struct worker *w);
void probe_destroy(struct worker *w);
#endif

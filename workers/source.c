/*
 * source.c: the source role. For now it connects to both clusters and
 * reports READY; record copying comes with its own issue.
 */
#include "probe.h"
#include "worker.h"

const struct worker_role source_role = {
	.name = "source",
	.start = probe_start,
	.stop = probe_stop,
	.destroy = probe_destroy,
};

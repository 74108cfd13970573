/*
 * checkpoint.c: the checkpoint role. For now it connects to both clusters
 * and reports READY; checkpoints come with their own issue.
 */
#include "probe.h"
#include "worker.h"

const struct worker_role checkpoint_role = {
	.name = "checkpoint",
	.start = probe_start,
	.stop = probe_stop,
	.destroy = probe_destroy,
};

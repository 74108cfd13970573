/*
 * config.h: kmirrord.conf (libconfig), parsed and validated before anything
 * starts. Every error names the file and line and says what is wrong.
 */
#ifndef KM_CONFIG_H
#define KM_CONFIG_H
#include <stdio.h>
#include "flowconf.h"

struct km_restart_conf {
	int initial_delay_ms;
	int max_delay_ms;
	int stable_after_ms;
	int max_failures;
	int failure_window_ms;
	int failed_cooldown_ms;		/* 0: FAILED until SIGHUP */
	int jitter_pct;
};

struct km_config {
	char                  *file;
	char                  *pidfile;
	char                  *control_socket;
	int                    control_socket_mode;
	char                  *metrics_address;
	char                  *user;
	char                  *group;
	char                  *instance_id;
	int                    log_target;	/* -1: stderr in the foreground, else syslog */
	char                  *log_file;
	int                    log_level;
	int                    log_json;
	int                    status_interval_ms;
	int                    hang_timeout_ms;
	int                    drain_timeout_ms;
	struct km_restart_conf restart;
	struct km_cluster     *clusters;
	size_t                 nclusters;
	struct km_flow        *flows;
	size_t                 nflows;
};

int  config_load(const char *path, struct km_config *cfg, char *err, size_t errlen);
void config_free(struct km_config *cfg);
void config_print(const struct km_config *cfg, FILE *out);
const struct km_cluster *config_cluster(const struct km_config *cfg,
        const char *alias);
const struct km_flow *config_flow(const struct km_config *cfg, const char *name);
int  config_check_cluster_prop(const char *key, const char *val, char *err,
         size_t errlen);
int  config_resolve_secret(const char *val, char **out, int *secret, char *err,
         size_t errlen);

#endif

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
	int                    is_mm2;	/* read from an MM2 mm2.properties (-m) */
};

/* config_print_flags: CONFIG_PRINT_CONVERT prints secrets as they are held
 * (env:/file: references, or literals with a comment) instead of masking
 * them: the output of `kmirrorctl convert`. */
#define CONFIG_PRINT_CONVERT 1

int  config_load(const char *path, struct km_config *cfg, char *err, size_t errlen);
void config_free(struct km_config *cfg);
void config_print(const struct km_config *cfg, FILE *out);
void config_print_flags(const struct km_config *cfg, FILE *out, int flags);
/* Load the global section from libconfig text "global = { ... };" (or ""
 * for the defaults), as config_load does; errors are "file:line: ..." with
 * the line of the text. Used by the mm2.properties loader. */
int  config_load_global_text(struct km_config *cfg, const char *file,
         const char *text, char *err, size_t errlen);
const struct km_cluster *config_cluster(const struct km_config *cfg,
        const char *alias);
const struct km_flow *config_flow(const struct km_config *cfg, const char *name);
int  config_check_cluster_prop(const char *key, const char *val, char *err,
         size_t errlen);
int  config_resolve_secret(const char *val, char **out, int *secret, char *err,
         size_t errlen);

#endif

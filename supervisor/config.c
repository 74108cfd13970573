/*
 * config.c: load kmirrord.conf with libconfig into struct km_config.
 *
 * Shape of the file (see etc/kmirrord.conf):
 *   global = { pidfile; control_socket; metrics_address; log = {...};
 *              restart = {...}; ... };
 *   clusters = ( { alias; bootstrap_servers; kafka = {...};
 *                  consumer = {...}; producer = {...}; admin = {...}; }, ... );
 *   flow_defaults = { <flow settings> };
 *   flows = ( { source; target; <flow settings> }, ... );
 * librdkafka property names are written with '_' for '.', since libconfig
 * names cannot hold dots: security_protocol = "SASL_SSL".
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libconfig.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "filter.h"
#include "log.h"
#include "restart.h"

/* Error collector: every problem is reported, each on its own line. */
struct cfg_errs {
	const char *file;
	char       *buf;
	size_t      len;
	int         n;
};

static void __attribute__((format(printf, 3, 4)))
cfg_error(struct cfg_errs *e, int line, const char *fmt, ...)
{
	size_t used = strlen(e->buf);
	va_list ap;

	if (e->n++ >= 20 || used + 2 >= e->len)
		return;
	if (used)
		e->buf[used++] = '\n';
	snprintf(e->buf + used, e->len - used, "%s:%d: ", e->file, line);
	used = strlen(e->buf);
	va_start(ap, fmt);
	vsnprintf(e->buf + used, e->len - used, fmt, ap);
	va_end(ap);
}

static int
cfg_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

/* Refuse any member of a group that is not in `known`. */
static void
cfg_check_keys(struct cfg_errs *e, const config_setting_t *grp,
    const char *const *known, const char *where)
{
	int n = config_setting_length(grp);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, i);
		const char *name = config_setting_name(s);
		int ok = 0;
		for (int k = 0; known[k]; k++)
			if (strcmp(known[k], name) == 0)
				ok = 1;
		if (!ok)
			cfg_error(e, cfg_line(s), "unknown setting \"%s\" in %s", name, where);
	}
}

static char *
cfg_strdup_opt(const config_setting_t *grp, const char *name, const char *def,
    struct cfg_errs *e, const char *where)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;

	if (s == NULL)
		return def ? strdup(def) : NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(e, cfg_line(s), "%s in %s must be a string", name, where);
		return def ? strdup(def) : NULL;
	}
	return strdup(config_setting_get_string(s));
}

static int
cfg_int_opt(const config_setting_t *grp, const char *name, int def, long long min,
    long long max, struct cfg_errs *e, const char *where)
{
	config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
	long long v;

	if (s == NULL)
		return def;
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		cfg_error(e, cfg_line(s), "%s in %s must be an integer", name, where);
		return def;
	}
	if (v < min || v > max) {
		cfg_error(e, cfg_line(s), "%s = %lld in %s is out of range [%lld, %lld]",
		    name, v, where, min, max);
		return def;
	}
	return (int)v;
}

/* Read a secret reference: "env:NAME" or "file:/path"; other values are
 * literals. The value of a reference is always treated as secret. */
int
config_resolve_secret(const char *val, char **out, int *secret, char *err,
    size_t errlen)
{
	*secret = 0;
	if (strncmp(val, "env:", 4) == 0) {
		const char *v = getenv(val + 4);
		if (v == NULL) {
			snprintf(err, errlen, "environment variable %s is not set", val + 4);
			return -1;
		}
		*secret = 1;
		return (*out = strdup(v)) ? 0 : -1;
	}
	if (strncmp(val, "file:", 5) == 0) {
		FILE *f = fopen(val + 5, "r");
		char buf[8192];
		size_t n;
		if (f == NULL) {
			snprintf(err, errlen, "cannot read secret file %s: %s", val + 5,
			    strerror(errno));
			return -1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		*secret = 1;
		*out = strdup(buf);
		explicit_bzero(buf, sizeof(buf));
		return *out ? 0 : -1;
	}
	return (*out = strdup(val)) ? 0 : -1;
}

/* Ask librdkafka whether it knows the property and accepts the value; a
 * scratch conf object creates no threads, so the supervisor may do this. */
int
config_check_cluster_prop(const char *key, const char *val, char *err,
    size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char rerr[512];
	rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, val, rerr, sizeof(rerr));

	rd_kafka_conf_destroy(conf);
	if (r == RD_KAFKA_CONF_UNKNOWN) {
		snprintf(err, errlen, "unknown librdkafka property \"%s\"", key);
		return -1;
	}
	if (r != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "librdkafka refuses %s: %s", key, rerr);
		return -1;
	}
	return 0;
}

/* Turn a libconfig scalar into its string form. */
static int
cfg_scalar_string(const config_setting_t *s, char *buf, size_t len)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		snprintf(buf, len, "%s", config_setting_get_string(s));
		return 0;
	case CONFIG_TYPE_INT:
		snprintf(buf, len, "%d", config_setting_get_int(s));
		return 0;
	case CONFIG_TYPE_INT64:
		snprintf(buf, len, "%lld", config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
		return 0;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, len, "%g", config_setting_get_float(s));
		return 0;
	default:
		return -1;
	}
}

static void
cfg_load_props(struct cfg_errs *e, const config_setting_t *grp,
    struct km_props *props, const char *where)
{
	int n = config_setting_length(grp);

	if (!config_setting_is_group(grp)) {
		cfg_error(e, cfg_line(grp), "%s must be a group of librdkafka properties",
		    where);
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, i);
		char key[256], raw[8192], why[600];
		char *val = NULL;
		int secret;

		snprintf(key, sizeof(key), "%s", config_setting_name(s));
		for (char *p = key; *p; p++)
			if (*p == '_')
				*p = '.';
		if (cfg_scalar_string(s, raw, sizeof(raw)) == -1) {
			cfg_error(e, cfg_line(s), "property %s in %s must be a scalar",
			    key, where);
			continue;
		}
		if (config_resolve_secret(raw, &val, &secret, why, sizeof(why)) == -1) {
			cfg_error(e, cfg_line(s), "property %s in %s: %s", key, where, why);
			continue;
		}
		if (config_check_cluster_prop(key, val, why, sizeof(why)) == -1)
			cfg_error(e, cfg_line(s), "%s in %s", why, where);
		else
			km_props_add(props, key, val, secret, cfg_line(s));
		explicit_bzero(val, strlen(val));
		free(val);
		explicit_bzero(raw, sizeof(raw));
	}
}

static int
cfg_alias_valid(const char *a)
{
	if (*a == '\0' || strlen(a) > 64)
		return 0;
	for (; *a; a++)
		if (!isalnum((unsigned char)*a) && *a != '_' && *a != '-')
			return 0;
	return 1;
}

static void
cfg_load_cluster(struct cfg_errs *e, const config_setting_t *cs,
    struct km_config *cfg)
{
	static const char *const known[] = { "alias", "bootstrap_servers", "kafka",
		"consumer", "producer", "admin", NULL };
	struct km_cluster *c = &cfg->clusters[cfg->nclusters];
	char where[128];

	memset(c, 0, sizeof(*c));
	c->line = cfg_line(cs);
	if (!config_setting_is_group(cs)) {
		cfg_error(e, c->line, "each cluster must be a group { alias = ...; }");
		return;
	}
	c->alias = cfg_strdup_opt(cs, "alias", NULL, e, "cluster");
	if (c->alias == NULL) {
		cfg_error(e, c->line, "cluster has no alias");
		return;
	}
	if (!cfg_alias_valid(c->alias)) {
		cfg_error(e, c->line, "cluster alias \"%s\" must be 1-64 letters, digits, "
		    "'_' or '-'", c->alias);
	}
	for (size_t i = 0; i < cfg->nclusters; i++)
		if (strcmp(cfg->clusters[i].alias, c->alias) == 0)
			cfg_error(e, c->line, "cluster alias \"%s\" is defined twice "
			    "(first at line %d)", c->alias, cfg->clusters[i].line);
	snprintf(where, sizeof(where), "cluster %s", c->alias);
	cfg_check_keys(e, cs, known, where);
	char *bs = cfg_strdup_opt(cs, "bootstrap_servers", NULL, e, where);
	if (bs == NULL || *bs == '\0')
		cfg_error(e, c->line, "cluster %s has no bootstrap_servers", c->alias);
	else
		km_props_add(&c->props[KM_SCOPE_COMMON], "bootstrap.servers", bs, 0,
		    cfg_line(config_setting_get_member(cs, "bootstrap_servers")));
	free(bs);
	for (int s = 0; s < KM_SCOPE__COUNT; s++) {
		config_setting_t *g = config_setting_get_member(cs, km_scope_names[s]);
		char w2[160];
		snprintf(w2, sizeof(w2), "%s.%s", where, km_scope_names[s]);
		if (g)
			cfg_load_props(e, g, &c->props[s], w2);
	}
	cfg->nclusters++;
}

/* Set one flow setting from a libconfig value, with type and range checks. */
static void
cfg_flow_setting(struct cfg_errs *e, const config_setting_t *s,
    struct fs_value *v, int id, const char *where)
{
	const struct fs_def *d = &fs_defs[id];
	int type = config_setting_type(s), line = cfg_line(s);
	char buf[256], why[512];

	switch (d->type) {
	case FS_T_BOOL:
		if (type != CONFIG_TYPE_BOOL) {
			cfg_error(e, line, "%s in %s must be true or false", d->name, where);
			return;
		}
		v->i = config_setting_get_bool(s);
		break;
	case FS_T_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
			cfg_error(e, line, "%s in %s must be an integer", d->name, where);
			return;
		}
		snprintf(buf, sizeof(buf), "%lld", type == CONFIG_TYPE_INT ?
		    (long long)config_setting_get_int(s) : config_setting_get_int64(s));
		if (fs_set_from_string(v, id, buf, why, sizeof(why)) == -1) {
			cfg_error(e, line, "%s in %s", why, where);
			return;
		}
		break;
	case FS_T_STR:
	case FS_T_ENUM:
		if (type != CONFIG_TYPE_STRING) {
			cfg_error(e, line, "%s in %s must be a string", d->name, where);
			return;
		}
		if (fs_set_from_string(v, id, config_setting_get_string(s), why,
		    sizeof(why)) == -1) {
			cfg_error(e, line, "%s in %s", why, where);
			return;
		}
		if (id == FS_SEPARATOR && (v->s[0] == '\0' || strlen(v->s) > 8)) {
			cfg_error(e, line, "separator in %s must be 1 to 8 characters", where);
			return;
		}
		break;
	case FS_T_LIST:
		if (type == CONFIG_TYPE_STRING) {
			fs_set_from_string(v, id, config_setting_get_string(s), why,
			    sizeof(why));
		} else if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
			fs_value_free(v, id);
			for (int i = 0; i < config_setting_length(s); i++) {
				config_setting_t *it = config_setting_get_elem(s, i);
				if (config_setting_type(it) != CONFIG_TYPE_STRING) {
					cfg_error(e, cfg_line(it), "%s in %s must list strings",
					    d->name, where);
					return;
				}
				fs_list_append(v, config_setting_get_string(it));
			}
		} else {
			cfg_error(e, line, "%s in %s must be a string or a list of strings",
			    d->name, where);
			return;
		}
		for (size_t i = 0; i < v->nlist; i++)
			if (filter_check_regex(v->list[i], why, sizeof(why)) == -1)
				cfg_error(e, line, "%s in %s: invalid regex \"%s\": %s",
				    d->name, where, v->list[i], why);
		break;
	}
	v->line = line;
}

/* Apply every flow setting present in `grp`; unknown names are refused. */
static void
cfg_flow_settings(struct cfg_errs *e, const config_setting_t *grp,
    struct km_flow *f, const char *where, int allow_ends)
{
	int n = config_setting_length(grp);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, i);
		const char *name = config_setting_name(s);
		int id = fs_lookup(name);
		if (allow_ends && (strcmp(name, "source") == 0 ||
		    strcmp(name, "target") == 0 || strcmp(name, "name") == 0))
			continue;
		if (id < 0) {
			cfg_error(e, cfg_line(s), "unknown setting \"%s\" in %s", name, where);
			continue;
		}
		cfg_flow_setting(e, s, &f->v[id], id, where);
	}
}

static void
cfg_load_flow(struct cfg_errs *e, const config_setting_t *fs,
    const struct km_flow *defaults, struct km_config *cfg)
{
	struct km_flow *f = &cfg->flows[cfg->nflows];
	char where[200];
	int line = cfg_line(fs);

	memset(f, 0, sizeof(*f));
	if (!config_setting_is_group(fs)) {
		cfg_error(e, line, "each flow must be a group { source = ...; target = ...; }");
		return;
	}
	for (int i = 0; i < FS__COUNT; i++)
		fs_copy(&f->v[i], &defaults->v[i], i);
	f->line = line;
	f->source = cfg_strdup_opt(fs, "source", NULL, e, "flow");
	f->target = cfg_strdup_opt(fs, "target", NULL, e, "flow");
	cfg->nflows++;
	if (f->source == NULL || f->target == NULL) {
		cfg_error(e, line, "flow needs both source and target");
		return;
	}
	char def_name[300];
	snprintf(def_name, sizeof(def_name), "%s->%s", f->source, f->target);
	f->name = cfg_strdup_opt(fs, "name", def_name, e, "flow");
	snprintf(where, sizeof(where), "flow %s", f->name);
	if (config_cluster(cfg, f->source) == NULL)
		cfg_error(e, line, "%s: unknown source cluster \"%s\"", where, f->source);
	if (config_cluster(cfg, f->target) == NULL)
		cfg_error(e, line, "%s: unknown target cluster \"%s\"", where, f->target);
	if (strcmp(f->source, f->target) == 0)
		cfg_error(e, line, "%s replicates cluster %s into itself", where, f->source);
	for (size_t i = 0; i + 1 < cfg->nflows; i++) {
		const struct km_flow *o = &cfg->flows[i];
		if (o->name && strcmp(o->name, f->name) == 0)
			cfg_error(e, line, "%s is defined twice (first at line %d)", where,
			    o->line);
		else if (o->source && o->target && strcmp(o->source, f->source) == 0 &&
		    strcmp(o->target, f->target) == 0)
			cfg_error(e, line, "%s duplicates flow %s (line %d): same source "
			    "and target", where, o->name, o->line);
	}
	cfg_flow_settings(e, fs, f, where, 1);
}

static void
cfg_load_global(struct cfg_errs *e, const config_setting_t *g, struct km_config *cfg)
{
	static const char *const known[] = { "pidfile", "control_socket",
		"control_socket_mode", "metrics_address", "user", "group", "log",
		"instance_id",
		"status_interval_ms", "hang_timeout_ms", "drain_timeout_ms", "restart",
		NULL };
	static const char *const known_log[] = { "target", "file", "level",
		"format", NULL };
	static const char *const known_restart[] = { "initial_delay_ms",
		"max_delay_ms", "stable_after_ms", "max_failures", "failure_window_ms",
		"failed_cooldown_ms", "jitter_pct", NULL };
	config_setting_t *log = g ? config_setting_get_member(g, "log") : NULL;
	config_setting_t *rs = g ? config_setting_get_member(g, "restart") : NULL;
	struct km_restart_conf *r = &cfg->restart;
	char *s;

	if (g)
		cfg_check_keys(e, g, known, "global");
	cfg->pidfile = cfg_strdup_opt(g, "pidfile", "/run/kmirrord.pid", e, "global");
	cfg->control_socket = cfg_strdup_opt(g, "control_socket",
	    "/run/kmirrord.sock", e, "global");
	s = cfg_strdup_opt(g, "control_socket_mode", "0600", e, "global");
	cfg->control_socket_mode = (int)strtol(s, NULL, 8);
	if (cfg->control_socket_mode <= 0 || cfg->control_socket_mode > 0777)
		cfg_error(e, cfg_line(config_setting_get_member(g, "control_socket_mode")),
		    "control_socket_mode \"%s\" must be an octal mode such as \"0600\"", s);
	free(s);
	cfg->metrics_address = cfg_strdup_opt(g, "metrics_address", "", e, "global");
	cfg->user = cfg_strdup_opt(g, "user", "", e, "global");
	{
		char host[256] = "kmirrord";
		gethostname(host, sizeof(host) - 1);
		cfg->instance_id = cfg_strdup_opt(g, "instance_id", host, e, "global");
		if (!cfg_alias_valid(cfg->instance_id) && strchr(cfg->instance_id, '.') == NULL)
			cfg_error(e, cfg_line(config_setting_get_member(g, "instance_id")),
			    "instance_id \"%s\" must be letters, digits, '.', '_' or '-'",
			    cfg->instance_id);
	}
	cfg->group = cfg_strdup_opt(g, "group", "", e, "global");
	cfg->status_interval_ms = cfg_int_opt(g, "status_interval_ms", 2000, 100,
	    60000, e, "global");
	cfg->hang_timeout_ms = cfg_int_opt(g, "hang_timeout_ms", 15000, 1000,
	    3600000, e, "global");
	cfg->drain_timeout_ms = cfg_int_opt(g, "drain_timeout_ms", 10000, 100,
	    600000, e, "global");
	if (cfg->hang_timeout_ms <= 2 * cfg->status_interval_ms) {
		/* point at the setting that was written, not at "global = {" */
		config_setting_t *hs = g ? config_setting_get_member(g,
		    "hang_timeout_ms") : NULL;
		if (hs == NULL && g)
			hs = config_setting_get_member(g, "status_interval_ms");
		cfg_error(e, cfg_line(hs ? hs : g), "hang_timeout_ms (%d) must be more "
		    "than twice status_interval_ms (%d)", cfg->hang_timeout_ms,
		    cfg->status_interval_ms);
	}

	if (log) {
		cfg_check_keys(e, log, known_log, "global.log");
	}
	s = cfg_strdup_opt(log, "target", "auto", e, "global.log");
	cfg->log_target = strcmp(s, "auto") == 0 ? -1 : log_target_parse(s);
	if (cfg->log_target == -1 && strcmp(s, "auto") != 0) {
		cfg_error(e, cfg_line(config_setting_get_member(log, "target")),
		    "log target must be auto, stderr, syslog or file, not \"%s\"", s);
		cfg->log_target = -1;
	}
	free(s);
	cfg->log_file = cfg_strdup_opt(log, "file", "", e, "global.log");
	if (cfg->log_target == LOG_TO_FILE && cfg->log_file[0] != '/')
		cfg_error(e, cfg_line(log), "log target file needs an absolute file path");
	s = cfg_strdup_opt(log, "level", "info", e, "global.log");
	if ((cfg->log_level = log_level_parse(s)) == -1) {
		cfg_error(e, cfg_line(config_setting_get_member(log, "level")),
		    "log level must be error, warn, notice, info or debug, not \"%s\"", s);
		cfg->log_level = LOG_LV_INFO;
	}
	free(s);
	s = cfg_strdup_opt(log, "format", "text", e, "global.log");
	if (strcmp(s, "json") == 0)
		cfg->log_json = 1;
	else if (strcmp(s, "text") != 0)
		cfg_error(e, cfg_line(config_setting_get_member(log, "format")),
		    "log format must be text or json, not \"%s\"", s);
	free(s);

	if (rs)
		cfg_check_keys(e, rs, known_restart, "global.restart");
	r->initial_delay_ms = cfg_int_opt(rs, "initial_delay_ms", 1000, 10, 3600000, e,
	    "global.restart");
	r->max_delay_ms = cfg_int_opt(rs, "max_delay_ms", 60000, 10, 3600000, e,
	    "global.restart");
	r->stable_after_ms = cfg_int_opt(rs, "stable_after_ms", 60000, 100, 86400000,
	    e, "global.restart");
	/* the restart state remembers RESTART_HISTORY failures: more could
	 * never trip the breaker */
	r->max_failures = cfg_int_opt(rs, "max_failures", 5, 1, RESTART_HISTORY, e,
	    "global.restart");
	r->failure_window_ms = cfg_int_opt(rs, "failure_window_ms", 600000, 100,
	    86400000, e, "global.restart");
	r->failed_cooldown_ms = cfg_int_opt(rs, "failed_cooldown_ms", 0, 0, 86400000,
	    e, "global.restart");
	r->jitter_pct = cfg_int_opt(rs, "jitter_pct", 20, 0, 100, e, "global.restart");
	if (r->max_delay_ms < r->initial_delay_ms)
		cfg_error(e, cfg_line(rs), "max_delay_ms must not be below initial_delay_ms");
}

const struct km_cluster *
config_cluster(const struct km_config *cfg, const char *alias)
{
	for (size_t i = 0; i < cfg->nclusters; i++)
		if (cfg->clusters[i].alias && strcmp(cfg->clusters[i].alias, alias) == 0)
			return &cfg->clusters[i];
	return NULL;
}

const struct km_flow *
config_flow(const struct km_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nflows; i++)
		if (cfg->flows[i].name && strcmp(cfg->flows[i].name, name) == 0)
			return &cfg->flows[i];
	return NULL;
}

int
config_load(const char *path, struct km_config *cfg, char *err, size_t errlen)
{
	static const char *const known_top[] = { "global", "clusters",
		"flow_defaults", "flows", NULL };
	struct cfg_errs e = { path, err, errlen, 0 };
	config_t lc;
	config_setting_t *root, *cl, *fl, *fd;
	struct km_flow defaults;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read the file: %s", path,
			    strerror(errno));
		else
			snprintf(err, errlen, "%s:%d: syntax error: %s",
			    config_error_file(&lc) ? config_error_file(&lc) : path,
			    config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	cfg->file = strdup(path);
	root = config_root_setting(&lc);
	cfg_check_keys(&e, root, known_top, "the top level");
	cfg_load_global(&e, config_setting_get_member(root, "global"), cfg);

	cl = config_setting_get_member(root, "clusters");
	if (cl == NULL || !config_setting_is_list(cl) || config_setting_length(cl) == 0)
		cfg_error(&e, cl ? cfg_line(cl) : 1,
		    "clusters must be a non-empty list: clusters = ( { alias = ...; }, ... );");
	else {
		cfg->clusters = calloc(config_setting_length(cl), sizeof(*cfg->clusters));
		for (int i = 0; i < config_setting_length(cl); i++)
			cfg_load_cluster(&e, config_setting_get_elem(cl, i), cfg);
	}

	km_flow_init_defaults(&defaults);
	fd = config_setting_get_member(root, "flow_defaults");
	if (fd) {
		if (config_setting_is_group(fd))
			cfg_flow_settings(&e, fd, &defaults, "flow_defaults", 0);
		else
			cfg_error(&e, cfg_line(fd), "flow_defaults must be a group");
	}
	fl = config_setting_get_member(root, "flows");
	if (fl == NULL || !config_setting_is_list(fl))
		cfg_error(&e, fl ? cfg_line(fl) : 1,
		    "flows must be a list: flows = ( { source = ...; target = ...; }, ... );");
	else {
		cfg->flows = calloc(config_setting_length(fl) + 1, sizeof(*cfg->flows));
		for (int i = 0; i < config_setting_length(fl); i++)
			cfg_load_flow(&e, config_setting_get_elem(fl, i), &defaults, cfg);
	}
	km_flow_free(&defaults);
	config_destroy(&lc);
	if (e.n > 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int
config_load_global_text(struct km_config *cfg, const char *file,
    const char *text, char *err, size_t errlen)
{
	struct cfg_errs e = { file, err, errlen, 0 };
	config_t lc;

	err[0] = '\0';
	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: syntax error: %s", file,
		    config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	cfg_load_global(&e, config_setting_get_member(config_root_setting(&lc),
	    "global"), cfg);
	config_destroy(&lc);
	return e.n > 0 ? -1 : 0;
}

void
config_free(struct km_config *cfg)
{
	free(cfg->file);
	free(cfg->pidfile);
	free(cfg->control_socket);
	free(cfg->metrics_address);
	free(cfg->user);
	free(cfg->group);
	free(cfg->instance_id);
	free(cfg->log_file);
	for (size_t i = 0; i < cfg->nclusters; i++)
		km_cluster_free(&cfg->clusters[i]);
	free(cfg->clusters);
	for (size_t i = 0; i < cfg->nflows; i++)
		km_flow_free(&cfg->flows[i]);
	free(cfg->flows);
	memset(cfg, 0, sizeof(*cfg));
}

static void
cfg_print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", out);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* Print the effective config in kmirrord.conf syntax, secrets masked. */
void
config_print(const struct km_config *cfg, FILE *out)
{
	config_print_flags(cfg, out, 0);
}

void
config_print_flags(const struct km_config *cfg, FILE *out, int flags)
{
	const struct km_restart_conf *r = &cfg->restart;
	char buf[8192];

	if (flags & CONFIG_PRINT_CONVERT)
		fprintf(out, "# kmirrord.conf converted from %s (%s)\n", cfg->file,
		    cfg->is_mm2 ? "MM2 mm2.properties" : "kmirrord.conf");
	fprintf(out, "# effective configuration of %s\nglobal = {\n", cfg->file);
	fprintf(out, "  instance_id = \"%s\";\n", cfg->instance_id);
	fprintf(out, "  pidfile = \"%s\";\n  control_socket = \"%s\";\n"
	    "  control_socket_mode = \"%04o\";\n  metrics_address = \"%s\";\n",
	    cfg->pidfile, cfg->control_socket, cfg->control_socket_mode,
	    cfg->metrics_address);
	fprintf(out, "  status_interval_ms = %d;\n  hang_timeout_ms = %d;\n"
	    "  drain_timeout_ms = %d;\n", cfg->status_interval_ms,
	    cfg->hang_timeout_ms, cfg->drain_timeout_ms);
	fprintf(out, "  log = { target = \"%s\"; file = \"%s\"; level = \"%s\"; "
	    "format = \"%s\"; };\n", cfg->log_target < 0 ? "auto" :
	    log_target_names[cfg->log_target], cfg->log_file,
	    log_level_names[cfg->log_level], cfg->log_json ? "json" : "text");
	fprintf(out, "  restart = { initial_delay_ms = %d; max_delay_ms = %d; "
	    "stable_after_ms = %d; max_failures = %d; failure_window_ms = %d; "
	    "failed_cooldown_ms = %d; jitter_pct = %d; };\n};\n", r->initial_delay_ms,
	    r->max_delay_ms, r->stable_after_ms, r->max_failures,
	    r->failure_window_ms, r->failed_cooldown_ms, r->jitter_pct);
	fprintf(out, "clusters = (\n");
	for (size_t i = 0; i < cfg->nclusters; i++) {
		const struct km_cluster *c = &cfg->clusters[i];
		fprintf(out, "  { alias = \"%s\";\n", c->alias);
		fprintf(out, "    bootstrap_servers = \"%s\";\n",
		    km_props_get(&c->props[KM_SCOPE_COMMON], "bootstrap.servers") ?
		    km_props_get(&c->props[KM_SCOPE_COMMON], "bootstrap.servers") : "");
		for (int s = 0; s < KM_SCOPE__COUNT; s++) {
			size_t shown = 0;
			for (size_t j = 0; j < c->props[s].n; j++)
				shown += strcmp(c->props[s].v[j].key, "bootstrap.servers") != 0;
			if (shown == 0)
				continue;
			fprintf(out, "    %s = {\n", km_scope_names[s]);
			for (size_t j = 0; j < c->props[s].n; j++) {
				const struct km_prop *p = &c->props[s].v[j];
				if (strcmp(p->key, "bootstrap.servers") == 0)
					continue;
				snprintf(buf, sizeof(buf), "%s", p->key);
				for (char *q = buf; *q; q++)
					if (*q == '.')
						*q = '_';
				fprintf(out, "      %s = ", buf);
				if (p->secret && (flags & CONFIG_PRINT_CONVERT)) {
					int ref = strncmp(p->val, "env:", 4) == 0 ||
					    strncmp(p->val, "file:", 5) == 0;
					cfg_print_string(out, p->val);
					if (ref)
						fprintf(out, ";\n");
					else if (strcmp(p->val, "********") == 0)
						fprintf(out, ";  # NOT CONVERTED: see the "
						    "warning of line %d\n", p->line);
					else
						fprintf(out, ";  # literal secret, as written "
						    "in line %d of %s\n", p->line, cfg->file);
					continue;
				}
				cfg_print_string(out, p->secret ? "********" : p->val);
				fprintf(out, ";\n");
			}
			fprintf(out, "    };\n");
		}
		fprintf(out, "  }%s\n", i + 1 < cfg->nclusters ? "," : "");
	}
	fprintf(out, ");\nflows = (\n");
	for (size_t i = 0; i < cfg->nflows; i++) {
		const struct km_flow *f = &cfg->flows[i];
		long long tasks = FLOW_INT(f, FS_TASKS), workers = km_flow_source_workers(f);
		/* who owns what: the rule, since partitions are only known live
		 * (kmirrorctl status --json shows each worker's shards and partitions) */
		fprintf(out, "  # %s: %lld shards; partition p of topic t is in shard "
		    "(fnv1a32(t) + p) mod %lld;\n  # this instance runs %lld source workers, "
		    "which share the shards with every\n  # other instance through group "
		    "kmirror.%s.%s on %s", f->name, tasks, tasks, workers, f->source,
		    f->target, f->target);
		{
			fprintf(out, ";\n  # without the group protocol (shard_assignment = "
			    "\"static\"):");
			for (long long w = 0; w < workers; w++) {
				fprintf(out, " worker %lld: shards", w);
				for (long long sh = w; sh < tasks; sh += workers)
					fprintf(out, " %lld", sh);
				fprintf(out, "%s", w + 1 < workers ? ";" : "");
			}
		}
		fprintf(out, "\n");
		fprintf(out, "  { name = \"%s\"; source = \"%s\"; target = \"%s\";\n",
		    f->name, f->source, f->target);
		for (int id = 0; id < FS__COUNT; id++) {
			fprintf(out, "    %s = ", fs_defs[id].name);
			switch (fs_defs[id].type) {
			case FS_T_BOOL:
			case FS_T_INT:
				fs_format(&f->v[id], id, buf, sizeof(buf));
				fputs(buf, out);
				break;
			case FS_T_LIST:
				fputc('[', out);
				for (size_t j = 0; j < f->v[id].nlist; j++) {
					fputs(j ? ", " : " ", out);
					cfg_print_string(out, f->v[id].list[j]);
				}
				fputs(" ]", out);
				break;
			default:
				fs_format(&f->v[id], id, buf, sizeof(buf));
				cfg_print_string(out, buf);
			}
			fprintf(out, ";\n");
		}
		fprintf(out, "  }%s\n", i + 1 < cfg->nflows ? "," : "");
	}
	fprintf(out, ");\n");
}

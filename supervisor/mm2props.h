/*
 * mm2props.h: run an Apache Kafka MirrorMaker 2 dedicated-mode file
 * (mm2.properties) as it is. The file is read as java.util.Properties reads
 * it, resolved as MirrorMakerConfig resolves it (clusters, A->B.* flows,
 * per-cluster and per-role client properties, top-level defaults, config
 * providers) and translated into the struct km_config the native loader
 * (config.c) produces, so the supervisor runs it unchanged. Java client
 * properties become librdkafka properties. See docs/mm2-properties.md.
 */
#ifndef KM_MM2PROPS_H
#define KM_MM2PROPS_H
#include <stddef.h>
#include "config.h"

/* One key = value of a properties file, in file order; a key given twice
 * keeps its last value (and that line). */
struct jprop {
	char *key;
	char *val;
	int   line;	/* line where the logical line starts */
	int   used;	/* set by the loader when it consumed the key */
};

struct jprops {
	struct jprop *v;
	size_t        n;
};

/* Parse java.util.Properties text: comments (# !), key=value, key: value,
 * key value, continuation lines, escapes (\t \n \r \f \uXXXX, \x -> x);
 * values are then trimmed (Kafka's ConfigDef trims them). 0, or -1 with
 * "file:line: ..." in err. */
int  jprops_parse(const char *text, size_t len, const char *file,
         struct jprops *out, char *err, size_t errlen);
int  jprops_read_file(const char *path, struct jprops *out, char *err,
         size_t errlen);
const char *jprops_get(const struct jprops *p, const char *key);
void jprops_free(struct jprops *p);

/* Keep config-provider references as kmirrord.conf references (env:NAME,
 * file:/path) instead of resolving them: for `kmirrorctl convert`. A
 * secret whose reference has no kmirrord.conf form is held as "********"
 * and named in the warning. */
#define MM2P_KEEP_REFS 1

/*
 * Load mm2.properties into cfg (cfg->is_mm2 = 1). Returns 0, or -1 with
 * every error in err, each "file:line: ...". warn receives one warning (or
 * "") listing every key kmirror does not use, each with its line and why.
 */
int  mm2props_load(const char *path, struct km_config *cfg, char *err,
         size_t errlen, char *warn, size_t warnlen);
/* Same, with MM2P_* flags; *unconvertible (may be NULL) counts the
 * secrets MM2P_KEEP_REFS could not keep as references. */
int  mm2props_load_flags(const char *path, struct km_config *cfg, char *err,
         size_t errlen, char *warn, size_t warnlen, int flags,
         int *unconvertible);

#endif

/*
 * mm2props.c: load an MM2 dedicated-mode mm2.properties into struct
 * km_config. Reading follows java.util.Properties.load; resolution follows
 * MirrorMakerConfig (clusterProps, connectorBaseConfig, transform); client
 * properties are translated from the Java client to librdkafka. Every key
 * is either used, or named in the one warning with the reason, or an error
 * naming the file and line. docs/mm2-properties.md is the user's view.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "filter.h"
#include "flowconf.h"
#include "mm2props.h"

/* ------------------------------------------------------------------ text */

struct sbuf {
	char  *s;
	size_t n, cap;
};

static void
sb_putn(struct sbuf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (ns == NULL)
			abort();
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, p, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void
sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

static void
sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_puts(b, tmp);
}

static void
sb_utf8(struct sbuf *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80)
		sb_putc(b, (char)cp);
	else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		sb_putn(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sb_putn(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sb_putn(b, u, 4);
	}
}

/* ---------------------------------------------------- java.util.Properties */

static int
jp_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

static int
jp_hex4(const char *p, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Properties.loadConvert: undo escapes. -1 on a malformed \uXXXX. */
static int
jp_unescape(const char *p, size_t n, struct sbuf *out)
{
	size_t i = 0;

	sb_putn(out, "", 0);
	while (i < n) {
		char c = p[i++];
		if (c != '\\') {
			sb_putc(out, c);
			continue;
		}
		if (i >= n)
			break;		/* a lone trailing backslash is dropped */
		c = p[i++];
		switch (c) {
		case 't': sb_putc(out, '\t'); break;
		case 'n': sb_putc(out, '\n'); break;
		case 'r': sb_putc(out, '\r'); break;
		case 'f': sb_putc(out, '\f'); break;
		case 'u': {
			unsigned cp, lo;
			if (jp_hex4(p + i, n - i, &cp) == -1)
				return -1;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= n && p[i] == '\\' &&
			    p[i + 1] == 'u' && jp_hex4(p + i + 2, n - i - 2, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			sb_utf8(out, cp);
			break;
		}
		default:
			sb_putc(out, c);
		}
	}
	return 0;
}

static void
jprops_set(struct jprops *p, const char *key, const char *val, int line)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0) {
			char *nv = strdup(val);
			if (nv == NULL)
				abort();
			explicit_bzero(p->v[i].val, strlen(p->v[i].val));
			free(p->v[i].val);
			p->v[i].val = nv;
			p->v[i].line = line;
			return;
		}
	struct jprop *nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
	if (nv == NULL)
		abort();
	p->v = nv;
	nv[p->n].key = strdup(key);
	nv[p->n].val = strdup(val);
	nv[p->n].line = line;
	nv[p->n].used = 0;
	if (!nv[p->n].key || !nv[p->n].val)
		abort();
	p->n++;
}

static struct jprop *
jprops_find(const struct jprops *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return &p->v[i];
	return NULL;
}

const char *
jprops_get(const struct jprops *p, const char *key)
{
	struct jprop *j = jprops_find(p, key);
	return j ? j->val : NULL;
}

void
jprops_free(struct jprops *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		if (p->v[i].val)
			explicit_bzero(p->v[i].val, strlen(p->v[i].val));
		free(p->v[i].val);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static char *
trim_dup(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = strndup(s, n);
	if (r == NULL)
		abort();
	return r;
}

int
jprops_parse(const char *text, size_t len, const char *file, struct jprops *out,
    char *err, size_t errlen)
{
	size_t i = 0;
	int line = 1;
	struct sbuf raw = { 0 }, key = { 0 }, val = { 0 };
	int rc = 0;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	while (i < len) {
		int start_line;

		/* a natural line: leading white space, blank, comment */
		while (i < len && jp_ws(text[i]))
			i++;
		if (i >= len)
			break;
		if (text[i] == '\n' || text[i] == '\r') {
			if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			i++;
			line++;
			continue;
		}
		if (text[i] == '#' || text[i] == '!') {
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			continue;
		}
		/* the logical line: natural lines joined at an odd number of
		 * trailing backslashes, leading white space of the next dropped */
		start_line = line;
		raw.n = 0;
		sb_putn(&raw, "", 0);
		for (;;) {
			size_t s = i, e, bs = 0;
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			e = i;
			if (i < len) {
				if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
					i++;
				i++;
				line++;
			}
			while (e - bs > s && text[e - bs - 1] == '\\')
				bs++;
			if (bs % 2 == 1) {
				sb_putn(&raw, text + s, e - s - 1);
				while (i < len && jp_ws(text[i]))
					i++;
				if (i >= len)
					break;
				continue;
			}
			sb_putn(&raw, text + s, e - s);
			break;
		}
		/* key ends at the first unescaped '=', ':' or white space */
		size_t m = raw.n, k = 0, vs = m;
		int esc = 0, sep = 0;
		while (k < m) {
			char c = raw.s[k];
			if (c == '\\')
				esc = !esc;
			else {
				if ((c == '=' || c == ':') && !esc) {
					vs = k + 1;
					sep = 1;
					break;
				}
				if (jp_ws(c) && !esc) {
					vs = k + 1;
					break;
				}
				esc = 0;
			}
			k++;
		}
		while (vs < m) {
			char c = raw.s[vs];
			if (!jp_ws(c)) {
				if (!sep && (c == '=' || c == ':'))
					sep = 1;
				else
					break;
			}
			vs++;
		}
		key.n = val.n = 0;
		if (jp_unescape(raw.s, k, &key) == -1 ||
		    jp_unescape(raw.s + vs, m - vs, &val) == -1) {
			snprintf(err, errlen, "%s:%d: malformed \\uXXXX escape (four hex "
			    "digits are needed)", file, start_line);
			rc = -1;
			break;
		}
		char *tv = trim_dup(val.s);
		jprops_set(out, key.s, tv, start_line);
		explicit_bzero(tv, strlen(tv));
		free(tv);
	}
	if (raw.s)
		explicit_bzero(raw.s, raw.cap);
	if (val.s)
		explicit_bzero(val.s, val.cap);
	free(raw.s);
	free(key.s);
	free(val.s);
	if (rc == -1)
		jprops_free(out);
	return rc;
}

static char *
read_whole(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	struct sbuf b = { 0 };
	char tmp[8192];
	size_t n;

	if (f == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	sb_putn(&b, "", 0);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		sb_putn(&b, tmp, n);
	if (ferror(f)) {
		snprintf(why, whylen, "%s", strerror(errno));
		fclose(f);
		free(b.s);
		return NULL;
	}
	fclose(f);
	explicit_bzero(tmp, sizeof(tmp));
	*len = b.n;
	return b.s;
}

int
jprops_read_file(const char *path, struct jprops *out, char *err, size_t errlen)
{
	char why[256];
	size_t len;
	char *text = read_whole(path, &len, why, sizeof(why));
	int rc;

	memset(out, 0, sizeof(*out));
	if (text == NULL) {
		snprintf(err, errlen, "%s: cannot read the file: %s", path, why);
		return -1;
	}
	rc = jprops_parse(text, len, path, out, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ the loader */

enum prov_kind { PROV_ENV, PROV_FILE, PROV_DIR };

struct m2ref {
	char *native;	/* kmirrord.conf form (env:X, file:/p), or NULL */
	char *value;	/* resolved, or NULL with error set */
	char *error;
};

struct m2warn {
	int   line;
	char *key;
	char *why;
};

/* A cluster's Java client properties by scope (common, consumer, ...). */
struct m2cl {
	struct jprops sc[KM_SCOPE__COUNT];
	char *reset, *iso;	/* source consumer: auto.offset.reset, isolation.level */
	int   reset_line, iso_line;
};

struct m2 {
	const char        *file;
	struct jprops      p;
	int                flags;
	struct km_config  *cfg;
	char              *err;
	size_t             errlen;
	int                nerr;
	struct m2warn     *w;
	size_t             nw;
	struct m2ref      *refs;
	size_t             nrefs;
	char             **prov;
	enum prov_kind    *prov_kind;
	size_t             nprov;
	int                unconvertible;
	struct m2cl       *cl;
	char             **aliases;
	size_t             naliases;
};

static void __attribute__((format(printf, 3, 4)))
m2_error(struct m2 *m, int line, const char *fmt, ...)
{
	size_t used = strlen(m->err);
	va_list ap;

	if (m->nerr++ >= 30 || used + 2 >= m->errlen)
		return;
	if (used)
		m->err[used++] = '\n';
	if (line > 0)
		snprintf(m->err + used, m->errlen - used, "%s:%d: ", m->file, line);
	else
		snprintf(m->err + used, m->errlen - used, "%s: ", m->file);
	used = strlen(m->err);
	va_start(ap, fmt);
	vsnprintf(m->err + used, m->errlen - used, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
m2_warn(struct m2 *m, int line, const char *key, const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	struct m2warn *nw = realloc(m->w, (m->nw + 1) * sizeof(*nw));

	if (nw == NULL)
		abort();
	m->w = nw;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	nw[m->nw].line = line;
	nw[m->nw].key = strdup(key ? key : "");
	nw[m->nw].why = strdup(why);
	m->nw++;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --- config providers (MirrorMakerConfig.transform, ConfigTransformer) */

static const char *
simple_class(const char *cls)
{
	const char *dot = strrchr(cls, '.');
	return dot ? dot + 1 : cls;
}

static void
m2_providers(struct m2 *m)
{
	struct jprop *list = jprops_find(&m->p, "config.providers");
	char **names = NULL;
	size_t n = 0;

	if (list == NULL)
		return;
	list->used = 1;
	if (filter_list_split(list->val, &names, &n) == -1)
		abort();
	m->prov = calloc(n + 1, sizeof(*m->prov));
	m->prov_kind = calloc(n + 1, sizeof(*m->prov_kind));
	for (size_t i = 0; i < n; i++) {
		char key[300];
		snprintf(key, sizeof(key), "config.providers.%s.class", names[i]);
		struct jprop *cls = jprops_find(&m->p, key);
		if (cls == NULL) {
			m2_error(m, list->line, "config provider \"%s\" has no %s", names[i],
			    key);
			continue;
		}
		cls->used = 1;
		const char *sc = simple_class(cls->val);
		enum prov_kind k;
		if (strcmp(sc, "EnvVarConfigProvider") == 0)
			k = PROV_ENV;
		else if (strcmp(sc, "FileConfigProvider") == 0)
			k = PROV_FILE;
		else if (strcmp(sc, "DirectoryConfigProvider") == 0)
			k = PROV_DIR;
		else {
			m2_error(m, cls->line, "config provider class %s is not supported: "
			    "kmirror reads EnvVarConfigProvider, FileConfigProvider and "
			    "DirectoryConfigProvider references", cls->val);
			continue;
		}
		m->prov[m->nprov] = strdup(names[i]);
		m->prov_kind[m->nprov++] = k;
	}
	/* provider parameters (allowlist.pattern, allowed.paths) */
	for (size_t i = 0; i < m->p.n; i++) {
		struct jprop *j = &m->p.v[i];
		if (starts(j->key, "config.providers.") && !j->used) {
			j->used = 1;
			m2_warn(m, j->line, j->key, "ignored: provider parameters are not "
			    "applied (kmirror reads any variable or file it is given)");
		}
	}
	filter_list_free(names, n);
}

static int
m2_prov(struct m2 *m, const char *name, size_t len)
{
	for (size_t i = 0; i < m->nprov; i++)
		if (strlen(m->prov[i]) == len && strncmp(m->prov[i], name, len) == 0)
			return (int)i;
	return -1;
}

/* Resolve one reference into a new m2ref; returns its index. */
static size_t
m2_new_ref(struct m2 *m, enum prov_kind kind, const char *path, const char *key)
{
	struct m2ref r = { 0 };
	char why[512];

	switch (kind) {
	case PROV_ENV:
		if (path && *path) {
			asprintf(&r.error, "EnvVarConfigProvider takes no path: "
			    "write ${env:%s}", key);
			break;
		}
		if (getenv(key))
			r.value = strdup(getenv(key));
		else
			asprintf(&r.error, "environment variable %s is not set", key);
		asprintf(&r.native, "env:%s", key);
		break;
	case PROV_FILE: {
		struct jprops fp;
		if (path == NULL) {
			asprintf(&r.error, "FileConfigProvider needs a path and a key, "
			    "${file:/path/to/file.properties:%s}: it reads one key of a "
			    "properties file (for a whole file use DirectoryConfigProvider, "
			    "${dir:/directory:file})", key);
			break;
		}
		if (jprops_read_file(path, &fp, why, sizeof(why)) == -1) {
			r.error = strdup(why);
			break;
		}
		const char *v = jprops_get(&fp, key);
		if (v)
			r.value = strdup(v);
		else
			asprintf(&r.error, "%s has no key \"%s\"", path, key);
		jprops_free(&fp);
		break;
	}
	case PROV_DIR: {
		char fpath[4096];
		size_t len;
		if (path == NULL) {
			asprintf(&r.error, "DirectoryConfigProvider needs a directory "
			    "and a file name, ${dir:/directory:%s}", key);
			break;
		}
		snprintf(fpath, sizeof(fpath), "%s/%s", path, key);
		r.value = read_whole(fpath, &len, why, sizeof(why));
		if (r.value == NULL)
			asprintf(&r.error, "cannot read %s: %s", fpath, why);
		asprintf(&r.native, "file:%s", fpath);
		break;
	}
	}
	struct m2ref *nr = realloc(m->refs, (m->nrefs + 1) * sizeof(*nr));
	if (nr == NULL)
		abort();
	m->refs = nr;
	nr[m->nrefs] = r;
	return m->nrefs++;
}

/* Replace every ${provider:[path:]key} of a declared provider by a marker
 * \001N\002 (N indexes m->refs). A reference to an undeclared provider is
 * an error: MM2 would pass its text on as the value. */
static char *
m2_subst(struct m2 *m, const char *val, int line, const char *key)
{
	struct sbuf b = { 0 };
	const char *p = val;

	sb_putn(&b, "", 0);
	while (*p) {
		const char *open = strstr(p, "${"), *close, *colon;
		if (open == NULL || (close = strchr(open + 2, '}')) == NULL ||
		    (colon = memchr(open + 2, ':', (size_t)(close - open - 2))) == NULL) {
			sb_puts(&b, p);
			break;
		}
		sb_putn(&b, p, (size_t)(open - p));
		int pi = m2_prov(m, open + 2, (size_t)(colon - open - 2));
		if (pi < 0) {
			m2_error(m, line, "%s: \"%.*s\" refers to config provider \"%.*s\", "
			    "which config.providers does not declare (MM2 would use the "
			    "text as it is)", key, (int)(close - open + 1), open,
			    (int)(colon - open - 2), open + 2);
			sb_putn(&b, open, (size_t)(close - open + 1));
			p = close + 1;
			continue;
		}
		/* the path ends at the first ':' after the provider, the key is
		 * the rest (ConfigTransformer's lazy pattern) */
		char *rest = strndup(colon + 1, (size_t)(close - colon - 1));
		char *c2 = strchr(rest, ':'), *path = NULL, *k = rest;
		if (c2) {
			*c2 = '\0';
			path = rest;
			k = c2 + 1;
		}
		size_t idx = m2_new_ref(m, m->prov_kind[pi], path, k);
		free(rest);
		sb_printf(&b, "\001%zu\002", idx);
		p = close + 1;
	}
	return b.s;
}

static int
has_ref(const char *s)
{
	return strchr(s, '\001') != NULL;
}

/* The value with references resolved; NULL (error reported) if one cannot
 * be. *secret is set when a reference was used. */
static char *
m2_resolve(struct m2 *m, const char *s, int line, const char *key, int *secret)
{
	struct sbuf b = { 0 };

	if (secret)
		*secret = 0;
	sb_putn(&b, "", 0);
	while (*s) {
		const char *mk = strchr(s, '\001');
		if (mk == NULL) {
			sb_puts(&b, s);
			break;
		}
		sb_putn(&b, s, (size_t)(mk - s));
		size_t idx = strtoul(mk + 1, NULL, 10);
		const char *end = strchr(mk, '\002');
		struct m2ref *r = &m->refs[idx];
		if (r->value == NULL) {
			m2_error(m, line, "%s: %s", key, r->error);
			explicit_bzero(b.s, b.cap);
			free(b.s);
			return NULL;
		}
		sb_puts(&b, r->value);
		if (secret)
			*secret = 1;
		s = end + 1;
	}
	return b.s;
}

static void
free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The kmirrord.conf reference of a value that is exactly one reference. */
static const char *
m2_native(struct m2 *m, const char *s)
{
	char *end;
	size_t idx;

	if (s[0] != '\001')
		return NULL;
	idx = strtoul(s + 1, &end, 10);
	if (*end != '\002' || end[1] != '\0' || idx >= m->nrefs)
		return NULL;
	return m->refs[idx].native;
}

/* Add a librdkafka property, checked by librdkafka. */
static void
m2_add(struct m2 *m, struct km_props *p, const char *jkey, const char *key,
    const char *val, int line, const char *where)
{
	char why[600];

	if (has_ref(val)) {
		if (m->flags & MM2P_KEEP_REFS) {
			const char *nat = m2_native(m, val);
			if (nat) {
				km_props_add(p, key, nat, 1, line);
				return;
			}
			m->unconvertible++;
			m2_warn(m, line, jkey, "NOT CONVERTED: the value comes from a "
			    "config provider reference that kmirrord.conf cannot express "
			    "(only env:NAME and file:/path), written as \"********\": put "
			    "the secret in a file of its own and write \"file:/path\"");
			km_props_add(p, key, "********", 1, line);
			return;
		}
		int secret;
		char *v = m2_resolve(m, val, line, jkey, &secret);
		if (v == NULL)
			return;
		if (config_check_cluster_prop(key, v, why, sizeof(why)) == -1)
			m2_error(m, line, "%s (%s as librdkafka %s): %s", jkey, where, key,
			    why);
		else
			km_props_add(p, key, v, 1, line);
		free_secret(v);
		return;
	}
	if (config_check_cluster_prop(key, val, why, sizeof(why)) == -1)
		m2_error(m, line, "%s (%s as librdkafka %s): %s", jkey, where, key, why);
	else
		km_props_add(p, key, val, 0, line);
}

/* --- Java client properties -> librdkafka */

/* MirrorClientConfig.CLIENT_CONFIG_DEF: what clusterProps copies down to
 * every client and fills in from the top level. */
static int
is_client_key(const char *k)
{
	return strcmp(k, "bootstrap.servers") == 0 ||
	    strcmp(k, "security.protocol") == 0 || starts(k, "ssl.") ||
	    starts(k, "sasl.");
}

/* Connect worker (herder) settings: no meaning for kmirror. */
static int
is_worker_key(const char *k)
{
	static const char *const prefixes[] = { "offset.storage.",
		"config.storage.", "status.storage.", "key.converter",
		"value.converter", "header.converter", "dedicated.mode.", "rest.",
		"listeners", "admin.listeners", "plugin.path", "plugin.discovery",
		"offset.flush.", "worker.", "task.shutdown.", "scheduled.rebalance.",
		"connector.client.config.override.policy", "exactly.once.source.support",
		"inter.worker.", "session.timeout.ms", "heartbeat.interval.ms",
		"rebalance.timeout.ms", "connect.protocol", "response.http.headers.",
		"access.control.", "metrics.", "auto.include.jmx.reporter",
		"topic.creation.enable", "producer.override.", "consumer.override.",
		"admin.override.", "offset.storage", "config.storage",
		"status.storage", NULL };
	for (int i = 0; prefixes[i]; i++)
		if (starts(k, prefixes[i]))
			return 1;
	return 0;
}

static const char *
scope_get(const struct m2cl *cl, int scope, const char *key, int *line)
{
	struct jprop *j = jprops_find(&cl->sc[scope], key);

	if (j == NULL && scope != KM_SCOPE_COMMON)
		j = jprops_find(&cl->sc[KM_SCOPE_COMMON], key);
	if (j) {
		j->used = 1;
		if (line)
			*line = j->line;
	}
	return j ? j->val : NULL;
}

/* What a key store file holds, by its first bytes. */
enum store_kind { STORE_UNREADABLE, STORE_PEM, STORE_PKCS12, STORE_JKS,
	STORE_JCEKS, STORE_OTHER };

static enum store_kind
store_sniff(const char *path, char *why, size_t whylen)
{
	unsigned char b[64];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return STORE_UNREADABLE;
	}
	n = fread(b, 1, sizeof(b), f);
	fclose(f);
	if (n >= 4 && b[0] == 0xfe && b[1] == 0xed && b[2] == 0xfe && b[3] == 0xed)
		return STORE_JKS;
	if (n >= 4 && b[0] == 0xce && b[1] == 0xce && b[2] == 0xce && b[3] == 0xce)
		return STORE_JCEKS;
	if (n >= 2 && b[0] == 0x30)
		return STORE_PKCS12;
	for (size_t i = 0; i + 10 <= n; i++)
		if (memcmp(b + i, "-----BEGIN", 10) == 0)
			return STORE_PEM;
	return STORE_OTHER;
}

/* The certificates of a PKCS12 trust store, as PEM text. */
static char *
pkcs12_certs_pem(const char *path, const char *pw, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	PKCS12 *p12;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	BIO *bio;
	char *out = NULL;
	int n = 0;

	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	p12 = d2i_PKCS12_fp(f, NULL);
	fclose(f);
	if (p12 == NULL) {
		snprintf(why, whylen, "%s is not a PKCS12 file", path);
		return NULL;
	}
	if (!PKCS12_parse(p12, pw ? pw : "", &pkey, &cert, &ca) &&
	    (pw != NULL || !PKCS12_parse(p12, NULL, &pkey, &cert, &ca))) {
		unsigned long e = ERR_get_error();
		snprintf(why, whylen, "cannot open the PKCS12 trust store %s: %s "
		    "(wrong ssl.truststore.password?)", path,
		    e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		PKCS12_free(p12);
		return NULL;
	}
	bio = BIO_new(BIO_s_mem());
	if (cert) {
		PEM_write_bio_X509(bio, cert);
		n++;
	}
	for (int i = 0; ca && i < sk_X509_num(ca); i++) {
		PEM_write_bio_X509(bio, sk_X509_value(ca, i));
		n++;
	}
	if (n == 0)
		snprintf(why, whylen, "the PKCS12 trust store %s holds no certificate",
		    path);
	else {
		char *data;
		long len = BIO_get_mem_data(bio, &data);
		out = strndup(data, (size_t)len);
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return out;
}

/* The certificate chain and the private key (unencrypted PKCS#8) of a
 * PKCS12 key store, as PEM text. */
static int
pkcs12_keystore_pem(const char *path, const char *pw, char **cert_pem,
    char **key_pem, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	PKCS12 *p12;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	BIO *cb, *kb;
	char *data;
	long len;

	*cert_pem = *key_pem = NULL;
	if (f == NULL) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	p12 = d2i_PKCS12_fp(f, NULL);
	fclose(f);
	if (p12 == NULL) {
		snprintf(why, whylen, "%s is not a PKCS12 file", path);
		return -1;
	}
	if (!PKCS12_parse(p12, pw ? pw : "", &pkey, &cert, &ca)) {
		unsigned long e = ERR_get_error();
		snprintf(why, whylen, "cannot open the PKCS12 key store %s: %s "
		    "(wrong ssl.keystore.password?)", path,
		    e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		PKCS12_free(p12);
		return -1;
	}
	PKCS12_free(p12);
	if (pkey == NULL || cert == NULL) {
		snprintf(why, whylen, "the PKCS12 key store %s holds no private key "
		    "with its certificate", path);
		EVP_PKEY_free(pkey);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		return -1;
	}
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(cb, cert);
	for (int i = 0; ca && i < sk_X509_num(ca); i++)
		PEM_write_bio_X509(cb, sk_X509_value(ca, i));
	PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(cb, &data);
	*cert_pem = strndup(data, (size_t)len);
	len = BIO_get_mem_data(kb, &data);
	*key_pem = strndup(data, (size_t)len);
	explicit_bzero(data, (size_t)len);
	BIO_free(cb);
	BIO_free(kb);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	return 0;
}

static void
m2_jks_error(struct m2 *m, int line, const char *key, const char *path,
    int trust)
{
	m2_error(m, line, "%s: %s is a Java key store (JKS), which librdkafka "
	    "cannot read; convert it once with keytool, e.g. %s", key, path,
	    trust ? "keytool -exportcert -rfc -alias <alias> -keystore <store.jks> "
	    "-file ca.pem, then ssl.truststore.type=PEM and "
	    "ssl.truststore.location=ca.pem" :
	    "keytool -importkeystore -srckeystore <store.jks> -destkeystore "
	    "<store.p12> -deststoretype PKCS12, then ssl.keystore.type=PKCS12");
}

/* ssl.truststore.* and ssl.keystore.* of one scope. */
static void
m2_stores(struct m2 *m, struct m2cl *cl, int scope, struct km_props *out,
    const char *where)
{
	int l_loc = 0, l_type = 0, l_pw = 0, l = 0;
	const char *loc, *type, *pw, *v;
	char why[600];

	/* trust store */
	if ((v = scope_get(cl, scope, "ssl.truststore.certificates", &l)) != NULL)
		m2_add(m, out, "ssl.truststore.certificates", "ssl.ca.pem", v, l, where);
	loc = scope_get(cl, scope, "ssl.truststore.location", &l_loc);
	type = scope_get(cl, scope, "ssl.truststore.type", &l_type);
	pw = scope_get(cl, scope, "ssl.truststore.password", &l_pw);
	if (loc) {
		char *path = m2_resolve(m, loc, l_loc, "ssl.truststore.location", NULL);
		enum store_kind k = path ? store_sniff(path, why, sizeof(why)) :
		    STORE_UNREADABLE;
		if (path && k == STORE_UNREADABLE)
			m2_error(m, l_loc, "ssl.truststore.location: %s", why);
		else if (k == STORE_PEM) {
			if (type && strcasecmp(type, "PEM") != 0)
				m2_warn(m, l_type, "ssl.truststore.type", "says %s, but %s "
				    "is PEM: read as PEM", type, path);
			m2_add(m, out, "ssl.truststore.location", "ssl.ca.location", loc,
			    l_loc, where);
		} else if (k == STORE_PKCS12) {
			char *rpw = pw ? m2_resolve(m, pw, l_pw, "ssl.truststore.password",
			    NULL) : NULL;
			char *pem = (pw && !rpw) ? NULL : pkcs12_certs_pem(path, rpw, why,
			    sizeof(why));
			if (pem == NULL && !(pw && !rpw))
				m2_error(m, l_loc, "ssl.truststore.location: %s", why);
			else if (pem) {
				/* certificates are public: held as ssl.ca.pem */
				m2_add(m, out, "ssl.truststore.location", "ssl.ca.pem", pem,
				    l_loc, where);
				free(pem);
			}
			free_secret(rpw);
		} else if (k == STORE_JKS || k == STORE_JCEKS)
			m2_jks_error(m, l_loc, "ssl.truststore.location", path, 1);
		else if (k == STORE_OTHER)
			m2_error(m, l_loc, "ssl.truststore.location: %s is neither PEM nor "
			    "PKCS12", path);
		free(path);
	} else if (pw && scope == KM_SCOPE_COMMON)
		m2_warn(m, l_pw, "ssl.truststore.password", "ignored: no "
		    "ssl.truststore.location");

	/* key store */
	const char *kkey = scope_get(cl, scope, "ssl.keystore.key", &l);
	int l_kp = 0, l_kc = 0;
	const char *keypw = scope_get(cl, scope, "ssl.key.password", &l_kp);
	const char *chain = scope_get(cl, scope, "ssl.keystore.certificate.chain",
	    &l_kc);
	if (kkey)
		m2_add(m, out, "ssl.keystore.key", "ssl.key.pem", kkey, l, where);
	if (chain)
		m2_add(m, out, "ssl.keystore.certificate.chain", "ssl.certificate.pem",
		    chain, l_kc, where);
	loc = scope_get(cl, scope, "ssl.keystore.location", &l_loc);
	type = scope_get(cl, scope, "ssl.keystore.type", &l_type);
	pw = scope_get(cl, scope, "ssl.keystore.password", &l_pw);
	if (loc) {
		char *path = m2_resolve(m, loc, l_loc, "ssl.keystore.location", NULL);
		enum store_kind k = path ? store_sniff(path, why, sizeof(why)) :
		    STORE_UNREADABLE;
		if (path && k == STORE_UNREADABLE)
			m2_error(m, l_loc, "ssl.keystore.location: %s", why);
		else if (k == STORE_PEM) {
			/* Kafka's PEM key store: the private key and the chain in
			 * one file; librdkafka reads each from the same file */
			m2_add(m, out, "ssl.keystore.location", "ssl.key.location", loc,
			    l_loc, where);
			m2_add(m, out, "ssl.keystore.location", "ssl.certificate.location",
			    loc, l_loc, where);
			if (keypw)
				m2_add(m, out, "ssl.key.password", "ssl.key.password", keypw,
				    l_kp, where);
			if (pw)
				m2_warn(m, l_pw, "ssl.keystore.password", "ignored: a PEM key "
				    "store has no store password (the key's is "
				    "ssl.key.password)");
		} else if (k == STORE_PKCS12 && (m->flags & MM2P_KEEP_REFS)) {
			/* convert: librdkafka reads the PKCS12 file itself */
			m2_add(m, out, "ssl.keystore.location", "ssl.keystore.location",
			    loc, l_loc, where);
			if (pw)
				m2_add(m, out, "ssl.keystore.password", "ssl.keystore.password",
				    pw, l_pw, where);
		} else if (k == STORE_PKCS12) {
			/* read here, handed to librdkafka as PEM text: librdkafka
			 * 2.0's own PKCS12 loading leaks in every client */
			char *rpw = pw ? m2_resolve(m, pw, l_pw, "ssl.keystore.password",
			    NULL) : NULL, *cpem = NULL, *kpem = NULL;
			if (pw && rpw == NULL)
				;
			else if (pkcs12_keystore_pem(path, rpw, &cpem, &kpem, why,
			    sizeof(why)) == -1)
				m2_error(m, l_loc, "ssl.keystore.location: %s", why);
			else {
				m2_add(m, out, "ssl.keystore.location", "ssl.certificate.pem",
				    cpem, l_loc, where);
				km_props_add(out, "ssl.key.pem", kpem, 1, l_loc);
			}
			free(cpem);
			free_secret(kpem);
			free_secret(rpw);
			if (keypw) {
				char *a = m2_resolve(m, keypw, l_kp, "ssl.key.password", NULL);
				char *b = pw ? m2_resolve(m, pw, l_pw, "ssl.keystore.password",
				    NULL) : NULL;
				if (a && (!b || strcmp(a, b) != 0))
					m2_error(m, l_kp, "ssl.key.password differs from "
					    "ssl.keystore.password (%s): librdkafka opens a PKCS12 "
					    "key store and its key with one password", where);
				free_secret(a);
				free_secret(b);
			}
		} else if (k == STORE_JKS || k == STORE_JCEKS)
			m2_jks_error(m, l_loc, "ssl.keystore.location", path, 0);
		else if (k == STORE_OTHER)
			m2_error(m, l_loc, "ssl.keystore.location: %s is neither PEM nor "
			    "PKCS12", path);
		free(path);
	} else if (kkey) {
		if (keypw)
			m2_add(m, out, "ssl.key.password", "ssl.key.password", keypw, l_kp,
			    where);
	} else {
		if (keypw && scope == KM_SCOPE_COMMON)
			m2_warn(m, l_kp, "ssl.key.password", "ignored: no key store");
		if (pw && scope == KM_SCOPE_COMMON)
			m2_warn(m, l_pw, "ssl.keystore.password", "ignored: no "
			    "ssl.keystore.location");
	}
	(void)type;
}

/* sasl.jaas.config: one login module and its options. */
struct jaas_opt {
	char *k, *v;
};

static int
jaas_parse(const char *s, char **module, char **flag, struct jaas_opt *opts,
    int max, int *nopts, char *why, size_t whylen)
{
	const char *p = s;
	struct sbuf tok = { 0 };
	int n = 0;

	*module = *flag = NULL;
	*nopts = 0;
#define SKIPWS() while (*p && isspace((unsigned char)*p)) p++
#define WORD(dst) do { const char *_s = p; \
	while (*p && !isspace((unsigned char)*p) && *p != '=' && *p != ';') p++; \
	dst = strndup(_s, (size_t)(p - _s)); } while (0)
	SKIPWS();
	WORD(*module);
	SKIPWS();
	WORD(*flag);
	if (**module == '\0' || **flag == '\0') {
		snprintf(why, whylen, "expected \"LoginModuleClass required "
		    "key=value ...;\"");
		return -1;
	}
	for (;;) {
		SKIPWS();
		if (*p == ';' || *p == '\0')
			break;
		char *k;
		WORD(k);
		SKIPWS();
		if (*p != '=' || *k == '\0') {
			snprintf(why, whylen, "expected key=value after \"%s\"", k);
			free(k);
			return -1;
		}
		p++;
		SKIPWS();
		tok.n = 0;
		sb_putn(&tok, "", 0);
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			while (*p && *p != q) {
				if (*p == '\\' && p[1]) {
					p++;
					switch (*p) {
					case 'n': sb_putc(&tok, '\n'); break;
					case 't': sb_putc(&tok, '\t'); break;
					case 'r': sb_putc(&tok, '\r'); break;
					default: sb_putc(&tok, *p);
					}
					p++;
					continue;
				}
				sb_putc(&tok, *p++);
			}
			if (*p != q) {
				snprintf(why, whylen, "unterminated %c quote in the value of %s",
				    q, k);
				free(k);
				free(tok.s);
				return -1;
			}
			p++;
		} else {
			const char *st = p;
			while (*p && !isspace((unsigned char)*p) && *p != ';')
				p++;
			sb_putn(&tok, st, (size_t)(p - st));
		}
		if (n < max) {
			opts[n].k = k;
			opts[n].v = strdup(tok.s);
			n++;
		} else
			free(k);
	}
	if (*p == ';') {
		p++;
		SKIPWS();
		if (*p) {
			snprintf(why, whylen, "more than one login module: a client "
			    "takes exactly one");
			*nopts = n;
			free(tok.s);
			return -1;
		}
	}
	*nopts = n;
	if (tok.s)
		explicit_bzero(tok.s, tok.cap);
	free(tok.s);
	return 0;
#undef SKIPWS
#undef WORD
}

static void
m2_jaas(struct m2 *m, const char *val, int line, struct km_props *out,
    const char *where)
{
	char *module = NULL, *flag = NULL, why[300];
	struct jaas_opt opts[32];
	int n = 0;

	if (jaas_parse(val, &module, &flag, opts, 32, &n, why, sizeof(why)) == -1) {
		m2_error(m, line, "sasl.jaas.config: %s", why);
		goto out;
	}
	const char *sc = simple_class(module);
	if (strcmp(sc, "PlainLoginModule") == 0 || strcmp(sc, "ScramLoginModule") == 0) {
		int user = 0, pass = 0;
		for (int i = 0; i < n; i++) {
			if (strcmp(opts[i].k, "username") == 0) {
				m2_add(m, out, "sasl.jaas.config username", "sasl.username",
				    opts[i].v, line, where);
				user = 1;
			} else if (strcmp(opts[i].k, "password") == 0) {
				m2_add(m, out, "sasl.jaas.config password", "sasl.password",
				    opts[i].v, line, where);
				pass = 1;
			} else
				m2_warn(m, line, "sasl.jaas.config", "option %s of %s is not "
				    "supported by librdkafka: ignored", opts[i].k, sc);
		}
		if (!user || !pass)
			m2_error(m, line, "sasl.jaas.config: %s needs username and password",
			    sc);
	} else if (strcmp(sc, "Krb5LoginModule") == 0) {
		for (int i = 0; i < n; i++) {
			if (strcmp(opts[i].k, "principal") == 0)
				m2_add(m, out, "sasl.jaas.config principal",
				    "sasl.kerberos.principal", opts[i].v, line, where);
			else if (strcmp(opts[i].k, "keyTab") == 0)
				m2_add(m, out, "sasl.jaas.config keyTab", "sasl.kerberos.keytab",
				    opts[i].v, line, where);
			else if (strcmp(opts[i].k, "serviceName") == 0)
				m2_add(m, out, "sasl.jaas.config serviceName",
				    "sasl.kerberos.service.name", opts[i].v, line, where);
			else if (strcmp(opts[i].k, "useKeyTab") != 0 &&
			    strcmp(opts[i].k, "storeKey") != 0 &&
			    strcmp(opts[i].k, "doNotPrompt") != 0)
				m2_warn(m, line, "sasl.jaas.config", "option %s of "
				    "Krb5LoginModule is not supported by librdkafka: ignored",
				    opts[i].k);
		}
	} else
		m2_error(m, line, "sasl.jaas.config: login module %s is not supported: "
		    "kmirror translates PlainLoginModule, ScramLoginModule and "
		    "Krb5LoginModule", module);
out:
	free(module);
	free(flag);
	for (int i = 0; i < n; i++) {
		free(opts[i].k);
		free_secret(opts[i].v);
	}
}

/* Java client keys kmirror sets itself. */
static const char *
managed_key(int scope, const char *k)
{
	static const char *const cons[] = { "group.id", "enable.auto.commit",
		"auto.commit.interval.ms", "key.deserializer", "value.deserializer",
		"partition.assignment.strategy", "group.instance.id",
		"enable.partition.eof", NULL };
	static const char *const prod[] = { "key.serializer", "value.serializer",
		"transactional.id", "enable.idempotence", "acks", "retries",
		"max.in.flight.requests.per.connection", "partitioner.class", NULL };
	if (scope == KM_SCOPE_CONSUMER || scope == KM_SCOPE_COMMON)
		for (int i = 0; cons[i]; i++)
			if (strcmp(cons[i], k) == 0)
				return "set by kmirror for its consumers";
	if (scope == KM_SCOPE_PRODUCER || scope == KM_SCOPE_COMMON)
		for (int i = 0; prod[i]; i++)
			if (strcmp(prod[i], k) == 0)
				return "set by kmirror: its producers are idempotent and "
				    "transactional (acks=all)";
	return NULL;
}

static int
is_store_key(const char *k)
{
	return starts(k, "ssl.truststore.") || starts(k, "ssl.keystore.") ||
	    strcmp(k, "ssl.key.password") == 0;
}

static void
m2_scope(struct m2 *m, struct km_cluster *c, struct m2cl *cl, int scope)
{
	struct jprops *jp = &cl->sc[scope];
	struct km_props *out = &c->props[scope];
	char where[160], prefix[160];
	int any_store = 0;

	snprintf(where, sizeof(where), "cluster %s%s%s", c->alias,
	    scope == KM_SCOPE_COMMON ? "" : " ", scope == KM_SCOPE_COMMON ? "" :
	    km_scope_names[scope]);
	snprintf(prefix, sizeof(prefix), "%s.%s%s", c->alias,
	    scope == KM_SCOPE_COMMON ? "" : km_scope_names[scope],
	    scope == KM_SCOPE_COMMON ? "" : ".");
	for (size_t i = 0; i < jp->n; i++) {
		struct jprop *j = &jp->v[i];
		const char *k = j->key, *why;
		char full[400];

		snprintf(full, sizeof(full), "%s%s", prefix, k);
		if (is_store_key(k)) {
			any_store = 1;
			continue;
		}
		j->used = 1;
		if (strcmp(k, "bootstrap.servers") == 0) {
			if (scope != KM_SCOPE_COMMON)
				m2_add(m, out, full, k, j->val, j->line, where);
		} else if (strcmp(k, "security.protocol") == 0) {
			char up[64];
			snprintf(up, sizeof(up), "%s", j->val);
			for (char *q = up; *q; q++)
				*q = (char)toupper((unsigned char)*q);
			m2_add(m, out, full, k, up, j->line, where);
		} else if (strcmp(k, "sasl.mechanism") == 0)
			m2_add(m, out, full, "sasl.mechanisms", j->val, j->line, where);
		else if (strcmp(k, "sasl.jaas.config") == 0)
			/* parsed with its references in place, so a password
			 * that is one reference stays one (convert) */
			m2_jaas(m, j->val, j->line, out, where);
		else if (strcmp(k, "ssl.endpoint.identification.algorithm") == 0) {
			if (strcasecmp(j->val, "https") == 0)
				m2_add(m, out, full, k, "https", j->line, where);
			else if (j->val[0] == '\0')
				m2_add(m, out, full, k, "none", j->line, where);
			else
				m2_error(m, j->line, "%s: \"%s\" is not supported: https or "
				    "empty (none)", full, j->val);
		} else if (strcmp(k, "ssl.protocol") == 0 ||
		    strcmp(k, "ssl.enabled.protocols") == 0)
			m2_warn(m, j->line, full, "ignored: librdkafka negotiates the "
			    "highest TLS version both sides allow (TLS 1.2 or 1.3 with "
			    "OpenSSL's defaults)");
		else if (strcmp(k, "ssl.provider") == 0 ||
		    strcmp(k, "ssl.keymanager.algorithm") == 0 ||
		    strcmp(k, "ssl.trustmanager.algorithm") == 0 ||
		    strcmp(k, "ssl.secure.random.implementation") == 0 ||
		    strcmp(k, "ssl.engine.factory.class") == 0)
			m2_warn(m, j->line, full, "ignored: a Java security provider "
			    "setting (librdkafka uses OpenSSL)");
		else if (strcmp(k, "ssl.cipher.suites") == 0)
			m2_warn(m, j->line, full, "not supported: Java cipher suite names "
			    "differ from OpenSSL's; set ssl.cipher.suites in kmirrord.conf "
			    "with OpenSSL names");
		else if ((scope == KM_SCOPE_CONSUMER || scope == KM_SCOPE_COMMON) &&
		    strcmp(k, "auto.offset.reset") == 0) {
			if (strcmp(j->val, "earliest") != 0 && strcmp(j->val, "latest") != 0)
				m2_error(m, j->line, "%s must be earliest or latest, not \"%s\"",
				    full, j->val);
			free(cl->reset);
			cl->reset = strdup(j->val);
			cl->reset_line = j->line;
		} else if ((scope == KM_SCOPE_CONSUMER || scope == KM_SCOPE_COMMON) &&
		    strcmp(k, "isolation.level") == 0) {
			if (strcmp(j->val, "read_committed") != 0 &&
			    strcmp(j->val, "read_uncommitted") != 0)
				m2_error(m, j->line, "%s must be read_committed or "
				    "read_uncommitted, not \"%s\"", full, j->val);
			free(cl->iso);
			cl->iso = strdup(j->val);
			cl->iso_line = j->line;
		} else if ((why = managed_key(scope, k)) != NULL)
			m2_warn(m, j->line, full, "ignored: %s", why);
		else if (scope == KM_SCOPE_COMMON && is_worker_key(k))
			m2_warn(m, j->line, full, "ignored: a Connect worker setting, no "
			    "meaning for kmirror");
		else if (strcmp(k, "sasl.login.callback.handler.class") == 0 ||
		    strcmp(k, "sasl.client.callback.handler.class") == 0 ||
		    strcmp(k, "sasl.login.class") == 0)
			m2_error(m, j->line, "%s: Java callback classes cannot run in "
			    "kmirror", full);
		else {
			char rerr[600];
			/* the same name in librdkafka: pass it on */
			if (config_check_cluster_prop(k, "x", rerr, sizeof(rerr)) == -1 &&
			    strstr(rerr, "unknown librdkafka property"))
				m2_warn(m, j->line, full, "not supported: librdkafka has no "
				    "property %s", k);
			else
				m2_add(m, out, full, k, j->val, j->line, where);
		}
	}
	if (any_store)
		m2_stores(m, cl, scope, out, where);
	for (size_t i = 0; i < jp->n; i++)
		if (!jp->v[i].used && is_store_key(jp->v[i].key)) {
			jp->v[i].used = 1;
			m2_warn(m, jp->v[i].line, jp->v[i].key, "not supported in %s", where);
		}
}

/* --- flow settings */

static const struct {
	const char *alias, *name, *note;
} fs_aliases[] = {
	{ "topicsPattern", "topics", "a Strimzi KafkaMirrorMaker2 field (MM2 "
	  "itself ignores it): read as topics" },
	{ "groupsPattern", "groups", "a Strimzi KafkaMirrorMaker2 field (MM2 "
	  "itself ignores it): read as groups" },
	{ "topicsExcludePattern", "topics.exclude", "a Strimzi KafkaMirrorMaker2 "
	  "field (MM2 itself ignores it): read as topics.exclude" },
	{ "groupsExcludePattern", "groups.exclude", "a Strimzi KafkaMirrorMaker2 "
	  "field (MM2 itself ignores it): read as groups.exclude" },
	{ "topics.blacklist", "topics.exclude", "deprecated (removed in Kafka "
	  "4.0): read as topics.exclude" },
	{ "groups.blacklist", "groups.exclude", "deprecated (removed in Kafka "
	  "4.0): read as groups.exclude" },
	{ "config.properties.blacklist", "config.properties.exclude", "deprecated "
	  "(removed in Kafka 4.0): read as config.properties.exclude" },
	{ NULL, NULL, NULL }
};

/* Connector keys kmirror accepts without a setting of its own. */
static const char *
connector_key_note(const char *k, const char *v)
{
	if (strcmp(k, "refresh.topics.enabled") == 0 ||
	    strcmp(k, "refresh.groups.enabled") == 0)
		return strcasecmp(v, "true") == 0 ? "" : "not supported: kmirror "
		    "always does this; only true is accepted";
	if (strcmp(k, "use.defaults.from") == 0)
		return strcmp(v, "target") == 0 ? "" : "not supported: only target";
	if (strcmp(k, "topic.filter.class") == 0 ||
	    strcmp(k, "group.filter.class") == 0 ||
	    strcmp(k, "config.property.filter.class") == 0)
		return starts(simple_class(v), "Default") ? "" : "!custom filter "
		    "classes cannot run in kmirror (only the default regex filters)";
	if (strcmp(k, "forwarding.admin.class") == 0)
		return strcmp(simple_class(v), "ForwardingAdmin") == 0 ? "" :
		    "not supported: kmirror's admin calls go to the cluster itself";
	if (strcmp(k, "offset.lag.max") == 0)
		return "ignored: kmirror emits offset syncs by time "
		    "(offset_sync_interval_ms) and at every gap";
	if (strcmp(k, "consumer.poll.timeout.ms") == 0 ||
	    strcmp(k, "admin.timeout.ms") == 0)
		return "ignored: kmirror's workers are event driven";
	if (strcmp(k, "metric.reporters") == 0 ||
	    strcmp(k, "add.source.alias.to.metrics") == 0)
		return "ignored: kmirror exports Prometheus metrics (metrics_address)";
	if (strcmp(k, "use.incremental.alter.configs") == 0)
		return "ignored: kmirror uses IncrementalAlterConfigs";
	if (strcmp(k, "exactly.once.support") == 0 ||
	    strcmp(k, "transaction.boundary") == 0)
		return "ignored: kmirror always writes records and progress in one "
		    "transaction";
	if (strcmp(k, "name") == 0 || strcmp(k, "connector.class") == 0 ||
	    strcmp(k, "key.converter") == 0 || strcmp(k, "value.converter") == 0 ||
	    strcmp(k, "header.converter") == 0 || strcmp(k, "errors.tolerance") == 0)
		return "ignored: a Connect connector setting, no meaning for kmirror";
	return NULL;
}

/* Apply one flow setting; 1 if k is one (errors reported), 0 if not. */
static int
m2_flow_setting(struct m2 *m, struct km_flow *f, const char *k, const char *val,
    int line, const char *full)
{
	int id = -1, native = 0;
	char why[600], *v;
	const char *note;

	if (starts(k, "kmirrord.")) {
		id = fs_lookup(k + 9);
		native = 1;
		if (id < 0)
			return 0;
	}
	for (int a = 0; id < 0 && fs_aliases[a].alias; a++)
		if (strcmp(k, fs_aliases[a].alias) == 0) {
			m2_warn(m, line, full, "%s", fs_aliases[a].note);
			k = fs_aliases[a].name;
		}
	for (int i = 0; id < 0 && i < FS__COUNT; i++)
		if (fs_defs[i].mm2_name && strcmp(fs_defs[i].mm2_name, k) == 0)
			id = i;
	if (id < 0) {
		if ((note = connector_key_note(k, val)) == NULL)
			return 0;
		if (note[0] == '!')
			m2_error(m, line, "%s: %s", full, note + 1);
		else if (note[0])
			m2_warn(m, line, full, "%s", note);
		return 1;
	}
	if ((v = m2_resolve(m, val, line, full, NULL)) == NULL)
		return 1;
	struct fs_value tmp = { 0 };
	const struct fs_def *d = &fs_defs[id];
	int ok = 0;
	fs_set_default(&tmp, id);
	if (native) {
		ok = fs_set_from_string(&tmp, id, v, why, sizeof(why)) == 0;
		if (!ok)
			m2_error(m, line, "%s: %s", full, why);
	} else if (id == FS_ENABLED) {
		tmp.i = strcasecmp(v, "true") == 0;	/* Boolean.parseBoolean */
		ok = 1;
	} else if (id == FS_REPLICATION_POLICY) {
		const char *sc = simple_class(v);
		if (strcmp(sc, "DefaultReplicationPolicy") == 0)
			tmp.i = KM_POLICY_DEFAULT, ok = 1;
		else if (strcmp(sc, "IdentityReplicationPolicy") == 0)
			tmp.i = KM_POLICY_IDENTITY, ok = 1;
		else
			m2_error(m, line, "%s: %s cannot run in kmirror: it has "
			    "DefaultReplicationPolicy and IdentityReplicationPolicy", full, v);
	} else if (d->type == FS_T_INT && strlen(k) > 8 &&
	    strcmp(k + strlen(k) - 8, ".seconds") == 0) {
		char *end;
		errno = 0;
		long long s = strtoll(v, &end, 10);
		if (errno || end == v || *end)
			m2_error(m, line, "%s must be a whole number of seconds, not \"%s\"",
			    full, v);
		else if (s * 1000 < d->min || s > d->max / 1000)
			m2_error(m, line, "%s = %lld: kmirror takes %lld to %lld seconds "
			    "(disable with the matching .enabled = false)", full, s,
			    (d->min + 999) / 1000, d->max / 1000);
		else
			tmp.i = s * 1000, ok = 1;
	} else if (d->type == FS_T_LIST) {
		char **items;
		size_t n;
		fs_value_free(&tmp, id);
		filter_list_split(v, &items, &n);
		ok = 1;
		for (size_t i = 0; i < n; i++) {
			if (filter_check_regex(items[i], why, sizeof(why)) == -1) {
				m2_error(m, line, "%s: invalid regex \"%s\": %s", full, items[i],
				    why);
				ok = 0;
			}
			fs_list_append(&tmp, items[i]);
		}
		filter_list_free(items, n);
	} else if (d->type == FS_T_BOOL) {
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0)
			tmp.i = strcasecmp(v, "true") == 0, ok = 1;
		else
			m2_error(m, line, "%s must be true or false, not \"%s\"", full, v);
	} else {
		ok = fs_set_from_string(&tmp, id, v, why, sizeof(why)) == 0;
		if (!ok)
			m2_error(m, line, "%s: %s", full, why);
		else if (id == FS_SEPARATOR && (tmp.s[0] == '\0' || strlen(tmp.s) > 8)) {
			m2_error(m, line, "%s must be 1 to 8 characters", full);
			ok = 0;
		}
	}
	if (ok && f) {
		fs_copy(&f->v[id], &tmp, id);
		f->v[id].line = line;
	}
	fs_value_free(&tmp, id);
	free(v);
	return 1;
}

/* MM2's defaults where kmirror's differ (docs/mm2-properties.md). */
static void
m2_mm2_defaults(struct km_flow *f)
{
	f->v[FS_ENABLED].i = 0;
	f->v[FS_REPLICATION_FACTOR].i = 2;
	f->v[FS_HEARTBEATS_RF].i = 3;
	f->v[FS_CHECKPOINTS_RF].i = 3;
	f->v[FS_OFFSET_SYNCS_RF].i = 3;
	f->v[FS_CHECKPOINTS_INTERVAL_MS].i = 60000;
	f->v[FS_SYNC_GROUP_OFFSETS_ENABLED].i = 0;
	f->v[FS_SYNC_GROUP_OFFSETS_INTERVAL_MS].i = 60000;
	f->v[FS_REFRESH_TOPICS_INTERVAL_MS].i = 600000;
	f->v[FS_REFRESH_GROUPS_INTERVAL_MS].i = 600000;
	f->v[FS_SYNC_TOPIC_CONFIGS_INTERVAL_MS].i = 600000;
	f->v[FS_SYNC_TOPIC_ACLS_INTERVAL_MS].i = 600000;
	f->v[FS_HEARTBEATS_INTERVAL_MS].i = 1000;
	f->v[FS_TASKS].i = 1;
	f->v[FS_AUTO_OFFSET_RESET].i = 0;		/* earliest */
	f->v[FS_ISOLATION_LEVEL].i = 1;			/* read_uncommitted */
}

/* --- kmirrord.* global settings, through the native loader */

static void
m2_globals(struct m2 *m)
{
	static const char *const top[] = { "pidfile", "control_socket",
		"control_socket_mode", "metrics_address", "user", "group",
		"instance_id", "status_interval_ms", "hang_timeout_ms",
		"drain_timeout_ms", NULL };
	static const char *const ints[] = { "status_interval_ms", "hang_timeout_ms",
		"drain_timeout_ms", NULL };
	struct sbuf t = { 0 };
	int *map = NULL, nmap = 0, first = 0;
	char err[4096];

#define EMIT(line, ...) do { sb_printf(&t, __VA_ARGS__); \
	map = realloc(map, (size_t)(nmap + 2) * sizeof(*map)); \
	map[++nmap] = (line); } while (0)
	sb_putn(&t, "", 0);
	for (size_t i = 0; i < m->p.n && !first; i++)
		if (starts(m->p.v[i].key, "kmirrord."))
			first = m->p.v[i].line;
	EMIT(first, "global = {\n");
	for (int pass = 0; pass < 3; pass++) {
		const char *grp = pass == 1 ? "log." : pass == 2 ? "restart." : "";
		int opened = 0;
		for (size_t i = 0; i < m->p.n; i++) {
			struct jprop *j = &m->p.v[i];
			const char *name;
			int isint = 0, known = 0;
			if (!starts(j->key, "kmirrord.") || j->used)
				continue;
			name = j->key + 9;
			if (pass == 0) {
				for (int k = 0; top[k]; k++)
					known |= strcmp(top[k], name) == 0;
				for (int k = 0; ints[k]; k++)
					isint |= strcmp(ints[k], name) == 0;
			} else if (starts(name, grp)) {
				name += strlen(grp);
				known = 1;
				isint = pass == 2;
			}
			if (!known)
				continue;
			j->used = 1;
			if (pass && !opened) {
				EMIT(j->line, "  %.*s = {\n", (int)strlen(grp) - 1, grp);
				opened = 1;
			}
			char *v = m2_resolve(m, j->val, j->line, j->key, NULL);
			if (v == NULL)
				continue;
			char *end;
			strtoll(v, &end, 10);
			if (isint && *v && *end == '\0')
				EMIT(j->line, "    %s = %s;\n", name, v);
			else {
				struct sbuf q = { 0 };
				sb_putc(&q, '"');
				for (char *c = v; *c; c++) {
					if (*c == '"' || *c == '\\')
						sb_putc(&q, '\\');
					sb_putc(&q, *c);
				}
				sb_putc(&q, '"');
				EMIT(j->line, "    %s = %s;\n", name, q.s);
				free(q.s);
			}
			free(v);
		}
		if (opened)
			EMIT(first, "  };\n");
	}
	EMIT(first, "};\n");
#undef EMIT
	if (config_load_global_text(m->cfg, "\001", t.s, err, sizeof(err)) == -1) {
		/* "\001:N: msg" lines: N is a line of the text */
		char *save = NULL;
		for (char *ln = strtok_r(err, "\n", &save); ln;
		    ln = strtok_r(NULL, "\n", &save)) {
			int tl = 0, consumed = 0;
			if (sscanf(ln, "\001:%d: %n", &tl, &consumed) == 1 && consumed > 0)
				m2_error(m, tl >= 1 && tl <= nmap ? map[tl] : 0,
				    "kmirrord settings: %s", ln + consumed);
			else
				m2_error(m, 0, "kmirrord settings: %s", ln);
		}
	}
	free(map);
	free(t.s);
}

/* --- the whole file */

static int
alias_valid(const char *a)
{
	if (*a == '\0' || strlen(a) > 64)
		return 0;
	for (; *a; a++)
		if (!isalnum((unsigned char)*a) && *a != '_' && *a != '-')
			return 0;
	return 1;
}

static int
m2_alias(const struct m2 *m, const char *s, size_t len)
{
	for (size_t i = 0; i < m->naliases; i++)
		if (strlen(m->aliases[i]) == len && strncmp(m->aliases[i], s, len) == 0)
			return (int)i;
	return -1;
}

/* "S->T.rest": 1 and the parts if k is a flow key. */
static int
flow_key(const char *k, const char **src, size_t *srclen, const char **dst,
    size_t *dstlen, const char **rest)
{
	const char *arrow = strstr(k, "->"), *dot;

	if (arrow == NULL || arrow == k || memchr(k, '.', (size_t)(arrow - k)))
		return 0;
	if ((dot = strchr(arrow + 2, '.')) == NULL)
		return 0;
	*src = k;
	*srclen = (size_t)(arrow - k);
	*dst = arrow + 2;
	*dstlen = (size_t)(dot - arrow - 2);
	*rest = dot + 1;
	return 1;
}

static void
m2_build_warning(struct m2 *m, char *warn, size_t warnlen)
{
	struct sbuf b = { 0 };
	size_t nkeys = 0;

	warn[0] = '\0';
	if (m->nw == 0)
		return;
	/* by line */
	for (size_t i = 1; i < m->nw; i++)
		for (size_t j = i; j > 0 && (unsigned)m->w[j - 1].line - 1 >
		    (unsigned)m->w[j].line - 1; j--) {	/* notes (line 0) last */
			struct m2warn t = m->w[j];
			m->w[j] = m->w[j - 1];
			m->w[j - 1] = t;
		}
	for (size_t i = 0; i < m->nw; i++)
		nkeys += m->w[i].key[0] != '\0';
	sb_printf(&b, "%s: kmirror does not use %zu setting%s of this file as "
	    "MM2 would (see docs/mm2-properties.md):", m->file, nkeys,
	    nkeys == 1 ? "" : "s");
	for (size_t i = 0; i < m->nw; i++) {
		if (m->w[i].key[0])
			sb_printf(&b, "\n  line %d: %s: %s", m->w[i].line, m->w[i].key,
			    m->w[i].why);
		else
			sb_printf(&b, "\n  note: %s", m->w[i].why);
	}
	snprintf(warn, warnlen, "%s", b.s);
	free(b.s);
}

int
mm2props_load_flags(const char *path, struct km_config *cfg, char *err,
    size_t errlen, char *warn, size_t warnlen, int flags, int *unconvertible)
{
	struct m2 m = { 0 };
	struct jprop *cj;
	char **names = NULL;
	size_t nnames = 0;
	struct km_flow defaults;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	if (warn && warnlen)
		warn[0] = '\0';
	if (unconvertible)
		*unconvertible = 0;
	m.file = path;
	m.flags = flags;
	m.cfg = cfg;
	m.err = err;
	m.errlen = errlen;
	if (jprops_read_file(path, &m.p, err, errlen) == -1)
		return -1;
	cfg->file = strdup(path);
	cfg->is_mm2 = 1;

	m2_providers(&m);
	for (size_t i = 0; i < m.p.n; i++)
		if (!starts(m.p.v[i].key, "config.providers")) {
			char *s = m2_subst(&m, m.p.v[i].val, m.p.v[i].line, m.p.v[i].key);
			free_secret(m.p.v[i].val);
			m.p.v[i].val = s;
		}

	/* clusters */
	cj = jprops_find(&m.p, "clusters");
	if (cj == NULL || filter_list_split(cj->val, &names, &nnames) == -1 ||
	    nnames == 0) {
		m2_error(&m, cj ? cj->line : 0, "clusters is missing or empty: "
		    "clusters = A, B");
		goto done;
	}
	cj->used = 1;
	m.aliases = names;
	m.naliases = nnames;
	m.cl = calloc(nnames, sizeof(*m.cl));
	cfg->clusters = calloc(nnames, sizeof(*cfg->clusters));
	for (size_t i = 0; i < nnames; i++) {
		if (!alias_valid(names[i]))
			m2_error(&m, cj->line, "cluster alias \"%s\" must be 1-64 letters, "
			    "digits, '_' or '-'", names[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(names[k], names[i]) == 0)
				m2_error(&m, cj->line, "cluster alias \"%s\" is listed twice",
				    names[i]);
	}

	/* per-cluster properties: A.<k>, A.consumer.<k>, ... */
	for (size_t i = 0; i < m.p.n; i++) {
		struct jprop *j = &m.p.v[i];
		const char *dot = strchr(j->key, '.');
		int a;
		if (dot == NULL || strstr(j->key, "->") ||
		    (a = m2_alias(&m, j->key, (size_t)(dot - j->key))) < 0)
			continue;
		const char *rest = dot + 1;
		int scope = KM_SCOPE_COMMON;
		for (int s = 1; s < KM_SCOPE__COUNT; s++) {
			size_t l = strlen(km_scope_names[s]);
			if (strncmp(rest, km_scope_names[s], l) == 0 && rest[l] == '.') {
				scope = s;
				rest += l + 1;
			}
		}
		j->used = 1;
		jprops_set(&m.cl[a].sc[scope], rest, j->val, j->line);
	}
	/* top-level client keys fill in what a cluster does not set */
	for (size_t i = 0; i < m.p.n; i++) {
		struct jprop *j = &m.p.v[i];
		if (j->used || !is_client_key(j->key))
			continue;
		j->used = 1;
		for (size_t a = 0; a < nnames; a++)
			if (!jprops_find(&m.cl[a].sc[KM_SCOPE_COMMON], j->key))
				jprops_set(&m.cl[a].sc[KM_SCOPE_COMMON], j->key, j->val, j->line);
	}
	for (size_t a = 0; a < nnames; a++) {
		struct km_cluster *c = &cfg->clusters[cfg->nclusters++];
		struct jprop *bs = jprops_find(&m.cl[a].sc[KM_SCOPE_COMMON],
		    "bootstrap.servers");
		c->alias = strdup(names[a]);
		c->line = cj->line;
		if (bs == NULL || bs->val[0] == '\0')
			m2_error(&m, cj->line, "cluster %s has no %s.bootstrap.servers",
			    names[a], names[a]);
		else {
			char *v = m2_resolve(&m, bs->val, bs->line, "bootstrap.servers", NULL);
			if (v)
				km_props_add(&c->props[KM_SCOPE_COMMON], "bootstrap.servers", v,
				    0, bs->line);
			free(v);
			bs->used = 1;
		}
		for (int s = 0; s < KM_SCOPE__COUNT; s++)
			m2_scope(&m, c, &m.cl[a], s);
	}

	/* flow defaults: MM2's, then the top level */
	km_flow_init_defaults(&defaults);
	m2_mm2_defaults(&defaults);
	for (size_t i = 0; i < m.p.n; i++) {
		struct jprop *j = &m.p.v[i];
		if (j->used || strstr(j->key, "->"))
			continue;
		if (strcmp(j->key, "enabled") == 0) {
			j->used = 1;
			m2_warn(&m, j->line, j->key, "ignored: flows are enabled one by "
			    "one, A->B.enabled = true");
			continue;
		}
		/* validation and the top-level notes */
		if (m2_flow_setting(&m, NULL, j->key, j->val, j->line, j->key)) {
			j->used = 1;
			/* apply without repeating notes or errors */
			int ne = m.nerr;
			size_t nw = m.nw, el = strlen(err);
			m2_flow_setting(&m, &defaults, j->key, j->val, j->line, j->key);
			m.nerr = ne;
			err[el] = '\0';
			for (size_t w = nw; w < m.nw; w++) {
				free(m.w[w].key);
				free(m.w[w].why);
			}
			m.nw = nw;
		}
	}

	/* flows: every pair named by an S->T. key, sources in cluster order */
	cfg->flows = calloc(nnames * nnames + 1, sizeof(*cfg->flows));
	for (size_t i = 0; i < m.p.n; i++) {
		struct jprop *j = &m.p.v[i];
		const char *s, *t, *rest;
		size_t sl, tl;
		if (!flow_key(j->key, &s, &sl, &t, &tl, &rest))
			continue;
		if (m2_alias(&m, s, sl) < 0 || m2_alias(&m, t, tl) < 0) {
			j->used = 1;
			m2_error(&m, j->line, "%s: %.*s is not in clusters", j->key,
			    m2_alias(&m, s, sl) < 0 ? (int)sl : (int)tl,
			    m2_alias(&m, s, sl) < 0 ? s : t);
		} else if (sl == tl && strncmp(s, t, sl) == 0) {
			j->used = 1;
			m2_error(&m, j->line, "%s: a cluster cannot replicate into itself",
			    j->key);
		}
	}
	for (size_t a = 0; a < nnames; a++)
		for (size_t b = 0; b < nnames; b++) {
			char prefix[300];
			struct km_flow *f = NULL;
			if (a == b)
				continue;
			snprintf(prefix, sizeof(prefix), "%s->%s.", names[a], names[b]);
			for (size_t i = 0; i < m.p.n; i++) {
				struct jprop *j = &m.p.v[i];
				if (!starts(j->key, prefix))
					continue;
				if (f == NULL) {
					f = &cfg->flows[cfg->nflows++];
					for (int id = 0; id < FS__COUNT; id++)
						fs_copy(&f->v[id], &defaults.v[id], id);
					f->source = strdup(names[a]);
					f->target = strdup(names[b]);
					asprintf(&f->name, "%s->%s", names[a], names[b]);
					f->line = j->line;
					/* the source cluster's consumer settings */
					if (m.cl[a].reset) {
						f->v[FS_AUTO_OFFSET_RESET].i =
						    strcmp(m.cl[a].reset, "latest") == 0;
						f->v[FS_AUTO_OFFSET_RESET].line = m.cl[a].reset_line;
					}
					if (m.cl[a].iso) {
						f->v[FS_ISOLATION_LEVEL].i =
						    strcmp(m.cl[a].iso, "read_uncommitted") == 0;
						f->v[FS_ISOLATION_LEVEL].line = m.cl[a].iso_line;
					}
				}
			}
			if (f == NULL)
				continue;
			for (size_t i = 0; i < m.p.n; i++) {
				struct jprop *j = &m.p.v[i];
				const char *rest = j->key + strlen(prefix);
				if (!starts(j->key, prefix))
					continue;
				j->used = 1;
				if (strcmp(rest, "enabled") == 0 && strcasecmp(j->val, "true") &&
				    strcasecmp(j->val, "false"))
					m2_warn(&m, j->line, j->key, "\"%s\" is not true: the flow "
					    "is disabled (Boolean.parseBoolean)", j->val);
				if (m2_flow_setting(&m, f, rest, j->val, j->line, j->key))
					continue;
				if (is_worker_key(rest) || strcmp(rest, "client.id") == 0 ||
				    strcmp(rest, "group.id") == 0)
					m2_warn(&m, j->line, j->key, "ignored: a Connect worker "
					    "setting, no meaning for kmirror");
				else if (starts(rest, "source.") || starts(rest, "target.") ||
				    starts(rest, "consumer.") || starts(rest, "producer.") ||
				    starts(rest, "admin."))
					m2_warn(&m, j->line, j->key, "not supported: kmirror sets "
					    "client properties per cluster (%s.consumer.*, "
					    "%s.producer.*, ...), not per flow", names[a], names[b]);
				else
					m2_warn(&m, j->line, j->key, "not supported: unknown "
					    "connector setting");
			}
		}
	km_flow_free(&defaults);

	/* kmirrord's own settings */
	m2_globals(&m);

	/* what is left */
	for (size_t i = 0; i < m.p.n; i++) {
		struct jprop *j = &m.p.v[i];
		if (j->used)
			continue;
		j->used = 1;
		if (starts(j->key, "kmirrord."))
			m2_error(&m, j->line, "unknown kmirrord setting \"%s\"", j->key);
		else if (strstr(j->key, "->"))
			m2_warn(&m, j->line, j->key, "not supported: not a flow key "
			    "(SOURCE->TARGET.setting)");
		else if (is_worker_key(j->key) || strcmp(j->key, "group.id") == 0 ||
		    strcmp(j->key, "client.id") == 0)
			m2_warn(&m, j->line, j->key, "ignored: a Connect worker setting, "
			    "no meaning for kmirror");
		else if (starts(j->key, "consumer.") || starts(j->key, "producer.") ||
		    starts(j->key, "admin."))
			m2_warn(&m, j->line, j->key, "ignored, as MM2 ignores it: client "
			    "properties apply per cluster (ALIAS.%s)", j->key);
		else if (strchr(j->key, '.') && m2_alias(&m, j->key,
		    (size_t)(strchr(j->key, '.') - j->key)) < 0 &&
		    strstr(j->key, "bootstrap.servers"))
			m2_warn(&m, j->line, j->key, "ignored: %.*s is not in clusters",
			    (int)(strchr(j->key, '.') - j->key), j->key);
		else
			m2_warn(&m, j->line, j->key, "not supported: unknown setting");
	}

	/* what MM2 would run that kmirror does not */
	{
		struct sbuf hb = { 0 };
		int nf = 0;
		for (size_t i = 0; i < cfg->nflows; i++)
			nf += (int)cfg->flows[i].v[FS_ENABLED].i;
		if (nf == 0)
			m2_warn(&m, 0, NULL, "no flow is enabled: write A->B.enabled = true");
		for (size_t a = 0; a < nnames; a++)
			for (size_t b = 0; b < nnames; b++) {
				const struct km_flow *f = NULL;
				char fname[300];
				if (a == b)
					continue;
				snprintf(fname, sizeof(fname), "%s->%s", names[a], names[b]);
				f = config_flow(cfg, fname);
				if (f && f->v[FS_ENABLED].i)
					continue;
				if (f ? f->v[FS_EMIT_HEARTBEATS_ENABLED].i == 0 : 0)
					continue;
				if (!f) {
					const char *g = jprops_get(&m.p, "emit.heartbeats.enabled");
					if (g && strcasecmp(g, "true") != 0)
						continue;
				}
				sb_printf(&hb, "%s%s", hb.n ? ", " : "", fname);
			}
		if (hb.n)
			m2_warn(&m, 0, NULL, "MM2 would also run heartbeat-only herders "
			    "for the pairs not enabled (%s); kmirror runs enabled flows "
			    "only", hb.s);
		free(hb.s);
	}
	rc = 0;
done:
	if (warn && warnlen)
		m2_build_warning(&m, warn, warnlen);
	if (m.nerr > 0)
		rc = -1;
	if (unconvertible)
		*unconvertible = m.unconvertible;
	for (size_t a = 0; m.cl && a < nnames; a++) {
		for (int s = 0; s < KM_SCOPE__COUNT; s++)
			jprops_free(&m.cl[a].sc[s]);
		free(m.cl[a].reset);
		free(m.cl[a].iso);
	}
	free(m.cl);
	filter_list_free(names, nnames);
	for (size_t i = 0; i < m.nw; i++) {
		free(m.w[i].key);
		free(m.w[i].why);
	}
	free(m.w);
	for (size_t i = 0; i < m.nrefs; i++) {
		free(m.refs[i].native);
		free_secret(m.refs[i].value);
		free(m.refs[i].error);
	}
	free(m.refs);
	for (size_t i = 0; i < m.nprov; i++)
		free(m.prov[i]);
	free(m.prov);
	free(m.prov_kind);
	jprops_free(&m.p);
	if (rc == -1)
		config_free(cfg);
	return rc;
}

int
mm2props_load(const char *path, struct km_config *cfg, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	return mm2props_load_flags(path, cfg, err, errlen, warn, warnlen, 0, NULL);
}

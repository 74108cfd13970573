/*
 * filter.c: MM2's include/exclude name filters on PCRE2.
 *
 * Java's java.util.regex and PCRE2 mostly agree; where it matters here:
 *  - Matcher.matches() is a whole-input match: compiled with
 *    PCRE2_ANCHORED | PCRE2_ENDANCHORED (not by wrapping the text, so the
 *    joined regex is byte-for-byte the one Java compiles).
 *  - Java works on code points: PCRE2_UTF, with PCRE2_MATCH_INVALID_UTF so
 *    a name that is not valid UTF-8 simply does not match.
 *  - Java's `.` and `$` know \n, \r, \r\n, U+0085, U+2028 and U+2029 as
 *    line ends; PCRE2_NEWLINE_ANY is the nearest (it adds VT and FF).
 *  - Java's \uXXXX and \x{...}: PCRE2_ALT_BSUX and PCRE2_EXTRA_ALT_BSUX
 *    (with \x{...} rewritten to \u{...}, see filter_javaize).
 *  - Java syntax that PCRE2 would silently read differently (nested
 *    classes "[a-z[0-9]]", intersections "[a-z&&[^e]]", a literal '{'
 *    that Java rejects) is refused with an error rather than mismatched.
 * Everything else PCRE2 cannot compile (\p{Alpha}, (?u), ...) is reported
 * as PCRE2's compile error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "filter.h"

#ifdef PCRE2_EXTRA_ALT_BSUX
#define FILTER_BSUX	PCRE2_ALT_BSUX	/* \uXXXX; \x{..} is rewritten */
#else
#define FILTER_BSUX	0		/* PCRE2 < 10.38: no \uXXXX */
#endif
#define FILTER_COMPILE_OPTIONS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | \
	PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C | \
	FILTER_BSUX)

/* Java's String.trim(): drop bytes <= ' ' at both ends. */
static void
filter_trim(const char *s, size_t *start, size_t *len)
{
	size_t b = 0, e = strlen(s);

	while (b < e && (unsigned char)s[b] <= ' ')
		b++;
	while (e > b && (unsigned char)s[e - 1] <= ' ')
		e--;
	*start = b;
	*len = e - b;
}

/* Length of a Java repetition "{n}", "{n,}" or "{n,m}" at p, or 0. */
static size_t
filter_java_repeat(const char *p, size_t len)
{
	size_t i = 1, d;

	for (d = i; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		;
	if (i == d)
		return 0;
	if (i < len && p[i] == ',')
		for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			;
	return i < len && p[i] == '}' ? i + 1 : 0;
}

/*
 * Walk a pattern (a private, writable copy) as Java's parser would and
 * adapt it for PCRE2 in place, without changing its length:
 *  - Java's \x{h..h} becomes \u{h..h}, which PCRE2_EXTRA_ALT_BSUX reads
 *    (PCRE2_ALT_BSUX alone would take "\x{" literally);
 *  - constructs PCRE2 would accept with another meaning are refused: a
 *    '[' inside a class (Java: union; PCRE2: literal or POSIX class),
 *    "&&" inside a class (Java: intersection) and a '{' that does not
 *    start a repetition (Java: error; PCRE2: literal).  The last one also
 *    catches "x{2,3}" cut in two by comma-splitting, which MM2 rejects.
 * Returns a reason and sets *off, or NULL.  \Q...\E is skipped.
 */
static const char *
filter_javaize(char *p, size_t len, size_t *off)
{
	const char *e;
	size_t i = 0, n;
	int in_class = 0;

	while (i < len) {
		if (p[i] == '\\') {
			if (i + 1 < len && p[i + 1] == 'Q') {
				for (i += 2; i < len && !(p[i] == '\\' &&
				    i + 1 < len && p[i + 1] == 'E'); i++)
					;
				i = i < len ? i + 2 : len;
				continue;
			}
#ifdef PCRE2_EXTRA_ALT_BSUX
			if (i + 2 < len && p[i + 1] == 'x' && p[i + 2] == '{')
				p[i + 1] = 'u';
#endif
			i += 2;
			/* \p{..}, \P{..}, \x{..}, \N{..}: skip the braces */
			if (i < len && p[i] == '{' && ((p[i - 1] >= 'a' &&
			    p[i - 1] <= 'z') || (p[i - 1] >= 'A' &&
			    p[i - 1] <= 'Z'))) {
				e = memchr(p + i, '}', len - i);
				i = e == NULL ? len : (size_t)(e - p) + 1;
			}
			continue;
		}
		if (!in_class) {
			if (p[i] == '{') {
				if ((n = filter_java_repeat(p + i, len - i)) == 0) {
					*off = i;
					return "'{' must be escaped in a Java "
					    "regex unless it starts a "
					    "repetition {n}, {n,} or {n,m}";
				}
				i += n;
				continue;
			}
			if (p[i++] != '[')
				continue;
			in_class = 1;
			if (i < len && p[i] == '^')
				i++;
			if (i < len && p[i] == ']')	/* literal ']' first */
				i++;
			continue;
		}
		if (p[i] == '[') {
			*off = i;
			return "nested character class (a Java union) is not "
			    "supported";
		}
		if (p[i] == '&' && i + 1 < len && p[i + 1] == '&') {
			*off = i;
			return "character class intersection \"&&\" (Java) is "
			    "not supported";
		}
		if (p[i] == ']')
			in_class = 0;
		i++;
	}
	return NULL;
}

/*
 * Compile one regex (len bytes of pat) the Java way and JIT it if the
 * platform allows (otherwise the interpreter is used).  On error returns
 * NULL and a reason in why with the byte offset in *off.
 */
static pcre2_code *
filter_compile(const char *pat, size_t len, char *why, size_t whylen,
    size_t *off)
{
	pcre2_compile_context *cc;
	pcre2_code *code;
	const char *java;
	char *copy;
	PCRE2_SIZE eoff = 0;
	int ecode = 0;

	*off = 0;
	if ((copy = malloc(len + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memcpy(copy, pat, len);
	copy[len] = '\0';
	java = filter_javaize(copy, len, off);
	if ((cc = pcre2_compile_context_create(NULL)) == NULL) {
		snprintf(why, whylen, "out of memory");
		free(copy);
		return NULL;
	}
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
#ifdef PCRE2_EXTRA_ALT_BSUX
	pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
#endif
	code = pcre2_compile((PCRE2_SPTR)copy, len, FILTER_COMPILE_OPTIONS,
	    &ecode, &eoff, cc);
	pcre2_compile_context_free(cc);
	free(copy);
	if (code == NULL) {
		/* PCRE2's own complaint first: it has the better offset */
		if (pcre2_get_error_message(ecode, (PCRE2_UCHAR *)why,
		    whylen) < 0 && whylen > 0)
			snprintf(why, whylen, "PCRE2 error %d", ecode);
		*off = eoff;
		return NULL;
	}
	if (java != NULL) {
		snprintf(why, whylen, "%s", java);
		pcre2_code_free(code);
		return NULL;
	}
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

/* Compile one item alone: -1 with its error if it is invalid by itself. */
static int
filter_item_error(const char *pat, size_t len, char *why, size_t whylen,
    size_t *off)
{
	pcre2_code *code;

	if ((code = filter_compile(pat, len, why, whylen, off)) == NULL)
		return -1;
	pcre2_code_free(code);
	return 0;
}

/*
 * Join n trimmed patterns with '|' (MM2's compilePatternList) and compile
 * the result; n == 0 gives *out = NULL, the "no pattern" of MM2.  On error
 * the message names the list, the item and the offset inside the item.
 */
static int
filter_compile_list(const char *what, const char *const *items, size_t n,
    pcre2_code **out, char *err, size_t errlen)
{
	char why[256], *joined;
	size_t *start, i, total = 0, b, l, off, k;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((start = calloc(n, sizeof(*start))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (items[i] == NULL) {
			snprintf(err, errlen, "%s pattern %zu is missing", what,
			    i + 1);
			free(start);
			return -1;
		}
		filter_trim(items[i], &b, &l);
		total += l + 1;
	}
	if ((joined = malloc(total)) == NULL) {
		free(start);
		goto oom;
	}
	for (i = 0, total = 0; i < n; i++) {
		filter_trim(items[i], &b, &l);
		if (i > 0)
			joined[total++] = '|';
		start[i] = total;
		memcpy(joined + total, items[i] + b, l);
		total += l;
	}
	joined[total] = '\0';
	*out = filter_compile(joined, total, why, sizeof(why), &off);
	if (*out == NULL) {
		/* Blame the first item that is invalid on its own; if all
		 * are, the joined text is (e.g. "(a" + "b)" would be fine,
		 * "[a" + "b" is not), so map the offset back to an item. */
		for (k = 0; k < n; k++)
			if (filter_item_error(joined + start[k],
			    k + 1 < n ? start[k + 1] - 1 - start[k] :
			    total - start[k], why, sizeof(why), &off) == -1)
				break;
		if (k == n) {
			for (k = n - 1; k > 0 && start[k] > off; k--)
				;
			off -= start[k];
		}
		filter_trim(items[k], &b, &l);
		snprintf(err, errlen, "%s pattern %zu \"%.*s\": %s at offset %zu",
		    what, k + 1, (int)l, items[k] + b, why, off);
	}
	free(joined);
	free(start);
	return *out == NULL ? -1 : 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Build a filter from pattern arrays; see filter.h for the rules. */
int
filter_init(struct km_filter *f, const char *const *include, size_t ninc,
    const char *const *exclude, size_t nexc, char *err, size_t errlen)
{
	pcre2_code *inc, *exc;

	memset(f, 0, sizeof(*f));
	if (filter_compile_list("include", include, ninc, &inc, err,
	    errlen) == -1)
		return -1;
	if (filter_compile_list("exclude", exclude, nexc, &exc, err,
	    errlen) == -1) {
		pcre2_code_free(inc);
		return -1;
	}
	f->include = inc;
	f->exclude = exc;
	if ((f->md = pcre2_match_data_create(1, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		filter_free(f);
		return -1;
	}
	return 0;
}

/* Build a filter from two comma lists, split as Kafka's ConfigDef does. */
int
filter_init_csv(struct km_filter *f, const char *include_csv,
    const char *exclude_csv, char *err, size_t errlen)
{
	char **inc = NULL, **exc = NULL;
	size_t ninc = 0, nexc = 0;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	if (filter_list_split(include_csv, &inc, &ninc) == -1 ||
	    filter_list_split(exclude_csv, &exc, &nexc) == -1)
		snprintf(err, errlen, "out of memory");
	else
		rc = filter_init(f, (const char *const *)inc, ninc,
		    (const char *const *)exc, nexc, err, errlen);
	filter_list_free(inc, ninc);
	filter_list_free(exc, nexc);
	return rc;
}

/*
 * Whole-name match of one compiled regex: 1, 0, or -1 on a match error.
 * A JIT stack overflow is retried with the interpreter.
 */
static int
filter_regex_match(pcre2_code *code, pcre2_match_data *md, const char *name)
{
	size_t len = strlen(name);
	int rc;

	rc = pcre2_match(code, (PCRE2_SPTR)name, len, 0, 0, md, NULL);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(code, (PCRE2_SPTR)name, len, 0, PCRE2_NO_JIT,
		    md, NULL);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* Included and not excluded; errors fail closed. */
int
filter_match(const struct km_filter *f, const char *name)
{
	if (f->include == NULL || f->md == NULL || name == NULL)
		return 0;
	if (filter_regex_match(f->include, f->md, name) != 1)
		return 0;
	if (f->exclude == NULL)
		return 1;
	return filter_regex_match(f->exclude, f->md, name) == 0;
}

void
filter_free(struct km_filter *f)
{
	pcre2_code_free(f->include);
	pcre2_code_free(f->exclude);
	pcre2_match_data_free(f->md);
	memset(f, 0, sizeof(*f));
}

/* Compile one (trimmed) pattern to validate it, as filter_init would. */
int
filter_check_regex(const char *pattern, char *err, size_t errlen)
{
	pcre2_code *code;
	char why[256];
	size_t b, l, off;

	if (pattern == NULL) {
		snprintf(err, errlen, "missing pattern");
		return -1;
	}
	filter_trim(pattern, &b, &l);
	if ((code = filter_compile(pattern + b, l, why, sizeof(why),
	    &off)) == NULL) {
		snprintf(err, errlen, "%s at offset %zu", why, off);
		return -1;
	}
	pcre2_code_free(code);
	return 0;
}

static int
filter_is_jspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\x0b' ||
	    c == '\f' || c == '\r';
}

/* Append a copy of s[0..len) to the growing list; -1 on no memory. */
static int
filter_list_push(char ***items, size_t *n, const char *s, size_t len)
{
	char **v, *c;

	if ((c = strndup(s, len)) == NULL)
		return -1;
	if ((v = realloc(*items, (*n + 1) * sizeof(*v))) == NULL) {
		free(c);
		return -1;
	}
	v[(*n)++] = c;
	*items = v;
	return 0;
}

/*
 * ConfigDef's LIST parsing: String.trim(), then an empty string is an
 * empty list, else split on the regex \s*,\s* with limit -1, so empty
 * items (",a", "a,,b", "a,") are kept.
 */
int
filter_list_split(const char *csv, char ***items, size_t *n)
{
	const char *s, *comma;
	size_t b, len, p, c, sep, end;

	*items = NULL;
	*n = 0;
	if (csv == NULL)
		return 0;
	filter_trim(csv, &b, &len);
	if (len == 0)
		return 0;
	s = csv + b;
	for (p = 0;;) {
		comma = memchr(s + p, ',', len - p);
		if (comma == NULL)
			break;
		c = (size_t)(comma - s);
		for (sep = c; sep > p && filter_is_jspace(s[sep - 1]); sep--)
			;
		for (end = c + 1; end < len && filter_is_jspace(s[end]); end++)
			;
		if (filter_list_push(items, n, s + p, sep - p) == -1)
			goto fail;
		p = end;
	}
	if (filter_list_push(items, n, s + p, len - p) == -1)
		goto fail;
	return 0;
fail:
	filter_list_free(*items, *n);
	*items = NULL;
	*n = 0;
	return -1;
}

void
filter_list_free(char **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

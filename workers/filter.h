/*
 * filter.h: MM2's topic, group and config-property name filters
 * (DefaultTopicFilter, DefaultGroupFilter, DefaultConfigPropertyFilter).
 *
 * A filter has an include and an exclude list of Java regexes.  Each list
 * is joined with "|" into one regex, exactly as MM2's compilePatternList
 * does, and must match the WHOLE name (Java's Matcher.matches(), done here
 * as a PCRE2 match anchored at both ends).  A name passes if the include
 * regex matches and the exclude regex does not: exclude wins.  An empty
 * list has no regex: an empty include list matches nothing (so `topics=`
 * replicates nothing) and an empty exclude list excludes nothing.
 *
 * Java and PCRE2 regexes differ in corners; see filter.c for what is
 * translated (options) and what is refused (Java-only class syntax).
 */
#ifndef KM_FILTER_H
#define KM_FILTER_H
#include <stddef.h>

/* MM2's defaults, as the comma-separated strings of its ConfigDefs. */
#define FILTER_TOPICS_INCLUDE_DEFAULT	".*"
#define FILTER_TOPICS_EXCLUDE_DEFAULT	".*[\\-\\.]internal, .*\\.replica, __.*"
#define FILTER_GROUPS_INCLUDE_DEFAULT	".*"
#define FILTER_GROUPS_EXCLUDE_DEFAULT	"console-consumer-.*, connect-.*, __.*"
#define FILTER_CONFIG_PROPERTIES_EXCLUDE_DEFAULT			\
	"follower\\.replication\\.throttled\\.replicas, "		\
	"leader\\.replication\\.throttled\\.replicas, "			\
	"message\\.timestamp\\.difference\\.max\\.ms, "		\
	"message\\.timestamp\\.type, "					\
	"unclean\\.leader\\.election\\.enable, "			\
	"min\\.insync\\.replicas"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

struct km_filter {
	struct pcre2_real_code_8	*include;	/* NULL: matches nothing */
	struct pcre2_real_code_8	*exclude;	/* NULL: excludes nothing */
	struct pcre2_real_match_data_8	*md;		/* shared scratch */
};

/*
 * Compile a filter from arrays of patterns.  Each item is trimmed of
 * leading and trailing whitespace (as MM2's comma-splitting does) and kept
 * even if empty (an empty alternative matches only the empty name, as in
 * Java).  On error returns -1 and writes to err which list and item is
 * invalid, PCRE2's reason and the offset within the item.
 */
int	filter_init(struct km_filter *f, const char *const *include,
	    size_t ninc, const char *const *exclude, size_t nexc, char *err,
	    size_t errlen);

/* Same, from comma-separated strings (NULL counts as ""), split as
 * Kafka's ConfigDef splits a LIST value. */
int	filter_init_csv(struct km_filter *f, const char *include_csv,
	    const char *exclude_csv, char *err, size_t errlen);

/* 1 if name passes (included and not excluded), else 0.  A match-time
 * error (a PCRE2 resource limit) fails closed: the name does not pass. */
int	filter_match(const struct km_filter *f, const char *name);

/* Release the compiled regexes; f may then be re-initialised. */
void	filter_free(struct km_filter *f);

/* Validate one pattern for config checking: 0, or -1 with the reason and
 * offset in err. */
int	filter_check_regex(const char *pattern, char *err, size_t errlen);

/* Split a LIST value as Kafka's ConfigDef does: trim, "" -> no items,
 * else split on \s*,\s* keeping empty items.  Returns 0 and a malloc'd
 * array of malloc'd strings (free with filter_list_free), or -1. */
int	filter_list_split(const char *csv, char ***items, size_t *n);
void	filter_list_free(char **items, size_t n);

#endif

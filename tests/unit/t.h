/*
 * t.h: a tiny unit-test harness. Each test file defines test functions and a
 * main() that runs them with T_RUN; the binary prints one line per check
 * failure, one "ok"/"not ok" line per test and exits non-zero on failure.
 */
#ifndef KM_T_H
#define KM_T_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int t_failed_checks;
static int t_tests_run, t_tests_failed;

#define T_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		t_failed_checks++; \
	} } while (0)

#define T_EQ_INT(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { \
		fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", \
		    __FILE__, __LINE__, #a, _a, #b, _b); \
		t_failed_checks++; \
	} } while (0)

#define T_EQ_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) { \
		fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", \
		    __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); \
		t_failed_checks++; \
	} } while (0)

#define T_CONTAINS(hay, needle) do { \
	const char *_h = (hay), *_n = (needle); \
	if (_h == NULL || strstr(_h, _n) == NULL) { \
		fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", \
		    __FILE__, __LINE__, _h ? _h : "(null)", _n); \
		t_failed_checks++; \
	} } while (0)

#define T_MEM_EQ(a, b, n) T_CHECK(memcmp((a), (b), (n)) == 0)

#define T_RUN(fn) do { \
	int _before = t_failed_checks; \
	fn(); \
	t_tests_run++; \
	if (t_failed_checks != _before) { t_tests_failed++; printf("not ok - %s\n", #fn); } \
	else printf("ok - %s\n", #fn); \
	} while (0)

#define T_DONE() ( printf("%d passed, %d failed\n", t_tests_run - t_tests_failed, \
	t_tests_failed), t_tests_failed ? 1 : 0 )

#endif

/*
 * log.h: one line per event, carrying role, flow and pid.
 * Targets: stderr (foreground), syslog, or a file (reopened on SIGUSR1).
 * Formats: text or JSON lines.
 */
#ifndef KM_LOG_H
#define KM_LOG_H
#include <stdarg.h>

/* Severity, most severe first; names in log_level_names[]. */
enum log_level {
	LOG_LV_ERROR,
	LOG_LV_WARN,
	LOG_LV_NOTICE,
	LOG_LV_INFO,
	LOG_LV_DEBUG,
	LOG_LV__COUNT
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
	LOG_TO_FILE,
	LOG_TO__COUNT
};

extern const char *const log_level_names[LOG_LV__COUNT];
extern const char *const log_target_names[LOG_TO__COUNT];

int  log_level_parse(const char *name);
int  log_target_parse(const char *name);
void log_set_ident(const char *role, const char *flow);
int  log_configure(enum log_target target, const char *file, enum log_level level,
         int json);
int  log_reopen(void);
enum log_level log_get_level(void);
void log_msg(enum log_level lv, const char *fmt, ...)
         __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lv, const char *fmt, va_list ap);

#define log_error(...)  log_msg(LOG_LV_ERROR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LV_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LV_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LV_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_LV_DEBUG, __VA_ARGS__)

#endif

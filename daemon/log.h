/*
 * log.h - poolmgrd's logging: one line per event on stderr, each prefixed
 * with its syslog priority as "<N>" so journald files it correctly.
 */
#ifndef POOLMGRD_LOG_H
#define POOLMGRD_LOG_H

#define LOG_PRI_ERR 3
#define LOG_PRI_WARNING 4
#define LOG_PRI_NOTICE 5
#define LOG_PRI_INFO 6
#define LOG_PRI_DEBUG 7

void log_set_verbose(int verbose);
void log_msg(int pri, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void fatalx(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

#endif /* POOLMGRD_LOG_H */

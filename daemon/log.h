/*
 * log.h - poolmgrd's logging: one line per event on stderr, each prefixed
 * with its syslog priority as "<N>" so journald files it correctly.
 */
#ifndef POOLMGRD_LOG_H
#define POOLMGRD_LOG_H

#include <stdint.h>

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
/* A noun's ending after the count n ("1 block", "0 blocks"). */
const char *log_plural(uint64_t n);
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A bound on one kind of line that clients can cause at will (a refused
 * connection, a bad datagram): at most LOG_LIMIT_BURST such lines per
 * LOG_LIMIT_WINDOW seconds, so a client cannot flood the journal, where
 * its rate limit would then drop the daemon's other lines too.  What is
 * left out is counted and said with the next line that goes out.  One
 * static struct log_limit per call site: {0} is a ready one.
 */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_WINDOW 10
struct log_limit {
	long long window;	/* start of the current window, seconds */
	unsigned printed;	/* lines in it so far */
	unsigned long long left_out;
};
void log_limited(struct log_limit *l, int pri, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fatal(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void fatalx(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

#endif /* POOLMGRD_LOG_H */

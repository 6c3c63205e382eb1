/*
 * log.h - poolmgrd's logging: one line per event on stderr, each prefixed
 * with its syslog priority as "<N>" so journald files it correctly.
 */
#ifndef POOLMGRD_LOG_H
#define POOLMGRD_LOG_H

#include <stdbool.h>
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
 * left out is counted, and the count said exactly once, at the same
 * priority: with the next line that goes out, or once the window is over
 * (log_limits_flush), whichever comes first, so a flood that stops still
 * has its count said.  One static struct log_limit per call site: {0} is
 * a ready one; it joins the list log_limits_flush walks when it first
 * leaves a line out.
 */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_WINDOW 10
/* Room for the words of a kind's first left-out line, said with its count. */
#define LOG_LIMIT_TEXT 160
struct log_limit {
	long long window;	/* start of the current window, seconds */
	unsigned printed;	/* lines in it so far */
	unsigned long long left_out;
	int left_out_pri;
	bool listed;		/* on the list of log_limits_flush */
	struct log_limit *next;
	char first_left_out[LOG_LIMIT_TEXT];
};
void log_limited(struct log_limit *l, int pri, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The counts whose window is over, each said on a line of its own; the
 * seconds until the next is due, or -1 if no count waits.  due_in, when
 * set (the daemon's loop sets a timer with it), is told the seconds until
 * the first due whenever a limit starts leaving lines out: nothing has to
 * look while nothing is left out.
 */
int log_limits_flush(void);
void log_limits_set_due_in(void (*due_in)(int seconds));
/* Every count not said yet, due or not: at a stop. */
void log_limits_flush_all(void);
/* The lines the limits left out since this image started (DaemonStats). */
uint64_t log_lines_left_out(void);
void fatal(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void fatalx(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

#endif /* POOLMGRD_LOG_H */

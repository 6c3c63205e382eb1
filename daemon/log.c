/*
 * log.c - stderr logging with syslog priority prefixes.
 *
 * poolmgrd runs in the foreground; under systemd its stderr goes to the
 * journal, which reads the "<N>" prefix as the priority.  Started by hand,
 * the prefixes are harmless and still greppable.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int log_verbose;

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

/*
 * Lines quote what clients sent (pool names, refusal texts): a newline in
 * one would start a record of its own, with a "<N>" priority the client
 * chose.  Control bytes become '?', so one event stays one line.
 */
static void
log_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
log_vmsg(int pri, const char *fmt, va_list ap, const char *suffix)
{
	/*
	 * A change's line fits whole: a reload's or a SetPool's, with two
	 * full access control lists and two full lists of user quotas of
	 * uids (pool.c's changed text, 1600 + 2 * UQUOTA_TEXT_MAX bytes,
	 * and the pool's name and uid before it).
	 */
	char line[4096];

	if (pri == LOG_PRI_DEBUG && !log_verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_sanitize(line);
	if (suffix)
		fprintf(stderr, "<%d>poolmgrd: %s: %s\n", pri, line, suffix);
	else
		fprintf(stderr, "<%d>poolmgrd: %s\n", pri, line);
}

void
log_msg(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap, NULL);
	va_end(ap);
}

static long long
log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/* Every limit that has left a line out, for log_limits_flush. */
static struct log_limit *log_limits;
static void (*log_limits_due_in)(int seconds);

void
log_limits_set_due_in(void (*due_in)(int seconds))
{
	log_limits_due_in = due_in;
}

/* Seconds from now until the first count waiting is due; -1 if none. */
static long long
log_limits_next(long long now)
{
	long long next = -1, due;
	struct log_limit *l;

	for (l = log_limits; l; l = l->next) {
		if (!l->left_out)
			continue;
		due = l->window + LOG_LIMIT_WINDOW - now;
		if (due < 0)
			due = 0;
		if (next < 0 || due < next)
			next = due;
	}
	return next;
}

/*
 * The words of a kind's first left-out line name the kind in its count:
 * its format alone would show "%d" where an operator wants the client,
 * and one formatting per window costs a flood nothing.  Cut to fit, the
 * copy ends at a whole UTF-8 character (journald keeps a line that is
 * not UTF-8 as a blob) and says that it was cut.
 */
static void
log_limit_keep(struct log_limit *l, int pri, const char *fmt, va_list ap)
{
	char *s = l->first_left_out;
	size_t end = sizeof(l->first_left_out) - sizeof("...");
	int n;

	l->left_out_pri = pri;
	n = vsnprintf(s, sizeof(l->first_left_out), fmt, ap);
	if (n < 0) {
		s[0] = '\0';
		return;
	}
	if ((size_t)n < sizeof(l->first_left_out))
		return;
	while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
		end--;
	memcpy(s + end, "...", sizeof("..."));
}

/* Every line the limits left out, all kinds, since this image started. */
static uint64_t log_left_out_total;

uint64_t
log_lines_left_out(void)
{
	return log_left_out_total;
}

/* A line is left out: the first of a window starts its count. */
static void
log_limit_count(struct log_limit *l, long long now, int pri,
		const char *fmt, va_list ap)
{
	log_left_out_total++;
	if (l->left_out++)
		return;
	log_limit_keep(l, pri, fmt, ap);
	if (!l->listed) {
		l->listed = true;
		l->next = log_limits;
		log_limits = l;
	}
	if (log_limits_due_in)
		log_limits_due_in((int)log_limits_next(now));
}

void
log_limited(struct log_limit *l, int pri, const char *fmt, ...)
{
	long long now = log_now();
	va_list ap;

	if (l->printed == 0 || now - l->window >= LOG_LIMIT_WINDOW) {
		l->window = now;
		l->printed = 0;
	}
	if (l->printed == LOG_LIMIT_BURST) {
		va_start(ap, fmt);
		log_limit_count(l, now, pri, fmt, ap);
		va_end(ap);
		return;
	}
	l->printed++;
	/* A count not said yet (its window just over) leads this line. */
	if (l->left_out) {
		log_msg(pri, "(%llu line%s like the next left out: at most %d "
			"every %d s)", l->left_out, l->left_out == 1 ? "" : "s",
			LOG_LIMIT_BURST, LOG_LIMIT_WINDOW);
		l->left_out = 0;
	}
	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap, NULL);
	va_end(ap);
}

/* The counts due by now, each on its line; the seconds until the next. */
static int
log_limits_say(long long now)
{
	struct log_limit *l;

	for (l = log_limits; l; l = l->next) {
		if (!l->left_out || now - l->window < LOG_LIMIT_WINDOW)
			continue;
		log_msg(l->left_out_pri, "(%llu line%s like this left out: at "
			"most %d every %d s) %s", l->left_out,
			l->left_out == 1 ? "" : "s", LOG_LIMIT_BURST,
			LOG_LIMIT_WINDOW, l->first_left_out);
		l->left_out = 0;
	}
	return (int)log_limits_next(now);
}

int
log_limits_flush(void)
{
	return log_limits_say(log_now());
}

void
log_limits_flush_all(void)
{
	log_limits_say(LLONG_MAX);
}

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_WARNING, fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_ERR, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRI_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

const char *
log_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

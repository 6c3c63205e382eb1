/*
 * log.c - stderr logging with syslog priority prefixes.
 *
 * poolmgrd runs in the foreground; under systemd its stderr goes to the
 * journal, which reads the "<N>" prefix as the priority.  Started by hand,
 * the prefixes are harmless and still greppable.
 */
#include <errno.h>
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
	char line[1024];

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
		l->left_out++;
		return;
	}
	l->printed++;
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

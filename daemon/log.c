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

#include "log.h"

static int log_verbose;

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

static void
log_vmsg(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];

	if (pri == LOG_PRI_DEBUG && !log_verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
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

/*
 * fuzz_common.h - what the daemon's libFuzzer harnesses share: their own
 * messages on the real stderr while the daemon's log is closed, the
 * flag that closes it, a count of open descriptors.  Each harness
 * includes it once.
 */
#ifndef POOLMGR_FUZZ_COMMON_H
#define POOLMGR_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *fuzz_errout;	/* the real stderr, for our own messages */
static const char *fuzz_name;

/* Fail: the message on the real stderr, then abort (a crash to keep). */
__attribute__((noreturn, format(printf, 1, 2))) static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(fuzz_errout, "%s: ", fuzz_name);
	va_start(ap, fmt);
	vfprintf(fuzz_errout, fmt, ap);
	va_end(ap);
	fprintf(fuzz_errout, "\n");
	fflush(fuzz_errout);
	abort();
}

/*
 * Keep the real stderr for die, and ask libFuzzer to close stderr (the
 * daemon's log) unless POOLMGR_FUZZ_LOG is set.
 */
static void
fuzz_quiet_daemon_log(const char *name, int *argc, char ***argv)
{
	static char flag[] = "-close_fd_mask=2";
	static char *args[256];
	int fd = dup(2), i;

	fuzz_name = name;
	fuzz_errout = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!fuzz_errout)
		fuzz_errout = stderr;
	if (getenv("POOLMGR_FUZZ_LOG") || *argc < 1 || *argc >= 255)
		return;
	for (i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-close_fd_mask=", 15) == 0)
			return;
	args[0] = (*argv)[0];
	args[1] = flag;
	for (i = 1; i < *argc; i++)
		args[i + 1] = (*argv)[i];
	args[*argc + 1] = NULL;
	*argv = args;
	(*argc)++;
}

/*
 * The descriptors open now (with /proc/self/fd's own and its "." and
 * ".."): a count to compare with an earlier one, to find a leak.  Not
 * every harness counts (unused, then).
 */
__attribute__((unused)) static long
fuzz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (!d)
		die("/proc/self/fd: %s", strerror(errno));
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif /* POOLMGR_FUZZ_COMMON_H */

/*
 * fail_mbind.c - preloaded into a daemon under test (LD_PRELOAD): with
 * $POOLMGR_FAIL_MBIND set, mbind fails with EPERM, as under a system-call
 * filter that denies it (systemd's SystemCallFilter=~@resources with
 * SystemCallErrorNumber=EPERM); every other system call goes through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef long (*syscall_fn)(long, ...);

long
syscall(long nr, ...)
{
	static syscall_fn real;
	long a[6];
	va_list ap;
	int i;

	/* At most six arguments, each a register's worth. */
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_mbind && getenv("POOLMGR_FAIL_MBIND")) {
		errno = EPERM;
		return -1;
	}
	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/*
 * fail_memfd.c - preloaded into a daemon under test (LD_PRELOAD): a
 * memfd_create of the name in $POOLMGR_FAIL_MEMFD fails with EPERM, as
 * a kernel or a sandbox may refuse it; every other goes to the C
 * library.  For the one failure no test can cause from outside.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int
memfd_create(const char *name, unsigned int flags)
{
	static int (*real)(const char *, unsigned int);
	const char *fail = getenv("POOLMGR_FAIL_MEMFD");

	if (fail && strcmp(name, fail) == 0) {
		errno = EPERM;
		return -1;
	}
	if (!real)
		real = (int (*)(const char *, unsigned int))dlsym(RTLD_NEXT,
		    "memfd_create");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(name, flags);
}

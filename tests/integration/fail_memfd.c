/*
 * fail_memfd.c - preloaded into a daemon under test (LD_PRELOAD): a
 * memfd_create of the name in $POOLMGR_FAIL_MEMFD fails with EPERM, as
 * a kernel or a sandbox may refuse it; every other goes to the C
 * library.  For the one failure no test can cause from outside.
 *
 * With $POOLMGR_FAIL_MEMFD_IN set to "restored", it fails only in an
 * image that a restart in place started: the same binary executed again,
 * whose LISTEN_FDNAMES names the "state" it is handed.  The daemon unsets
 * that variable once it took its descriptors, so it is read as the image
 * starts, before main.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static bool restored;

/* Does the colon-separated list names hold name? */
static bool
names_hold(const char *names, const char *name)
{
	size_t len = strlen(name);
	const char *p = names;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == names || p[-1] == ':') &&
		    (p[len] == '\0' || p[len] == ':'))
			return true;
		p += len;
	}
	return false;
}

__attribute__((constructor)) static void
fail_memfd_start(void)
{
	const char *names = getenv("LISTEN_FDNAMES");

	restored = names != NULL && names_hold(names, "state");
}

/* Is this image the one $POOLMGR_FAIL_MEMFD_IN names (any if unset)? */
static bool
image_named(void)
{
	const char *in = getenv("POOLMGR_FAIL_MEMFD_IN");

	if (in == NULL || *in == '\0')
		return true;
	return strcmp(in, "restored") == 0 && restored;
}

int
memfd_create(const char *name, unsigned int flags)
{
	static int (*real)(const char *, unsigned int);
	const char *fail = getenv("POOLMGR_FAIL_MEMFD");

	if (fail && strcmp(name, fail) == 0 && image_named()) {
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

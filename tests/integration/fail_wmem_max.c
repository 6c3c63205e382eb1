/*
 * fail_wmem_max.c - preloaded into a daemon under test (LD_PRELOAD):
 * with $POOLMGR_WMEM_MAX set to n, setsockopt(SO_SNDBUF) asks for at most
 * n bytes, as the kernel grants where net.core.wmem_max is n (a test may
 * not lower the machine's own: every process shares it, and a network
 * namespace's is read-only); every other option goes through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static setsockopt_fn real;
	const char *max = getenv("POOLMGR_WMEM_MAX");
	int capped;

	if (!real)
		real = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (max && level == SOL_SOCKET && name == SO_SNDBUF &&
	    len >= sizeof(int) && *(const int *)val > atoi(max)) {
		capped = atoi(max);
		return real(fd, level, name, &capped, sizeof(capped));
	}
	return real(fd, level, name, val, len);
}

/*
 * fail_peergroups.c - preloaded into a daemon under test (LD_PRELOAD):
 * with $POOLMGR_FAIL_PEERGROUPS set, getsockopt(SO_PEERGROUPS) fails with
 * ENOPROTOOPT, as on a kernel older than 4.13; every other option goes
 * through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

int
getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static getsockopt_fn real;

	if (level == SOL_SOCKET && name == SO_PEERGROUPS &&
	    getenv("POOLMGR_FAIL_PEERGROUPS")) {
		errno = ENOPROTOOPT;
		return -1;
	}
	if (!real)
		real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, level, name, val, len);
}

/*
 * fail_grow.c - preloaded into a daemon under test (LD_PRELOAD): while
 * the file $POOLMGR_KILL_ON_GROW names exists, a fallocate that grows a
 * file (at an offset past 0: the crash journal's growth, not its
 * making) kills the daemon with SIGKILL, as a crash would at that very
 * instruction.  For a crash between two records of one change, which no
 * signal sent from outside can hit; every other call goes to the C
 * library.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

int
fallocate(int fd, int mode, off_t offset, off_t len)
{
	static int (*real)(int, int, off_t, off_t);
	const char *flag = getenv("POOLMGR_KILL_ON_GROW");

	if (offset > 0 && flag && *flag && access(flag, F_OK) == 0)
		raise(SIGKILL);
	if (!real)
		real = (int (*)(int, int, off_t, off_t))dlsym(RTLD_NEXT,
							      "fallocate");
	return real(fd, mode, offset, len);
}

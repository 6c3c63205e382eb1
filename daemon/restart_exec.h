/*
 * restart_exec.h - execute the daemon's binary again, handing it
 * descriptors as systemd's socket activation does (restart.c).
 */
#ifndef POOLMGRD_RESTART_EXEC_H
#define POOLMGRD_RESTART_EXEC_H

/*
 * Pass the n descriptors fd at 3, 4, ... named by names (LISTEN_FDNAMES,
 * ':'-separated), then execv(path, argv).  Returns only if that failed,
 * with -errno, every descriptor and the environment as they were.
 */
int restart_exec(const char *path, char **argv, unsigned n, const int *fd,
		 const char *names);

#endif /* POOLMGRD_RESTART_EXEC_H */

/*
 * socket_dir.h - is the socket's directory the daemon's alone?
 */
#ifndef POOLMGRD_SOCKET_DIR_H
#define POOLMGRD_SOCKET_DIR_H

#include <stddef.h>

/*
 * 0 if nobody but root and the daemon's uid can replace what is in dir,
 * the socket's directory, or in any directory above it (or point a
 * symbolic link on the way elsewhere); else -1 with why (such as
 * "/tmp/x is owned by uid 1000, neither root nor the daemon's") in why.
 * A directory that does not exist yet is not looked at.
 */
int socket_dir_check(const char *dir, char *why, size_t len);

#endif /* POOLMGRD_SOCKET_DIR_H */

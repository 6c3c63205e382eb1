/*
 * socket_dir.h - is the socket's directory the daemon's alone?
 */
#ifndef POOLMGRD_SOCKET_DIR_H
#define POOLMGRD_SOCKET_DIR_H

#include <stddef.h>

/*
 * 0 if nobody but root and the daemon's uid can replace what is in dir,
 * the socket's directory, or in any directory above it (or point a
 * symbolic link on the way elsewhere).  -1 if every user could (a
 * directory on the way writable by all and not sticky), or one is no
 * directory: why says which ("/tmp/x is writable by every user (mode
 * 0777) and not sticky").  1 if another uid or a group (not its owner's
 * private one) could, to be warned of: why names the first ("/home/a is
 * owned by user a (uid 1000)").  A directory that does not exist yet is
 * not looked at.
 */
int socket_dir_check(const char *dir, char *why, size_t len);

#endif /* POOLMGRD_SOCKET_DIR_H */

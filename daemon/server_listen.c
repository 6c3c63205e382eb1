/*
 * server_listen.c - the socket the daemon binds itself (neither systemd's
 * nor one a restart carried over).
 *
 * Startup refuses to run beside a live daemon (a connect to the socket
 * succeeds), removes a stale socket file, and creates the socket with the
 * configured mode.  Apart from server.c, which only says where and with
 * what mode: none of the checks on the path is its to know.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "server_internal.h"
#include "socket_dir.h"

/* Is a daemon answering on path? */
static bool
socket_alive(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd == -1)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return alive;
}

int
listen_on(const char *path, unsigned mode)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[sizeof(sun.sun_path)], why[PATH_MAX + 128], *up;
	struct stat sb;
	mode_t old;
	int fd, rc;

	if (socket_alive(path))
		fatalx("another poolmgrd answers on %s", path);
	/*
	 * Only a socket is ours to remove: a mistyped path must never cost
	 * somebody's file (the daemon often runs as root).
	 */
	if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode))
		fatalx("%s exists and is not a socket; not removing it", path);
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("removing stale socket %s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(up = dirname(dir), 0755) == -1 && errno != EEXIST)
		fatal("creating the socket's directory %s", up);
	if ((rc = socket_dir_check(up, why, sizeof(why))) < 0)
		fatalx("not listening on %s: %s", path, why);
	if (rc > 0)
		log_warnx("listening on %s, though %s: they could put a "
			  "socket of their own in its place and be poolmgrd "
			  "to clients that connect after (where only root or "
			  "poolmgrd's user may change a directory on the way, "
			  "as in /run/poolmgrd, nobody could)", path, why);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/*
	 * Made with its mode, never a moment with a wider one, and no chmod
	 * after: a chmod by the path would follow whatever took its place.
	 */
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (listen(fd, 128) == -1)
		fatal("listen");
	return fd;
}

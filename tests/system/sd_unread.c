/*
 * sd_unread - a client whose connection the daemon keeps for a descriptor
 * it has not read, for systemd_real.sh.
 *
 *	sd_unread POOL
 *
 * Says Hello on a connection of its own ($POOLMGRD_SOCKET, else the
 * default socket), opens POOL read-only and reads none of the reply (the
 * pool's memfd stays in flight), then sends what does not decode: the
 * daemon lets the connection go, and keeps it, shut down, until this
 * client reads or closes (docs/security.md).  Prints "kept" once the
 * daemon has shut it down, then holds its socket, unread, until a line
 * or the end of its input; then closes it, prints "closed" and exits 0.
 * Exits 1 (after "fail WHAT") if the connection cannot be made so.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../integration/harness_raw.h"
#include "poolclient.h"

#define WAIT_MS 30000	/* for the reply, then for the daemon's shutdown */

static int
fail(const char *what)
{
	printf("fail %s\n", what);
	fflush(stdout);
	return 1;
}

int
main(int argc, char **argv)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	const char *sock = getenv("POOLMGRD_SOCKET");
	struct pollfd pfd;
	char line[64];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: sd_unread POOL\n");
		return 2;
	}
	if ((fd = harness_raw_greeted(sock && *sock ? sock :
				      POOL_DEFAULT_SOCKET, "unread")) < 0)
		return fail("hello");
	o.name = argv[1];
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	if (harness_raw_post(fd, &req) != 0)
		return fail("open");
	/* The reply, with the memfd, has come: left where it is. */
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, WAIT_MS) != 1)
		return fail("no reply to the open");
	if (send(fd, "\xff\xff\xff", 3, MSG_NOSIGNAL) != 3)
		return fail("the undecodable datagram");
	/* Let go of: the daemon shut the connection down, and keeps it. */
	pfd = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	if (poll(&pfd, 1, WAIT_MS) != 1 || !(pfd.revents & POLLRDHUP))
		return fail("not let go of");
	printf("kept\n");
	fflush(stdout);
	(void)fgets(line, sizeof(line), stdin);
	close(fd);
	printf("closed\n");
	fflush(stdout);
	return 0;
}

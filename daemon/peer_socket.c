/*
 * peer_socket.c - what the daemon asks of a connection's socket and sets
 * on it: the client's uid, the refusal of descriptors a client passes,
 * and the bounded send buffer.
 *
 * Where the kernel can (Linux 6.16), the daemon's sockets refuse the
 * descriptors a client would pass (peer_refuse_fds); before it they
 * arrive all the same, and peer.c closes them with drop_passed_fds and
 * drops the client.  The send buffer is the daemon's own, PEER_SNDBUF
 * (peer.c says why it bounds the descriptors in flight), unless
 * net.core.wmem_max would keep it under the largest reply.
 *
 * Apart from peer.c: each of these knows the descriptor alone, none of
 * a peer's state, and peer.c need not know the socket options.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "peer_socket.h"

uid_t
peer_uid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return (uid_t)-1;
	return cr.uid;
}

/*
 * Does the buffer SO_SNDBUF gives for PEER_SNDBUF take the largest reply?
 * The kernel caps what it asks for at net.core.wmem_max, and refuses a
 * datagram over the buffer less 32 bytes (EMSGSIZE: the client would be
 * dropped): under 32 KiB of cap, a sixth of the kernel's default, it
 * would not, where the machine's default buffer may.  Asked of a socket
 * of our own: 1 yes, 0 no (said once), -1 unknown (no descriptor to ask
 * with: asked again at the next connection).
 */
static int
sndbuf_cap_fits(void)
{
	int sv[2], want = PEER_SNDBUF / 2, got = 0;
	socklen_t len = sizeof(got);
	bool asked;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	asked = setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &want,
			   sizeof(want)) == 0 &&
		getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len) == 0;
	close(sv[0]);
	close(sv[1]);
	if (!asked)
		return -1;
	if (got >= PEER_MAX_MESSAGE + 32)
		return 1;
	log_warnx("net.core.wmem_max caps a connection's send buffer at %d "
		  "bytes, under the largest reply: connections keep the "
		  "machine's default (net.core.wmem_default), and may hold as "
		  "many descriptors in flight as it takes", got);
	return 0;
}

/*
 * Make fd's send buffer PEER_SNDBUF, if the machine's default is larger
 * and the cap on it leaves room for the largest reply (sndbuf_cap_fits,
 * asked once: a restart in place asks again); a smaller one (a lowered
 * wmem_default) bounds it already.  Whatever the buffer will not take is
 * queued here, as for any client that reads slowly.
 */
void
peer_bound_sndbuf(int fd)
{
	static int fits = -1;
	int now, want = PEER_SNDBUF / 2;
	socklen_t len = sizeof(now);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &now, &len) != 0 ||
	    now <= PEER_SNDBUF)
		return;
	if (fits < 0)
		fits = sndbuf_cap_fits();
	if (fits > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want,
				 sizeof(want));
}

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83	/* Linux 6.16; libc headers may lack it */
#endif

void
peer_refuse_fds(int fd)
{
	int off = 0;

	/* ENOPROTOOPT before 6.16: drop_passed_fds is all there is then. */
	(void)setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off));
}

/* Close descriptors a client tried to pass us; true if there were any. */
bool
drop_passed_fds(struct msghdr *msg)
{
	struct cmsghdr *c;
	bool any = false;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			size_t i;

			for (i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
				close(fd);
			}
			any = true;
		}
	}
	return any;
}

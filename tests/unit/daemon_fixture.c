/*
 * daemon_fixture.c - the daemon's session and pool in a unit test
 * (daemon_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_fixture.h"

/* One test at a time: its fixture lives here, not on its stack. */
static struct daemon_fixture fixture;

int
daemon_fixture_setup(void **state)
{
	struct daemon_fixture *fx = &fixture;
	struct dpool_params pp = {.size = 1 << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fx->sv), 0);
	assert_non_null(fx->s = session_new(fx->sv[0]));
	assert_int_equal(dpool_create("p", &pp, &fx->p), 0);
	*state = fx;
	return 0;
}

int
daemon_fixture_setup_open(void **state)
{
	struct daemon_fixture *fx;

	daemon_fixture_setup(state);
	fx = *state;
	assert_non_null(fx->h = session_open(fx->s, fx->p, false));
	return 0;
}

int
daemon_fixture_teardown(void **state)
{
	struct daemon_fixture *fx = *state;

	session_free(fx->s);
	assert_int_equal(fx->p->nhandles, 0);
	dpool_destroy(fx->p, false);
	close(fx->sv[0]);
	close(fx->sv[1]);
	return 0;
}

void
daemon_fixture_store_read(int fd,
			  void (*each)(const char *text, int passed,
				       void *arg),
			  void *arg)
{
	char buf[512], ctl[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;
	int f;

	while ((n = recvmsg(fd, &m, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		f = -1;
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_type == SCM_RIGHTS)
				memcpy(&f, CMSG_DATA(cm), sizeof(f));
		each(buf, f, arg);
		m.msg_controllen = sizeof(ctl);
	}
}

/*
 * daemon_fixture.h - the daemon's own session and pool code set up in a
 * unit test, as a connection would find it: a real session over a
 * socketpair and a real pool "p" of 1 MiB (granule 16, mode 0600, the
 * test's uid and gid), with no event loop behind them.  What no client
 * can reach in a test's time is then set up directly on them
 * (test_session.c, test_pool_check.c).
 */
#ifndef DAEMON_FIXTURE_H
#define DAEMON_FIXTURE_H

#include "pool.h"
#include "session.h"

struct daemon_fixture {
	int sv[2];		/* the session's end, and the client's */
	struct session *s;
	struct dpool *p;
	struct handle *h;	/* s's handle of p, or NULL */
};

/*
 * cmocka setups: *state becomes the fixture, with the session and the
 * pool; daemon_fixture_setup_open also opens h, the session's handle of
 * the pool.
 */
int daemon_fixture_setup(void **state);
int daemon_fixture_setup_open(void **state);
/*
 * Free the session (and its handles) and destroy the pool, failing the
 * test if a handle of the pool outlived its session.
 */
int daemon_fixture_teardown(void **state);

/*
 * Every datagram waiting on fd (the service manager's socket a test plays
 * the fd store on), read without blocking: each(text, passed, arg), with
 * passed the descriptor the datagram carries (the callback's to keep or
 * close), or -1 if it carries none.
 */
void daemon_fixture_store_read(int fd,
			       void (*each)(const char *text, int passed,
					    void *arg),
			       void *arg);

#endif /* DAEMON_FIXTURE_H */

/*
 * liar_util.h - what the tests of a lying daemon (itest_liar,
 * itest_liar_features, itest_liar_lists) and their clients share, beside
 * the fake daemon itself (liar_daemon.h).  In the test process a failure
 * fails the test; in a client child (said so below) a CHECK's code is its
 * exit status.
 */
#ifndef POOLMGR_LIAR_UTIL_H
#define POOLMGR_LIAR_UTIL_H

#include <stddef.h>

#include "harness.h"
#include "liar_daemon.h"
#include "poolclient.h"

/*
 * In a client child: connect to the fake at sock and open its pool, into
 * *c and *p; a failed connect ends the child with code, a failed open
 * with code + 1.
 */
#define CHECK_FAKE_POOL_OPEN(sock, c, p, code)				\
	do {								\
		CHECK_RC(pool_connect((sock), (c)), 0, (code));		\
		CHECK_RC(pool_open(*(c), FAKE_POOL, (p)), 0,		\
			 (code) + 1);					\
	} while (0)

/* In a client child: the open descriptors of this process. */
int count_fds(void);
/* In a client child: the fake's pool closed, and the connection it was
 * opened on. */
void fake_pool_close(struct pool_conn *c, struct pool *p);

/* How many lines of log begin with what. */
int log_lines(const char *log, const char *what);
/* Fail unless the client passed, saying how it ended and what the fake saw. */
void expect_client_passed(struct child_end e, const char *what,
			  const char *log);
/* Fail unless the fake daemon ended well. */
void expect_fake_passed(struct child_end e, const char *what,
			const char *log);
/*
 * Run client (in a child, given the fake's socket) against a fake telling
 * lie, and fail unless both passed; the fake's log into log.
 */
void run_lookup_client(enum lie lie, int (*client)(void *), char *log,
		       size_t cap);

#endif

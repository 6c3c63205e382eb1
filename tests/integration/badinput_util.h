/*
 * badinput_util.h - what the tests of bad input (itest_badinput,
 * itest_badinput_api, itest_badinput_words) send and look for alike: raw
 * SOCK_SEQPACKET connections to the daemon, and the fixture: the daemon
 * of the test with pool POOL_NAME, a libpoolclient client opened on it
 * first, and a raw connection that looks on.  In the test process a
 * failure fails the test.
 *
 * Each test starts its daemon and its normal client (badinput_setup), and
 * most stop it themselves and check what it left (stop_daemon); the
 * teardown ends what a test that failed midway left running.
 */
#ifndef POOLMGR_BADINPUT_UTIL_H
#define POOLMGR_BADINPUT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOL_NAME	"bad"
#define MAX_MESSAGE	65536
#define REPLY_TIMEOUT_MS 3000
#define KiB (1024ull)
#define MiB (1024ull * KiB)

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;		/* a normal client, opened first */
	struct pool *pool;
	int bystander;			/* a raw connection, greeted */
	int listener;			/* lingering_socket's, or -1 */
	uint64_t next_id;
};

extern struct fixture fx;
extern bool quiet;		/* only_sender_dropped prints nothing */

/* ---- raw connections ------------------------------------------------------ */

int raw_connect(const char *path);
void raw_send(int fd, const void *buf, size_t len);
void raw_send_request(int fd, const Poolmgr__Request *r);
/*
 * Wait up to timeout_ms for one datagram.  Returns its length, 0 at EOF,
 * -ECONNRESET when the daemon reset the connection, -ETIMEDOUT when
 * nothing came, or another negative errno.  Not harness_raw_reply: these
 * tests tell an end of file, a reset and silence apart, and take replies
 * to requests sent with any id, or none that decodes.  Descriptors that
 * come with it are closed.
 */
ssize_t raw_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms);
/* The next reply, decoded; fails the test on EOF, timeout or garbage. */
Poolmgr__Reply *raw_reply(int fd);
void raw_hello(int fd, uint32_t version, const char *name, uint64_t id);
/* Connect and say a good Hello. */
int raw_greeted(const char *name);
/* ListPools on a raw connection; the reply must list our pool. */
void raw_list_ok(int fd);
/* OpenPool on a raw connection: returns the handle (the memfd is closed). */
uint32_t raw_open(int fd, uint64_t id);

/* The daemon's words for the last raw_block_call refused, or "". */
extern char raw_words[256];

/*
 * Send a request answered by a block (Alloc, Realloc); returns the reply's
 * error and the block's offset in *off.
 */
int raw_block_call(int fd, Poolmgr__Request *req, uint64_t *off);
/* A raw Alloc; returns the reply's error and the offset in *off. */
int raw_alloc(int fd, uint64_t id, uint32_t handle, uint64_t size, int zero,
	      uint64_t nmemb, uint64_t *off);
/* A raw Free; returns the reply's error. */
int raw_free(int fd, uint64_t id, uint32_t handle, uint64_t off);

/* ---- the fixture ---------------------------------------------------------- */

int badinput_setup(void **state);
/* Only after a failure: the test itself stops the daemon and checks it. */
int badinput_teardown(void **state);
/* The clients closed, and the daemon stopped: it must exit cleanly. */
void stop_daemon(void);
/* The pool's invariant check, through c, passes. */
void check_pool(struct pool_conn *c);
/* The normal client allocates, writes, reads back and frees. */
void client_still_works(struct pool *p);

/* The call's result got is want, else the test fails naming both. */
void expect_rc(int got, int want, const char *call);

#endif /* POOLMGR_BADINPUT_UTIL_H */

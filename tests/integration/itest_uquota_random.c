/*
 * itest_uquota_random.c - what ListUsers says each uid holds, against a
 * model, through the daemon's protocol: a seeded random run of three
 * uids other than the test's, each with two connections (made by a child
 * of that uid and passed back) of up to three handles on a pool under a
 * user quota.
 *
 *   agrees_with_the_model  allocations, retains of any block a handle can
 *       reach, frees through a holder and of persistent blocks by any
 *       handle, resizes, persists, publishes, replaces and unpublishes,
 *       handles closed and connections dropped (drop_step = 1: most
 *       closes drop their references in steps, and the request after a
 *       close may come before they are dropped), and restarts in place.
 *       The model keeps each block's holders, persister and name; after
 *       every request ListUsers lists each uid with the model's
 *       connections, handles, bytes held (each block once) and bytes
 *       persisted, a request the model says the user quota refuses is
 *       refused -EDQUOT and no other is, and the Check passes.
 *       $POOLMGR_UQUOTA_SEED replays a run (its seed is printed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"
#include "quota_util.h"

#define UIDS 3
#define CONNS (2 * UIDS)	/* connection k is uid k % UIDS's */
#define PER_CONN 3		/* open handles of a connection at most */
#define BLOCKS 128
#define NAMES 4
#define STEPS 1500
#define QUOTA (96 * KiB)

static struct daemon_proc d;

/* Sizes whose blocks are as large as asked: the model counts them so. */
static const uint64_t sizes[] = {4 * KiB, 8 * KiB, 12 * KiB, 16 * KiB,
				 24 * KiB, 32 * KiB};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct mconn {
	int fd;
	uint32_t h[PER_CONN];	/* 0: no handle there */
};

struct mblock {
	bool live;
	uint64_t off, size;
	bool holder[CONNS][PER_CONN];
	bool persistent;
	int persister;		/* a uid's index */
	int name;		/* -1: none */
};

static struct {
	struct mconn c[CONNS];
	struct mblock b[BLOCKS];
	int name_block[NAMES];
	uid_t uid[UIDS];
	struct pool_conn *admin;
	unsigned seed;
	int step;
	unsigned refused, restarts, made, retained, others, drops;
} m;

static int
pick(int n)
{
	return (int)(random() % (unsigned)n);
}

static void
fail_at(const char *what, const char *why)
{
	fail_msg("seed %u, step %d: %s: %s", m.seed, m.step, what, why);
}

/* In a child of the uid: a greeted connection, passed back on arg's fd. */
static int
connect_child(void *arg)
{
	int sp = *(int *)arg, fd = harness_raw_greeted(d.sock, "uquota");
	char ctl[CMSG_SPACE(sizeof(int))], x = 'c';
	struct iovec iov = {.iov_base = &x, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	if (fd < 0)
		return 1;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sp, &mh, 0) == 1 ? 0 : 2;
}

/* Connection k anew, its uid's, no handle open. */
static void
conn_make(int k)
{
	char ctl[CMSG_SPACE(sizeof(int))], x;
	struct iovec iov = {.iov_base = &x, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	int sp[2], fd = -1;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp), 0);
	pid = harness_spawn_as(m.uid[k % UIDS], OTHER_GID, connect_child,
			       &sp[1]);
	assert_true(pid > 0);
	assert_int_equal(recvmsg(sp[0], &mh, 0), 1);
	assert_non_null(CMSG_FIRSTHDR(&mh));
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	assert_int_equal(harness_wait(pid), 0);
	close(sp[0]);
	close(sp[1]);
	m.c[k] = (struct mconn){.fd = fd};
}

/* Does any handle hold block j?  (A closed one's let go, as counted.) */
static bool
held(int j)
{
	for (int k = 0; k < CONNS; k++)
		for (int i = 0; i < PER_CONN; i++)
			if (m.b[j].holder[k][i])
				return true;
	return false;
}

/* Does uid u hold block j through any handle? */
static bool
uid_holds(int j, int u)
{
	for (int k = u; k < CONNS; k += UIDS)
		for (int i = 0; i < PER_CONN; i++)
			if (m.b[j].holder[k][i])
				return true;
	return false;
}

static uint64_t
model_held(int u)
{
	uint64_t n = 0;

	for (int j = 0; j < BLOCKS; j++)
		if (m.b[j].live && !m.b[j].persistent && uid_holds(j, u))
			n += m.b[j].size;
	return n;
}

static uint64_t
model_persisted(int u)
{
	uint64_t n = 0;

	for (int j = 0; j < BLOCKS; j++)
		if (m.b[j].live && m.b[j].persistent && m.b[j].persister == u)
			n += m.b[j].size;
	return n;
}

/* What the user quota counts of connection k's uid. */
static uint64_t
model_used_of(int k)
{
	return model_held(k % UIDS) + model_persisted(k % UIDS);
}

static void
maybe_gone(int j)
{
	if (!m.b[j].persistent && !held(j))
		m.b[j].live = false;
}

static void
handles_of(int u, uint32_t *conns, uint32_t *handles)
{
	*conns = *handles = 0;
	for (int k = u; k < CONNS; k += UIDS) {
		uint32_t n = 0;

		for (int i = 0; i < PER_CONN; i++)
			n += m.c[k].h[i] != 0;
		*conns += n != 0;
		*handles += n;
	}
}

/*
 * What ListUsers says of uid u: false unless it is the model's count of
 * connections and handles (a dropped connection reaches the daemon
 * after the test goes on); then its bytes must be the model's.
 */
static bool
listed_as_model(int u, const struct pool_user *pu, size_t n)
{
	uint64_t bytes = 0, persisted = 0;
	uint32_t conns = 0, handles = 0, want_c, want_h;
	char why[160];

	for (size_t i = 0; i < n; i++)
		if (pu[i].uid == m.uid[u]) {
			conns = pu[i].connections;
			handles = pu[i].handles;
			bytes = pu[i].held_bytes;
			persisted = pu[i].persisted_bytes;
		}
	handles_of(u, &want_c, &want_h);
	if (conns != want_c || handles != want_h)
		return false;
	if (bytes == model_held(u) && persisted == model_persisted(u))
		return true;
	snprintf(why, sizeof(why), "uid %u holds %llu and persisted %llu, "
		 "the model says %llu and %llu", (unsigned)m.uid[u],
		 (unsigned long long)bytes, (unsigned long long)persisted,
		 (unsigned long long)model_held(u),
		 (unsigned long long)model_persisted(u));
	fail_at("ListUsers", why);
	return false;
}

static void
agree(void)
{
	struct pool_user *pu;
	size_t n, total;
	int u, tries;

	for (u = 0; u < UIDS; u++)
		for (tries = 0;; tries++) {
			EXPECT_RC(pool_users(m.admin, "q", &pu, &n, &total),
				  0);
			if (listed_as_model(u, pu, n)) {
				free(pu);
				break;
			}
			free(pu);
			if (tries == 10000)
				fail_at("ListUsers", "the connections and "
					"handles are not the model's");
			harness_sleep_ms(1);
		}
	harness_expect_checked(m.admin, "q");
}

static void
verdict(const char *what, int rc, bool refused)
{
	char why[64];

	if ((rc == -EDQUOT) == refused) {
		m.refused += refused;
		return;
	}
	snprintf(why, sizeof(why), "%d, the model %s", rc,
		 refused ? "refuses it" : "does not refuse it");
	fail_at(what, why);
}

/* A random open handle: its connection and slot; false if none found. */
static bool
open_handle(int *k, int *i)
{
	for (int tries = 0; tries < 8 * CONNS * PER_CONN; tries++) {
		*k = pick(CONNS);
		*i = pick(PER_CONN);
		if (m.c[*k].h[*i])
			return true;
	}
	return false;
}

static int
live_block(void)
{
	int j;

	for (int tries = 0; tries < 4 * BLOCKS; tries++)
		if (m.b[j = pick(BLOCKS)].live)
			return j;
	return -1;
}

static int
held_block(int k, int i)
{
	int j;

	for (int tries = 0; tries < 4 * BLOCKS; tries++)
		if (m.b[j = pick(BLOCKS)].live && m.b[j].holder[k][i])
			return j;
	return -1;
}

static void
do_open(void)
{
	int k = pick(CONNS), i = pick(PER_CONN);

	if (m.c[k].h[i])
		return;
	EXPECT_RAW(harness_raw_open(m.c[k].fd, "q", &m.c[k].h[i]), 0);
}

static void
do_alloc(void)
{
	uint64_t size = sizes[pick(NSIZES)], off, usable;
	int k, i, j, rc;
	bool refused;

	if (!open_handle(&k, &i))
		return;
	for (j = 0; j < BLOCKS && m.b[j].live; j++)
		;
	if (j == BLOCKS)
		return;
	refused = model_used_of(k) + size > QUOTA;
	rc = harness_raw_alloc(m.c[k].fd, m.c[k].h[i], size, &off, &usable);
	verdict("an allocation", rc, refused);
	if (rc)
		return;
	if (usable != size)
		fail_at("an allocation", "its block is not as large as asked");
	m.made++;
	m.b[j] = (struct mblock){.live = true, .off = off, .size = size,
				 .name = -1};
	m.b[j].holder[k][i] = true;
}

static void
do_retain(void)
{
	int k, i, j, rc;
	bool reach, refused = false;

	if (!open_handle(&k, &i) || (j = live_block()) < 0)
		return;
	reach = m.b[j].persistent || held(j);
	if (!m.b[j].holder[k][i] && !m.b[j].persistent &&
	    !uid_holds(j, k % UIDS))
		refused = model_used_of(k) + m.b[j].size > QUOTA;
	rc = harness_raw_retain(m.c[k].fd, m.c[k].h[i], m.b[j].off);
	if (!reach) {
		if (rc != -EINVAL)
			fail_at("a retain of a block let go", "not -EINVAL");
		return;
	}
	verdict("a retain", rc, refused);
	if (rc == 0 && !m.b[j].holder[k][i]) {
		m.retained++;
		m.others += !uid_holds(j, k % UIDS);
		m.b[j].holder[k][i] = true;
	}
}

static void
do_free(void)
{
	int k, i, j;

	if (!open_handle(&k, &i) || (j = held_block(k, i)) < 0)
		return;
	EXPECT_RAW(harness_raw_free(m.c[k].fd, m.c[k].h[i], m.b[j].off), 0);
	m.b[j].holder[k][i] = false;
	maybe_gone(j);
}

/* A free of a persistent block through a handle that does not hold it. */
static void
do_free_persistent(void)
{
	int k, i, j, rc;

	if (!open_handle(&k, &i) || (j = live_block()) < 0 ||
	    !m.b[j].persistent || m.b[j].holder[k][i])
		return;
	rc = harness_raw_free(m.c[k].fd, m.c[k].h[i], m.b[j].off);
	if (m.b[j].name >= 0) {
		if (rc != -EBUSY)
			fail_at("a free of a named block", "not -EBUSY");
		return;
	}
	if (rc)
		fail_at("a free of a persistent block", "refused");
	m.b[j].persistent = false;
	maybe_gone(j);
}

static void
do_realloc(void)
{
	uint64_t size = sizes[pick(NSIZES)], off;
	int k, i, j, payer, rc;
	bool refused = false;

	if (!open_handle(&k, &i) || (j = held_block(k, i)) < 0)
		return;
	payer = m.b[j].persistent ? m.b[j].persister : k % UIDS;
	if (size > m.b[j].size)
		refused = model_held(payer) + model_persisted(payer) + size -
			  m.b[j].size > QUOTA;
	off = m.b[j].off;
	rc = harness_raw_realloc(m.c[k].fd, m.c[k].h[i], &off, size,
				 pick(2) == 0);
	verdict("a resize", rc, refused);
	if (rc)
		return;
	m.b[j].off = off;
	m.b[j].size = size;
}

static void
do_persist(void)
{
	int k, i, j;

	if (!open_handle(&k, &i) || (j = held_block(k, i)) < 0 ||
	    m.b[j].persistent)
		return;
	EXPECT_RAW(harness_raw_block(m.c[k].fd, POOLMGR__REQUEST__BODY_PERSIST,
				     m.c[k].h[i], m.b[j].off), 0);
	m.b[j].persistent = true;
	m.b[j].persister = k % UIDS;
}

static int
raw_publish(int k, int i, uint64_t off, const char *name, bool replace)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Publish pb = POOLMGR__PUBLISH__INIT;

	pb.handle = m.c[k].h[i];
	pb.name.data = (uint8_t *)name;
	pb.name.len = strlen(name);
	pb.offset = off;
	pb.replace = replace;
	req.body_case = POOLMGR__REQUEST__BODY_PUBLISH;
	req.publish = &pb;
	return harness_raw_error(m.c[k].fd, &req, NULL);
}

static void
do_publish(void)
{
	int k, i, j, n = pick(NAMES), old, rc;
	bool replace = pick(2) == 0;
	char name[16];

	if (!open_handle(&k, &i) || (j = live_block()) < 0)
		return;
	snprintf(name, sizeof(name), "n%d", n);
	old = m.name_block[n];
	rc = raw_publish(k, i, m.b[j].off, name, replace);
	if (!m.b[j].persistent && !held(j)) {
		if (rc != -EINVAL)
			fail_at("a publish of a block let go", "not -EINVAL");
		return;
	}
	if ((old >= 0 && !replace) || (old != j && m.b[j].name >= 0) ||
	    (!m.b[j].persistent && !m.b[j].holder[k][i])) {
		if (rc == 0)
			fail_at("a publish", "served, the model refuses it");
		return;
	}
	if (rc)
		fail_at("a publish", "refused");
	if (old == j)
		return;
	if (!m.b[j].persistent) {
		m.b[j].persistent = true;
		m.b[j].persister = k % UIDS;
	}
	m.b[j].name = n;
	m.name_block[n] = j;
	if (old >= 0) {
		m.b[old].name = -1;
		m.b[old].persistent = false;
		maybe_gone(old);
	}
}

static void
do_unpublish(void)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Unpublish up = POOLMGR__UNPUBLISH__INIT;
	int k, i, n = pick(NAMES), j = m.name_block[n], rc;
	char name[16];

	if (!open_handle(&k, &i))
		return;
	snprintf(name, sizeof(name), "n%d", n);
	up.handle = m.c[k].h[i];
	up.name.data = (uint8_t *)name;
	up.name.len = strlen(name);
	req.body_case = POOLMGR__REQUEST__BODY_UNPUBLISH;
	req.unpublish = &up;
	rc = harness_raw_error(m.c[k].fd, &req, NULL);
	if (j < 0) {
		if (rc != -ENOENT)
			fail_at("an unpublish of no name", "not -ENOENT");
		return;
	}
	if (rc)
		fail_at("an unpublish", "refused");
	m.name_block[n] = -1;
	m.b[j].name = -1;
	m.b[j].persistent = false;
	maybe_gone(j);
}

/* Handle slot i of connection k lets go of everything it holds. */
static void
let_go(int k, int i)
{
	m.c[k].h[i] = 0;
	for (int j = 0; j < BLOCKS; j++)
		if (m.b[j].live && m.b[j].holder[k][i]) {
			m.b[j].holder[k][i] = false;
			maybe_gone(j);
		}
}

/*
 * A handle closes.  The next request may come before its references are
 * dropped (false: not looked at meanwhile): a refusal by the user quota
 * waits for them, so the model counts them gone at once.
 */
static bool
do_close(void)
{
	int k, i;

	if (!open_handle(&k, &i))
		return true;
	EXPECT_RAW(harness_raw_close(m.c[k].fd, m.c[k].h[i]), 0);
	let_go(k, i);
	return pick(2) == 0;
}

/* A connection goes, its handles with it, and another of its uid comes. */
static void
do_drop(void)
{
	int k = pick(CONNS);

	m.drops++;
	close(m.c[k].fd);
	for (int i = 0; i < PER_CONN; i++)
		let_go(k, i);
	conn_make(k);
}

static void
do_restart(void)
{
	assert_int_equal(harness_restart_in_place(&d), 0);
	m.restarts++;
}

/* One request, or a restart: false if the books are not to be looked at
 * before the next. */
static bool
one_step(void)
{
	int r = pick(1000);

	if (r < 100)
		do_open();
	else if (r < 340)
		do_alloc();
	else if (r < 540)
		do_retain();
	else if (r < 690)
		do_free();
	else if (r < 710)
		do_free_persistent();
	else if (r < 790)
		do_realloc();
	else if (r < 830)
		do_persist();
	else if (r < 880)
		do_publish();
	else if (r < 900)
		do_unpublish();
	else if (r < 960)
		return do_close();
	else if (r < 998)
		do_drop();
	else
		do_restart();	/* three in a run, about */
	return true;
}

static void
agrees_with_the_model(void **state)
{
	const char *env = getenv("POOLMGR_UQUOTA_SEED");
	struct pool *p;
	int k;

	(void)state;
	harness_skip_unless_root("become other uids");
	memset(&m, 0, sizeof(m));
	m.seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
	printf("uquota_random: seed %u\n", m.seed);
	srandom(m.seed);
	for (k = 0; k < NAMES; k++)
		m.name_block[k] = -1;
	for (k = 0; k < UIDS; k++)
		m.uid[k] = OTHER_UID - 1 - (uid_t)k;
	quota_fixture_open(&d, "drop_step = 1\n", "q", QUOTA, &m.admin, &p);
	for (k = 0; k < CONNS; k++)
		conn_make(k);
	for (m.step = 0; m.step < STEPS; m.step++)
		if (one_step())
			agree();
	agree();
	printf("uquota_random: %u blocks made, %u retains (%u of a block "
	       "the uid did not hold), %u requests refused by the user "
	       "quota, %u connections dropped, %u restarts in place\n",
	       m.made, m.retained, m.others, m.refused, m.drops, m.restarts);
	for (k = 0; k < CONNS; k++)
		close(m.c[k].fd);
	pool_close(p);
	pool_disconnect(m.admin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		HARNESS_FIXTURE_TEST(agrees_with_the_model, &d),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

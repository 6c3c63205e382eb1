/*
 * itest_list.c - ListPools in pages, pool_list, `poolctl list` and
 * `poolctl stats` of many pools.
 *
 *   largest_page_fits   no daemon: a Reply of ListPools' page, 64 entries
 *       with every field of PoolStats at its largest (found from the
 *       message's descriptor, so a field added later counts too) and
 *       64-byte names, and unlisted and the id at theirs, packs within a
 *       datagram (docs/protocol.md): a page always fits.
 *   library_lists_every_pool   200 pools of 64-byte names, made in an
 *       order that is not their names': pool_list returns each once, in
 *       name order, with its own size and mode and the count of its
 *       uids' own user quotas (every tenth pool has some, from 1 to 20:
 *       ListPools says the count, not the entries); a client of uid
 *       nobody, which may read a third of them, gets those alone, in
 *       order.
 *       (The second part is skipped when not run as root.)
 *   poolctl_shows_every_pool   `poolctl list` and `poolctl --json stats`
 *       name each of the 200, once.
 *   raw_pages   the requests themselves: paged, 64 entries and unlisted
 *       136; after the 64th name, the next 64 and unlisted 72; after
 *       the 128th, 64 and 8; after the 192nd, the last 8 and unlisted 0;
 *       after a name between two (of no pool),
 *       those after it; unpaged, all 200 at once (small, they fit); after
 *       a name past the last, none and unlisted 0.
 *
 * (A reply cut where the datagram is full, rather than at a page, needs
 * entries of ~290 bytes, counters near 2^40: not made here.  The cut
 * works as ListClients', itest_clients.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOLS 200
#define PAGE 64			/* ListPools.paged: docs/protocol.md */
#define DATAGRAM 65536
#define NOBODY 65534
#define OUT_MAX (1 << 20)
/* Pool k's name: "p%03d" and 60 more bytes, 64 in all. */
#define NAME_TAIL \
	"-123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	char out[OUT_MAX];	/* stdout of the last poolctl */
	char err[4096];		/* its stderr */
};

static struct fixture fx;

static void
made_name(char *buf, size_t len, int k)
{
	snprintf(buf, len, "p%03d%s", k, NAME_TAIL);
}

/* Pool k: a size and a mode of its own; nobody may read every third. */
static uint64_t
made_size(int k)
{
	return (uint64_t)(k % 4 + 1) << 16;
}

static uint32_t
made_mode(int k)
{
	return k % 3 == 0 ? 0644 : 0600;
}

/* Pool k's count of uids' own user quotas: every tenth has 1 to 20. */
static uint32_t
made_uquotas(int k)
{
	return k % 10 == 0 ? (uint32_t)(k / 10 + 1) : 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* The daemon, and its POOLS pools, made in the order 7k mod 200. */
static int
setup(void **state)
{
	struct pool_create_opts o;
	struct pool_user_quota uq[POOL_USER_QUOTA_MAX];
	char name[POOL_NAME_MAX + 1];
	uint32_t j;
	int i, k;

	(void)state;
	assert_int_equal(harness_start(&fx.d, NULL), 0);
	EXPECT_RC(pool_connect(fx.d.sock, &fx.conn), 0);
	for (i = 0; i < POOLS; i++) {
		k = i * 7 % POOLS;
		memset(&o, 0, sizeof(o));
		o.max_size = made_size(k);
		o.mode = made_mode(k);
		made_name(name, sizeof(name), k);
		assert_int_equal(strlen(name), POOL_NAME_MAX);
		memset(uq, 0, sizeof(uq));
		for (j = 0; j < made_uquotas(k); j++) {
			uq[j].uid = 1000 + j;
			uq[j].bytes = (uint64_t)(j + 1) << 20;
		}
		EXPECT_RC(pool_create_user_quotas(fx.conn, name, &o, NULL, uq,
						  made_uquotas(k)), 0);
	}
	return 0;
}

/* ---- the largest page ---------------------------------------------------- */

/*
 * An access control list at its largest: 32 entries (the most a pool
 * keeps), each at the largest the daemon sends (acl_build lets no other
 * through): a group (kind 2), id 4294967294, read and write (6).
 */
static Poolmgr__Acl *
acl_at_largest(void)
{
	static Poolmgr__AclEntry e[32];
	static Poolmgr__AclEntry *ptrs[32];
	static Poolmgr__Acl acl;
	unsigned i;

	poolmgr__acl__init(&acl);
	for (i = 0; i < 32; i++) {
		poolmgr__acl_entry__init(&e[i]);
		e[i].kind = 2;
		e[i].id = UINT32_MAX - 1;
		e[i].rights = 6;
		ptrs[i] = &e[i];
	}
	acl.n_entries = 32;
	acl.entries = ptrs;
	return &acl;
}

/*
 * Every field of m at its largest: uint64, uint32, a 64-byte name and a
 * full access control list.
 */
static void
stats_at_largest(Poolmgr__PoolStats *m, char *name)
{
	const ProtobufCMessageDescriptor *d = &poolmgr__pool_stats__descriptor;
	unsigned i;

	poolmgr__pool_stats__init(m);
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *at = (char *)m + f->offset;

		/* PoolStats alone says them: ListPools leaves them out. */
		if (strcmp(f->name, "user_quotas") == 0)
			continue;
		assert_int_equal(f->label, PROTOBUF_C_LABEL_NONE);
		switch (f->type) {
		case PROTOBUF_C_TYPE_UINT64:
			*(uint64_t *)at = UINT64_MAX;
			break;
		case PROTOBUF_C_TYPE_UINT32:
			*(uint32_t *)at = UINT32_MAX;
			break;
		case PROTOBUF_C_TYPE_STRING:
			*(char **)at = name;
			break;
		case PROTOBUF_C_TYPE_MESSAGE:
			if (f->descriptor != &poolmgr__acl__descriptor)
				fail_msg("PoolStats.%s: a message this test "
					 "does not size", f->name);
			*(Poolmgr__Acl **)at = acl_at_largest();
			break;
		default:
			fail_msg("PoolStats.%s: a type this test does not "
				 "size; make it the largest there is",
				 f->name);
		}
	}
}

static void
largest_page_fits(void **state)
{
	static Poolmgr__PoolStats st[PAGE];
	static Poolmgr__PoolStats *ptrs[PAGE];
	char name[POOL_NAME_MAX + 1];
	Poolmgr__ListPoolsReply lr = POOLMGR__LIST_POOLS_REPLY__INIT;
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	size_t i, one, all;

	(void)state;
	made_name(name, sizeof(name), 999);
	for (i = 0; i < PAGE; i++) {
		stats_at_largest(&st[i], name);
		ptrs[i] = &st[i];
	}
	lr.n_pools = PAGE;
	lr.pools = ptrs;
	lr.unlisted = UINT32_MAX;
	rep.id = UINT64_MAX;
	rep.body_case = POOLMGR__REPLY__BODY_LIST;
	rep.list = &lr;
	one = poolmgr__pool_stats__get_packed_size(&st[0]);
	all = poolmgr__reply__get_packed_size(&rep);
	printf("list: an entry at its largest packs to %zu bytes; a page of "
	       "%d in a Reply, %zu of %d\n", one, PAGE, all, DATAGRAM);
	assert_true(all <= DATAGRAM);
}

/* ---- the library ------------------------------------------------------------ */

/*
 * ps[0..n) are pools k = first, first + step, ... in name order, each
 * with its size and mode: 0, or the index of the first that is not + 1.
 */
static size_t
wrong_entry(const struct pool_stats *ps, size_t n, int first, int step)
{
	char name[POOL_NAME_MAX + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		int k = first + (int)i * step;

		made_name(name, sizeof(name), k);
		if (strcmp(ps[i].name, name) != 0 ||
		    ps[i].max_size != made_size(k) ||
		    ps[i].mode != made_mode(k) || ps[i].granularity != 16 ||
		    ps[i].user_quota_entries != made_uquotas(k))
			return i + 1;
	}
	return 0;
}

/* As nobody: the pools it may read, every third, and only those. */
static int
nobody_lists(void *arg)
{
	struct pool_conn *c;
	struct pool_stats *ps;
	size_t n;

	CHECK_RC(pool_connect(arg, &c), 0, 10);
	CHECK_RC(pool_list(c, &ps, &n), 0, 11);
	CHECK(n == (POOLS + 2) / 3, 12);
	CHECK(wrong_entry(ps, n, 0, 3) == 0, 13);
	free(ps);
	pool_disconnect(c);
	return 0;
}

static void
library_lists_every_pool(void **state)
{
	struct pool_stats *ps = NULL;
	size_t n = 0, wrong;
	pid_t pid;

	(void)state;
	EXPECT_RC(pool_list(fx.conn, &ps, &n), 0);
	assert_int_equal(n, POOLS);
	if ((wrong = wrong_entry(ps, n, 0, 1)))
		fail_msg("pool_list's entry %zu is %s, size %llu, mode %o, "
			 "%u user quota entries", wrong - 1, ps[wrong - 1].name,
			 (unsigned long long)ps[wrong - 1].max_size,
			 ps[wrong - 1].mode,
			 (unsigned)ps[wrong - 1].user_quota_entries);
	free(ps);
	printf("list: pool_list of %d pools: each once, in name order\n",
	       POOLS);
	if ((pid = harness_spawn_as(NOBODY, NOBODY, nobody_lists,
				    fx.d.sock)) < 0) {
		printf("list: not root: cannot list as nobody; skipped\n");
		return;
	}
	assert_int_equal(harness_wait(pid), 0);
	printf("list: as nobody, the %d it may read\n", (POOLS + 2) / 3);
}

/* ---- poolctl ------------------------------------------------------------ */

/* Each pool's name is in out exactly once. */
static void
expect_each_once(const char *out, const char *what)
{
	char name[POOL_NAME_MAX + 1];
	const char *at;
	int k;

	for (k = 0; k < POOLS; k++) {
		made_name(name, sizeof(name), k);
		if (!(at = strstr(out, name)) || strstr(at + 1, name))
			fail_msg("%s: pool %s shown %s", what, name,
				 at ? "twice" : "not at all");
	}
}

static void
poolctl_shows_every_pool(void **state)
{
	(void)state;
	assert_int_equal(harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out),
					 fx.err, sizeof(fx.err), "list"), 0);
	expect_each_once(fx.out, "poolctl list");
	assert_int_equal(harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out),
					 fx.err, sizeof(fx.err),
					 "--json stats"), 0);
	expect_each_once(fx.out, "poolctl --json stats");
	printf("list: poolctl list and --json stats show all %d\n", POOLS);
}

/* ---- the requests ----------------------------------------------------------- */

/* ListPools{after, paged} on fd: its reply, which must be a list. */
static Poolmgr__Reply *
raw_list(int fd, const char *after, bool paged)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools lp = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply *rep;

	lp.after = (char *)after;
	lp.paged = paged;
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &lp;
	rep = harness_raw_expect(fd, &req, 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_LIST);
	return rep;
}

/*
 * ListPools{after, paged} lists pools first .. first + n - 1, in order,
 * and says unlisted are left out.
 */
static void
expect_page(int fd, const char *after, bool paged, int first, size_t n,
	    uint32_t unlisted)
{
	char name[POOL_NAME_MAX + 1];
	Poolmgr__Reply *rep = raw_list(fd, after, paged);
	const Poolmgr__ListPoolsReply *l = rep->list;
	size_t i;

	if (l->n_pools != n || l->unlisted != unlisted)
		fail_msg("ListPools{after \"%.4s\", paged %d}: %zu pools and "
			 "%u left out, not %zu and %u", after, (int)paged,
			 l->n_pools, l->unlisted, n, unlisted);
	for (i = 0; i < n; i++) {
		made_name(name, sizeof(name), first + (int)i);
		if (strcmp(l->pools[i]->name, name) != 0)
			fail_msg("ListPools{after \"%.4s\", paged %d}: entry "
				 "%zu is %.4s, not %.4s", after, (int)paged,
				 i, l->pools[i]->name, name);
	}
	poolmgr__reply__free_unpacked(rep, NULL);
}

static void
raw_pages(void **state)
{
	char after[POOL_NAME_MAX + 1];
	int fd = harness_raw_client(fx.d.sock, "lister");

	(void)state;
	expect_page(fd, "", true, 0, PAGE, POOLS - PAGE);
	made_name(after, sizeof(after), PAGE - 1);
	expect_page(fd, after, true, PAGE, PAGE, POOLS - 2 * PAGE);
	made_name(after, sizeof(after), 2 * PAGE - 1);
	expect_page(fd, after, true, 2 * PAGE, PAGE, POOLS - 3 * PAGE);
	made_name(after, sizeof(after), 3 * PAGE - 1);
	expect_page(fd, after, true, 3 * PAGE, POOLS - 3 * PAGE, 0);
	/* A name of no pool: from the first after it. */
	expect_page(fd, "p100", true, 100, PAGE, POOLS - 100 - PAGE);
	expect_page(fd, "", false, 0, POOLS, 0);
	expect_page(fd, "q", true, 0, 0, 0);
	expect_page(fd, "q", false, 0, 0, 0);
	made_name(after, sizeof(after), POOLS - 1);
	expect_page(fd, after, true, 0, 0, 0);
	printf("list: pages of %d: %d, %d, %d, then %d; unpaged, all %d\n",
	       PAGE, PAGE, PAGE, PAGE, POOLS - 3 * PAGE, POOLS);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(largest_page_fits),
		cmocka_unit_test_setup_teardown(library_lists_every_pool,
						setup, teardown),
		cmocka_unit_test_setup_teardown(poolctl_shows_every_pool,
						setup, teardown),
		cmocka_unit_test_setup_teardown(raw_pages, setup, teardown),
	};

	return cmocka_run_group_tests_name("ListPools in pages", tests, NULL,
					   NULL);
}

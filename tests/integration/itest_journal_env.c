/*
 * itest_journal_env.c - the crash journal when the daemon's memory runs
 * short at the wrong moment (docs/design.md, "The crash journal"): its
 * names in the environment, from which the image a restart in place
 * executes learns which journal and keeps in systemd's fd store are the
 * old image's, to take them out once ready; and a journal the daemon
 * lets go of that the store keeps all the same.  Under fail_malloc.so
 * (plain build only: see the Makefile).
 *
 *   names_set_again_for_exec  the one allocation of a DestroyPool that
 *       the environment's new value needs fails (found by failing the
 *       first, the second, ... in a fresh daemon each), so the daemon
 *       runs on with no names in its environment, as it logs.  A restart
 *       in place then must still leave one journal in the store, the new
 *       image's, and a block made persistent after it, with its bytes,
 *       must be there after a crash.
 *   withdrawn_when_not_removed  the journal cannot grow (RLIMIT_FSIZE of
 *       the daemon) at a persist during which every allocation from the
 *       first on fails, then the second on, ... (a fresh daemon each):
 *       the daemon lets the journal go, but its requests to the store to
 *       take it and the keeps out may fail too, and the store keep a
 *       journal that lacks the persist and all after it.  A block ended
 *       after, a crash: a start must never bring the block back (the
 *       journal it let go of refused, the pools fresh).
 *   keep_removed_when_refused  the one allocation of a DestroyPool that
 *       the request to the store to drop the pool's keep needs fails
 *       (found as above): the request is made again later, and the
 *       store drops the keep, where it held it, and with it the pool's
 *       memory, until the next start.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define CONFIG		"[daemon]\nsocket_mode = 0666\n[pool a]\nsize = 4M\n"
#define FAIL_ON_SIG	(SIGRTMIN + 5)	/* fail_malloc.c's */
#define FAIL_OFF_SIG	(SIGRTMIN + 6)
#define TRIES		400	/* allocations of a DestroyPool, at most */
#define LOST		"its names are not in the environment"
#define WAIT_MS		30000
#define JOURNAL_CAP	(64 * 1024)	/* journal.c's first size */
#define PERSIST_REC	64		/* a persist record's bytes */
#define SWEEP		48	/* allocations of a persist, and more */

static struct harness_store st;

/*
 * A daemon whose (m+1)th allocation once failures are on fails, alone
 * (once) or with every one after it.
 */
static void
start_failing(unsigned m, bool once)
{
	char rule[64], *saved = harness_preload("fail_malloc.so");
	int rc;

	snprintf(rule, sizeof(rule), "every=1,after=%u%s", m,
		 once ? ",times=1" : "");
	setenv("POOLMGR_FAIL_MALLOC", rule, 1);
	assert_int_equal(harness_store_open(&st, CONFIG), 0);
	rc = harness_store_start(&st);
	unsetenv("POOLMGR_FAIL_MALLOC");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
}

/*
 * Pool x made, then destroyed with the (m+1)th allocation failing: true,
 * the daemon left running, if that was the environment's.
 */
static bool
names_lost_at(unsigned m)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;

	start_failing(m, true);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_create(c, "x", &o), 0);
	assert_int_equal(kill(st.pid, FAIL_ON_SIG), 0);
	(void)pool_destroy(c, "x");	/* done, refused or dropped */
	assert_int_equal(kill(st.pid, FAIL_OFF_SIG), 0);
	pool_disconnect(c);
	harness_store_drain(&st);
	if (harness_store_logged(&st, LOST))
		return true;
	harness_store_close(&st);
	return false;
}

/* The keeps the store holds. */
static unsigned
keeps(void)
{
	unsigned i, n = 0;

	harness_store_drain(&st);
	for (i = 0; i < st.n; i++)
		n += strncmp(st.name[i], "keep.", 5) == 0;
	return n;
}

/*
 * Pool x made, then destroyed with the (m+1)th allocation failing: true,
 * the daemon left running, if that was the one the removal of x's keep
 * from the store needed.
 */
static bool
keep_unremoved_at(unsigned m)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;

	start_failing(m, true);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_create(c, "x", &o), 0);
	assert_int_equal(keeps(), 2);
	assert_int_equal(kill(st.pid, FAIL_ON_SIG), 0);
	(void)pool_destroy(c, "x");	/* done, refused or dropped */
	assert_int_equal(kill(st.pid, FAIL_OFF_SIG), 0);
	pool_disconnect(c);
	harness_store_drain(&st);
	if (harness_store_logged(&st, "cannot remove keep."))
		return true;
	harness_store_close(&st);
	return false;
}

/* The journals the store holds. */
static unsigned
journals(void)
{
	unsigned i, n = 0;

	harness_store_drain(&st);
	for (i = 0; i < st.n; i++)
		n += strncmp(st.name[i], "journal.", 8) == 0;
	return n;
}

/* A block of 64 B persisted in a, filled with c: its offset. */
static pool_off_t
persist_small(struct pool *a, int c)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(a, 64, &off), 0);
	memset(pool_ptr(a, off), c, 64);
	EXPECT_RC(pool_persist(a, off), 0);
	return off;
}

/*
 * Blocks persisted in a until the next one's record grows the journal,
 * which RLIMIT_FSIZE keeps from growing: that persist with every
 * allocation from the (m+1)th on failing, then the first block ended
 * and the daemon killed.  A start after must not bring that block back,
 * whatever the failures let the daemon do: recover a journal that has
 * its end, or start fresh.
 */
static void
ended_stays_ended(unsigned m)
{
	struct rlimit rl = {.rlim_cur = JOURNAL_CAP,
			    .rlim_max = RLIM_INFINITY};
	struct pool_conn *c;
	struct pool *a;
	pool_off_t first, off;
	uint64_t left;

	start_failing(m, false);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_set_cache(a, 0), 0);
	assert_int_equal(prlimit(st.pid, RLIMIT_FSIZE, &rl, NULL), 0);
	first = persist_small(a, 'f');
	while (harness_store_journal_room(&st) >= PERSIST_REC)
		(void)persist_small(a, 'f');
	EXPECT_RC(pool_alloc(a, 64, &off), 0);
	assert_int_equal(kill(st.pid, FAIL_ON_SIG), 0);
	(void)pool_persist(a, off);	/* done, refused or dropped */
	assert_int_equal(kill(st.pid, FAIL_OFF_SIG), 0);
	pool_close(a);
	pool_disconnect(c);
	/* Ended, as a client is told: no crash may bring it back. */
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_free(a, first), 0);
	pool_close(a);
	pool_disconnect(c);
	harness_store_drain(&st);
	if (harness_store_crash(&st) != 0 || harness_store_start(&st) != 0)
		fail_msg("m %u: no start after the crash", m);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	left = harness_stats(a).persistent_blocks;
	if (left && *(const char *)pool_ptr(a, first) == 'f' &&
	    pool_free(a, first) == 0) {
		harness_store_print_log(&st);
		fail_msg("m %u: a block ended before the crash is back, from "
			 "a journal the daemon had let go of", m);
	}
	pool_close(a);
	pool_disconnect(c);
	harness_store_close(&st);
}

static void
withdrawn_when_not_removed(void **state)
{
	unsigned m;

	(void)state;
	for (m = 0; m < SWEEP; m++)
		ended_stays_ended(m);
}

static void
names_set_again_for_exec(void **state)
{
	struct pool_conn *c;
	struct pool *a;
	pool_off_t off;
	unsigned m, after_restart;
	uint8_t *p;
	size_t i;

	(void)state;
	for (m = 0; m < TRIES && !names_lost_at(m); m++)
		;
	if (m == TRIES)
		fail_msg("no allocation of a DestroyPool was the "
			 "environment's");
	assert_int_equal(journals(), 1);

	if (kill(st.pid, SIGUSR2) != 0 ||
	    harness_store_wait(&st, "READY=1", WAIT_MS) != 0)
		fail_msg("no restart in place");

	/*
	 * Told persistent, after the restart: a crash must keep it.  Its
	 * answers come after what the new image sent the store once ready.
	 */
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_set_cache(a, 0), 0);
	EXPECT_RC(pool_alloc(a, 4096, &off), 0);
	memset(pool_ptr(a, off), 0x5a, 4096);
	EXPECT_RC(pool_persist(a, off), 0);
	EXPECT_RC(pool_free(a, off), 0);
	pool_close(a);
	pool_disconnect(c);
	if ((after_restart = journals()) != 1) {
		harness_store_print_log(&st);
		fail_msg("%u journals in the store after the restart in place: "
			 "the old image's left beside the new one's",
			 after_restart);
	}

	if (harness_store_recover(&st) != 0)
		fail_msg("no recovery");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	assert_int_equal(harness_stats(a).persistent_blocks, 1);
	p = pool_ptr(a, off);
	for (i = 0; i < 4096; i++)
		if (p[i] != 0x5a)
			fail_msg("byte %zu of the persistent block is %#x", i,
				 p[i]);
	pool_close(a);
	pool_disconnect(c);
	harness_store_close(&st);
}

/* A failed check leaves its daemon running: killed here, its files gone. */
static int
teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

static void
keep_removed_when_refused(void **state)
{
	unsigned m;

	(void)state;
	for (m = 0; m < TRIES && !keep_unremoved_at(m); m++)
		;
	if (m == TRIES)
		fail_msg("no allocation of a DestroyPool was the keep's "
			 "removal");
	printf("allocation %u of a DestroyPool failed: its keep's removal\n",
	       m + 1);
	/* Asked again: the store drops it, pool a's alone left. */
	while (keeps() != 1 &&
	       harness_store_receive(&st, WAIT_MS, "FDSTOREREMOVE=1") >= 0)
		;
	if (keeps() != 1) {
		harness_store_print_log(&st);
		fail_msg("the store still holds %u keeps, the destroyed "
			 "pool's among them", keeps());
	}
	assert_int_equal(kill(st.pid, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(names_set_again_for_exec, teardown),
		cmocka_unit_test_teardown(withdrawn_when_not_removed, teardown),
		cmocka_unit_test_teardown(keep_removed_when_refused, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

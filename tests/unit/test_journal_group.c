/*
 * test_journal_group.c - a change of many records in the crash journal
 * (journal.h: journal_group_begin, journal_group_end), on the daemon's
 * own pool and journal code, with this process playing systemd's store:
 * NOTIFY_SOCKET is a datagram socket of the test's, FDSTORE is set, and
 * the journal's memfd is taken from the push that carries it.
 *
 *   kept_moves_the_end_once   persists inside a group are written but
 *       not read: the journal's committed end stays where it was until
 *       the group ends, then covers every one of them;
 *   undone_leaves_nothing     a group whose persists are undone (each
 *       block unpersisted and freed) leaves the end where it was, and the
 *       next change is written over its records;
 *   broken_inside_a_group     the journal cannot grow in the middle of a
 *       group (RLIMIT_FSIZE): it leaves the store with its end where the
 *       group began, and the fresh journal built after holds the whole
 *       group, kept; or none of it, undone;
 *   one_outside_a_group       a persist outside any group moves the end
 *       at once, as ever;
 *   nested_groups_end_once    a group inside another (a kept one, and an
 *       undone one whose records cancel) moves nothing at its end: the
 *       outermost's end covers the records of both;
 *   free_in_two_halves        dpool_free_begin ends the persistence of
 *       blocks inside a group, each still in the pool's index, the end
 *       unmoved; once the group is over the journal has none persistent,
 *       and only dpool_free_end takes them out.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_fixture.h"
#include "journal.h"
#include "journal_rec.h"

#define PERSIST_BYTES	64	/* a JREC_PERSIST record */

/* The store this process plays, and the journal it holds. */
struct store {
	char dir[40], path[64];
	int fd;			/* the notify socket */
	int journal;		/* the newest journal.<n> pushed, or -1 */
	bool journal_removed;	/* an FDSTOREREMOVE of it came since */
	bool step_due;
};

static struct store store;

static void
step_in(unsigned ms)
{
	(void)ms;
	store.step_due = true;
}

/* One datagram the daemon's code sent: the newest journal kept. */
static void
store_took(const char *buf, int f, void *arg)
{
	(void)arg;
	if (f >= 0 && strstr(buf, "FDNAME=journal.")) {
		if (store.journal >= 0)
			close(store.journal);
		store.journal = f;
		store.journal_removed = false;
	} else if (f >= 0) {
		close(f);
	}
	if (strstr(buf, "FDSTOREREMOVE=1") && strstr(buf, "FDNAME=journal."))
		store.journal_removed = true;
}

/* What the daemon's code sent meanwhile: the newest journal kept. */
static void
store_drain(void)
{
	daemon_fixture_store_read(store.fd, store_took, NULL);
}

/* The committed end of the journal the store holds. */
static uint64_t
journal_end(void)
{
	uint64_t *h, end;

	store_drain();
	assert_true(store.journal >= 0);
	h = mmap(NULL, JREC_HEADER, PROT_READ, MAP_SHARED, store.journal, 0);
	assert_true(h != MAP_FAILED);
	end = __atomic_load_n(&h[JH_END], __ATOMIC_ACQUIRE);
	munmap(h, JREC_HEADER);
	return end;
}

/*
 * The blocks the stored journal, read to its committed end, leaves
 * persistent: its persists less its unpersists.
 */
static long
journal_persistent(void)
{
	uint64_t end = journal_end(), at, *j;
	struct stat st;
	long n = 0;
	unsigned words;

	assert_int_equal(fstat(store.journal, &st), 0);
	j = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED,
		 store.journal, 0);
	assert_true(j != MAP_FAILED);
	for (at = JREC_HEADER; at < end; at += 8ull * words) {
		words = (unsigned)(j[at / 8] >> 32);
		assert_true(words > 0);
		if ((uint32_t)j[at / 8] == JREC_PERSIST)
			n++;
		else if ((uint32_t)j[at / 8] == JREC_UNPERSIST)
			n--;
	}
	munmap(j, (size_t)st.st_size);
	return n;
}

/* The type of the record at byte at of the stored journal. */
static uint32_t
journal_type_at(uint64_t at)
{
	uint64_t w;

	assert_int_equal(pread(store.journal, &w, sizeof(w), (off_t)at),
			 sizeof(w));
	return (uint32_t)w;
}

static int
setup(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(&store, 0, sizeof(store));
	store.journal = -1;
	snprintf(store.dir, sizeof(store.dir), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(store.dir));
	snprintf(store.path, sizeof(store.path), "%s/notify", store.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", store.path);
	store.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(store.fd >= 0);
	assert_int_equal(bind(store.fd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", store.path, 1), 0);
	assert_int_equal(setenv("FDSTORE", "64", 1), 0);
	/* Names a journal of an earlier test left for a restart in place. */
	unsetenv("POOLMGRD_JOURNAL");
	daemon_fixture_setup_open(state);
	journal_setup(step_in);
	journal_start(NULL);
	assert_int_not_equal(journal_slots(), 0);
	store_drain();
	assert_true(store.journal >= 0);
	return 0;
}

static int
teardown(void **state)
{
	journal_stop(true);
	daemon_fixture_teardown(state);
	store_drain();
	if (store.journal >= 0)
		close(store.journal);
	close(store.fd);
	unlink(store.path);
	rmdir(store.dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("FDSTORE");
	return 0;
}

/* A block of 64 B made persistent through fx's handle: its offset. */
static uint64_t
persisted(struct daemon_fixture *fx)
{
	struct block *b;

	assert_int_equal(dpool_alloc(fx->p, fx->h, 64, 0, false, 0, &b), 0);
	assert_int_equal(dpool_persist(fx->p, fx->h, b->off, 0), 0);
	return b->off;
}

/* What batch_undo does: persistence ended, the block back. */
static void
undo(struct daemon_fixture *fx, uint64_t off)
{
	dpool_unpersist(fx->p, dpool_block(fx->p, off));
	assert_int_equal(dpool_unalloc(fx->p, fx->h, off), 0);
}

/* Every block of offs (persistent, held) ended and freed. */
static void
free_all(struct daemon_fixture *fx, const uint64_t *offs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(dpool_free(fx->p, fx->h, offs[i]), 0);
		assert_int_equal(dpool_free(fx->p, fx->h, offs[i]), 0);
	}
}

static void
kept_moves_the_end_once(void **state)
{
	struct daemon_fixture *fx = *state;
	uint64_t end = journal_end(), offs[100];
	size_t i;

	journal_group_begin();
	for (i = 0; i < 100; i++) {
		offs[i] = persisted(fx);
		assert_int_equal(journal_end(), end);
	}
	journal_group_end(true);
	assert_int_equal(journal_end(), end + 100 * PERSIST_BYTES);
	assert_int_equal(journal_type_at(end), JREC_PERSIST);
	assert_int_equal(journal_persistent(), 100);
	free_all(fx, offs, 100);
	assert_int_equal(journal_persistent(), 0);
}

static void
undone_leaves_nothing(void **state)
{
	struct daemon_fixture *fx = *state;
	uint64_t end = journal_end(), offs[50], off;
	size_t i;

	journal_group_begin();
	for (i = 0; i < 50; i++)
		offs[i] = persisted(fx);
	for (i = 0; i < 50; i++)
		undo(fx, offs[i]);
	journal_group_end(false);
	assert_int_equal(journal_end(), end);
	assert_int_equal(fx->p->persistent_blocks, 0);

	/* The next change is written where the group's records were. */
	off = persisted(fx);
	assert_int_equal(journal_end(), end + PERSIST_BYTES);
	assert_int_equal(journal_type_at(end), JREC_PERSIST);
	assert_int_equal(journal_persistent(), 1);
	free_all(fx, &off, 1);
}

/*
 * A group of n persists in which the journal cannot grow, kept or undone;
 * then the fresh journal, once the limit is lifted.
 */
static void
broken_group(struct daemon_fixture *fx, bool keep)
{
	uint64_t end = journal_end(), offs[2048];
	struct rlimit rl, was;
	struct stat st;
	size_t i;

	/* Past what the journal holds now: it must grow in the middle. */
	assert_int_equal(fstat(store.journal, &st), 0);
	assert_true((uint64_t)st.st_size < end + 2048 * PERSIST_BYTES);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	rl = was;
	rl.rlim_cur = (rlim_t)st.st_size;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	journal_group_begin();
	for (i = 0; i < 2048; i++)
		offs[i] = persisted(fx);
	if (!keep)
		for (i = 0; i < 2048; i++)
			undo(fx, offs[i]);
	journal_group_end(keep);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);

	/* Out of the store, whole to where the group began. */
	store_drain();
	assert_true(store.journal_removed);
	assert_int_equal(journal_end(), end);
	assert_int_equal(journal_slots(), 0);

	/* The fresh one, built in steps, has the group or nothing of it. */
	for (i = 0; store.step_due && i < 100000; i++) {
		store.step_due = false;
		journal_step();
		store_drain();
	}
	assert_false(store.journal_removed);
	assert_int_not_equal(journal_slots(), 0);
	assert_int_equal(journal_persistent(), keep ? 2048 : 0);
	if (keep)
		free_all(fx, offs, 2048);
	assert_int_equal(journal_persistent(), 0);
}

static void
broken_inside_a_group(void **state)
{
	broken_group(*state, true);
	broken_group(*state, false);
}

static void
one_outside_a_group(void **state)
{
	struct daemon_fixture *fx = *state;
	uint64_t end = journal_end(), off;

	off = persisted(fx);
	assert_int_equal(journal_end(), end + PERSIST_BYTES);
	free_all(fx, &off, 1);
	assert_int_equal(journal_persistent(), 0);
}

static void
nested_groups_end_once(void **state)
{
	struct daemon_fixture *fx = *state;
	uint64_t end = journal_end(), offs[3];

	journal_group_begin();
	offs[0] = persisted(fx);
	journal_group_begin();
	offs[1] = persisted(fx);
	journal_group_end(true);
	assert_int_equal(journal_end(), end);
	journal_group_begin();
	offs[2] = persisted(fx);
	undo(fx, offs[2]);
	journal_group_end(false);
	assert_int_equal(journal_end(), end);
	journal_group_end(true);
	/* Three persists and the undone one's end, all read at once. */
	assert_int_equal(journal_end(), end + 3 * PERSIST_BYTES + 32);
	assert_int_equal(journal_persistent(), 2);
	free_all(fx, offs, 2);
	assert_int_equal(journal_persistent(), 0);
}

static void
free_in_two_halves(void **state)
{
	struct daemon_fixture *fx = *state;
	struct block *b[8];
	uint64_t end, offs[8];
	size_t i;

	for (i = 0; i < 8; i++) {
		offs[i] = persisted(fx);
		/* The maker's hold goes: the pool's reference is left. */
		assert_int_equal(dpool_free(fx->p, fx->h, offs[i]), 0);
	}
	end = journal_end();
	assert_int_equal(journal_persistent(), 8);
	journal_group_begin();
	for (i = 0; i < 8; i++)
		assert_int_equal(dpool_free_begin(fx->p, fx->h, offs[i],
						  &b[i]), 0);
	assert_int_equal(journal_end(), end);
	assert_int_equal(fx->p->persistent_blocks, 0);
	journal_group_end(true);
	assert_int_equal(journal_end(), end + 8 * 32);
	assert_int_equal(journal_persistent(), 0);
	/* Not persistent, held by nobody, and still there: not yet free. */
	for (i = 0; i < 8; i++)
		assert_ptr_equal(block_index_find(&fx->p->blocks, offs[i]),
				 b[i]);
	for (i = 0; i < 8; i++) {
		dpool_free_end(fx->p, b[i]);
		assert_null(block_index_find(&fx->p->blocks, offs[i]));
	}
	/* A block that is not there, or not the handle's: nothing done. */
	assert_int_equal(dpool_free_begin(fx->p, fx->h, offs[0], &b[0]),
			 -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(kept_moves_the_end_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(undone_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(broken_inside_a_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(one_outside_a_group, setup,
						teardown),
		cmocka_unit_test_setup_teardown(nested_groups_end_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(free_in_two_halves, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

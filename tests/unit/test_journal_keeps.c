/*
 * test_journal_keeps.c - the pools' keep.<n> in systemd's fd store and the
 * names a restart in place hands over (journal.c), on the daemon's own
 * pool and journal code, with this process playing systemd's store as in
 * test_journal_group.c: NOTIFY_SOCKET is a datagram socket of the test's,
 * FDSTORE is set, and the store reads only when the test drains it.
 *
 *   refusals_keep_their_try  the store reads nothing until the daemon's
 *       queue of notifications is full and a new pool's keep is refused,
 *       and its try again fails too; then a dozen pools more are made,
 *       each refused.  Once the store reads again, the try that was due
 *       keeps every one of them: a refusal does not put off a try asked
 *       for already, nor double its wait (a dozen pushed it a minute on,
 *       and a crash meanwhile lost every one of those pools).
 *   refusal_not_behind_removals  a destroyed pool's removal dropped
 *       (the daemon's queue of notifications full) and tried again until
 *       its wait is 1.6 s; then a new pool's keep is refused.  Once the
 *       store reads again, the loop's next step keeps the pool, or its
 *       try is due after at most the wait one failed push earns: the
 *       removals' waits are not the pushes'.  (The refusal waited for
 *       the removal's try, up to a minute, and a crash meanwhile lost the
 *       pool's blocks.)
 *   unremoved_handed_when_out  the daemon's queue of notifications so
 *       full that a destroyed pool's keep.<n> cannot be asked out of the
 *       store, and then the journal out of the store (it cannot grow,
 *       RLIMIT_FSIZE): POOLMGRD_JOURNAL, set for a restart in place, still
 *       names that keep.<n>, and the journal and keeps of the pools, whose
 *       removals failed too.  (Out of the store it named nothing: the new
 *       image, numbering from 1, could push a keep.<n> of its own beside
 *       the destroyed pool's, and a crash recover a pool from either.)
 *   gone_when_out_handed  the same queue full, the journal out of the
 *       store first (the keeps' removals dropped), and then a pool
 *       destroyed: its keep.<n>, still in the store, is named for the
 *       next image.  (Its number left the pool with nothing to remember
 *       it: the next image could push a keep.<n> of its own beside it.)
 *   withdrawn_journal_removed  the same queue full, the journal out of
 *       the store, its removal dropped; once the store reads again and
 *       the fresh journal is in, the old one is asked out again.  (It
 *       was forgotten once the fresh one took its place: the store held
 *       it, a slot of its room, until the next start.)
 *   lost_keeps_handed  a pool made after the journal (its keep.<n>
 *       numbered above it), the daemon's queue of notifications full,
 *       and a compaction whose journal the store refuses: the journal is
 *       let go of, and the keeps' removals fail.  POOLMGRD_JOURNAL still
 *       names both keeps.  (It named the lost journal alone: the new
 *       image numbered its own from just above it, pushed a keep.<n> of
 *       another pool beside the one left, and a crash could recover a
 *       pool from the other's memory.)
 *   unremoved_past_the_bound  150 pools destroyed while the daemon's
 *       queue of notifications is full, twice: 300 keeps whose removal
 *       failed, past the 256 names an image of ours takes besides its
 *       journal and keeps.  POOLMGRD_JOURNAL holds no more names than
 *       that, the highest numbered keep among them (the next image
 *       numbers above it, and so above every one left out), and once
 *       the store reads again every one of the 300 is asked out.  (The
 *       44 past 256 were forgotten, the highest numbered: the next image
 *       could push a keep.<n> of its own beside one of them, and the
 *       store held them until the next start.)
 *   begin_refused_keeps_handed  the start's journal cannot be made
 *       (RLIMIT_FSIZE below its first size) once the pool's keep.<n> is
 *       pushed, and the keep's removal fails (memory short: the store's
 *       removal copies its names first).  POOLMGRD_JOURNAL names the
 *       keep, and its removal is asked again once memory is back.  (The
 *       removal's failure was not looked at: the keep stayed in the
 *       store named by nothing, and the image a restart in place
 *       executes could push a keep.<n> of its own beside it.)
 *   unroomed_keep_handed  a pool destroyed while memory is short: its
 *       keep.<n>'s removal fails (the store's removal copies its names
 *       first), and no memory can be had to remember it, the first such
 *       name.  POOLMGRD_JOURNAL names the keep all the same, and once
 *       memory is back it is asked out, and named no more.  (With no
 *       room, the lowest numbered of it and those remembered was
 *       forgotten: with none remembered, the keep itself, the highest
 *       numbered in the store, which nothing named then; the image a
 *       restart in place executes could push a keep.<n> of its own
 *       beside it.)
 *   handed_unremoved_handed  POOLMGRD_JOURNAL names an old image's
 *       journal.3 and keep.4, and the daemon's queue of notifications is
 *       full when the new one is ready, so that their removal fails:
 *       they are named for the next image, and asked out again later.
 *       (They were forgotten: the old image's journal, whole and stored,
 *       is the one a crash recovers from once the new one's journal has
 *       left the store, and the image after knew none of them.)
 *   handed_id_out_of_range  POOLMGRD_JOURNAL names journal.<2^64 - 1>,
 *       which no image of ours has pushed: the value is not the list of
 *       an image of ours and is ignored.  The pool is kept under a number
 *       of its own (the next number was 0, "not kept": the pool's keep
 *       went to the store, but the journal had nothing of it).
 *   handed_names_with_odd_bytes  POOLMGRD_JOURNAL holds a name with a
 *       newline: ignored as well, and no notification the daemon sends
 *       holds a line of the value's (its removal once ready sent
 *       "READY=1" to the store as a line of its own).
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
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_fixture.h"
#include "journal.h"
#include "notify.h"

#define MORE_REFUSED	12	/* pools refused after the first */
#define CYCLES_MAX	500	/* makings and destroyings to fill the queue */
#define QUEUE_FILL	1100	/* notifications: past the daemon's queue */
#define UNREMOVED_ROUND	150	/* pools destroyed unread, twice */
#define STORE_ROOMY	"1796"	/* FileDescriptorStoreMax= of the unit */

/* The store this process plays. */
static struct {
	char dir[40], path[64];
	int fd;			/* the notify socket */
	unsigned keeps;		/* keep.<n> pushes received */
	bool keep0;		/* one of them named keep.0 */
	bool foreign;		/* a line the daemon never writes came */
	unsigned step_ms;	/* the wait the journal last asked for */
	char removed[8192];	/* the names asked out, ':'-separated */
} store;

/*
 * strdup as the C library's, but refused while strdup_refused: the
 * store's removals copy their names with it first (fdstore_remove), and
 * nothing else the journal does between the keeps' pushes and their
 * removals calls it.
 */
static bool strdup_refused;

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (strdup_refused) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = malloc(n)))
		memcpy(p, s, n);
	return p;
}

/*
 * reallocarray as the C library's, but refused while
 * reallocarray_refused: the names whose removal failed are remembered in
 * room it grows (journal_names.c), and nothing else the journal does for
 * a pool destroyed calls it.
 */
static bool reallocarray_refused;

void *
reallocarray(void *p, size_t n, size_t size)
{
	if (reallocarray_refused || (size && n > SIZE_MAX / size)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}

static void
step_in(unsigned ms)
{
	store.step_ms = ms;
}

/* What the loop's timer does for the wait the journal asked for. */
static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Does each line of the notification buf start as one of ours? */
static bool
lines_ours(const char *buf)
{
	static const char *const ours[] = {
		"FDSTORE=1", "FDSTOREREMOVE=1", "FDNAME=journal.",
		"FDNAME=keep.", "STATUS=",
	};
	const char *line = buf;
	size_t i;

	while (line) {
		for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			if (strncmp(line, ours[i], strlen(ours[i])) == 0)
				break;
		if (i == sizeof(ours) / sizeof(ours[0]))
			return false;
		if ((line = strchr(line, '\n')))
			line++;
	}
	return true;
}

/* The n of the keep.<n> that buf pushes. */
static unsigned long long
keep_number(const char *buf)
{
	return strtoull(strstr(buf, "FDNAME=keep.") + 12, NULL, 10);
}

/* One datagram the daemon's code sent, and the descriptor it passed. */
static void
store_took(const char *buf, int f, void *arg)
{
	(void)arg;
	if (f >= 0) {
		close(f);
		if (strstr(buf, "FDNAME=keep.")) {
			store.keeps++;
			store.keep0 |= keep_number(buf) == 0;
		}
	}
	if (strncmp(buf, "FDSTOREREMOVE=1\nFDNAME=", 23) == 0 &&
	    strlen(store.removed) + strlen(buf + 23) + 2 <
	    sizeof(store.removed)) {
		if (store.removed[0])
			strcat(store.removed, ":");
		strcat(store.removed, buf + 23);
	}
	if (!lines_ours(buf)) {
		printf("the store got \"%s\"\n", buf);
		store.foreign = true;
	}
}

/* What the daemon's code sent meanwhile, read. */
static void
store_drain(void)
{
	daemon_fixture_store_read(store.fd, store_took, NULL);
}

/*
 * The store reads again: what waits in the daemon's queue is sent on as
 * the store drains, at least until descriptors may be queued again.  With
 * no loop, a notification sends what waits ahead of it first.
 */
static void
store_reads_again(unsigned rounds)
{
	unsigned i;

	for (i = 0; i < rounds || !notify_room(); i++) {
		assert_true(i < 1000);
		store_drain();
		assert_int_equal(notify_send("STATUS=reading again", -1,
					     NOTIFY_STATUS), 0);
	}
	store_drain();
}

/* Pool name made, as CreatePool makes one. */
static struct dpool *
made(const char *name)
{
	struct dpool_params pp = {.size = 1 << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	struct dpool *p;

	assert_int_equal(dpool_create(name, &pp, &p), 0);
	return p;
}

/* p destroyed, as DestroyPool destroys one no client holds. */
static void
destroyed(struct dpool *p)
{
	journal_pool_gone(p);
	dpool_destroy(p, false);
}

static void queue_filled(void);
static void store_opened(const char *handed, const char *fdstore);

/*
 * Started with POOLMGRD_JOURNAL set to handed (NULL: unset), and ready;
 * with the fixture's handle of its pool open if opened, and the daemon's
 * queue of notifications full when it is ready if unread.
 */
static int
setup_with(void **state, const char *handed, bool opened, bool unread,
	   const char *fdstore)
{
	store_opened(handed, fdstore);
	if (opened)
		daemon_fixture_setup_open(state);
	else
		daemon_fixture_setup(state);
	journal_setup(step_in);
	journal_start(NULL);
	if (unread) {
		store_drain();
		queue_filled();
	}
	journal_ready();
	assert_int_not_equal(journal_slots(), 0);
	store_drain();
	return 0;
}

/*
 * The started journal's own (setup_with): the store's socket, FDSTORE
 * set to fdstore, and POOLMGRD_JOURNAL set to handed (NULL: unset).
 */
static void
store_opened(const char *handed, const char *fdstore)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(&store, 0, sizeof(store));
	snprintf(store.dir, sizeof(store.dir), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(store.dir));
	snprintf(store.path, sizeof(store.path), "%s/notify", store.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", store.path);
	store.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(store.fd >= 0);
	assert_int_equal(bind(store.fd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", store.path, 1), 0);
	assert_int_equal(setenv("FDSTORE", fdstore, 1), 0);
	if (handed)
		assert_int_equal(setenv("POOLMGRD_JOURNAL", handed, 1), 0);
	else
		unsetenv("POOLMGRD_JOURNAL");
}

static int
setup(void **state)
{
	return setup_with(state, NULL, false, false, "64");
}

/* The same, the fixture's handle of its pool open. */
static int
setup_open(void **state)
{
	return setup_with(state, NULL, true, false, "64");
}

/* The same, with a store that takes the keeps of every pool. */
static int
setup_roomy(void **state)
{
	return setup_with(state, NULL, false, false, STORE_ROOMY);
}

static int
setup_out_of_range(void **state)
{
	return setup_with(state, "journal.18446744073709551615", false,
			  false, "64");
}

static int
setup_odd_bytes(void **state)
{
	return setup_with(state, "journal.3:keep.4\nREADY=1", false, false,
			  "64");
}

/* Handed an old image's names, which the store does not read once ready. */
static int
setup_handed_unread(void **state)
{
	return setup_with(state, "journal.3:keep.4", false, true, "64");
}

/*
 * Started with the journal refused once the pool's keep is pushed: its
 * first size past RLIMIT_FSIZE, and the keep's removal refused too.
 */
static int
setup_begin_refused(void **state)
{
	struct rlimit rl, was;

	store_opened(NULL, "64");
	daemon_fixture_setup(state);
	journal_setup(step_in);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	rl = was;
	rl.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	strdup_refused = true;
	journal_start(NULL);
	strdup_refused = false;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	journal_ready();
	store_drain();
	return 0;
}

static int
teardown(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p, *next;
	unsigned i;

	/* A journal out of the store is made again first, as the loop would
	 * make it: the next test starts with one in. */
	store_reads_again(200);
	for (i = 0; i < 100000 && journal_slots() == 0; i++) {
		journal_step();
		store_drain();
	}
	/* The pools a test made, if it failed before destroying them. */
	for (p = dpool_first(); p; p = next) {
		next = dpool_next(p);
		if (p != fx->p)
			destroyed(p);
	}
	journal_stop(true);
	daemon_fixture_teardown(state);
	/* Nothing of this test's waits for the next one's store. */
	store_reads_again(200);
	(void)notify_teardown();
	close(store.fd);
	unlink(store.path);
	rmdir(store.dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("FDSTORE");
	unsetenv("POOLMGRD_JOURNAL");
	return 0;
}

static void
refusals_keep_their_try(void **state)
{
	struct dpool *first, *more[MORE_REFUSED];
	char name[16];
	unsigned i;

	(void)state;
	/* The store reads nothing: a pool made and destroyed is a push and a
	 * removal each, until pushes are refused. */
	for (i = 0; i < CYCLES_MAX; i++) {
		first = made("first");
		if (first->keep_id == 0)
			break;
		destroyed(first);
	}
	printf("the first keep refused in cycle %u\n", i + 1);
	assert_true(i < CYCLES_MAX);
	journal_step();		/* the try asked for: refused again */
	assert_int_equal(first->keep_id, 0);
	for (i = 0; i < MORE_REFUSED; i++) {
		snprintf(name, sizeof(name), "more%u", i);
		more[i] = made(name);
		assert_int_equal(more[i]->keep_id, 0);
	}

	/*
	 * The loop's step: the try is due after at most the wait one failed
	 * try earns (100 ms), not where each refusal since pushed it.
	 */
	store_reads_again(0);
	journal_step();
	printf("the keeps' try in %u ms\n", store.step_ms);
	assert_true(store.step_ms < 1000);
	sleep_ms(store.step_ms);
	journal_step();
	store_drain();
	assert_int_not_equal(first->keep_id, 0);
	for (i = 0; i < MORE_REFUSED; i++)
		assert_int_not_equal(more[i]->keep_id, 0);
}

/*
 * The store reads nothing, and notifications wait until the next is
 * dropped: a removal then is, let alone a push.  A status waits among
 * them, which the next replaces (store_reads_again): it is not dropped,
 * and sends what waits.
 */
static void
queue_filled(void)
{
	unsigned i;

	for (i = 0; i < QUEUE_FILL; i++) {
		if (i == 20)	/* the socket's queue full (10) */
			assert_int_equal(notify_send("STATUS=filling", -1,
						     NOTIFY_STATUS), 0);
		if (notify_send("STATUS=filler", -1, NOTIFY_EVERY) == -ENOBUFS)
			break;
	}
	assert_true(i < QUEUE_FILL);
}

static void
refusal_not_behind_removals(void **state)
{
	struct dpool *b = made("b"), *c;
	unsigned i;

	(void)state;
	queue_filled();
	destroyed(b);		/* its removal dropped: tried again */
	/* Each try fails too: the waits 0, 100, 200, 400, 800 ms, then 1.6 s. */
	for (i = 0; i < 5; i++) {
		sleep_ms(store.step_ms);
		journal_step();
	}
	printf("the removal's next try in %u ms\n", store.step_ms);
	assert_true(store.step_ms >= 1000);
	c = made("c");		/* refused: notifications wait */
	assert_int_equal(c->keep_id, 0);

	store_reads_again(0);
	journal_step();
	if (c->keep_id == 0) {
		printf("c's try in %u ms\n", store.step_ms);
		assert_true(store.step_ms < 1000);
		sleep_ms(store.step_ms);
		journal_step();
	}
	store_drain();
	assert_int_not_equal(c->keep_id, 0);
}

/* Does the list of names list hold name? */
static bool
names_hold(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *s;

	for (s = list; s; s = strchr(s, ':') ? strchr(s, ':') + 1 : NULL)
		if (strncmp(s, name, n) == 0 && (s[n] == ':' || !s[n]))
			return true;
	return false;
}

/*
 * The journal cannot grow (RLIMIT_FSIZE), and leaves the store: the
 * fixture's pool's persists until a write fails.
 */
static void
journal_taken_out(struct daemon_fixture *fx)
{
	struct block *blk;
	struct rlimit rl, was;
	unsigned i;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	rl = was;
	rl.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 0; i < 100000 && journal_slots() != 0; i++) {
		assert_int_equal(dpool_alloc(fx->p, fx->h, 16, 0, false, 0,
					     &blk), 0);
		assert_int_equal(dpool_persist(fx->p, fx->h, blk->off, 0), 0);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	assert_int_equal(journal_slots(), 0);
}

static void
unremoved_handed_when_out(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *b = made("b");
	char keep_b[32], keep_p[32];
	const char *names;

	snprintf(keep_b, sizeof(keep_b), "keep.%llu",
		 (unsigned long long)b->keep_id);
	snprintf(keep_p, sizeof(keep_p), "keep.%llu",
		 (unsigned long long)fx->p->keep_id);
	queue_filled();		/* the removal of b's keep is dropped */
	destroyed(b);
	assert_int_equal(journal_exec_names(), 0);
	assert_true(names_hold(getenv("POOLMGRD_JOURNAL"), keep_b));

	journal_taken_out(fx);
	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, keep_b));
	assert_true(names_hold(names, keep_p));
	assert_true(strncmp(names, "journal.", 8) == 0);
}

static void
gone_when_out_handed(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *b = made("b");
	char keep_b[32];
	const char *names;

	snprintf(keep_b, sizeof(keep_b), "keep.%llu",
		 (unsigned long long)b->keep_id);
	queue_filled();		/* the keeps' removals are dropped */
	journal_taken_out(fx);
	destroyed(b);

	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, keep_b));
}

static void
withdrawn_journal_removed(void **state)
{
	struct daemon_fixture *fx = *state;
	char journal[32];
	unsigned i;

	assert_int_equal(journal_exec_names(), 0);
	snprintf(journal, sizeof(journal), "%s", getenv("POOLMGRD_JOURNAL"));
	*strchrnul(journal, ':') = '\0';
	queue_filled();		/* the journal's removal is dropped */
	journal_taken_out(fx);

	/* The store reads again, and the fresh journal is in. */
	store_reads_again(200);
	for (i = 0; i < 100000 && journal_slots() == 0; i++) {
		journal_step();
		store_drain();
	}
	assert_int_not_equal(journal_slots(), 0);
	/* The removals' tries, if any is left. */
	for (i = 0; i < 3 && !names_hold(store.removed, journal); i++) {
		sleep_ms(store.step_ms);
		journal_step();
		store_drain();
	}
	printf("asked out: %s\n", store.removed);
	assert_true(names_hold(store.removed, journal));
}

static void
lost_keeps_handed(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *b = made("b");
	char keep_b[32], keep_p[32];
	const char *names;
	unsigned i;

	snprintf(keep_b, sizeof(keep_b), "keep.%llu",
		 (unsigned long long)b->keep_id);
	snprintf(keep_p, sizeof(keep_p), "keep.%llu",
		 (unsigned long long)fx->p->keep_id);
	queue_filled();
	/* No loop: the compaction is made at once, and its push refused. */
	journal_setup(NULL);
	for (i = 0; i < 100000 && fx->p->keep_id != 0; i++)
		journal_pool_set(fx->p, false, false, false);
	journal_setup(step_in);
	assert_int_equal(fx->p->keep_id, 0);
	assert_int_equal(b->keep_id, 0);

	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, keep_b));
	assert_true(names_hold(names, keep_p));
}

static void
begin_refused_keeps_handed(void **state)
{
	struct daemon_fixture *fx = *state;
	const char *names;
	unsigned i;

	assert_int_equal(journal_slots(), 0);
	assert_int_equal(fx->p->keep_id, 0);
	assert_int_equal(store.keeps, 1);	/* keep.1, then no journal */
	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, "keep.1"));

	/* Memory back: the removals' tries take it out. */
	for (i = 0; i < 3 && !names_hold(store.removed, "keep.1"); i++) {
		sleep_ms(store.step_ms);
		journal_step();
		store_drain();
	}
	printf("asked out: %s\n", store.removed);
	assert_true(names_hold(store.removed, "keep.1"));
}

static void
unroomed_keep_handed(void **state)
{
	struct dpool *b = made("b");
	char keep_b[32];
	const char *names;
	unsigned i;

	(void)state;
	store_drain();
	assert_int_not_equal(b->keep_id, 0);
	snprintf(keep_b, sizeof(keep_b), "keep.%llu",
		 (unsigned long long)b->keep_id);
	/* Its removal refused, and no room to remember it: the first. */
	strdup_refused = reallocarray_refused = true;
	journal_pool_gone(b);
	strdup_refused = reallocarray_refused = false;
	dpool_destroy(b, false);

	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, keep_b));

	/* Memory back: the removals' tries take it out. */
	for (i = 0; i < 3 && !names_hold(store.removed, keep_b); i++) {
		sleep_ms(store.step_ms);
		journal_step();
		store_drain();
	}
	printf("asked out: %s\n", store.removed);
	assert_true(names_hold(store.removed, keep_b));
	assert_int_equal(journal_exec_names(), 0);
	assert_false(names_hold(getenv("POOLMGRD_JOURNAL"), keep_b));
}

/* keep.<id>, asked out of the store? */
static bool
asked_out(uint64_t id)
{
	char name[32];

	snprintf(name, sizeof(name), "keep.%llu", (unsigned long long)id);
	return names_hold(store.removed, name);
}

static void
unremoved_past_the_bound(void **state)
{
	struct dpool *p[UNREMOVED_ROUND];
	uint64_t ids[2 * UNREMOVED_ROUND], high = 0;
	char name[32];
	const char *names;
	unsigned r, i, n = 0, left, listed;

	(void)state;
	for (r = 0; r < 2; r++) {
		for (i = 0; i < UNREMOVED_ROUND; i++) {
			snprintf(name, sizeof(name), "r%ui%u", r, i);
			p[i] = made(name);
			store_drain();
			assert_int_not_equal(p[i]->keep_id, 0);
		}
		queue_filled();		/* the removals are dropped */
		for (i = 0; i < UNREMOVED_ROUND; i++) {
			ids[n++] = p[i]->keep_id;
			if (p[i]->keep_id > high)
				high = p[i]->keep_id;
			destroyed(p[i]);
		}
		store_reads_again(0);	/* and no removal tried again yet */
	}

	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	assert_non_null(names);
	listed = 1;
	for (i = 0; names[i]; i++)
		listed += names[i] == ':';
	printf("%u names handed over\n", listed);
	assert_true(listed <= 2 * POOL_MAX_POOLS + 1);
	snprintf(name, sizeof(name), "keep.%llu", (unsigned long long)high);
	assert_true(names_hold(names, name));

	/* The removals' tries: every one asked out, none forgotten. */
	for (r = 0; r < 5; r++) {
		for (i = left = 0; i < n; i++)
			left += !asked_out(ids[i]);
		if (left == 0)
			break;
		sleep_ms(store.step_ms);
		journal_step();
		store_reads_again(200);	/* all that waits, sent on */
	}
	printf("%u of %u never asked out\n", left, n);
	assert_int_equal(left, 0);
}

static void
handed_unremoved_handed(void **state)
{
	const char *names;

	(void)state;
	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("handed over: %s\n", names ? names : "(nothing)");
	assert_non_null(names);
	assert_true(names_hold(names, "journal.3"));
	assert_true(names_hold(names, "keep.4"));

	/* The store reads again: the removals' try takes them out. */
	store_reads_again(0);
	sleep_ms(store.step_ms);
	journal_step();
	store_drain();
	assert_int_equal(journal_exec_names(), 0);
	names = getenv("POOLMGRD_JOURNAL");
	printf("then: %s\n", names ? names : "(nothing)");
	assert_false(names_hold(names, "journal.3"));
	assert_false(names_hold(names, "keep.4"));
}

static void
handed_id_out_of_range(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *b = made("b");

	store_reads_again(200);
	assert_int_not_equal(fx->p->keep_id, 0);
	assert_int_not_equal(b->keep_id, 0);
	assert_false(store.keep0);
	assert_int_equal(store.keeps, 2);
}

static void
handed_names_with_odd_bytes(void **state)
{
	struct daemon_fixture *fx = *state;

	store_reads_again(200);
	assert_int_not_equal(fx->p->keep_id, 0);
	assert_false(store.foreign);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refusals_keep_their_try, setup,
						teardown),
		cmocka_unit_test_setup_teardown(refusal_not_behind_removals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(unremoved_handed_when_out,
						setup_open, teardown),
		cmocka_unit_test_setup_teardown(gone_when_out_handed,
						setup_open, teardown),
		cmocka_unit_test_setup_teardown(withdrawn_journal_removed,
						setup_open, teardown),
		cmocka_unit_test_setup_teardown(lost_keeps_handed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unremoved_past_the_bound,
						setup_roomy, teardown),
		cmocka_unit_test_setup_teardown(begin_refused_keeps_handed,
						setup_begin_refused, teardown),
		cmocka_unit_test_setup_teardown(unroomed_keep_handed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(handed_unremoved_handed,
						setup_handed_unread, teardown),
		cmocka_unit_test_setup_teardown(handed_id_out_of_range,
						setup_out_of_range, teardown),
		cmocka_unit_test_setup_teardown(handed_names_with_odd_bytes,
						setup_odd_bytes, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

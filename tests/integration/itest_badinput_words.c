/*
 * itest_badinput_words.c - bad input hurts only the one who sends it, and
 * is told why: the words of a refusal.  What a client sends on the wire
 * is itest_badinput.c's, bad calls of the API and their codes
 * itest_badinput_api.c's; the daemon of the test and its normal client
 * are badinput_util.h's.
 *
 * A refusal carries the daemon's own words (pool_last_message): an
 * allocation past a pool's limit says what the pool holds of it, for the
 * code it returned only, in the thread that asked only, until that
 * thread's next request; poolctl ends its error line with them.  One
 * past the quota, or larger than the pool, names that bound and its
 * size.  A call that the library fails itself with that same code (a
 * NULL argument, a reserved word set, an unknown flag) has no words.
 * The words read as sentences: an existing pool exists, "1 open handle
 * and 1 live block", a mode such as 01000 in octal with its leading 0;
 * a free of a named block by a handle that holds none says the block is
 * named.  A retain of no block, a publish and a persist by a handle that
 * holds none, and a batch of frees each name the block and say which
 * check refused it.
 *
 * -ENOENT says which thing was not found: a connect to a path with no
 * socket has the library's words naming the path (the one given, or
 * $POOLMGRD_SOCKET's), the daemon's name the missing pool or block name;
 * the next request that succeeds clears them.  A pool name of bytes that
 * are not printable ASCII, sent raw, is said with them as \xHH: the
 * words are a protobuf string, which must be valid UTF-8.  A block
 * name's refusals (no such name, a name in use) quote it, its odd bytes
 * as \xHH, a long one cut after 128 characters.
 * A name too long, which the library refuses itself (-ENAMETOOLONG) on
 * every call that takes one, has no words, not even right after a
 * connect whose socket path was too long left words for that code.  A
 * shared block's refused shrink and move each say which it was, and a
 * growth past the pool's size names that size, shared block or not.  A
 * growth in a pool with no run for it says what room there is, as an
 * allocation's refusal does: "resizing 0x... to N bytes: pool room's
 * longest free run is ...", by the daemon or by the library's move.
 * pool_close and pool_disconnect leave the words as they were.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "badinput_util.h"

/* ---- refusals_carry_the_daemons_words ------------------------------------ */

static const char *other_thread_words;

static void *
read_words(void *arg)
{
	(void)arg;
	other_thread_words = pool_last_message(-ENOMEM);
	return NULL;
}

static void
refusals_carry_the_daemons_words(void **state)
{
	struct pool_create_opts co = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_set_opts so = {.which = POOL_SET_LIMIT, .limit = MiB};
	char out[4096], err[4096];
	struct pool *p = NULL;
	pool_off_t a, b;
	pthread_t t;
	const char *w;

	(void)state;
	assert_int_equal(pool_create_set(fx.conn, "lim", &co, &so), 0);
	assert_int_equal(pool_open(fx.conn, "lim", &p), 0);
	assert_int_equal(pool_alloc(p, 768 * KiB, &a), 0);
	expect_rc(pool_alloc(p, 768 * KiB, &b), -ENOMEM,
		  "pool_alloc(768 KiB) past a 1 MiB limit");
	w = pool_last_message(-ENOMEM);
	if (!strstr(w, "pool lim holds 768.0 KiB of its 1.0 MiB limit"))
		fail_msg("the refusal's words: \"%s\"", w);
	assert_string_equal(pool_last_message(-EINVAL), "");
	assert_int_equal(pthread_create(&t, NULL, read_words, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(other_thread_words, "");
	/* The next request of the thread, answered: no words left over. */
	assert_int_equal(pool_free(p, a), 0);
	assert_string_equal(pool_last_message(-ENOMEM), "");
	pool_close(p);

	assert_int_equal(harness_poolctl(&fx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "set lim --limit 1T"),
			 1);
	if (!strstr(err, "; poolmgrd says: a limit above the pool's size: "
			 "1099511627776 of 16777216 bytes\n"))
		fail_msg("poolctl said: %s", err);
	assert_int_equal(pool_destroy(fx.conn, "lim"), 0);
	stop_daemon();
}

/* ---- bounds_are_named_in_the_words ---------------------------------------- */

/*
 * An allocation past the connection's quota, or larger than the whole
 * pool, is refused in words that name the pool and the bound with its
 * size, which the code's text alone does not give; so is a persist past
 * what the uid may persist under that quota.
 */
static void
bounds_are_named_in_the_words(void **state)
{
	struct pool_create_opts co = {.max_size = MiB, .mode = 0600,
				      .quota = 256 * KiB};
	struct pool *p = NULL, *p2 = NULL;
	struct pool_conn *c2 = NULL;
	pool_off_t a, b;
	char want[256];
	const char *w;

	(void)state;
	assert_int_equal(pool_create(fx.conn, "quo", &co), 0);
	assert_int_equal(pool_open(fx.conn, "quo", &p), 0);
	assert_int_equal(pool_alloc(p, 200 * KiB, &a), 0);
	expect_rc(pool_alloc(p, 100 * KiB, &b), -EDQUOT,
		  "pool_alloc(100 KiB) past a 256 KiB quota");
	w = pool_last_message(-EDQUOT);
	if (!strstr(w, "allocating 102400 bytes would pass pool quo's quota "
		       "of 256.0 KiB per connection"))
		fail_msg("the quota's refusal: \"%s\"", w);
	expect_rc(pool_alloc(p, 2 * MiB, &b), -EFBIG,
		  "pool_alloc(2 MiB) in a pool of 1 MiB");
	w = pool_last_message(-EFBIG);
	if (!strstr(w, "allocating 2097152 bytes: more than pool quo's size, "
		       "1.0 MiB"))
		fail_msg("the size's refusal: \"%s\"", w);
	/*
	 * What the uid persists counts against each of its connections'
	 * quotas: another connection's 200 KiB persisted, this one's 200
	 * KiB would pass 256 KiB.  The words name the pool, the quota's
	 * size and what the uid persists, which this connection cannot see.
	 */
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, "quo", &p2), 0);
	assert_int_equal(pool_alloc(p2, 200 * KiB, &b), 0);
	assert_int_equal(pool_persist(p2, b), 0);
	expect_rc(pool_persist(p, a), -EDQUOT,
		  "pool_persist past what the uid may persist");
	snprintf(want, sizeof(want), "uid %u would persist more than the "
		 "pool's quota: pool quo's is 256.0 KiB per connection, and "
		 "the uid's persistent blocks there hold 200.0 KiB",
		 (unsigned)getuid());
	w = pool_last_message(-EDQUOT);
	if (strcmp(w, want) != 0)
		fail_msg("the persist's refusal: \"%s\"", w);
	assert_int_equal(pool_free(p2, b), 0);
	assert_int_equal(pool_free_persisted(p2, b, 0), 0);
	pool_close(p2);
	pool_disconnect(c2);
	assert_int_equal(pool_free(p, a), 0);
	pool_close(p);
	assert_int_equal(pool_destroy(fx.conn, "quo"), 0);
	stop_daemon();
}

/* ---- local_failures_leave_no_words ---------------------------------------- */

#define TOO_LARGE_WORDS "a limit above the pool's size"

/*
 * The daemon refuses a limit past pool name's size with -EINVAL, and says
 * so in its words; the test fails if they are not there.
 */
static void
refused_with_words(struct pool_conn *c, const char *name)
{
	struct pool_set_opts so = {.which = POOL_SET_LIMIT,
				   .limit = 1ull << 40};
	const char *w;

	expect_rc(pool_set(c, name, &so), -EINVAL,
		  "pool_set of a limit past the pool's size");
	w = pool_last_message(-EINVAL);
	if (!strstr(w, TOO_LARGE_WORDS))
		fail_msg("the refusal's words: \"%s\"", w);
}

/* After a -EINVAL the library found itself, what words are left for it. */
static void
expect_no_words(const char *call)
{
	const char *w = pool_last_message(-EINVAL);

	if (w != NULL && *w != '\0')
		fail_msg("%s, refused without asking poolmgrd, has an earlier "
			 "refusal's words: \"%s\"", call, w);
}

/*
 * A call the library fails itself, with the code of the daemon's last
 * refusal of the thread's requests, must not be given that refusal's
 * words: each call here follows a refusal with words, of the same code.
 */
static void
local_failures_leave_no_words(void **state)
{
	struct pool_create_opts co = {.max_size = 16 * MiB, .mode = 0600};
	struct pool_set_opts so = {.which = POOL_SET_MODE, .mode = 0600};
	struct pool_stats st;
	struct pool *p = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(pool_create(fx.conn, "lw", &co), 0);

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_set(fx.conn, "lw", NULL), -EINVAL, "pool_set(NULL)");
	expect_no_words("pool_set(NULL)");

	refused_with_words(fx.conn, "lw");
	so.reserved = 1;
	expect_rc(pool_set(fx.conn, "lw", &so), -EINVAL,
		  "pool_set with a reserved word set");
	expect_no_words("pool_set with a reserved word set");

	refused_with_words(fx.conn, "lw");
	co.flags = 0x80;
	expect_rc(pool_create(fx.conn, "lw2", &co), -EINVAL,
		  "pool_create with an unknown flag");
	expect_no_words("pool_create with an unknown flag");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_stats_by_name(fx.conn, NULL, &st), -EINVAL,
		  "pool_stats_by_name(NULL)");
	expect_no_words("pool_stats_by_name(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_open(fx.conn, NULL, &p), -EINVAL, "pool_open(NULL)");
	expect_no_words("pool_open(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_list(fx.conn, NULL, &n), -EINVAL, "pool_list(NULL)");
	expect_no_words("pool_list(NULL)");

	refused_with_words(fx.conn, "lw");
	expect_rc(pool_connect(fx.d.sock, NULL), -EINVAL,
		  "pool_connect(NULL)");
	expect_no_words("pool_connect(NULL)");

	/*
	 * The lists in words ask the daemon nothing: what is wrong with
	 * the text is in err, never the last refusal's words.
	 */
	{
		struct pool_acl_entry e = {.kind = 9, .id = 1};
		char err[128], text[64];

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_parse("user:1:rwx", 0, &e, 1, err,
					 sizeof(err)), -EINVAL,
			  "pool_acl_parse of rights it cannot read");
		expect_no_words("pool_acl_parse of rights it cannot read");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_parse(NULL, 0, &e, 1, err, sizeof(err)),
			  -EINVAL, "pool_acl_parse(NULL)");
		expect_no_words("pool_acl_parse(NULL)");

		e.kind = 9;	/* the parse may have begun to fill it */
		refused_with_words(fx.conn, "lw");
		expect_rc(pool_acl_format(&e, 1, 0, text, sizeof(text)),
			  -EINVAL, "pool_acl_format of an entry of no kind");
		expect_no_words("pool_acl_format of an entry of no kind");
	}

	/* The calls on an open pool's blocks and names. */
	assert_int_equal(pool_open(fx.conn, "lw", &p), 0);
	{
		pool_off_t off;

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc(p, 0, &off), -EINVAL, "pool_alloc(0)");
		expect_no_words("pool_alloc(0)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc_aligned(p, 64, 3, &off), -EINVAL,
			  "pool_alloc_aligned(3)");
		expect_no_words("pool_alloc_aligned(3)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_calloc(p, 0, 8, &off), -EINVAL,
			  "pool_calloc(0, 8)");
		expect_no_words("pool_calloc(0, 8)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_alloc_batch(p, 1, NULL, &off), -EINVAL,
			  "pool_alloc_batch without sizes");
		expect_no_words("pool_alloc_batch without sizes");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_usable_size(p, 0, NULL), -EINVAL,
			  "pool_usable_size(NULL)");
		expect_no_words("pool_usable_size(NULL)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_publish(p, 0, ""), -EINVAL,
			  "pool_publish of an empty name");
		expect_no_words("pool_publish of an empty name");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_lookup(p, NULL, &off, NULL), -EINVAL,
			  "pool_lookup(NULL)");
		expect_no_words("pool_lookup(NULL)");

		refused_with_words(fx.conn, "lw");
		expect_rc(pool_unpublish(p, NULL), -EINVAL,
			  "pool_unpublish(NULL)");
		expect_no_words("pool_unpublish(NULL)");
	}
	pool_close(p);

	/* Asked again, the daemon's refusal still has its words. */
	refused_with_words(fx.conn, "lw");
	assert_int_equal(pool_destroy(fx.conn, "lw"), 0);
	expect_rc(pool_stats_by_name(fx.conn, "lw2", &st), -ENOENT,
		  "pool_stats_by_name of a pool never made");
	stop_daemon();
}

/* ---- refusals_say_what_they_mean ------------------------------------------ */

/* The words of the thread's last refusal with code rc are exactly want. */
static void
expect_words(int rc, const char *want, const char *call)
{
	const char *w = pool_last_message(rc);

	if (w == NULL || strcmp(w, want) != 0)
		fail_msg("%s: poolmgrd said \"%s\", not \"%s\"", call,
			 w ? w : "(none)", want);
}

/*
 * The words say what is wrong as a sentence would: an existing pool is
 * said to exist, a count of one takes the singular, a mode is octal with
 * its leading 0.  Each refused request changed nothing.
 */
static void
refusals_say_what_they_mean(void **state)
{
	struct pool_create_opts co = {.max_size = MiB, .mode = 0600};
	struct pool_stats st;
	pool_off_t off;

	(void)state;
	expect_rc(pool_create(fx.conn, POOL_NAME, &co), -EEXIST,
		  "pool_create of an existing pool");
	expect_words(-EEXIST, "pool " POOL_NAME " exists",
		     "pool_create of an existing pool");
	assert_int_equal(pool_stats_by_name(fx.conn, POOL_NAME, &st), 0);
	assert_int_equal(st.max_size, 16 * MiB);

	co.mode = 01000;
	expect_rc(pool_create(fx.conn, "sticky", &co), -EINVAL,
		  "pool_create with mode 01000");
	expect_words(-EINVAL, "mode 01000 has bits beyond 0777",
		     "pool_create with mode 01000");
	expect_rc(pool_stats_by_name(fx.conn, "sticky", &st), -ENOENT,
		  "pool_stats_by_name of a pool refused");

	/* One handle (the fixture's) and one block: both singular. */
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_rc(pool_destroy(fx.conn, POOL_NAME), -EBUSY,
		  "pool_destroy of a pool in use");
	expect_words(-EBUSY, "pool " POOL_NAME " has 1 open handle and 1 "
		     "live block", "pool_destroy of a pool in use");
	assert_int_equal(pool_free(fx.pool, off), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- free_of_a_named_block_says_so ---------------------------------------- */

/*
 * A free of a named block by a handle that holds none of it is -EBUSY,
 * and the words say why: the block is live, its name holds it (they once
 * said it was no live block, as for an offset of nothing).  The block
 * stays, found by its name, until it is unpublished.
 */
static void
free_of_a_named_block_says_so(void **state)
{
	char want[128];
	pool_off_t off, found;

	(void)state;
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);
	assert_int_equal(pool_publish(fx.pool, off, "kept"), 0);
	assert_int_equal(pool_free(fx.pool, off), 0);	/* its own */
	expect_rc(pool_free(fx.pool, off), -EBUSY,
		  "pool_free of a named block the handle holds none of");
	snprintf(want, sizeof(want), "block 0x%llx is named: unpublish its "
		 "name", (unsigned long long)off);
	expect_words(-EBUSY, want,
		     "pool_free of a named block the handle holds none of");
	assert_int_equal(pool_lookup(fx.pool, "kept", &found, NULL), 0);
	assert_int_equal(found, off);
	assert_int_equal(pool_unpublish(fx.pool, "kept"), 0);
	expect_rc(pool_free(fx.pool, off), -EINVAL,
		  "pool_free of a block its name's unpublish freed");
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- shared_resize_says_which ------------------------------------------- */

/*
 * A shared block (named: persistent) neither shrinks nor moves, -EBUSY
 * both, and the words say which: a shrink was refused with words about
 * moving, though nothing would have moved.  Grown past the pool's size,
 * a block is -EFBIG, shared or not, with words naming that size: a
 * shared one was -EBUSY, "cannot shrink", for a size no block may have.
 */
static void
shared_resize_says_which(void **state)
{
	char want[128];
	pool_off_t off, next, out;

	(void)state;
	assert_int_equal(pool_alloc(fx.pool, 4096, &off), 0);
	assert_int_equal(pool_alloc(fx.pool, 4096, &next), 0);
	assert_int_equal(pool_publish(fx.pool, off, "shared"), 0);
	expect_rc(pool_realloc(fx.pool, off, 64, &out), -EBUSY,
		  "pool_realloc shrinking a shared block");
	snprintf(want, sizeof(want), "block 0x%llx is shared and cannot "
		 "shrink", (unsigned long long)off);
	expect_words(-EBUSY, want, "pool_realloc shrinking a shared block");
	if (next == off + 4096) {	/* no room to grow in place */
		expect_rc(pool_realloc(fx.pool, off, 8192, &out), -EBUSY,
			  "pool_realloc moving a shared block");
		snprintf(want, sizeof(want), "block 0x%llx is shared and "
			 "cannot move", (unsigned long long)off);
		expect_words(-EBUSY, want, "pool_realloc moving a shared "
			     "block");
	}
	expect_rc(pool_realloc(fx.pool, off, 32 * MiB, &out), -EFBIG,
		  "pool_realloc of a shared block past the pool's size");
	snprintf(want, sizeof(want), "resizing 0x%llx to %llu bytes: more "
		 "than pool " POOL_NAME "'s size, 16.0 MiB",
		 (unsigned long long)off, 32 * MiB);
	expect_words(-EFBIG, want, "pool_realloc of a shared block past the "
		     "pool's size");
	expect_rc(pool_realloc(fx.pool, next, 32 * MiB, &out), -EFBIG,
		  "pool_realloc of a block past the pool's size");
	snprintf(want, sizeof(want), "resizing 0x%llx to %llu bytes: more "
		 "than pool " POOL_NAME "'s size, 16.0 MiB",
		 (unsigned long long)next, 32 * MiB);
	expect_words(-EFBIG, want, "pool_realloc of a block past the pool's "
		     "size");
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_unpublish(fx.pool, "shared"), 0);
	assert_int_equal(pool_free(fx.pool, next), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- full_pool_resize_says_what_room ------------------------------------ */

/*
 * The words of a resize the engine refused (-ENOMEM, no limit) after
 * those of an allocation of its size in the same pool, which name the
 * same room: the resize's are exactly the allocation's, "resizing 0x...
 * to N bytes" for "allocating N bytes".  A resize of under 1 MiB is the
 * daemon's alone; one of 1 MiB or more is tried in place, then as an
 * allocation and a copy by the library, then by the daemon, whose
 * refusal the program sees.  Neither changes the block, its bytes, the
 * caller's offset or the pool's books.
 */
static void
expect_resize_room_words(struct pool *p, pool_off_t off, size_t size)
{
	char want[256], call[64];
	struct pool_stats before, after;
	pool_off_t out = POOL_OFF_NONE - 1, none;
	const char *w;

	snprintf(call, sizeof(call), "pool_alloc(%zu) in a full pool", size);
	expect_rc(pool_alloc(p, size, &none), -ENOMEM, call);
	w = pool_last_message(-ENOMEM);
	if (strncmp(w, "allocating ", 11) != 0 || !strchr(w, ':'))
		fail_msg("%s: \"%s\"", call, w);
	snprintf(want, sizeof(want), "resizing 0x%llx to %zu bytes%s",
		 (unsigned long long)off, size, strchr(w, ':'));
	before = harness_stats(p);
	snprintf(call, sizeof(call), "pool_realloc to %zu in a full pool",
		 size);
	expect_rc(pool_realloc(p, off, size, &out), -ENOMEM, call);
	expect_words(-ENOMEM, want, call);
	assert_true(out == POOL_OFF_NONE - 1);
	after = harness_stats(p);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.largest_free, before.largest_free);
}

static void
full_pool_resize_says_what_room(void **state)
{
	struct pool_create_opts co = {.max_size = 4 * MiB, .mode = 0600};
	struct pool *p = NULL;
	pool_off_t big, next, small, after;
	const unsigned char *b;
	size_t i;

	(void)state;
	assert_int_equal(pool_create(fx.conn, "room", &co), 0);
	assert_int_equal(pool_open(fx.conn, "room", &p), 0);
	/* 1.5 MiB, 1.5 MiB, 512 KiB, 300 KiB: 212 KiB left. */
	assert_int_equal(pool_alloc(p, 1536 * KiB, &big), 0);
	assert_int_equal(pool_alloc(p, 1536 * KiB, &next), 0);
	assert_int_equal(pool_alloc(p, 512 * KiB, &small), 0);
	assert_int_equal(pool_alloc(p, 300 * KiB, &after), 0);
	memset(pool_ptr(p, big), 0x5b, 1536 * KiB);
	memset(pool_ptr(p, small), 0x5c, 512 * KiB);

	expect_resize_room_words(p, small, 800 * KiB);
	expect_resize_room_words(p, big, 2 * MiB);

	for (b = pool_ptr(p, big), i = 0; i < 1536 * KiB; i++)
		if (b[i] != 0x5b)
			fail_msg("byte %zu of the big block changed", i);
	for (b = pool_ptr(p, small), i = 0; i < 512 * KiB; i++)
		if (b[i] != 0x5c)
			fail_msg("byte %zu of the small block changed", i);
	assert_int_equal(pool_free(p, big), 0);
	assert_int_equal(pool_free(p, next), 0);
	assert_int_equal(pool_free(p, small), 0);
	assert_int_equal(pool_free(p, after), 0);
	harness_expect_checked(fx.conn, "room");
	pool_close(p);
	assert_int_equal(pool_destroy(fx.conn, "room"), 0);
	stop_daemon();
}

/* ---- missing_things_are_named ------------------------------------------- */

/*
 * pool_connect to where there is no socket: -ENOENT, *out NULL, and
 * words that name the path and no pool.
 */
static void
expect_no_socket(const char *path, const char *call)
{
	struct pool_conn *c = fx.conn;	/* to see it set to NULL */
	char want[512];

	expect_rc(pool_connect(path, &c), -ENOENT, call);
	assert_null(c);
	snprintf(want, sizeof(want), "no poolmgrd socket at %s (is poolmgrd "
		 "running? $POOLMGRD_SOCKET names its socket)",
		 path ? path : getenv("POOLMGRD_SOCKET"));
	expect_words(-ENOENT, want, call);
	assert_int_equal(pool_message_adds(-ENOENT), 1);
}

static void
missing_things_are_named(void **state)
{
	char gone[sizeof(fx.d.dir) + 16], saved[sizeof(fx.d.sock)];
	struct pool_stats st;
	struct pool *p = NULL;
	pool_off_t off;

	(void)state;
	snprintf(gone, sizeof(gone), "%s/gone.sock", fx.d.dir);
	expect_no_socket(gone, "pool_connect to a missing socket");
	/* The words are for -ENOENT only. */
	assert_string_equal(pool_last_message(-ECONNREFUSED), "");

	/* A request that succeeds clears them. */
	assert_int_equal(pool_stats_by_name(fx.conn, POOL_NAME, &st), 0);
	assert_string_equal(pool_last_message(-ENOENT), "");

	/* The socket of the environment, when none is given. */
	snprintf(saved, sizeof(saved), "%s", getenv("POOLMGRD_SOCKET"));
	setenv("POOLMGRD_SOCKET", gone, 1);
	expect_no_socket(NULL, "pool_connect(NULL) with $POOLMGRD_SOCKET "
			 "missing");
	setenv("POOLMGRD_SOCKET", saved, 1);

	/* The daemon's -ENOENT: a pool, a name. */
	expect_rc(pool_open(fx.conn, "nosuch", &p), -ENOENT,
		  "pool_open of no such pool");
	expect_words(-ENOENT, "no pool nosuch", "pool_open of no such pool");
	expect_rc(pool_stats_by_name(fx.conn, "nosuch", &st), -ENOENT,
		  "pool_stats_by_name of no such pool");
	expect_words(-ENOENT, "no pool nosuch",
		     "pool_stats_by_name of no such pool");
	expect_rc(pool_lookup(fx.pool, "nosuch", &off, NULL), -ENOENT,
		  "pool_lookup of no such name");
	expect_words(-ENOENT, "no such name 'nosuch' in pool " POOL_NAME,
		     "pool_lookup of no such name");
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- odd_pool_names_said_in_ascii ---------------------------------------- */

/*
 * A request by a pool's name carries whatever bytes its client sent, and
 * no pool has a name of bytes outside [A-Za-z0-9._-]: -ENOENT, whose
 * words name it as a block name's do, its backslash and every byte that
 * is not printable ASCII as \xHH.  Reply.message is a protobuf string:
 * a byte such as 0xff in it is no UTF-8, and a decoder of another
 * language refuses the whole reply.  So each of an open, a Stats and a
 * destroy of such a name is answered in printable ASCII alone.
 */
static void
odd_pool_names_said_in_ascii(void **state)
{
	static const char odd[] = "no\xff\xfe\n\\pool\xc3(";
	static const char want[] = "no pool no\\xff\\xfe\\x0a\\x5cpool"
				   "\\xc3(";
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__DestroyPool dp = POOLMGR__DESTROY_POOL__INIT;
	Poolmgr__Reply *r;
	const char *m;
	int fd, i;

	(void)state;
	fd = raw_greeted("odd-pool-names");
	op.name = (char *)odd;
	ref.name = (char *)odd;
	dp.name = (char *)odd;
	for (i = 0; i < 3; i++) {
		req.id = 70 + (uint64_t)i;
		req.body_case = i == 0 ? POOLMGR__REQUEST__BODY_OPEN :
				i == 1 ? POOLMGR__REQUEST__BODY_STATS :
					 POOLMGR__REQUEST__BODY_DESTROY;
		req.open = &op;		/* the oneof's one pointer */
		if (i == 1)
			req.stats = &ref;
		if (i == 2)
			req.destroy = &dp;
		raw_send_request(fd, &req);
		r = raw_reply(fd);
		assert_int_equal(r->id, req.id);
		assert_int_equal(r->error, -ENOENT);
		for (m = r->message; *m; m++)
			if ((unsigned char)*m < 0x20 ||
			    (unsigned char)*m > 0x7e)
				fail_msg("request %d: byte 0x%02x at %td of "
					 "the words", i, (unsigned char)*m,
					 m - r->message);
		assert_string_equal(r->message, want);
		poolmgr__reply__free_unpacked(r, NULL);
	}
	raw_list_ok(fd);
	close(fd);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- block_names_are_named ---------------------------------------------- */

/*
 * Each refusal of a block name names it: a lookup and an unpublish of
 * no such name, a publish of a name in use.  A name's bytes that are not
 * printable ASCII, its quote and its backslash show as \xHH; a long name
 * shows its first 128 characters, never half an escape, and "..." after
 * the quote, so that the words, the pool's name with them, fit.
 */
static void
block_names_are_named(void **state)
{
	char name[256], want[256];
	pool_off_t a, b, off;
	size_t i;

	(void)state;
	expect_rc(pool_unpublish(fx.pool, "cam/left"), -ENOENT,
		  "pool_unpublish of no such name");
	expect_words(-ENOENT, "no such name 'cam/left' in pool " POOL_NAME,
		     "pool_unpublish of no such name");

	assert_int_equal(pool_alloc(fx.pool, 64, &a), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &b), 0);
	assert_int_equal(pool_publish(fx.pool, a, "taken"), 0);
	expect_rc(pool_publish(fx.pool, b, "taken"), -EEXIST,
		  "pool_publish of a name in use");
	expect_words(-EEXIST, "the name 'taken' is in use in pool " POOL_NAME,
		     "pool_publish of a name in use");

	expect_rc(pool_lookup(fx.pool, "it's a \\ \x1b[2J\xc3\xa9\x7f", &off,
			      NULL), -ENOENT,
		  "pool_lookup of a name of odd bytes");
	expect_words(-ENOENT, "no such name 'it\\x27s a \\x5c "
		     "\\x1b[2J\\xc3\\xa9\\x7f' in pool " POOL_NAME,
		     "pool_lookup of a name of odd bytes");

	memset(name, 'n', 255);
	name[255] = '\0';
	expect_rc(pool_lookup(fx.pool, name, &off, NULL), -ENOENT,
		  "pool_lookup of a name of 255 bytes");
	snprintf(want, sizeof(want), "no such name '%.128s'... in pool "
		 POOL_NAME, name);
	expect_words(-ENOENT, want, "pool_lookup of a name of 255 bytes");
	/* A letter and 31 escapes: a 32nd would pass 128 characters. */
	memset(name, 0xff, 255);
	name[0] = 'n';
	expect_rc(pool_unpublish(fx.pool, name), -ENOENT,
		  "pool_unpublish of a name of 255 bytes to escape");
	strcpy(want, "no such name 'n");
	for (i = 0; i < 31; i++)
		strcat(want, "\\xff");
	strcat(want, "'... in pool " POOL_NAME);
	expect_words(-ENOENT, want,
		     "pool_unpublish of a name of 255 bytes to escape");

	assert_int_equal(pool_free(fx.pool, a), 0);
	assert_int_equal(pool_unpublish(fx.pool, "taken"), 0);
	assert_int_equal(pool_free(fx.pool, b), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- block_refusals_say_why ---------------------------------------------- */

/*
 * Refusals about a block name it and say which check refused it: a
 * retain of no block (it said "cannot retain"), a publish and a persist
 * by a handle that holds no reference (they named no block), a realloc
 * to 0 (it said "cannot free") and one to 128 bytes of another handle's
 * block or of none ("cannot resize" alone), and each offset a batch of
 * frees cannot free: no block, another handle's, a named one (it said
 * "cannot be freed" of each).  Nothing changes.
 */
static void
block_refusals_say_why(void **state)
{
	struct pool_conn *c2;
	struct pool *p2;
	pool_off_t mine, theirs, named, batch[2], out;
	char want[160];

	(void)state;
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	assert_int_equal(pool_alloc(p2, 64, &theirs), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &mine), 0);
	assert_int_equal(pool_alloc(fx.pool, 64, &named), 0);
	assert_int_equal(pool_publish(fx.pool, named, "named"), 0);
	assert_int_equal(pool_free(fx.pool, named), 0);

	expect_rc(pool_retain(fx.pool, mine + 16), -EINVAL,
		  "pool_retain inside a block");
	snprintf(want, sizeof(want), "0x%llx is not a live block",
		 (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_retain inside a block");

	expect_rc(pool_publish(fx.pool, theirs, "theirs"), -EPERM,
		  "pool_publish of another handle's block");
	snprintf(want, sizeof(want), "only a holder may publish a block, "
		 "and this handle holds no reference to 0x%llx",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_publish of another handle's block");
	expect_rc(pool_persist(fx.pool, theirs), -EPERM,
		  "pool_persist of another handle's block");
	snprintf(want, sizeof(want), "only a holder may persist a block, "
		 "and this handle holds no reference to 0x%llx",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_persist of another handle's block");

	expect_rc(pool_realloc(fx.pool, theirs, 0, &out), -EPERM,
		  "pool_realloc to 0 of another handle's block");
	snprintf(want, sizeof(want), "block 0x%llx belongs to another handle",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_realloc to 0 of another handle's "
		     "block");
	expect_rc(pool_realloc(fx.pool, theirs, 128, &out), -EPERM,
		  "pool_realloc of another handle's block");
	snprintf(want, sizeof(want), "cannot resize 0x%llx to 128 bytes: this "
		 "handle holds no reference to it", (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_realloc of another handle's block");
	expect_rc(pool_realloc(fx.pool, mine + 16, 128, &out), -EINVAL,
		  "pool_realloc inside a block");
	snprintf(want, sizeof(want), "cannot resize 0x%llx to 128 bytes: no "
		 "live block starts there", (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_realloc inside a block");

	batch[0] = mine;
	batch[1] = mine + 16;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EINVAL,
		  "pool_free_batch with no block at its second offset");
	snprintf(want, sizeof(want), "offset 1 of the batch (0x%llx) cannot "
		 "be freed: no live block starts there",
		 (unsigned long long)(mine + 16));
	expect_words(-EINVAL, want, "pool_free_batch with no block at its "
		     "second offset");
	batch[1] = theirs;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EPERM,
		  "pool_free_batch of another handle's block");
	snprintf(want, sizeof(want), "offset 1 of the batch (0x%llx) cannot "
		 "be freed: the block belongs to another handle",
		 (unsigned long long)theirs);
	expect_words(-EPERM, want, "pool_free_batch of another handle's "
		     "block");
	batch[0] = named;
	batch[1] = mine;
	expect_rc(pool_free_batch(fx.pool, 2, batch), -EBUSY,
		  "pool_free_batch of a named block held by none");
	snprintf(want, sizeof(want), "offset 0 of the batch (0x%llx) cannot "
		 "be freed: the block is named; unpublish its name first",
		 (unsigned long long)named);
	expect_words(-EBUSY, want, "pool_free_batch of a named block held "
		     "by none");

	assert_int_equal(pool_free(fx.pool, mine), 0);
	assert_int_equal(pool_unpublish(fx.pool, "named"), 0);
	assert_int_equal(pool_free(p2, theirs), 0);
	pool_close(p2);
	pool_disconnect(c2);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- long_names_leave_no_words -------------------------------------------- */

/*
 * Words of the library's own for -ENAMETOOLONG, as a connect to a socket
 * path longer than a socket address holds leaves them: the test fails if
 * they are not there.
 */
static void
said_too_long(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct pool_conn *c = fx.conn;	/* to see it set to NULL */

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	expect_rc(pool_connect(path, &c), -ENAMETOOLONG,
		  "pool_connect to a path too long for a socket address");
	assert_null(c);
	if (*pool_last_message(-ENAMETOOLONG) == '\0')
		fail_msg("pool_connect to a path too long left no words");
}

/* call, refused -ENAMETOOLONG by the library itself, has no words. */
static void
too_long_without_words(int rc, const char *call)
{
	expect_rc(rc, -ENAMETOOLONG, call);
	expect_words(-ENAMETOOLONG, "", call);
}

/*
 * A block name or a prefix of 256 bytes, a pool name of 65: -ENAMETOOLONG
 * from the library, which asks the daemon nothing, so the call has no
 * words; not those an earlier failure of the same code left (here, the
 * library's own for a socket path too long), which would say the wrong
 * thing was too long.
 */
static void
long_names_leave_no_words(void **state)
{
	char block[POOL_BLOCK_NAME_MAX + 2], pool[POOL_NAME_MAX + 2];
	struct pool_named *named = NULL;
	struct pool_stats st;
	struct pool *p = NULL;
	pool_off_t off, got;
	size_t n, total;

	(void)state;
	memset(block, 'b', sizeof(block) - 1);
	block[sizeof(block) - 1] = '\0';
	memset(pool, 'p', sizeof(pool) - 1);
	pool[sizeof(pool) - 1] = '\0';
	assert_int_equal(pool_alloc(fx.pool, 64, &off), 0);

	said_too_long();
	too_long_without_words(pool_publish(fx.pool, off, block),
			       "pool_publish of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_publish_flags(fx.pool, off, block,
						  POOL_PUBLISH_EVICTABLE),
			       "pool_publish_flags of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup(fx.pool, block, &got, NULL),
			       "pool_lookup of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup_retain(fx.pool, block, &got, NULL),
			       "pool_lookup_retain of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_lookup_wait(fx.pool, block, 0, 100, 0,
						&got, NULL, NULL),
			       "pool_lookup_wait of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_unpublish(fx.pool, block),
			       "pool_unpublish of a 256-byte name");
	said_too_long();
	too_long_without_words(pool_open(fx.conn, pool, &p),
			       "pool_open of a 65-byte name");
	assert_null(p);
	said_too_long();
	too_long_without_words(pool_stats_by_name(fx.conn, pool, &st),
			       "pool_stats_by_name of a 65-byte name");
	said_too_long();
	too_long_without_words(pool_names(fx.conn, POOL_NAME, block, &named,
					  &n, &total),
			       "pool_names with a 256-byte prefix");

	assert_int_equal(pool_free(fx.pool, off), 0);
	client_still_works(fx.pool);
	check_pool(fx.conn);
	stop_daemon();
}

/* ---- closing_keeps_the_words -------------------------------------------- */

/*
 * pool_close and pool_disconnect return nothing, so no words of theirs
 * could be asked for: they leave the thread's last refusal's words as
 * they were.  A program that closes what it opened before it reports a
 * failure (and Python's collector, which may close a dropped pool between
 * a failed call and the PoolError it raises) reports the failure's words.
 */
static void
closing_keeps_the_words(void **state)
{
	struct pool_conn *c2 = NULL;
	struct pool *p2 = NULL, *p3 = NULL;
	pool_off_t off;
	char want[256];

	(void)state;
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, POOL_NAME, &p2), 0);
	assert_int_equal(pool_open(fx.conn, POOL_NAME, &p3), 0);
	expect_rc(pool_alloc(fx.pool, (size_t)1 << 40, &off), -EFBIG,
		  "pool_alloc(1 TiB)");
	snprintf(want, sizeof(want), "%s", pool_last_message(-EFBIG));
	if (!strstr(want, "more than pool " POOL_NAME "'s size"))
		fail_msg("the refusal's words: \"%s\"", want);
	pool_close(p3);
	expect_words(-EFBIG, want, "pool_close after pool_alloc(1 TiB)");
	pool_close(p2);
	pool_disconnect(c2);
	expect_words(-EFBIG, want, "pool_disconnect after pool_alloc(1 TiB)");
	/* A request replaces them, as ever. */
	client_still_works(fx.pool);
	assert_string_equal(pool_last_message(-EFBIG), "");
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    refusals_carry_the_daemons_words, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    bounds_are_named_in_the_words, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    local_failures_leave_no_words, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    refusals_say_what_they_mean, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    free_of_a_named_block_says_so, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    shared_resize_says_which, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    full_pool_resize_says_what_room, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    missing_things_are_named, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    odd_pool_names_said_in_ascii, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    block_names_are_named, badinput_setup, badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    block_refusals_say_why, badinput_setup, badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    long_names_leave_no_words, badinput_setup,
		    badinput_teardown),
		cmocka_unit_test_setup_teardown(
		    closing_keeps_the_words, badinput_setup, badinput_teardown),
	};

	return cmocka_run_group_tests_name("integration: refusals' words",
					   tests, NULL, NULL);
}

/*
 * test_recover.c - the crash journal's replay (daemon/recover.c) and the
 * checks of the state it makes (state_check, daemon/restore_check.c), fed
 * journals made by hand in memfds as the fd store gives them back:
 * journal.1 and keep.1 (pool "a", 1 MiB), keep.2 (pool "b") when a
 * journal makes two pools.  Each journal is whole (hashes and end right),
 * so only where its records are, and what they say, can be wrong.
 *
 *   writer_forms_accepted  what journal.c writes: a start's snapshot (each
 *       pool's record, its count of generations, its blocks, its names
 *       each followed by its generation, the socket last), a compaction's
 *       (the pools first, each with its count, then each block with its
 *       name and generation), the changes after either (a publish with
 *       the next generation, one in place, a replace), a crash between a
 *       name's record and its generation's: recovered, every name with
 *       its generation, the pool's count the last given, the socket's.
 *   user_quota_replayed  a bounds record with a user quota's word gives
 *       the pool both; one without it (after a change) none; one word
 *       more: refused.
 *   generations_out_of_place  a pool's count of generations after a
 *       block of it, twice, for a pool made before the last one, after a
 *       change: refused, "out of place".
 *   old_generation_out_of_place  a name's generation that the pool gave
 *       already (not its next), after a change, after a publish gave the
 *       next, apart from its name record: refused.
 *   generation_twice  two names of a pool with one generation: the replay
 *       makes the state, state_check refuses it.
 *   generation_twice_among_many  a restart's state of a pool with
 *       POOL_MAX_NAMES names, their generations spread over every byte:
 *       state_check takes it, and refuses it once the last name has the
 *       generation of the eighth.
 *   socket_once  a second socket record, and one after a change: refused.
 *   names_numbered_in_journal_order  a journal of an image before
 *       generations (names, one taken and given again): each name is
 *       given the pool's next generation in the order of its name record,
 *       not of its offset.
 *   bare_name_not_last  in a journal with generations (a count, a name's,
 *       or only a limit, a record after them) a name record followed by
 *       a change, another name, another block's generation, or one before
 *       the first generation record: refused; the same name as the
 *       journal's last record is taken and given the pool's next.
 *   acl_replayed  a pool's access control list after its record (given
 *       out of order: the state has it sorted), another pool with none,
 *       a list changed after a settings change, one emptied by a record
 *       of no entry, one of 32 entries: each pool's last list, in
 *       acl_word's words.
 *   acl_refused  a word of another kind, of bits above the kind, of
 *       nobody's id or of rights beyond read and write, an entry twice,
 *       33 entries, a list of no live pool, a record without its pool:
 *       refused, saying which; so is a name record left bare in a
 *       journal whose only record of a type after generations is a list.
 *   acl_state_checked  a restart's state with a list: state_check takes
 *       it, and refuses a word no entry makes, an entry twice, 33.
 *   uid_quotas_replayed  a pool's user quotas of uids after its record
 *       and list (given out of order: the state has them sorted), another
 *       pool with none, changed after a settings change, emptied by a
 *       record of no entry, 32 entries: each pool's last, two words an
 *       entry.
 *   uid_quotas_refused  an odd word, a uid past 32 bits or nobody's, a
 *       uid twice, 33 entries (a record longer than any), of no live
 *       pool, a record without its pool: refused, saying which; a name
 *       left bare before one: refused.
 *   uid_quotas_state_checked  a restart's state with user quotas of
 *       uids: state_check takes it, and refuses an odd word, a uid past
 *       32 bits, a uid twice, 33.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "block_names.h"
#include "journal_rec.h"
#include "pool_acl.h"
#include "pool_uquota.h"
#include "recover.h"
#include "restore_check.h"

#define KIB		1024u
#define POOL_SIZE	(1024 * KIB)
#define MAX_WORDS	1024
#define WHY		256

struct journal {
	uint64_t w[MAX_WORDS];
	size_t n;		/* words, header and all */
	unsigned pools;		/* keep.1, keep.2 made so far */
};

/* One record of type, payload p of n words, its head and hash added. */
static void
rec(struct journal *j, enum jrec_type type, const uint64_t *p, unsigned n)
{
	uint64_t *w = &j->w[j->n];

	assert_true(j->n + n + 2 <= MAX_WORDS);
	w[0] = jrec_head(n + 2, type);
	memcpy(&w[1], p, n * sizeof(*p));
	w[n + 1] = jrec_sum(w, n + 1);
	j->n += n + 2;
}

static void
start(struct journal *j)
{
	memset(j, 0, sizeof(*j));
	j->w[JH_MAGIC] = JREC_MAGIC;
	j->w[JH_ID] = 1;
	j->w[JH_SUM] = jrec_sum(j->w, 2);
	j->n = JREC_HEADER / 8;
}

/* Pool "a" on keep.1 or "b" on keep.2, of 1 MiB. */
static void
pool(struct journal *j, uint64_t keep)
{
	uint64_t p[9 + JREC_NAME_MAX] = {
		keep, POOL_SIZE, 16, (uint64_t)sysconf(_SC_PAGESIZE),
		getuid(), getgid(), 0600, 0, 0,
	};

	p[9] = keep == 1 ? 'a' : 'b';
	rec(j, JREC_POOL, p, 9 + JREC_NAME_MAX);
	j->pools++;
}

/* A span of 64 KiB at off, persisted by our uid. */
static void
persist(struct journal *j, uint64_t keep, uint64_t off)
{
	uint64_t p[6] = {keep, off, 64 * KIB, 64 * KIB, 1, getuid()};

	rec(j, JREC_PERSIST, p, 6);
}

static void
name(struct journal *j, uint64_t keep, uint64_t off, const char *s)
{
	uint64_t p[4 + JREC_BNAME_MAX] = {keep, off, getuid(), strlen(s)};

	memcpy(&p[4], s, strlen(s));
	rec(j, JREC_NAME, p, 4 + (unsigned)(strlen(s) + 7) / 8);
}

static void
unname(struct journal *j, uint64_t keep, uint64_t off)
{
	uint64_t p[2] = {keep, off};

	rec(j, JREC_UNNAME, p, 2);
}

static void
generation(struct journal *j, uint64_t keep, uint64_t off, uint64_t gen)
{
	uint64_t p[3] = {keep, off, gen};

	rec(j, JREC_GENERATION, p, 3);
}

static void
generations(struct journal *j, uint64_t keep, uint64_t last)
{
	uint64_t p[2] = {keep, last};

	rec(j, JREC_GENERATIONS, p, 2);
}

static void
limit(struct journal *j, uint64_t keep, uint64_t bytes)
{
	uint64_t p[2] = {keep, bytes};

	rec(j, JREC_BOUNDS, p, 2);
}

/* The limit and the user quota in one record, as a writer of both. */
static void
bounds(struct journal *j, uint64_t keep, uint64_t bytes, uint64_t user)
{
	uint64_t p[3] = {keep, bytes, user};

	rec(j, JREC_BOUNDS, p, 3);
}

/*
 * An entry's word as the journal and the state keep it, spelt out here
 * rather than made by acl_word, so that a change of the layout fails:
 * the id in the low 32 bits, the rights in the next 8, the kind above.
 */
#define ACL_U(id, r)	((uint64_t)ACL_USER << 40 | (uint64_t)(r) << 32 | (id))
#define ACL_G(id, r)	((uint64_t)ACL_GROUP << 40 | (uint64_t)(r) << 32 | (id))

/* Pool keep's access control list: n entries, words as given. */
static void
acl(struct journal *j, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t p[1 + JREC_MAX_WORDS] = {keep};

	assert_true(n < JREC_MAX_WORDS);
	if (n)
		memcpy(&p[1], words, n * sizeof(*words));
	rec(j, JREC_ACL, p, 1 + n);
}

/* Pool ps's list is exactly the n words want, in their order. */
static void
expect_acl(const Poolmgrd__PoolState *ps, const uint64_t *want, size_t n)
{
	size_t i;

	if (ps->n_acl != n)
		fail_msg("pool %s: %zu entries, not %zu", ps->name, ps->n_acl,
			 n);
	for (i = 0; i < n; i++)
		if (ps->acl[i] != want[i])
			fail_msg("pool %s: entry %zu is %#llx, not %#llx",
				 ps->name, i, (unsigned long long)ps->acl[i],
				 (unsigned long long)want[i]);
}

/* Pool keep's user quotas of uids: n words (two an entry) as given. */
static void
uqs(struct journal *j, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t p[1 + JREC_MAX_WORDS] = {keep};

	assert_true(n < JREC_MAX_WORDS);
	if (n)
		memcpy(&p[1], words, n * sizeof(*words));
	rec(j, JREC_USER_QUOTAS, p, 1 + n);
}

/* Pool ps's user quotas of uids are exactly the n words want. */
static void
expect_uqs(const Poolmgrd__PoolState *ps, const uint64_t *want, size_t n)
{
	size_t i;

	if (ps->n_user_quotas != n)
		fail_msg("pool %s: %zu words, not %zu", ps->name,
			 ps->n_user_quotas, n);
	for (i = 0; i < n; i++)
		if (ps->user_quotas[i] != want[i])
			fail_msg("pool %s: word %zu is %#llx, not %#llx",
				 ps->name, i,
				 (unsigned long long)ps->user_quotas[i],
				 (unsigned long long)want[i]);
}

/* A settings change of pool keep: a record only a change writes. */
static void
set(struct journal *j, uint64_t keep)
{
	uint64_t p[6] = {keep, getuid(), getgid(), 0640, 0, 0};

	rec(j, JREC_SET, p, 6);
}

static void
sock(struct journal *j, const char *path)
{
	uint64_t p[2 + (JREC_SOCKET_MAX + 7) / 8] = {0660, strlen(path)};

	memcpy(&p[2], path, strlen(path));
	rec(j, JREC_SOCKET, p, 2 + (unsigned)(strlen(path) + 7) / 8);
}

/* A name and its generation, as a publish or a snapshot writes them. */
static void
named(struct journal *j, uint64_t keep, uint64_t off, const char *s,
      uint64_t gen)
{
	name(j, keep, off, s);
	generation(j, keep, off, gen);
}

static int
memfd_of(const char *what, const void *data, size_t len, size_t size)
{
	int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (len)
		assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

/*
 * The journal as the store gives it back after a crash, replayed: the
 * state (NULL: refused, with why), and state_check's verdict in *checked
 * (0 or -EINVAL, with why).
 */
static Poolmgrd__State *
replay(struct journal *j, int *checked, char *why)
{
	char names[3][16], *pnames[3];
	int fd[3], *fds = NULL;
	struct passed_fds pf = {.fd = fd, .name = pnames, .listen = -1,
				.state = -1};
	Poolmgrd__State *st;
	unsigned i, nfds = 0;

	j->w[JH_END] = 8 * j->n;
	fd[0] = memfd_of("journal", j->w, 8 * j->n, 8 * j->n);
	snprintf(names[0], sizeof(names[0]), "journal.1");
	for (i = 1; i <= j->pools; i++) {
		fd[i] = memfd_of("keep", NULL, 0, POOL_SIZE);
		assert_int_equal(fcntl(fd[i], F_ADD_SEALS,
				       F_SEAL_SHRINK | F_SEAL_GROW), 0);
		snprintf(names[i], sizeof(names[i]), "keep.%u", i);
	}
	pf.n = 1 + j->pools;
	for (i = 0; i < pf.n; i++)
		pnames[i] = names[i];
	*why = '\0';
	st = recover_state(&pf, &fds, &nfds, why, WHY);
	*checked = st ? state_check(st, fds, nfds, why, WHY) : -EINVAL;
	for (i = 0; i < pf.n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	for (i = 1; st && i < nfds; i++)
		close(fds[i]);
	free(fds);
	return st;
}

/* The journal is refused, by the replay or the state's checks, for why. */
static void
expect_refused(struct journal *j, const char *want)
{
	Poolmgrd__State *st;
	char why[WHY];
	int checked;

	st = replay(j, &checked, why);
	if (st)
		poolmgrd__state__free_unpacked(st, NULL);
	if (checked == 0 || !strstr(why, want))
		fail_msg("accepted, or refused for '%s', not '%s'", why, want);
}

/* Accepted by both: the state, to look at. */
static Poolmgrd__State *
expect_accepted(struct journal *j)
{
	Poolmgrd__State *st;
	char why[WHY];
	int checked;

	st = replay(j, &checked, why);
	if (!st || checked != 0)
		fail_msg("refused: %s", why);
	return st;
}

/* Name s of pool ps is at off with generation gen. */
static void
expect_name(const Poolmgrd__PoolState *ps, const char *s, uint64_t off,
	    uint64_t gen)
{
	size_t i;

	for (i = 0; i < ps->n_named_name; i++)
		if (ps->named_name[i].len == strlen(s) &&
		    memcmp(ps->named_name[i].data, s, strlen(s)) == 0)
			break;
	if (i == ps->n_named_name)
		fail_msg("pool %s: no name %s", ps->name, s);
	assert_int_equal(ps->named_off[i], off);
	if (ps->named_generation[i] != gen)
		fail_msg("pool %s: name %s of generation %llu, not %llu",
			 ps->name, s,
			 (unsigned long long)ps->named_generation[i],
			 (unsigned long long)gen);
	assert_int_equal(ps->named_use_order[i], gen);
}

/* Pool a's snapshot as a start writes it: count 9, names of 3 and 1. */
static void
snapshot_a(struct journal *j)
{
	start(j);
	pool(j, 1);
	generations(j, 1, 9);
	persist(j, 1, 64 * KIB);
	persist(j, 1, 128 * KIB);
	persist(j, 1, 192 * KIB);
	named(j, 1, 64 * KIB, "n1", 3);
	named(j, 1, 128 * KIB, "n2", 1);
}

static void
writer_forms_accepted(void **state)
{
	Poolmgrd__State *st;
	struct journal j;

	(void)state;
	/* A start's snapshot, then a publish, one in place, a replace. */
	snapshot_a(&j);
	sock(&j, "/run/poolmgrd/test.sock");
	named(&j, 1, 192 * KIB, "n3", 10);
	generation(&j, 1, 64 * KIB, 11);
	unname(&j, 1, 128 * KIB);
	named(&j, 1, 128 * KIB, "n4", 12);
	st = expect_accepted(&j);
	assert_int_equal(st->n_pools, 1);
	assert_string_equal(st->socket_path, "/run/poolmgrd/test.sock");
	assert_int_equal(st->pools[0]->n_named_name, 3);
	expect_name(st->pools[0], "n1", 64 * KIB, 11);
	expect_name(st->pools[0], "n3", 192 * KIB, 10);
	expect_name(st->pools[0], "n4", 128 * KIB, 12);
	assert_int_equal(st->pools[0]->name_generation, 12);
	poolmgrd__state__free_unpacked(st, NULL);

	/*
	 * A compaction's: the pools with their counts, then the blocks
	 * with their names; a publish after; a crash before the last
	 * name's generation (it gets the pool's next).
	 */
	start(&j);
	pool(&j, 1);
	generations(&j, 1, 5);
	pool(&j, 2);
	generations(&j, 2, 7);
	persist(&j, 1, 64 * KIB);
	named(&j, 1, 64 * KIB, "n1", 5);
	persist(&j, 2, 64 * KIB);
	named(&j, 2, 64 * KIB, "m1", 2);
	persist(&j, 2, 128 * KIB);
	named(&j, 2, 128 * KIB, "m2", 7);
	persist(&j, 1, 128 * KIB);
	named(&j, 1, 128 * KIB, "n2", 6);
	persist(&j, 1, 192 * KIB);
	name(&j, 1, 192 * KIB, "n3");
	st = expect_accepted(&j);
	assert_int_equal(st->n_pools, 2);
	expect_name(st->pools[0], "n1", 64 * KIB, 5);
	expect_name(st->pools[0], "n2", 128 * KIB, 6);
	expect_name(st->pools[0], "n3", 192 * KIB, 7);
	assert_int_equal(st->pools[0]->name_generation, 7);
	expect_name(st->pools[1], "m1", 64 * KIB, 2);
	expect_name(st->pools[1], "m2", 128 * KIB, 7);
	assert_int_equal(st->pools[1]->name_generation, 7);
	poolmgrd__state__free_unpacked(st, NULL);
}

/*
 * A bounds record with a user quota's word gives the pool both; one
 * without it (an image before user quotas, or a quota removed) none; more
 * words refuse the journal.
 */
static void
user_quota_replayed(void **state)
{
	uint64_t p[4] = {1, 0, 64 * KIB, 9};
	Poolmgrd__State *st;
	struct journal j;

	(void)state;
	start(&j);
	pool(&j, 1);
	bounds(&j, 1, 0, 256 * KIB);
	st = expect_accepted(&j);
	assert_int_equal(st->pools[0]->limit, 0);
	assert_int_equal(st->pools[0]->user_quota, 256 * KIB);
	poolmgrd__state__free_unpacked(st, NULL);

	start(&j);
	pool(&j, 1);
	bounds(&j, 1, 512 * KIB, 256 * KIB);
	set(&j, 1);
	limit(&j, 1, 512 * KIB);
	st = expect_accepted(&j);
	assert_int_equal(st->pools[0]->limit, 512 * KIB);
	assert_int_equal(st->pools[0]->user_quota, 0);
	poolmgrd__state__free_unpacked(st, NULL);

	start(&j);
	pool(&j, 1);
	rec(&j, JREC_BOUNDS, p, 4);
	expect_refused(&j, "a limit record of 6 words");
}

static void
generations_out_of_place(void **state)
{
	struct journal j;

	(void)state;
	/* After a block of its pool: a snapshot writes it before them. */
	start(&j);
	pool(&j, 1);
	persist(&j, 1, 64 * KIB);
	generations(&j, 1, 9);
	expect_refused(&j, "generations (9) out of place");

	/* Twice, going up. */
	start(&j);
	pool(&j, 1);
	generations(&j, 1, 5);
	generations(&j, 1, 6);
	expect_refused(&j, "generations (6) out of place");

	/* Of a pool made before the last one. */
	start(&j);
	pool(&j, 1);
	pool(&j, 2);
	generations(&j, 1, 5);
	expect_refused(&j, "generations (5) out of place");

	/* After a change: a pool made then has given none. */
	start(&j);
	pool(&j, 1);
	set(&j, 1);
	generations(&j, 1, 4);
	expect_refused(&j, "generations (4) out of place");
}

static void
old_generation_out_of_place(void **state)
{
	struct journal j;

	(void)state;
	/* An old generation after a change: a publish gives the next. */
	snapshot_a(&j);
	set(&j, 1);
	named(&j, 1, 192 * KIB, "n3", 5);
	expect_refused(&j, "generation 5, not the next (10), after the "
		       "snapshot");

	/* After a publish gave the next one. */
	snapshot_a(&j);
	named(&j, 1, 192 * KIB, "n3", 10);
	unname(&j, 1, 64 * KIB);
	name(&j, 1, 64 * KIB, "n1");
	generation(&j, 1, 64 * KIB, 4);
	expect_refused(&j, "generation 4, not the next (11), after the "
		       "snapshot");
	snapshot_a(&j);
	named(&j, 1, 192 * KIB, "n3", 10);
	generation(&j, 1, 64 * KIB, 3);
	expect_refused(&j, "generation 3, not the next (11), after the "
		       "snapshot");

	/* Apart from its name record: a publish in place gives the next. */
	snapshot_a(&j);
	generation(&j, 1, 64 * KIB, 4);
	expect_refused(&j, "generation 4, not the next (10), apart from its "
		       "name record");
	snapshot_a(&j);
	name(&j, 1, 192 * KIB, "n3");
	persist(&j, 1, 256 * KIB);
	generation(&j, 1, 192 * KIB, 6);
	expect_refused(&j, "generation 6, not the next (10), apart from its "
		       "name record");
}

static void
generation_twice(void **state)
{
	Poolmgrd__State *st;
	struct journal j;
	char why[WHY];
	int checked;

	(void)state;
	snapshot_a(&j);
	named(&j, 1, 192 * KIB, "n3", 3);
	st = replay(&j, &checked, why);
	assert_non_null(st);		/* the records, each in its place */
	poolmgrd__state__free_unpacked(st, NULL);
	if (checked == 0 || !strstr(why, "pool a: two names of generation 3"))
		fail_msg("accepted, or refused for '%s'", why);
}

static void
generation_twice_among_many(void **state)
{
	Poolmgrd__State st = POOLMGRD__STATE__INIT;
	Poolmgrd__PoolState ps = POOLMGRD__POOL_STATE__INIT, *pools[1] = {&ps};
	size_t n = POOL_MAX_NAMES, i;
	ProtobufCBinaryData *names = calloc(n, sizeof(*names));
	uint64_t *offs = calloc(n, sizeof(*offs));
	uint64_t *gens = calloc(n, sizeof(*gens));
	uint32_t *uids = calloc(n, sizeof(*uids));
	int fds[3] = {-1, -1, memfd_of("keep", NULL, 0, POOL_SIZE)};
	char why[WHY], want[64];

	(void)state;
	assert_true(names && offs && gens && uids);
	assert_int_equal(fcntl(fds[2], F_ADD_SEALS, F_SEAL_SHRINK |
			       F_SEAL_GROW), 0);
	st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	st.n_pools = 1;
	st.pools = pools;
	ps.name = "a";
	ps.size = POOL_SIZE;
	ps.granularity = 16;
	ps.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	ps.mode = 0600;
	/* Odd multiples modulo 2^63: distinct, every byte of them varies. */
	for (i = 0; i < n; i++)
		gens[i] = (i + 1) * 0x9e3779b97f4a7c15ull & INT64_MAX;
	ps.name_generation = INT64_MAX;
	ps.n_named_name = ps.n_named_off = ps.n_named_publisher = n;
	ps.n_named_generation = n;
	ps.named_name = names;
	ps.named_off = offs;
	ps.named_publisher = uids;
	ps.named_generation = gens;
	if (state_check(&st, fds, 3, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	gens[n - 1] = gens[7];
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	snprintf(want, sizeof(want), "pool a: two names of generation %llu",
		 (unsigned long long)gens[7]);
	assert_string_equal(why, want);
	close(fds[2]);
	free(names);
	free(offs);
	free(gens);
	free(uids);
}

static void
socket_once(void **state)
{
	struct journal j;

	(void)state;
	snapshot_a(&j);
	sock(&j, "/run/poolmgrd/test.sock");
	sock(&j, "/run/poolmgrd/other.sock");
	expect_refused(&j, "a socket record past the snapshot");

	snapshot_a(&j);
	unname(&j, 1, 64 * KIB);
	sock(&j, "/run/poolmgrd/test.sock");
	expect_refused(&j, "a socket record past the snapshot");
}

static void
names_numbered_in_journal_order(void **state)
{
	Poolmgrd__State *st;
	struct journal j;

	(void)state;
	start(&j);
	pool(&j, 1);
	persist(&j, 1, 64 * KIB);
	persist(&j, 1, 128 * KIB);
	persist(&j, 1, 192 * KIB);
	persist(&j, 1, 256 * KIB);
	name(&j, 1, 192 * KIB, "c");
	name(&j, 1, 64 * KIB, "a");
	name(&j, 1, 256 * KIB, "d");
	name(&j, 1, 128 * KIB, "b");
	unname(&j, 1, 64 * KIB);
	name(&j, 1, 64 * KIB, "a2");
	st = expect_accepted(&j);
	expect_name(st->pools[0], "c", 192 * KIB, 1);
	expect_name(st->pools[0], "d", 256 * KIB, 2);
	expect_name(st->pools[0], "b", 128 * KIB, 3);
	expect_name(st->pools[0], "a2", 64 * KIB, 4);
	assert_int_equal(st->pools[0]->name_generation, 4);
	poolmgrd__state__free_unpacked(st, NULL);
}

static void
bare_name_not_last(void **state)
{
	const char *want = "a name record with no generation after it";
	Poolmgrd__State *st;
	struct journal j;

	(void)state;
	/* Then a change, another name, another block's generation. */
	snapshot_a(&j);
	name(&j, 1, 192 * KIB, "n3");
	set(&j, 1);
	expect_refused(&j, want);
	snapshot_a(&j);
	persist(&j, 1, 256 * KIB);
	name(&j, 1, 192 * KIB, "n3");
	named(&j, 1, 256 * KIB, "n4", 10);
	expect_refused(&j, want);
	snapshot_a(&j);
	name(&j, 1, 192 * KIB, "n3");
	generation(&j, 1, 64 * KIB, 10);
	expect_refused(&j, want);

	/* Before the journal's first generation record. */
	start(&j);
	pool(&j, 1);
	persist(&j, 1, 64 * KIB);
	persist(&j, 1, 128 * KIB);
	name(&j, 1, 64 * KIB, "x");
	named(&j, 1, 128 * KIB, "y", 1);
	expect_refused(&j, "pool a: 0x10000: a name record with no "
		       "generation after it, at 344, not the last");

	/* No generation at all, but a limit, which came after them. */
	start(&j);
	pool(&j, 1);
	limit(&j, 1, 512 * KIB);
	persist(&j, 1, 64 * KIB);
	name(&j, 1, 64 * KIB, "x");
	persist(&j, 1, 128 * KIB);
	expect_refused(&j, want);

	/* The last record: a crash between the two; it gets the next. */
	snapshot_a(&j);
	named(&j, 1, 192 * KIB, "n3", 10);
	persist(&j, 1, 256 * KIB);
	name(&j, 1, 256 * KIB, "n4");
	st = expect_accepted(&j);
	expect_name(st->pools[0], "n3", 192 * KIB, 10);
	expect_name(st->pools[0], "n4", 256 * KIB, 11);
	assert_int_equal(st->pools[0]->name_generation, 11);
	poolmgrd__state__free_unpacked(st, NULL);
}

static void
acl_replayed(void **state)
{
	const uint64_t given[] = {ACL_G(20, 4), ACL_U(1000, 6), ACL_U(7, 0)};
	const uint64_t sorted[] = {ACL_U(7, 0), ACL_U(1000, 6), ACL_G(20, 4)};
	const uint64_t first[] = {ACL_U(1000, 6)};
	const uint64_t then[] = {ACL_U(1000, 4), ACL_G(30, 2)};
	uint64_t full[JREC_ACL_MAX];
	Poolmgrd__State *st;
	struct journal j;
	unsigned i;

	(void)state;
	/* A snapshot's: after the pool's record; pool b has none. */
	start(&j);
	pool(&j, 1);
	acl(&j, 1, given, 3);
	pool(&j, 2);
	st = expect_accepted(&j);
	assert_int_equal(st->n_pools, 2);
	expect_acl(st->pools[0], sorted, 3);
	expect_acl(st->pools[1], NULL, 0);
	poolmgrd__state__free_unpacked(st, NULL);

	/* Changed after a settings change, then of pool b. */
	start(&j);
	pool(&j, 1);
	acl(&j, 1, first, 1);
	persist(&j, 1, 64 * KIB);
	pool(&j, 2);
	set(&j, 1);
	acl(&j, 1, then, 2);
	set(&j, 2);
	acl(&j, 2, first, 1);
	st = expect_accepted(&j);
	expect_acl(st->pools[0], then, 2);
	expect_acl(st->pools[1], first, 1);
	assert_int_equal(st->pools[0]->mode, 0640);
	poolmgrd__state__free_unpacked(st, NULL);

	/* Emptied: a record of no entry after the change. */
	start(&j);
	pool(&j, 1);
	acl(&j, 1, first, 1);
	set(&j, 1);
	acl(&j, 1, NULL, 0);
	st = expect_accepted(&j);
	expect_acl(st->pools[0], NULL, 0);
	poolmgrd__state__free_unpacked(st, NULL);

	/* As many as a list holds: the longest record of its type. */
	for (i = 0; i < JREC_ACL_MAX; i++)
		full[i] = i % 2 ? ACL_G(100 + i, 4) : ACL_U(100 + i, 6);
	start(&j);
	pool(&j, 1);
	acl(&j, 1, full, JREC_ACL_MAX);
	st = expect_accepted(&j);
	assert_int_equal(st->pools[0]->n_acl, JREC_ACL_MAX);
	assert_int_equal(st->pools[0]->acl[0], ACL_U(100, 6));
	assert_int_equal(st->pools[0]->acl[JREC_ACL_MAX - 1],
			 ACL_G(100 + JREC_ACL_MAX - 1, 4));
	poolmgrd__state__free_unpacked(st, NULL);
}

/* Pool a (with a block) and then list words of n: refused for want. */
static void
acl_refused_for(const uint64_t *words, unsigned n, const char *want)
{
	struct journal j;

	start(&j);
	pool(&j, 1);
	persist(&j, 1, 64 * KIB);
	acl(&j, 1, words, n);
	expect_refused(&j, want);
}

static void
acl_refused(void **state)
{
	const uint64_t kind3[] = {ACL_U(5, 4), 3ull << 40 | 4ull << 32 | 5};
	const uint64_t high[] = {1ull << 48 | ACL_U(5, 4)};
	const uint64_t nobody[] = {ACL_G(UINT32_MAX, 4)};
	const uint64_t exec[] = {ACL_U(5, 5)};
	const uint64_t twice[] = {ACL_U(5, 4), ACL_G(5, 4), ACL_U(5, 2)};
	const uint64_t one[] = {ACL_U(5, 4)};
	uint64_t many[JREC_ACL_MAX + 1];
	struct journal j;
	unsigned i;

	(void)state;
	acl_refused_for(kind3, 2, "pool a: access control entry 1 is "
			"0x30400000005, which no entry makes");
	acl_refused_for(high, 1, "pool a: access control entry 0 is "
			"0x1010400000005, which no entry makes");
	acl_refused_for(nobody, 1, "access control entry 0 is "
			"0x204ffffffff");
	acl_refused_for(exec, 1, "access control entry 0 is 0x10500000005");
	acl_refused_for(twice, 3, "pool a: its access control list: user 5 "
			"is given twice");
	for (i = 0; i <= JREC_ACL_MAX; i++)
		many[i] = ACL_U(i, 4);
	acl_refused_for(many, JREC_ACL_MAX + 1, "pool a: an access control "
			"list of 33 entries, more than 32");

	/* Of a pool destroyed, of one never made, without its pool. */
	start(&j);
	pool(&j, 1);
	pool(&j, 2);
	rec(&j, JREC_GONE, (uint64_t[]){2}, 1);
	acl(&j, 2, one, 1);
	expect_refused(&j, "an access control list of no live pool "
		       "(keep.2)");
	start(&j);
	pool(&j, 1);
	acl(&j, 3, one, 1);
	expect_refused(&j, "an access control list of no live pool "
		       "(keep.3)");
	start(&j);
	pool(&j, 1);
	rec(&j, JREC_ACL, one, 0);
	expect_refused(&j, "an access control record of 2 words");

	/* A list is a record of a writer with generations: no bare name. */
	start(&j);
	pool(&j, 1);
	acl(&j, 1, one, 1);
	persist(&j, 1, 64 * KIB);
	name(&j, 1, 64 * KIB, "x");
	persist(&j, 1, 128 * KIB);
	expect_refused(&j, "a name record with no generation after it");
}

static void
acl_state_checked(void **state)
{
	Poolmgrd__State st = POOLMGRD__STATE__INIT;
	Poolmgrd__PoolState ps = POOLMGRD__POOL_STATE__INIT, *pools[1] = {&ps};
	uint64_t words[JREC_ACL_MAX + 1] = {ACL_U(7, 0), ACL_U(1000, 6),
					    ACL_G(20, 4)};
	int fds[3] = {-1, -1, memfd_of("keep", NULL, 0, POOL_SIZE)};
	char why[WHY];
	unsigned i;

	(void)state;
	assert_int_equal(fcntl(fds[2], F_ADD_SEALS, F_SEAL_SHRINK |
			       F_SEAL_GROW), 0);
	st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	st.n_pools = 1;
	st.pools = pools;
	ps.name = "a";
	ps.size = POOL_SIZE;
	ps.granularity = 16;
	ps.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	ps.mode = 0600;
	ps.acl = words;
	ps.n_acl = 3;
	if (state_check(&st, fds, 3, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);

	words[1] = ACL_U(1000, 8);
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: access control entry 1 is "
			    "0x108000003e8, which no entry makes");
	words[1] = ACL_U(7, 4);
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: its access control list: user 7 "
			    "is given twice");
	for (i = 0; i <= JREC_ACL_MAX; i++)
		words[i] = ACL_G(i, 2);
	ps.n_acl = JREC_ACL_MAX + 1;
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: an access control list of 33 "
			    "entries, more than 32");
	ps.n_acl = JREC_ACL_MAX;
	if (state_check(&st, fds, 3, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	close(fds[2]);
}

static void
uid_quotas_replayed(void **state)
{
	const uint64_t given[] = {1001, 1 << 20, 7, 0, 500, 4096};
	const uint64_t sorted[] = {7, 0, 500, 4096, 1001, 1 << 20};
	const uint64_t first[] = {1000, 65536};
	const uint64_t then[] = {1000, 0, 1002, 8192};
	const uint64_t list[] = {ACL_U(1000, 6)};
	uint64_t full[2 * JREC_UQ_MAX];
	Poolmgrd__State *st;
	struct journal j;
	unsigned i;

	(void)state;
	/* A snapshot's: after the pool's record and list; b has none. */
	start(&j);
	pool(&j, 1);
	acl(&j, 1, list, 1);
	uqs(&j, 1, given, 6);
	pool(&j, 2);
	st = expect_accepted(&j);
	assert_int_equal(st->n_pools, 2);
	expect_uqs(st->pools[0], sorted, 6);
	expect_acl(st->pools[0], list, 1);
	expect_uqs(st->pools[1], NULL, 0);
	poolmgrd__state__free_unpacked(st, NULL);

	/* Changed after a settings change, then of pool b. */
	start(&j);
	pool(&j, 1);
	uqs(&j, 1, first, 2);
	persist(&j, 1, 64 * KIB);
	pool(&j, 2);
	set(&j, 1);
	uqs(&j, 1, then, 4);
	set(&j, 2);
	uqs(&j, 2, first, 2);
	st = expect_accepted(&j);
	expect_uqs(st->pools[0], then, 4);
	expect_uqs(st->pools[1], first, 2);
	poolmgrd__state__free_unpacked(st, NULL);

	/* Emptied: a record of no entry after the change. */
	start(&j);
	pool(&j, 1);
	uqs(&j, 1, first, 2);
	set(&j, 1);
	uqs(&j, 1, NULL, 0);
	st = expect_accepted(&j);
	expect_uqs(st->pools[0], NULL, 0);
	poolmgrd__state__free_unpacked(st, NULL);

	/* As many as a pool holds: the longest record there is. */
	for (i = 0; i < JREC_UQ_MAX; i++) {
		full[2 * i] = 100 + i;
		full[2 * i + 1] = UINT64_MAX - i;
	}
	start(&j);
	pool(&j, 1);
	uqs(&j, 1, full, 2 * JREC_UQ_MAX);
	st = expect_accepted(&j);
	expect_uqs(st->pools[0], full, 2 * JREC_UQ_MAX);
	poolmgrd__state__free_unpacked(st, NULL);
}

/* Pool a (with a block) and then user quota words of n: refused. */
static void
uqs_refused_for(const uint64_t *words, unsigned n, const char *want)
{
	struct journal j;

	start(&j);
	pool(&j, 1);
	persist(&j, 1, 64 * KIB);
	uqs(&j, 1, words, n);
	expect_refused(&j, want);
}

static void
uid_quotas_refused(void **state)
{
	const uint64_t odd[] = {5, 4096, 6};
	const uint64_t wide[] = {1ull << 32 | 5, 4096};
	const uint64_t nobody[] = {UINT32_MAX, 4096};
	const uint64_t twice[] = {5, 1, 6, 2, 5, 3};
	const uint64_t one[] = {5, 4096};
	uint64_t many[2 * (JREC_UQ_MAX + 1)];
	struct journal j;
	unsigned i;

	(void)state;
	uqs_refused_for(odd, 3, "pool a: user quotas of uids in 3 words, not "
			"two an entry");
	uqs_refused_for(wide, 2, "pool a: user quota entry 0 is of uid "
			"0x100000005, which no uid is");
	uqs_refused_for(nobody, 2, "pool a: its user quotas of uids: uid "
			"4294967295 is nobody's");
	uqs_refused_for(twice, 6, "pool a: its user quotas of uids: uid 5's "
			"user quota entry is given twice");
	for (i = 0; i <= JREC_UQ_MAX; i++) {
		many[2 * i] = i;
		many[2 * i + 1] = 4096;
	}
	/* One more than a record holds: refused as too long a record. */
	uqs_refused_for(many, 2 * (JREC_UQ_MAX + 1), "is corrupt");

	start(&j);
	pool(&j, 1);
	pool(&j, 2);
	rec(&j, JREC_GONE, (uint64_t[]){2}, 1);
	uqs(&j, 2, one, 2);
	expect_refused(&j, "user quotas of no live pool (keep.2)");
	start(&j);
	pool(&j, 1);
	rec(&j, JREC_USER_QUOTAS, one, 0);
	expect_refused(&j, "a user quota record of 2 words");

	start(&j);
	pool(&j, 1);
	uqs(&j, 1, one, 2);
	persist(&j, 1, 64 * KIB);
	name(&j, 1, 64 * KIB, "x");
	persist(&j, 1, 128 * KIB);
	expect_refused(&j, "a name record with no generation after it");
}

static void
uid_quotas_state_checked(void **state)
{
	Poolmgrd__State st = POOLMGRD__STATE__INIT;
	Poolmgrd__PoolState ps = POOLMGRD__POOL_STATE__INIT, *pools[1] = {&ps};
	uint64_t words[2 * (UQUOTA_MAX + 1)] = {7, 0, 1000, 65536, 20, 1};
	int fds[3] = {-1, -1, memfd_of("keep", NULL, 0, POOL_SIZE)};
	char why[WHY];
	unsigned i;

	(void)state;
	assert_int_equal(fcntl(fds[2], F_ADD_SEALS, F_SEAL_SHRINK |
			       F_SEAL_GROW), 0);
	st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	st.n_pools = 1;
	st.pools = pools;
	ps.name = "a";
	ps.size = POOL_SIZE;
	ps.granularity = 16;
	ps.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	ps.mode = 0600;
	ps.user_quotas = words;
	ps.n_user_quotas = 6;
	if (state_check(&st, fds, 3, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);

	ps.n_user_quotas = 5;
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: user quotas of uids in 5 words, not "
			    "two an entry");
	ps.n_user_quotas = 6;
	words[2] = 1ull << 32;
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: user quota entry 1 is of uid "
			    "0x100000000, which no uid is");
	words[2] = 7;
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: its user quotas of uids: uid 7's "
			    "user quota entry is given twice");
	for (i = 0; i <= UQUOTA_MAX; i++) {
		words[2 * i] = i;
		words[2 * i + 1] = 1;
	}
	ps.n_user_quotas = 2 * (UQUOTA_MAX + 1);
	assert_int_equal(state_check(&st, fds, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "pool a: 33 user quotas of uids, more than "
			    "32");
	ps.n_user_quotas = 2 * UQUOTA_MAX;
	if (state_check(&st, fds, 3, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	close(fds[2]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writer_forms_accepted),
		cmocka_unit_test(user_quota_replayed),
		cmocka_unit_test(generations_out_of_place),
		cmocka_unit_test(old_generation_out_of_place),
		cmocka_unit_test(generation_twice),
		cmocka_unit_test(generation_twice_among_many),
		cmocka_unit_test(socket_once),
		cmocka_unit_test(names_numbered_in_journal_order),
		cmocka_unit_test(bare_name_not_last),
		cmocka_unit_test(acl_replayed),
		cmocka_unit_test(acl_refused),
		cmocka_unit_test(acl_state_checked),
		cmocka_unit_test(uid_quotas_replayed),
		cmocka_unit_test(uid_quotas_refused),
		cmocka_unit_test(uid_quotas_state_checked),
	};

	return cmocka_run_group_tests_name("the crash journal's replay",
					   tests, NULL, NULL);
}

/*
 * test_journal_compact.c - the live set of a crash journal's records
 * (daemon/journal_compact.c), which a compaction in steps writes as the
 * new journal's snapshot.
 *
 *   live_set_read_back     two pools, blocks persisted, grown, unpersisted
 *       and persisted again at the same offset, settings changed, one pool
 *       destroyed: exactly the live pool with its new settings, then its
 *       live blocks at their last sizes, nothing of the other.
 *   bad_records_refused    a persist twice, an unpersist or a resize of a
 *       block that is not persistent, a block of no live pool, a pool
 *       twice, a type unknown here, a length wrong for its type: -EINVAL.
 *   full_table_refused     more persists than the bytes it was sized for
 *       can hold: -EINVAL, not a write past the table.
 *   names_read_back        names published (one of the longest), one
 *       moved by a replace, one unpublished and its block unpersisted,
 *       one in a pool then destroyed: the live blocks, each named one
 *       followed at once by its name record with its publisher and bytes,
 *       nothing of the removed name or the destroyed pool.
 *   bad_names_refused      a name of a block that is not persistent, of
 *       no live pool, a second name, an unname of a block without one, an
 *       unpersist of a named block, a length of 0 or past the longest, a
 *       record's words that do not match its length, no publisher:
 *       -EINVAL, and the names before them read back unchanged.
 *   full_names_refused     more name records than the bytes it was sized
 *       for can hold: -EINVAL.
 *   generations_read_back  names published, one again in place, the
 *       newest removed, the last record a name without its generation:
 *       the pool's last generation right after its record, each name's
 *       right after its name record, as fed, and none for the last.
 *   bad_generations_refused  a last generation of 0 or below the one
 *       before, a name's of 0 or past the pool's next, of a block without
 *       a name or of no live pool, a length wrong for its type: -EINVAL,
 *       and the generations before them read back unchanged.
 *   misplaced_generations_refused  where journal.c never writes them: a
 *       pool's last generation after a block of it, twice, for a pool
 *       made before the last one, after a change; a name's generation
 *       that the pool gave already (not its next) after a change, after
 *       a publish gave the next, apart from its name record: -EINVAL,
 *       and the generations before them read back unchanged.
 *   bare_names_refused     as recover.c refuses them, in a journal with
 *       generations (a count, a name's, or only a limit, a record after
 *       them): a name record followed by a change, another name, another
 *       block's generation, or one before the first generation record:
 *       -EINVAL at the record that makes the journal one, nothing
 *       changed (the name's generation is still taken); the same name as
 *       the last record is taken, and a journal with no generations
 *       takes names followed by anything.
 *   limits_read_back       a limit raised, one removed, one of a pool then
 *       destroyed: each live pool's last limit right after its record
 *       (and its count of generations), none for a limit of 0 or a pool
 *       gone; a limit of no live pool or a record of the wrong length:
 *       -EINVAL.
 *   user_quotas_read_back  a bounds record's user quota (its fourth word)
 *       read back with the limit in a record of four words, cleared by a
 *       later one of three; a pool with only a user quota gets its
 *       record; five words: -EINVAL.
 *   acls_read_back         access control lists given out of order, one
 *       changed after a settings change, one emptied by a record of no
 *       entry, one of a pool then destroyed: each live pool's last list,
 *       sorted, right after its record, its count of generations and its
 *       bounds; none for an emptied list or a pool gone.
 *   bad_acls_refused       a word no entry makes, an entry twice, 33
 *       entries, a list of no live pool, a record without its pool:
 *       -EINVAL, and the list before them read back unchanged; a name left
 *       bare in a journal whose only record after generations is a list:
 *       -EINVAL.
 *   uid_quotas_read_back   user quotas of uids given out of order, one
 *       pool's emptied, one's changed after a settings change, 32 entries
 *       of the largest bytes: each live pool's last, sorted by uid, right
 *       after its record, bounds and list; none for an emptied one.
 *   bad_uid_quotas_refused  an odd count of words, a uid past 32 bits or
 *       nobody's, a uid twice, 33 entries, a pool not live, a record
 *       without its pool: -EINVAL, the entries before read back
 *       unchanged; a name left bare before such a record: -EINVAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "journal_compact.h"
#include "journal_rec.h"
#include "pool_acl.h"

#define POOL_N	(10 + JREC_NAME_MAX)

static int
pool(struct jcompact *c, uint64_t keep, uint64_t mode)
{
	uint64_t w[POOL_N] = {JREC_POOL, keep, 1 << 20, 16, 4096, 1000,
			      1000, mode, 0, 0};

	memcpy(&w[10], "a", 1);
	return jcompact_feed(c, w, POOL_N);
}

static int
rec(struct jcompact *c, enum jrec_type type, uint64_t keep, uint64_t off,
    uint64_t size)
{
	uint64_t w[7] = {type, keep, off, size, size - 3, 0, 1000};
	static const unsigned n[] = {
		[JREC_PERSIST] = 7, [JREC_RESIZE] = 5, [JREC_UNPERSIST] = 3,
		[JREC_GONE] = 2,
	};

	return jcompact_feed(c, w, n[type]);
}

static void
live_set_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS], set[7] = {JREC_SET, 1, 7, 8, 0640, 99, 5};
	unsigned n, blocks = 0;
	int type;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 128, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 2, 0, 64), 0);
	assert_int_equal(rec(c, JREC_RESIZE, 1, 0, 4096), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 64, 0), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 128, 0), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 128, 32), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(rec(c, JREC_GONE, 2, 0, 0), 0);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(n, POOL_N);
	assert_int_equal(w[1], 1);
	assert_int_equal(w[2], 1 << 20);
	assert_int_equal(w[5], 7);
	assert_int_equal(w[6], 8);
	assert_int_equal(w[7], 0640);
	assert_int_equal(w[8], 99);
	assert_int_equal(w[9], 5);
	assert_string_equal((const char *)&w[10], "a");
	while ((type = jcompact_next(c, w, &n)) != 0) {
		assert_int_equal(type, JREC_PERSIST);
		assert_int_equal(n, 7);
		assert_int_equal(w[1], 1);
		if (w[2] == 0)
			assert_int_equal(w[3], 4096);
		else if (w[2] == 128)
			assert_int_equal(w[3], 32);
		else
			fail_msg("block %#llx is not live",
				 (unsigned long long)w[2]);
		assert_int_equal(w[4], w[3] - 3);
		assert_int_equal(w[6], 1000);
		blocks++;
	}
	assert_int_equal(blocks, 2);
	jcompact_free(c);
}

static void
bad_records_refused(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t odd[3] = {7, 1, 0};

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 1, 0600), -EINVAL);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), -EINVAL);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 64, 0), -EINVAL);
	assert_int_equal(rec(c, JREC_RESIZE, 1, 64, 128), -EINVAL);
	assert_int_equal(rec(c, JREC_PERSIST, 3, 0, 64), -EINVAL);
	assert_int_equal(rec(c, JREC_GONE, 3, 0, 0), -EINVAL);
	assert_int_equal(jcompact_feed(c, odd, 3), -EINVAL);
	odd[0] = JREC_UNPERSIST;
	assert_int_equal(jcompact_feed(c, odd, 2), -EINVAL);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 0, 0), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 0, 0), -EINVAL);
	assert_int_equal(rec(c, JREC_GONE, 1, 0, 0), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), -EINVAL);
	jcompact_free(c);
}

static void
full_table_refused(void **state)
{
	/* Room for 2 persist records of 64 bytes, and 1 more. */
	struct jcompact *c = jcompact_new(128);
	uint64_t off;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	for (off = 0; off < 3 * 64; off += 64)
		assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), -EINVAL);
	jcompact_free(c);
}

static int
name(struct jcompact *c, uint64_t keep, uint64_t off, const char *s,
     uint64_t publisher)
{
	uint64_t w[JREC_MAX_WORDS] = {JREC_NAME, keep, off, publisher,
				      strlen(s)};

	memcpy(&w[5], s, strlen(s));
	return jcompact_feed(c, w, 5 + (unsigned)(strlen(s) + 7) / 8);
}

static int
unname(struct jcompact *c, uint64_t keep, uint64_t off)
{
	uint64_t w[3] = {JREC_UNNAME, keep, off};

	return jcompact_feed(c, w, 3);
}

/* The snapshot's blocks: each persist's offset, and its name if next. */
static unsigned
read_blocks(struct jcompact *c, uint64_t *offs, char names[][256],
	    uint64_t *publishers)
{
	uint64_t w[JREC_MAX_WORDS];
	unsigned n, k = 0;
	int type;

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	while ((type = jcompact_next(c, w, &n)) != 0) {
		if (type == JREC_PERSIST) {
			assert_int_equal(n, 7);
			offs[k] = w[2];
			names[k][0] = '\0';
			publishers[k++] = 0;
			continue;
		}
		assert_int_equal(type, JREC_NAME);
		/* Its block's own, right after it, and only once. */
		assert_true(k > 0);
		assert_int_equal(w[2], offs[k - 1]);
		assert_int_equal(names[k - 1][0], '\0');
		assert_true(w[4] >= 1 && w[4] <= 255);
		assert_int_equal(n, 5 + (w[4] + 7) / 8);
		memcpy(names[k - 1], &w[5], w[4]);
		names[k - 1][w[4]] = '\0';
		publishers[k - 1] = w[3];
	}
	return k;
}

static void
names_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t offs[8], publishers[8];
	char names[8][256], longest[256];
	unsigned k, i;

	(void)state;
	assert_non_null(c);
	memset(longest, 'l', 255);
	longest[255] = '\0';
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(rec(c, JREC_PERSIST, 1, 64 * i, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 2, 0, 64), 0);
	assert_int_equal(name(c, 1, 0, longest, 1000), 0);
	assert_int_equal(name(c, 1, 64, "y", 1001), 0);
	/* A replace: the name off its old block, onto the new one. */
	assert_int_equal(unname(c, 1, 64), 0);
	assert_int_equal(name(c, 1, 128, "y", 1002), 0);
	/* An unpublish: the block loses its name, then its persistence. */
	assert_int_equal(name(c, 1, 192, "z", 1000), 0);
	assert_int_equal(unname(c, 1, 192), 0);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 192, 0), 0);
	assert_int_equal(name(c, 2, 0, "w", 1000), 0);
	assert_int_equal(rec(c, JREC_GONE, 2, 0, 0), 0);

	k = read_blocks(c, offs, names, publishers);
	assert_int_equal(k, 3);
	for (i = 0; i < k; i++)
		switch (offs[i]) {
		case 0:
			assert_string_equal(names[i], longest);
			assert_int_equal(publishers[i], 1000);
			break;
		case 64:
			assert_string_equal(names[i], "");
			break;
		case 128:
			assert_string_equal(names[i], "y");
			assert_int_equal(publishers[i], 1002);
			break;
		default:
			fail_msg("block %#llx is not live",
				 (unsigned long long)offs[i]);
		}
	jcompact_free(c);
}

/*
 * A name published evictable keeps its record's type through the
 * compaction, and one replaced by a kept one loses it; an unname of an
 * evictable name is the same unname.
 */
static void
evictable_names_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS] = {JREC_NAME_EVICTABLE, 1, 0, 1000, 1, 'e'};
	unsigned n, i, named = 0;
	int type, want[4] = {0};

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(rec(c, JREC_PERSIST, 1, 64 * i, 64), 0);
	assert_int_equal(jcompact_feed(c, w, 6), 0);		/* 0: e */
	w[2] = 64;
	assert_int_equal(jcompact_feed(c, w, 6), 0);		/* 64: e */
	assert_int_equal(unname(c, 1, 64), 0);
	assert_int_equal(name(c, 1, 64, "k", 1000), 0);		/* kept */
	w[2] = 128;
	assert_int_equal(jcompact_feed(c, w, 6), 0);
	assert_int_equal(unname(c, 1, 128), 0);			/* gone */
	w[2] = 192;
	assert_int_equal(jcompact_feed(c, w, 6), 0);
	/* A second name of a block, evictable or not: refused. */
	assert_int_equal(jcompact_feed(c, w, 6), -EINVAL);
	want[0] = want[3] = JREC_NAME_EVICTABLE;
	want[1] = JREC_NAME;

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	while ((type = jcompact_next(c, w, &n)) != 0) {
		if (type == JREC_PERSIST)
			continue;
		assert_int_equal(type, want[w[2] / 64]);
		assert_int_equal(n, 6);
		named++;
	}
	assert_int_equal(named, 3);
	jcompact_free(c);
}

static void
bad_names_refused(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS] = {JREC_NAME, 1, 0, 1000, 9, 0, 0};
	uint64_t offs[8], publishers[8];
	char names[8][256], longest[257];

	(void)state;
	assert_non_null(c);
	memset(longest, 'l', 256);
	longest[256] = '\0';
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(name(c, 1, 128, "x", 1000), -EINVAL);
	assert_int_equal(name(c, 3, 0, "x", 1000), -EINVAL);
	assert_int_equal(unname(c, 1, 0), -EINVAL);
	assert_int_equal(name(c, 1, 0, "x", 1000), 0);
	assert_int_equal(name(c, 1, 0, "y", 1000), -EINVAL);
	assert_int_equal(rec(c, JREC_UNPERSIST, 1, 0, 0), -EINVAL);
	assert_int_equal(name(c, 1, 64, "", 1000), -EINVAL);
	assert_int_equal(name(c, 1, 64, longest, 1000), -EINVAL);
	assert_int_equal(name(c, 1, 64, "y", (uint32_t)-1), -EINVAL);
	/* Persists recover.c refuses: no persister, a span flag over 1. */
	w[0] = JREC_PERSIST;
	w[1] = 1, w[2] = 192, w[3] = 64, w[4] = 61, w[5] = 0;
	w[6] = (uint32_t)-1;
	assert_int_equal(jcompact_feed(c, w, 7), -EINVAL);
	w[5] = 2, w[6] = 1000;
	assert_int_equal(jcompact_feed(c, w, 7), -EINVAL);
	w[0] = JREC_NAME, w[1] = 1, w[3] = 1000, w[4] = 9, w[5] = w[6] = 0;
	/* 9 bytes are 2 words of name, not 1 nor 3. */
	w[2] = 64;
	assert_int_equal(jcompact_feed(c, w, 6), -EINVAL);
	assert_int_equal(jcompact_feed(c, w, 8), -EINVAL);
	w[0] = JREC_UNNAME;
	w[2] = 0;
	assert_int_equal(jcompact_feed(c, w, 4), -EINVAL);

	assert_int_equal(read_blocks(c, offs, names, publishers), 2);
	assert_string_equal(names[offs[0] == 0 ? 0 : 1], "x");
	assert_string_equal(names[offs[0] == 0 ? 1 : 0], "");
	jcompact_free(c);
}

static void
full_names_refused(void **state)
{
	/* Room for 3 blocks, and 128 / 56 + 1 = 3 name records. */
	struct jcompact *c = jcompact_new(128);
	uint64_t off;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	for (off = 0; off < 3 * 64; off += 64)
		assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), 0);
	assert_int_equal(name(c, 1, 0, "a", 1000), 0);
	assert_int_equal(unname(c, 1, 0), 0);
	assert_int_equal(name(c, 1, 0, "a", 1000), 0);
	assert_int_equal(name(c, 1, 64, "b", 1000), 0);
	assert_int_equal(name(c, 1, 128, "c", 1000), -EINVAL);
	jcompact_free(c);
}

static int
gens(struct jcompact *c, uint64_t keep, uint64_t last)
{
	uint64_t w[3] = {JREC_GENERATIONS, keep, last};

	return jcompact_feed(c, w, 3);
}

static int
gen(struct jcompact *c, uint64_t keep, uint64_t off, uint64_t g)
{
	uint64_t w[4] = {JREC_GENERATION, keep, off, g};

	return jcompact_feed(c, w, 4);
}

/*
 * The snapshot of pool 1: its last generation (0: no record), and each
 * named block's generation by offset / 64 (0: no record), checking that
 * each comes right after what it follows.
 */
static uint64_t
read_generations(struct jcompact *c, uint64_t *g, size_t ng)
{
	uint64_t w[JREC_MAX_WORDS], last = 0, off = UINT64_MAX;
	unsigned n;
	int type, prev;

	memset(g, 0, ng * sizeof(*g));
	assert_int_equal(prev = jcompact_next(c, w, &n), JREC_POOL);
	while ((type = jcompact_next(c, w, &n)) != 0) {
		if (type == JREC_GENERATIONS) {
			assert_int_equal(prev, JREC_POOL);
			assert_int_equal(n, 3);
			last = w[2];
		} else if (type == JREC_GENERATION) {
			assert_int_equal(prev, JREC_NAME);
			assert_int_equal(n, 4);
			assert_int_equal(w[2], off);
			assert_true(w[2] / 64 < ng);
			g[w[2] / 64] = w[3];
		} else if (type == JREC_NAME) {
			off = w[2];
		}
		prev = type;
	}
	return last;
}

/*
 * Pool 1 as a snapshot with generations has it: the last it gave, 4
 * blocks, the first named "a" with generation a_gen.
 */
static struct jcompact *
snapshot_with_generations(uint64_t last, uint64_t a_gen)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t off;

	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(gens(c, 1, last), 0);
	for (off = 0; off < 4 * 64; off += 64)
		assert_int_equal(rec(c, JREC_PERSIST, 1, off, 64), 0);
	assert_int_equal(name(c, 1, 0, "a", 1000), 0);
	assert_int_equal(gen(c, 1, 0, a_gen), 0);
	return c;
}

static void
generations_read_back(void **state)
{
	struct jcompact *c = snapshot_with_generations(4, 2);	/* below */
	uint64_t g[4];

	(void)state;
	assert_int_equal(name(c, 1, 64, "b", 1000), 0);
	assert_int_equal(gen(c, 1, 64, 5), 0);	/* a publish: the next */
	assert_int_equal(gen(c, 1, 0, 6), 0);	/* a in place */
	assert_int_equal(name(c, 1, 192, "d", 1000), 0);
	assert_int_equal(gen(c, 1, 192, 7), 0);
	assert_int_equal(unname(c, 1, 192), 0);
	/* c has none (a crash between the records): none read back. */
	assert_int_equal(name(c, 1, 128, "c", 1000), 0);
	assert_int_equal(read_generations(c, g, 4), 7);
	assert_int_equal(g[0], 6);
	assert_int_equal(g[1], 5);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 0);
	jcompact_free(c);
}

static void
bad_generations_refused(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[5] = {JREC_GENERATION, 1, 0, 4, 0}, g[2];

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(gens(c, 1, 0), -EINVAL);
	assert_int_equal(gens(c, 1, 3), 0);
	assert_int_equal(gens(c, 1, 2), -EINVAL);
	assert_int_equal(gens(c, 2, 3), -EINVAL);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(gen(c, 1, 0, 1), -EINVAL);	/* no name */
	assert_int_equal(gen(c, 1, 128, 1), -EINVAL);	/* no block */
	assert_int_equal(name(c, 1, 0, "a", 1000), 0);
	assert_int_equal(gen(c, 1, 0, 0), -EINVAL);
	assert_int_equal(gen(c, 1, 0, 5), -EINVAL);	/* past the next */
	assert_int_equal(gen(c, 2, 0, 1), -EINVAL);
	assert_int_equal(jcompact_feed(c, w, 3), -EINVAL);
	assert_int_equal(jcompact_feed(c, w, 5), -EINVAL);
	assert_int_equal(gen(c, 1, 0, 4), 0);
	assert_int_equal(read_generations(c, g, 2), 4);
	assert_int_equal(g[0], 4);
	assert_int_equal(g[1], 0);
	jcompact_free(c);
}

static void
misplaced_generations_refused(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t set[7] = {JREC_SET, 1, 7, 8, 0640, 99, 5}, g[4];

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(gens(c, 1, 5), 0);
	assert_int_equal(gens(c, 1, 6), -EINVAL);	/* twice */
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 128, 64), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(gens(c, 1, 6), -EINVAL);	/* not the last made */
	assert_int_equal(rec(c, JREC_PERSIST, 2, 0, 64), 0);
	assert_int_equal(gens(c, 2, 3), -EINVAL);	/* after a block */
	assert_int_equal(name(c, 1, 0, "a", 1000), 0);
	assert_int_equal(gen(c, 1, 0, 2), 0);		/* a snapshot's */
	assert_int_equal(name(c, 1, 64, "b", 1000), 0);
	assert_int_equal(gen(c, 1, 64, 3), 0);		/* a snapshot's */
	assert_int_equal(rec(c, JREC_PERSIST, 1, 192, 64), 0);
	assert_int_equal(gen(c, 1, 64, 3), -EINVAL);	/* apart from it */
	assert_int_equal(gen(c, 1, 0, 4), -EINVAL);	/* in place: next */
	assert_int_equal(gen(c, 1, 64, 6), 0);		/* the next */
	assert_int_equal(name(c, 1, 128, "c", 1000), 0);
	assert_int_equal(gen(c, 1, 128, 4), -EINVAL);	/* after a publish */
	assert_int_equal(gen(c, 1, 128, 7), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(name(c, 1, 192, "d", 1000), 0);
	assert_int_equal(gen(c, 1, 192, 1), -EINVAL);	/* after a change */
	assert_int_equal(gen(c, 1, 192, 8), 0);		/* the next */
	assert_int_equal(pool(c, 3, 0600), 0);
	assert_int_equal(gens(c, 3, 2), -EINVAL);	/* after a change */
	assert_int_equal(read_generations(c, g, 4), 8);
	assert_int_equal(g[0], 2);
	assert_int_equal(g[1], 6);
	assert_int_equal(g[2], 7);
	assert_int_equal(g[3], 8);
	jcompact_free(c);
}

static int
limit(struct jcompact *c, uint64_t keep, uint64_t bytes, unsigned n)
{
	uint64_t w[3] = {JREC_BOUNDS, keep, bytes};

	return jcompact_feed(c, w, n);
}

/* A pool 1 without generations so far: x named, then y, x left bare. */
static struct jcompact *
name_left_bare_first(void)
{
	struct jcompact *c = jcompact_new(1 << 20);

	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), 0);
	assert_int_equal(name(c, 1, 0, "x", 1000), 0);
	assert_int_equal(name(c, 1, 64, "y", 1000), 0);
	return c;
}

static void
bare_names_refused(void **state)
{
	uint64_t set[7] = {JREC_SET, 1, 7, 8, 0640, 99, 5}, g[4];
	struct jcompact *c;

	(void)state;
	/* Then a change, another name, another block's generation. */
	c = snapshot_with_generations(9, 9);
	assert_int_equal(name(c, 1, 64, "b", 1000), 0);
	assert_int_equal(jcompact_feed(c, set, 7), -EINVAL);
	assert_int_equal(name(c, 1, 128, "c", 1000), -EINVAL);
	assert_int_equal(gen(c, 1, 0, 10), -EINVAL);
	/* Refused, they changed nothing: b's own generation follows. */
	assert_int_equal(gen(c, 1, 64, 10), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(read_generations(c, g, 4), 10);
	assert_int_equal(g[0], 9);
	assert_int_equal(g[1], 10);
	jcompact_free(c);

	/* Before the journal's first generation record: refused there. */
	c = name_left_bare_first();
	assert_int_equal(gen(c, 1, 64, 1), -EINVAL);
	jcompact_free(c);

	/* No generation at all, but a limit, which came after them. */
	c = jcompact_new(1 << 20);
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(limit(c, 1, 1 << 19, 3), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(name(c, 1, 0, "x", 1000), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 64, 64), -EINVAL);
	jcompact_free(c);

	/* The last record: a crash between the two; taken, with none. */
	c = snapshot_with_generations(9, 9);
	assert_int_equal(name(c, 1, 64, "b", 1000), 0);
	assert_int_equal(gen(c, 1, 64, 10), 0);
	assert_int_equal(name(c, 1, 128, "c", 1000), 0);
	assert_int_equal(read_generations(c, g, 4), 10);
	assert_int_equal(g[1], 10);
	assert_int_equal(g[2], 0);
	jcompact_free(c);

	/* An image before generations: every name is bare, and taken. */
	c = name_left_bare_first();
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	jcompact_free(c);
}

static void
limits_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS];
	unsigned n;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(pool(c, 3, 0600), 0);
	assert_int_equal(gens(c, 3, 4), 0);
	assert_int_equal(limit(c, 1, 4096, 3), 0);
	assert_int_equal(limit(c, 2, 4096, 3), 0);
	assert_int_equal(limit(c, 3, 4096, 3), 0);
	assert_int_equal(limit(c, 1, 8192, 3), 0);
	assert_int_equal(limit(c, 2, 0, 3), 0);
	assert_int_equal(limit(c, 3, 4096, 2), -EINVAL);
	assert_int_equal(rec(c, JREC_GONE, 2, 0, 0), 0);
	assert_int_equal(limit(c, 2, 4096, 3), -EINVAL);
	assert_int_equal(limit(c, 4, 4096, 3), -EINVAL);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 1);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	assert_int_equal(n, 3);
	assert_int_equal(w[1], 1);
	assert_int_equal(w[2], 8192);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 3);
	assert_int_equal(jcompact_next(c, w, &n), JREC_GENERATIONS);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	assert_int_equal(w[1], 3);
	assert_int_equal(w[2], 4096);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);
}

/*
 * A bounds record's user quota (its fourth word) is kept with the limit
 * and given back in a record of four words; a later one of three clears
 * it; a pool with only a user quota still gets its record.
 */
static void
user_quotas_read_back(void **state)
{
	struct jcompact *c = jcompact_new(1 << 20);
	uint64_t w[JREC_MAX_WORDS], b[4] = {JREC_BOUNDS, 1, 0, 4096};
	unsigned n;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(jcompact_feed(c, b, 4), 0);
	b[1] = 2;
	b[2] = 8192;
	assert_int_equal(jcompact_feed(c, b, 4), 0);
	assert_int_equal(limit(c, 2, 8192, 3), 0);
	b[1] = 1;
	assert_int_equal(jcompact_feed(c, b, 5), -EINVAL);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 1);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	assert_int_equal(n, 4);
	assert_int_equal(w[1], 1);
	assert_int_equal(w[2], 0);
	assert_int_equal(w[3], 4096);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 2);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	assert_int_equal(n, 3);
	assert_int_equal(w[2], 8192);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);
}

/* An entry's word, spelt out as the journal keeps it (pool_acl.h). */
#define ACL_U(id, r)	((uint64_t)ACL_USER << 40 | (uint64_t)(r) << 32 | (id))
#define ACL_G(id, r)	((uint64_t)ACL_GROUP << 40 | (uint64_t)(r) << 32 | (id))

/* Pool keep's list: n words as given. */
static int
acl(struct jcompact *c, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t w[JREC_MAX_WORDS + 8] = {JREC_ACL, keep};

	assert_true(n + 2 <= JREC_MAX_WORDS + 8);
	if (n)
		memcpy(&w[2], words, n * sizeof(*words));
	return jcompact_feed(c, w, 2 + n);
}

/* The next record is pool keep's list, exactly the n words want. */
static void
expect_acl(struct jcompact *c, uint64_t keep, const uint64_t *want,
	   unsigned n)
{
	uint64_t w[JREC_MAX_WORDS];
	unsigned k, i;

	assert_int_equal(jcompact_next(c, w, &k), JREC_ACL);
	assert_int_equal(w[1], keep);
	assert_int_equal(k, 2 + n);
	for (i = 0; i < n; i++)
		if (w[2 + i] != want[i])
			fail_msg("keep.%llu: entry %u is %#llx, not %#llx",
				 (unsigned long long)keep, i,
				 (unsigned long long)w[2 + i],
				 (unsigned long long)want[i]);
}

static void
acls_read_back(void **state)
{
	const uint64_t given[] = {ACL_G(20, 4), ACL_U(1000, 6), ACL_U(7, 0)};
	const uint64_t sorted[] = {ACL_U(7, 0), ACL_U(1000, 6), ACL_G(20, 4)};
	const uint64_t one[] = {ACL_U(5, 4)};
	const uint64_t then[] = {ACL_U(5, 6), ACL_G(30, 2)};
	uint64_t w[JREC_MAX_WORDS], set[7] = {JREC_SET, 4, 7, 8, 0640, 0, 0};
	struct jcompact *c = jcompact_new(1 << 20);
	unsigned n;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(acl(c, 1, given, 3), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(acl(c, 2, one, 1), 0);
	assert_int_equal(pool(c, 3, 0600), 0);
	assert_int_equal(acl(c, 3, one, 1), 0);
	assert_int_equal(pool(c, 4, 0600), 0);
	assert_int_equal(gens(c, 4, 9), 0);
	assert_int_equal(limit(c, 4, 4096, 3), 0);
	assert_int_equal(acl(c, 4, one, 1), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 4, 0, 64), 0);
	/* The changes: 2 emptied, 3 gone, 4 changed after its settings. */
	assert_int_equal(acl(c, 2, NULL, 0), 0);
	assert_int_equal(rec(c, JREC_GONE, 3, 0, 0), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(acl(c, 4, then, 2), 0);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 1);
	expect_acl(c, 1, sorted, 3);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 2);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 4);
	assert_int_equal(w[7], 0640);
	assert_int_equal(jcompact_next(c, w, &n), JREC_GENERATIONS);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	expect_acl(c, 4, then, 2);
	assert_int_equal(jcompact_next(c, w, &n), JREC_PERSIST);
	assert_int_equal(w[1], 4);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);
}

static void
bad_acls_refused(void **state)
{
	const uint64_t one[] = {ACL_U(5, 4)};
	const uint64_t kind3[] = {ACL_U(6, 4), 3ull << 40 | 5};
	const uint64_t high[] = {1ull << 48 | ACL_U(6, 4)};
	const uint64_t nobody[] = {ACL_U(UINT32_MAX, 4)};
	const uint64_t exec[] = {ACL_G(6, 1)};
	const uint64_t twice[] = {ACL_G(6, 4), ACL_G(6, 0)};
	uint64_t many[JREC_ACL_MAX + 1], w[JREC_MAX_WORDS];
	struct jcompact *c = jcompact_new(1 << 20);
	unsigned n, i;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(acl(c, 1, one, 1), 0);
	assert_int_equal(acl(c, 1, kind3, 2), -EINVAL);
	assert_int_equal(acl(c, 1, high, 1), -EINVAL);
	assert_int_equal(acl(c, 1, nobody, 1), -EINVAL);
	assert_int_equal(acl(c, 1, exec, 1), -EINVAL);
	assert_int_equal(acl(c, 1, twice, 2), -EINVAL);
	for (i = 0; i <= JREC_ACL_MAX; i++)
		many[i] = ACL_G(i, 4);
	assert_int_equal(acl(c, 1, many, JREC_ACL_MAX + 1), -EINVAL);
	assert_int_equal(acl(c, 2, one, 1), -EINVAL);
	w[0] = JREC_ACL;
	assert_int_equal(jcompact_feed(c, w, 1), -EINVAL);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	expect_acl(c, 1, one, 1);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);

	/* A list is a record of a writer with generations: no bare name. */
	c = jcompact_new(1 << 20);
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(name(c, 1, 0, "x", 1000), 0);
	assert_int_equal(acl(c, 1, one, 1), -EINVAL);
	jcompact_free(c);
}

/* Pool keep's user quotas of uids: n words (two an entry) as given. */
static int
uqs(struct jcompact *c, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t w[JREC_MAX_WORDS + 8] = {JREC_USER_QUOTAS, keep};

	assert_true(n + 2 <= JREC_MAX_WORDS + 8);
	if (n)
		memcpy(&w[2], words, n * sizeof(*words));
	return jcompact_feed(c, w, 2 + n);
}

/* The next record is pool keep's user quotas, exactly the n words want. */
static void
expect_uqs(struct jcompact *c, uint64_t keep, const uint64_t *want,
	   unsigned n)
{
	uint64_t w[JREC_MAX_WORDS];
	unsigned k, i;

	assert_int_equal(jcompact_next(c, w, &k), JREC_USER_QUOTAS);
	assert_int_equal(w[1], keep);
	assert_int_equal(k, 2 + n);
	for (i = 0; i < n; i++)
		if (w[2 + i] != want[i])
			fail_msg("keep.%llu: word %u is %#llx, not %#llx",
				 (unsigned long long)keep, i,
				 (unsigned long long)w[2 + i],
				 (unsigned long long)want[i]);
}

/*
 * Pools' user quotas of uids: sorted by uid after the pool's record and
 * its list; one emptied has none; one changed after a settings change
 * has the last; 32 entries fit a record.
 */
static void
uid_quotas_read_back(void **state)
{
	const uint64_t given[] = {1001, 1 << 20, 7, 0, 500, 4096};
	const uint64_t sorted[] = {7, 0, 500, 4096, 1001, 1 << 20};
	const uint64_t one[] = {5, 65536};
	const uint64_t then[] = {5, 0, 9, 8192};
	const uint64_t list[] = {ACL_U(5, 4)};
	uint64_t w[JREC_MAX_WORDS], set[7] = {JREC_SET, 3, 7, 8, 0640, 0, 0};
	uint64_t many[2 * JREC_UQ_MAX];
	struct jcompact *c = jcompact_new(1 << 20);
	unsigned n, i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < JREC_UQ_MAX; i++) {
		many[2 * i] = 2000 + i;
		many[2 * i + 1] = UINT64_MAX - i;
	}
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(uqs(c, 1, given, 6), 0);
	assert_int_equal(pool(c, 2, 0600), 0);
	assert_int_equal(uqs(c, 2, one, 2), 0);
	assert_int_equal(pool(c, 3, 0600), 0);
	assert_int_equal(limit(c, 3, 4096, 3), 0);
	assert_int_equal(acl(c, 3, list, 1), 0);
	assert_int_equal(uqs(c, 3, one, 2), 0);
	assert_int_equal(pool(c, 4, 0600), 0);
	assert_int_equal(uqs(c, 4, many, 2 * JREC_UQ_MAX), 0);
	/* The changes: 2 emptied, 3 changed after its settings. */
	assert_int_equal(uqs(c, 2, NULL, 0), 0);
	assert_int_equal(jcompact_feed(c, set, 7), 0);
	assert_int_equal(uqs(c, 3, then, 4), 0);

	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 1);
	expect_uqs(c, 1, sorted, 6);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 2);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 3);
	assert_int_equal(jcompact_next(c, w, &n), JREC_BOUNDS);
	expect_acl(c, 3, list, 1);
	expect_uqs(c, 3, then, 4);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	assert_int_equal(w[1], 4);
	expect_uqs(c, 4, many, 2 * JREC_UQ_MAX);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);
}

/*
 * What recover.c refuses, the compaction refuses: an odd word, a uid past
 * 32 bits or nobody's, a uid twice, 33 entries, a pool not live; and a
 * record of them leaves no name bare.
 */
static void
bad_uid_quotas_refused(void **state)
{
	const uint64_t one[] = {5, 65536};
	const uint64_t odd[] = {5, 65536, 6};
	const uint64_t wide[] = {1ull << 32 | 5, 1};
	const uint64_t nobody[] = {UINT32_MAX, 1};
	const uint64_t twice[] = {6, 1, 6, 2};
	uint64_t many[2 * (JREC_UQ_MAX + 1)], w[JREC_MAX_WORDS + 8];
	struct jcompact *c = jcompact_new(1 << 20);
	unsigned n, i;

	(void)state;
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(uqs(c, 1, one, 2), 0);
	assert_int_equal(uqs(c, 1, odd, 3), -EINVAL);
	assert_int_equal(uqs(c, 1, wide, 2), -EINVAL);
	assert_int_equal(uqs(c, 1, nobody, 2), -EINVAL);
	assert_int_equal(uqs(c, 1, twice, 4), -EINVAL);
	for (i = 0; i <= JREC_UQ_MAX; i++) {
		many[2 * i] = i;
		many[2 * i + 1] = 4096;
	}
	assert_int_equal(uqs(c, 1, many, 2 * (JREC_UQ_MAX + 1)), -EINVAL);
	assert_int_equal(uqs(c, 2, one, 2), -EINVAL);
	w[0] = JREC_USER_QUOTAS;
	assert_int_equal(jcompact_feed(c, w, 1), -EINVAL);
	assert_int_equal(jcompact_next(c, w, &n), JREC_POOL);
	expect_uqs(c, 1, one, 2);
	assert_int_equal(jcompact_next(c, w, &n), 0);
	jcompact_free(c);

	c = jcompact_new(1 << 20);
	assert_non_null(c);
	assert_int_equal(pool(c, 1, 0600), 0);
	assert_int_equal(rec(c, JREC_PERSIST, 1, 0, 64), 0);
	assert_int_equal(name(c, 1, 0, "x", 1000), 0);
	assert_int_equal(uqs(c, 1, one, 2), -EINVAL);
	jcompact_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(live_set_read_back),
		cmocka_unit_test(bad_records_refused),
		cmocka_unit_test(full_table_refused),
		cmocka_unit_test(names_read_back),
		cmocka_unit_test(evictable_names_read_back),
		cmocka_unit_test(bad_names_refused),
		cmocka_unit_test(full_names_refused),
		cmocka_unit_test(generations_read_back),
		cmocka_unit_test(bad_generations_refused),
		cmocka_unit_test(user_quotas_read_back),
		cmocka_unit_test(misplaced_generations_refused),
		cmocka_unit_test(bare_names_refused),
		cmocka_unit_test(limits_read_back),
		cmocka_unit_test(acls_read_back),
		cmocka_unit_test(bad_acls_refused),
		cmocka_unit_test(uid_quotas_read_back),
		cmocka_unit_test(bad_uid_quotas_refused),
	};

	return cmocka_run_group_tests_name("journal_compact", tests, NULL,
					   NULL);
}

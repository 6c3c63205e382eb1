/*
 * make_journals.c - write seeds of fuzz_recover.c: crash journals with
 * the records of names, of the daemon's socket, of generations, of
 * pools' limits and user quotas, of their access control lists and of
 * their user quotas of uids, as journal.c writes them, and the ways a
 * journal can get these wrong.
 *
 *   tests/fuzz/corpus/fuzz_recover/named-*
 *   tests/fuzz/corpus/fuzz_recover/limit-*
 *   tests/fuzz/corpus/fuzz_recover/acl-*
 *   tests/fuzz/corpus/fuzz_recover/uq-*
 *
 * Each seed is one keep memfd, keep.1 of 1 MiB (fuzz_recover.c's input
 * format: its number and size), and journal.2: pool "a" of 1 MiB on it,
 * with spans of 64 KiB persisted at 64, 128 and 192 KiB.  The good ones
 * must be recovered with every name, its flag and generation as the
 * records say (and the pool's count past them all; names with no
 * generation record numbered in the order of their name records); the
 * others are refused whole, by the replay or by the checks of the state
 * it makes (two names of one generation); so is a name record with no
 * generation record after it, but for the last, in a journal with any
 * record of generations or of a type after them.  Byte 0 asks the harness to keep the
 * hashes and the end right, so that mutations reach what records say.
 *
 * Built and run by hand, not by the Makefile:
 *
 *   cc -std=gnu11 -O1 -Wall -Wextra -Idaemon \
 *     -o build/make_journals tests/fuzz/make_journals.c
 *   build/make_journals tests/fuzz/corpus
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_rec.h"
#include "pool_acl.h"

#define KIB		1024u
#define KEEP		1		/* keep.1 */
#define KEEP_1MIB	3		/* fuzz_recover.c's sizes[3] */
#define FIX_ALL		0x07		/* header, records, end */
#define WITH_LISTEN	0x08
#define MAX_WORDS	512

struct journal {
	uint64_t w[MAX_WORDS];
	size_t n;			/* words, header and all */
	unsigned flags;			/* byte 0's low bits */
};

static const char *outdir;
static const char *prefix = "named";	/* of the seeds' file names */
static unsigned nfiles;

/* One record of type, payload p of n words, its head and hash added. */
static void
rec(struct journal *j, enum jrec_type type, const uint64_t *p, unsigned n)
{
	uint64_t *w = &j->w[j->n];

	if (j->n + n + 2 > MAX_WORDS) {
		fprintf(stderr, "make_journals: journal too long\n");
		exit(1);
	}
	w[0] = jrec_head(n + 2, type);
	memcpy(&w[1], p, n * sizeof(*p));
	w[n + 1] = jrec_sum(w, n + 1);
	j->n += n + 2;
}

/* Pool "a" of 1 MiB on keep.1: granules of 16 bytes, pages of 4 KiB. */
static void
rec_pool(struct journal *j)
{
	uint64_t p[9 + JREC_NAME_MAX] = {
		KEEP, 1024 * KIB, 16, 4096, 0, 0, 0600, 0, 0,
	};

	memcpy(&p[9], "a", 1);
	rec(j, JREC_POOL, p, 9 + JREC_NAME_MAX);
}

/* A span of 64 KiB at off, persisted by uid 0. */
static void
rec_persist(struct journal *j, uint64_t off)
{
	uint64_t p[6] = {KEEP, off, 64 * KIB, 64 * KIB, 1, 0};

	rec(j, JREC_PERSIST, p, 6);
}

static void
rec_unpersist(struct journal *j, uint64_t off)
{
	uint64_t p[2] = {KEEP, off};

	rec(j, JREC_UNPERSIST, p, 2);
}

/* Name s given to the block at off by uid 1000, kept or evictable. */
static void
rec_name(struct journal *j, uint64_t off, const char *s, bool evictable)
{
	uint64_t p[4 + JREC_BNAME_MAX] = {KEEP, off, 1000, strlen(s)};

	memcpy(&p[4], s, strlen(s));
	rec(j, evictable ? JREC_NAME_EVICTABLE : JREC_NAME, p,
	    4 + (unsigned)(strlen(s) + 7) / 8);
}

static void
rec_unname(struct journal *j, uint64_t off)
{
	uint64_t p[2] = {KEEP, off};

	rec(j, JREC_UNNAME, p, 2);
}

static void
rec_generation(struct journal *j, uint64_t keep, uint64_t off, uint64_t gen)
{
	uint64_t p[3] = {keep, off, gen};

	rec(j, JREC_GENERATION, p, 3);
}

static void
rec_generations(struct journal *j, uint64_t last)
{
	uint64_t p[2] = {KEEP, last};

	rec(j, JREC_GENERATIONS, p, 2);
}

static void
rec_socket(struct journal *j, const char *path, uint64_t mode)
{
	uint64_t p[2 + (JREC_SOCKET_MAX + 7) / 8] = {mode, strlen(path)};

	memcpy(&p[2], path, strlen(path));
	rec(j, JREC_SOCKET, p, 2 + (unsigned)(strlen(path) + 7) / 8);
}

/* A header of journal.2, and pool a with its three spans. */
static void
start(struct journal *j)
{
	memset(j, 0, sizeof(*j));
	j->flags = FIX_ALL;
	j->w[JH_MAGIC] = JREC_MAGIC;
	j->w[JH_ID] = 2;
	j->w[JH_SUM] = jrec_sum(j->w, 2);
	j->n = JREC_HEADER / 8;
	rec_pool(j);
	rec_persist(j, 64 * KIB);
	rec_persist(j, 128 * KIB);
	rec_persist(j, 192 * KIB);
}

/* What a publish leaves: the name, then its generation. */
static void
publish(struct journal *j, uint64_t off, const char *s, bool evictable,
	uint64_t gen)
{
	rec_name(j, off, s, evictable);
	rec_generation(j, KEEP, off, gen);
}

static void
write_journal(const char *name, struct journal *j)
{
	uint8_t head[4] = {1 << 4 | j->flags, 0, KEEP, KEEP_1MIB};
	char path[512];
	FILE *fp;

	j->w[JH_END] = 8 * j->n;
	snprintf(path, sizeof(path), "%s/fuzz_recover/%s-%s", outdir,
		 prefix, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(head, 1, sizeof(head), fp) != sizeof(head) ||
	    fwrite(j->w, 8, j->n, fp) != j->n || fclose(fp) != 0) {
		fprintf(stderr, "make_journals: %s: %s\n", path,
			strerror(errno));
		exit(1);
	}
	nfiles++;
}

/*
 * A snapshot of pool a: its count, 9, its three spans, and a name of
 * generation 3 at the first.
 */
static void
snapshot_start(struct journal *j)
{
	start(j);
	j->n -= 3 * 8;		/* the pool's record alone */
	rec_generations(j, 9);
	rec_persist(j, 64 * KIB);
	rec_persist(j, 128 * KIB);
	rec_persist(j, 192 * KIB);
	publish(j, 64 * KIB, "n1", true, 3);
}

/* Recovered: names published, taken, replaced, published again. */
static void
good_journals(void)
{
	struct journal j;

	/* Published kept, evictable, evictable; the first unpublished. */
	start(&j);
	publish(&j, 64 * KIB, "n1", false, 1);
	publish(&j, 128 * KIB, "n2", true, 2);
	publish(&j, 192 * KIB, "frame/with a longer name", true, 3);
	write_journal("published", &j);
	rec_unname(&j, 64 * KIB);
	rec_unpersist(&j, 64 * KIB);
	write_journal("unpublished", &j);

	/*
	 * A replace: the old block's name taken, the new block's given
	 * (with the next generation), the old block unpersisted.  Then a
	 * publish in place: its generation alone, the next.
	 */
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	publish(&j, 128 * KIB, "n2", true, 2);
	rec_unname(&j, 64 * KIB);
	publish(&j, 192 * KIB, "n1", true, 3);
	rec_unpersist(&j, 64 * KIB);
	write_journal("replace", &j);
	rec_generation(&j, KEEP, 128 * KIB, 4);
	write_journal("replace_in_place", &j);

	/*
	 * A snapshot: the pool's count after its record, then names of
	 * older generations than it (the one of 9 gone since), the socket
	 * last.
	 */
	start(&j);
	j.n -= 3 * 8;		/* the pool's record alone */
	rec_generations(&j, 9);
	rec_persist(&j, 64 * KIB);
	publish(&j, 64 * KIB, "n1", true, 3);
	rec_persist(&j, 128 * KIB);
	publish(&j, 128 * KIB, "n2", false, 1);
	rec_persist(&j, 192 * KIB);
	publish(&j, 192 * KIB, "n3", true, 7);
	rec_socket(&j, "/run/poolmgrd/poolmgrd.sock", 0660);
	write_journal("snapshot", &j);
	/* With systemd's socket passed: the record's is not taken. */
	j.flags |= WITH_LISTEN;
	write_journal("snapshot_listen", &j);
	j.flags &= ~WITH_LISTEN;
	/* A publish after it gives the next, 10. */
	rec_unname(&j, 192 * KIB);
	publish(&j, 192 * KIB, "n4", true, 10);
	write_journal("snapshot_publish", &j);

	/*
	 * Names with no generation record: a crash between a name's two
	 * records, and names of a journal from before generations (given
	 * the next ones in the order of their name records).
	 */
	start(&j);
	publish(&j, 128 * KIB, "n2", true, 1);
	rec_name(&j, 64 * KIB, "n1", true);
	write_journal("generation_torn", &j);
	start(&j);
	rec_name(&j, 192 * KIB, "n3", true);
	rec_name(&j, 64 * KIB, "n1", false);
	rec_name(&j, 128 * KIB, "n2", true);
	write_journal("generations_none", &j);
}

/* Pool a's limit, as journal.c writes it. */
static void
rec_limit(struct journal *j, uint64_t keep, uint64_t limit)
{
	uint64_t p[2] = {keep, limit};

	rec(j, JREC_BOUNDS, p, 2);
}

/* Pool a's limit and user quota in one record, as journal.c writes them. */
static void
rec_bounds(struct journal *j, uint64_t limit, uint64_t user_quota)
{
	uint64_t p[3] = {KEEP, limit, user_quota};

	rec(j, JREC_BOUNDS, p, 3);
}

/*
 * User quotas: with the pool's record (with and without a limit), set
 * after a settings record, removed (a record without the word); and a
 * record one word too long, refused.
 */
static void
user_quota_journals(void)
{
	uint64_t set[6] = {KEEP, 0, 0, 0600, 0, 0};
	uint64_t long_one[4] = {KEEP, 0, 4096, 7};
	struct journal j;

	start(&j);
	j.n -= 3 * 8;		/* the pool's record alone */
	rec_bounds(&j, 0, 256 * KIB);
	rec_persist(&j, 64 * KIB);
	write_journal("user_quota_made", &j);
	rec(&j, JREC_SET, set, 6);
	rec_bounds(&j, 512 * KIB, 128 * KIB);
	write_journal("user_quota_set", &j);
	rec(&j, JREC_SET, set, 6);
	rec_limit(&j, KEEP, 512 * KIB);
	write_journal("user_quota_removed", &j);
	start(&j);
	rec(&j, JREC_BOUNDS, long_one, 4);
	write_journal("user_quota_long", &j);
}

/*
 * Limits: after the pool's record (made with one), after a settings
 * record (set, removed), in a snapshot after the count; and those
 * refused: past the pool's 1 MiB, below its granule of 16 bytes, of a
 * pool gone or never made, a record one word short.
 */
static void
limit_journals(void)
{
	uint64_t gone[1] = {KEEP}, set[6] = {KEEP, 0, 0, 0600, 0, 0};
	uint64_t short_one[1] = {KEEP};
	struct journal j;

	prefix = "limit";
	start(&j);
	j.n -= 3 * 8;		/* the pool's record alone */
	rec_limit(&j, KEEP, 512 * KIB);
	rec_persist(&j, 64 * KIB);
	write_journal("made", &j);
	rec(&j, JREC_SET, set, 6);
	rec_limit(&j, KEEP, 1024 * KIB);
	write_journal("raised", &j);
	rec(&j, JREC_SET, set, 6);
	rec_limit(&j, KEEP, 0);
	write_journal("removed", &j);
	rec(&j, JREC_SET, set, 6);
	rec_limit(&j, KEEP, 16);
	write_journal("granule", &j);
	start(&j);
	j.n -= 3 * 8;
	rec_generations(&j, 4);
	rec_limit(&j, KEEP, 256 * KIB);
	rec_persist(&j, 64 * KIB);
	publish(&j, 64 * KIB, "n1", true, 2);
	write_journal("snapshot", &j);

	start(&j);
	rec_limit(&j, KEEP, 1024 * KIB + 1);
	write_journal("past_size", &j);
	start(&j);
	rec_limit(&j, KEEP, 15);
	write_journal("below_granule", &j);
	start(&j);
	rec(&j, JREC_GONE, gone, 1);
	rec_limit(&j, KEEP, 512 * KIB);
	write_journal("dead_pool", &j);
	start(&j);
	rec_limit(&j, KEEP + 1, 512 * KIB);
	write_journal("no_pool", &j);
	start(&j);
	rec(&j, JREC_BOUNDS, short_one, 1);
	write_journal("short", &j);
	user_quota_journals();
	prefix = "named";
}

/* An entry's word, as acl_word makes it (pool_acl.h). */
static uint64_t
acl_w(unsigned kind, uint64_t id, unsigned rights)
{
	return (uint64_t)kind << 40 | (uint64_t)rights << 32 | id;
}

/* Pool keep's access control list: n words as given. */
static void
rec_acl(struct journal *j, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t p[1 + JREC_MAX_WORDS] = {keep};

	if (n)
		memcpy(&p[1], words, n * sizeof(*words));
	rec(j, JREC_ACL, p, 1 + n);
}

/* Pool a alone, its list of n words after its record, then its spans. */
static void
acl_start(struct journal *j, const uint64_t *words, unsigned n)
{
	start(j);
	j->n -= 3 * 8;		/* the pool's record alone */
	rec_acl(j, KEEP, words, n);
	rec_persist(j, 64 * KIB);
	rec_persist(j, 128 * KIB);
}

/*
 * Pool a's access control list: after its record (given out of order:
 * recovered sorted), changed after a settings change, emptied by a record
 * of no entry, of 32 entries, in a snapshot after the count and limit;
 * and those refused: a word of kind 3, of a bit past the kind, of
 * nobody's id, of the execute bit, an entry twice, 33 entries, of a pool
 * gone or never made, a record without its pool, and a name left bare in
 * a journal whose only record after generations is a list.
 */
static void
acl_journals(void)
{
	const uint64_t made[] = {
		acl_w(ACL_GROUP, 100, ACL_READ),
		acl_w(ACL_USER, 1000, ACL_READ | ACL_WRITE),
		acl_w(ACL_USER, 7, 0),
	};
	const uint64_t changed[] = {acl_w(ACL_USER, 1000, ACL_READ)};
	uint64_t set[6] = {KEEP, 0, 0, 0640, 0, 0}, gone[1] = {KEEP};
	uint64_t many[JREC_ACL_MAX + 1], bad[2];
	struct journal j;
	unsigned i;

	prefix = "acl";
	acl_start(&j, made, 3);
	write_journal("made", &j);
	rec(&j, JREC_SET, set, 6);
	rec_acl(&j, KEEP, changed, 1);
	write_journal("changed", &j);
	rec(&j, JREC_SET, set, 6);
	rec_acl(&j, KEEP, NULL, 0);
	write_journal("emptied", &j);
	for (i = 0; i <= JREC_ACL_MAX; i++)
		many[i] = acl_w(i % 2 ? ACL_GROUP : ACL_USER, 100 + i,
				i % 3 ? ACL_READ : 0);
	acl_start(&j, many, JREC_ACL_MAX);
	write_journal("full", &j);
	start(&j);
	j.n -= 3 * 8;
	rec_generations(&j, 4);
	rec_limit(&j, KEEP, 256 * KIB);
	rec_acl(&j, KEEP, made, 3);
	rec_persist(&j, 64 * KIB);
	publish(&j, 64 * KIB, "n1", true, 2);
	write_journal("snapshot", &j);

	bad[0] = made[0];
	bad[1] = acl_w(3, 5, ACL_READ);
	acl_start(&j, bad, 2);
	write_journal("kind", &j);
	bad[1] = 1ull << 48 | acl_w(ACL_USER, 5, ACL_READ);
	acl_start(&j, bad, 2);
	write_journal("high_bits", &j);
	bad[1] = acl_w(ACL_USER, UINT32_MAX, ACL_READ);
	acl_start(&j, bad, 2);
	write_journal("nobody", &j);
	bad[1] = acl_w(ACL_GROUP, 5, ACL_READ | 1);
	acl_start(&j, bad, 2);
	write_journal("execute", &j);
	bad[1] = acl_w(ACL_GROUP, 100, 0);
	acl_start(&j, bad, 2);
	write_journal("twice", &j);
	acl_start(&j, many, JREC_ACL_MAX + 1);
	write_journal("too_many", &j);
	start(&j);
	rec(&j, JREC_GONE, gone, 1);
	rec_acl(&j, KEEP, made, 3);
	write_journal("dead_pool", &j);
	start(&j);
	rec_acl(&j, KEEP + 1, made, 3);
	write_journal("no_pool", &j);
	start(&j);
	rec(&j, JREC_ACL, gone, 0);
	write_journal("short", &j);
	acl_start(&j, made, 3);
	rec_name(&j, 128 * KIB, "n2", false);
	rec_unpersist(&j, 64 * KIB);
	write_journal("name_bare", &j);
	prefix = "named";
}

/* Pool keep's user quotas of uids: n words (two an entry) as given. */
static void
rec_uq(struct journal *j, uint64_t keep, const uint64_t *words, unsigned n)
{
	uint64_t p[1 + JREC_MAX_WORDS] = {keep};

	if (n)
		memcpy(&p[1], words, n * sizeof(*words));
	rec(j, JREC_USER_QUOTAS, p, 1 + n);
}

/* Pool a alone, its user quotas of uids after its record, its spans. */
static void
uq_start(struct journal *j, const uint64_t *words, unsigned n)
{
	start(j);
	j->n -= 3 * 8;		/* the pool's record alone */
	rec_uq(j, KEEP, words, n);
	rec_persist(j, 64 * KIB);
	rec_persist(j, 128 * KIB);
}

/*
 * Pool a's user quotas of uids: after its record (given out of order:
 * recovered sorted), changed after a settings change, emptied by a record
 * of no entry, of 32 entries, in a snapshot after the count, limit and
 * list; and those refused: an odd word, a uid past 32 bits, nobody's, a
 * uid twice, of a pool gone or never made, a record without its pool.
 */
static void
uq_journals(void)
{
	const uint64_t made[] = {1001, 1024 * KIB, 7, 0, 500, 4096};
	const uint64_t changed[] = {1001, 64 * KIB};
	const uint64_t list[] = {acl_w(ACL_USER, 1000, ACL_READ)};
	uint64_t set[6] = {KEEP, 0, 0, 0640, 0, 0}, gone[1] = {KEEP};
	uint64_t many[2 * JREC_UQ_MAX], bad[4];
	struct journal j;
	unsigned i;

	prefix = "uq";
	uq_start(&j, made, 6);
	write_journal("made", &j);
	rec(&j, JREC_SET, set, 6);
	rec_uq(&j, KEEP, changed, 2);
	write_journal("changed", &j);
	rec(&j, JREC_SET, set, 6);
	rec_uq(&j, KEEP, NULL, 0);
	write_journal("emptied", &j);
	for (i = 0; i < JREC_UQ_MAX; i++) {
		many[2 * i] = 100 + 3 * (JREC_UQ_MAX - i);
		many[2 * i + 1] = i % 3 ? 4096 * i : 0;
	}
	uq_start(&j, many, 2 * JREC_UQ_MAX);
	write_journal("full", &j);
	start(&j);
	j.n -= 3 * 8;
	rec_generations(&j, 4);
	rec_limit(&j, KEEP, 256 * KIB);
	rec_acl(&j, KEEP, list, 1);
	rec_uq(&j, KEEP, made, 6);
	rec_persist(&j, 64 * KIB);
	publish(&j, 64 * KIB, "n1", true, 2);
	write_journal("snapshot", &j);

	bad[0] = made[0];
	bad[1] = made[1];
	bad[2] = 5;
	uq_start(&j, bad, 3);
	write_journal("odd", &j);
	bad[2] = 1ull << 32 | 5;
	bad[3] = 4096;
	uq_start(&j, bad, 4);
	write_journal("wide", &j);
	bad[2] = UINT32_MAX;
	uq_start(&j, bad, 4);
	write_journal("nobody", &j);
	bad[2] = made[0];
	uq_start(&j, bad, 4);
	write_journal("twice", &j);
	start(&j);
	rec(&j, JREC_GONE, gone, 1);
	rec_uq(&j, KEEP, made, 6);
	write_journal("dead_pool", &j);
	start(&j);
	rec_uq(&j, KEEP + 1, made, 6);
	write_journal("no_pool", &j);
	start(&j);
	rec(&j, JREC_USER_QUOTAS, gone, 0);
	write_journal("short", &j);
	prefix = "named";
}

/* Refused whole by the replay. */
static void
bad_journals(void)
{
	uint64_t gone[1] = {KEEP};
	struct journal j;
	size_t at;

	start(&j);
	publish(&j, 64 * KIB, "n1", true, 0);
	write_journal("generation_zero", &j);

	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	publish(&j, 128 * KIB, "n2", true, 3);
	write_journal("generation_past_next", &j);

	/* The count goes down: a second count lower than a name's. */
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	publish(&j, 128 * KIB, "n2", true, 2);
	rec_generations(&j, 1);
	write_journal("generations_down", &j);
	start(&j);
	j.n -= 3 * 8;
	rec_generations(&j, 0);
	write_journal("generations_zero", &j);

	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	rec_generation(&j, KEEP, 128 * KIB, 2);
	write_journal("generation_unnamed", &j);

	/* Of a dead pool, and of one there never was. */
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	rec(&j, JREC_GONE, gone, 1);
	rec_generation(&j, KEEP, 64 * KIB, 1);
	write_journal("generation_dead_pool", &j);
	start(&j);
	rec_generation(&j, KEEP + 1, 64 * KIB, 1);
	write_journal("generation_no_pool", &j);

	/* Names that cannot be: twice, on no persistent block, taken from
	 * none, a block unpersisted with its name. */
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	publish(&j, 64 * KIB, "n2", true, 2);
	write_journal("name_twice", &j);
	start(&j);
	publish(&j, 256 * KIB, "n1", true, 1);
	write_journal("name_unpersisted", &j);
	start(&j);
	rec_unname(&j, 64 * KIB);
	write_journal("unname_none", &j);
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	rec_unpersist(&j, 64 * KIB);
	write_journal("unpersist_named", &j);

	/*
	 * Generations where journal.c never writes them: a count after a
	 * block of its pool, or twice; a name's old one (not the pool's
	 * next) after a change, after a publish gave the next, apart from
	 * its name record; two names of one generation.
	 */
	start(&j);
	rec_generations(&j, 9);
	write_journal("generations_after_block", &j);
	start(&j);
	j.n -= 3 * 8;
	rec_generations(&j, 5);
	rec_generations(&j, 6);
	write_journal("generations_twice", &j);
	snapshot_start(&j);
	rec_unname(&j, 64 * KIB);
	publish(&j, 128 * KIB, "n2", true, 4);
	write_journal("generation_old_after_change", &j);
	snapshot_start(&j);
	publish(&j, 128 * KIB, "n2", true, 10);
	publish(&j, 192 * KIB, "n3", true, 4);
	write_journal("generation_old_after_publish", &j);
	snapshot_start(&j);
	rec_generation(&j, KEEP, 64 * KIB, 5);
	write_journal("generation_old_alone", &j);
	snapshot_start(&j);
	publish(&j, 128 * KIB, "n2", true, 3);
	write_journal("generation_twice", &j);

	/*
	 * A name record with no generation after it, not the last: before
	 * a publish, before the first generation record, in a journal
	 * whose only record after generations is a limit.
	 */
	start(&j);
	publish(&j, 64 * KIB, "n1", true, 1);
	rec_name(&j, 128 * KIB, "n2", true);
	publish(&j, 192 * KIB, "n3", true, 2);
	write_journal("generation_missing", &j);
	start(&j);
	rec_name(&j, 128 * KIB, "n2", true);
	publish(&j, 192 * KIB, "n3", true, 1);
	write_journal("generation_missing_first", &j);
	start(&j);
	rec_limit(&j, KEEP, 512 * KIB);
	rec_name(&j, 128 * KIB, "n2", false);
	rec_unpersist(&j, 64 * KIB);
	write_journal("generation_missing_limit", &j);

	/* A second socket record, and one after a change. */
	snapshot_start(&j);
	rec_socket(&j, "/run/poolmgrd/poolmgrd.sock", 0660);
	rec_socket(&j, "/run/poolmgrd/other.sock", 0660);
	write_journal("socket_twice", &j);
	snapshot_start(&j);
	rec_unname(&j, 64 * KIB);
	rec_socket(&j, "/run/poolmgrd/poolmgrd.sock", 0660);
	write_journal("socket_after_change", &j);

	/* A socket's path with a NUL, and a mode past 0777. */
	start(&j);
	rec_socket(&j, "/run/poolmgrd/p.sock", 01777);
	write_journal("socket_mode", &j);
	start(&j);
	at = j.n;
	rec_socket(&j, "/run/poolmgrd/p.sock", 0600);
	((uint8_t *)&j.w[at + 3])[4] = '\0';
	j.w[j.n - 1] = jrec_sum(&j.w[at], j.n - 1 - at);
	write_journal("socket_nul", &j);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_journals DIR (tests/fuzz/corpus)"
			"\n");
		return 2;
	}
	outdir = argv[1];
	good_journals();
	bad_journals();
	limit_journals();
	acl_journals();
	uq_journals();
	printf("make_journals: %u files\n", nfiles);
	return 0;
}

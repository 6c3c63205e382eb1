/*
 * test_records.c - the daemon's record allocator (daemon/records.c).
 *
 *   random_against_model        records of 64, 48, 20 and 4096 B taken and
 *       given back in random order, in fill and drain phases, against a
 *       model of the live ones: each taken record reads zero over its
 *       size and is stamped; the stamp is intact when it is given back
 *       (no two live records overlap); the stats count the model's
 *       records; records_check passes every CHECK_EVERY steps.  After the
 *       last give at most RECORDS_SPARES chunks stay, none after a trim.
 *   empty_chunks_go_back        ten chunks' worth given back in random
 *       order: nine chunks are unmapped, one kept as a spare and used
 *       again before any new chunk is mapped.
 *   takes_come_from_the_fullest_chunk  with chunks a quarter, half and
 *       nearly full, takes fill the fullest first, then the half one,
 *       and the emptiest last.
 *   no_take_or_give_visits_other_chunks  eight full chunks made
 *       unreadable (PROT_NONE), then many takes and gives in the one
 *       chunk with room: any look at another chunk would fault.
 *   chunks_merge_into_few_mappings  64 chunks' worth add a few lines to
 *       /proc/self/maps, not 64.
 *   check_finds_a_record_given_twice  records_check reports the free
 *       list of a chunk that has a record twice.
 *
 * Replay: POOLMGR_SEED=N; longer or shorter: POOLMGR_OPS=M (per size).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "records.h"

#define DEFAULT_OPS 300000ull
#define CHECK_EVERY 997
#define LIVE_CAP 60000

static uint64_t g_seed, g_ops;

/* xorshift64*: one printed seed replays a run. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static uintptr_t
chunk_addr(const void *rec)
{
	return (uintptr_t)rec & ~(uintptr_t)(RECORDS_CHUNK - 1);
}

static void
check_ok(const struct records *r)
{
	char problem[256] = "";
	int rc = records_check(r, problem, sizeof problem);

	if (rc != 0)
		fail_msg("records_check: %s", problem);
}

static void
stats(const struct records *r, struct records_stats *st)
{
	records_stats(r, st);
}

/* The live records of the model, each with its stamp. */
struct live {
	uint8_t **rec;
	uint32_t *stamp;
	size_t n;
};

static uint8_t
stamp_byte(uint32_t stamp)
{
	return (uint8_t)(stamp % 255 + 1);	/* never 0 */
}

static void
take_one(struct records *r, struct live *l, uint32_t stamp)
{
	uint8_t *rec = records_take(r);

	assert_non_null(rec);
	assert_int_equal((uintptr_t)rec % 8, 0);
	assert_int_not_equal(chunk_addr(rec), (uintptr_t)rec);
	for (size_t i = 0; i < r->size; i++)
		if (rec[i] != 0)
			fail_msg("record %p of %zu B: byte %zu is %#x, not 0",
				 (void *)rec, r->size, i, rec[i]);
	memset(rec, stamp_byte(stamp), r->size);
	l->rec[l->n] = rec;
	l->stamp[l->n] = stamp;
	l->n++;
}

static void
give_one(struct records *r, struct live *l, size_t i)
{
	uint8_t *rec = l->rec[i], b = stamp_byte(l->stamp[i]);

	for (size_t k = 0; k < r->size; k++)
		if (rec[k] != b)
			fail_msg("record %p of %zu B: byte %zu is %#x, not its "
				 "stamp %#x: another record overlaps it",
				 (void *)rec, r->size, k, rec[k], b);
	records_give(r, rec);
	l->n--;
	l->rec[i] = l->rec[l->n];
	l->stamp[i] = l->stamp[l->n];
}

static void
live_init(struct live *l, size_t cap)
{
	l->rec = calloc(cap, sizeof(*l->rec));
	l->stamp = calloc(cap, sizeof(*l->stamp));
	l->n = 0;
	assert_non_null(l->rec);
	assert_non_null(l->stamp);
}

static void
live_free(struct live *l)
{
	free(l->rec);
	free(l->stamp);
}

static void
give_all(struct records *r, struct live *l, uint64_t *rng)
{
	while (l->n > 0)
		give_one(r, l, rng ? rng_below(rng, l->n) : l->n - 1);
}

static void
random_round(size_t size)
{
	struct records r = RECORDS_INIT(size);
	struct records_stats st;
	struct live l;
	uint64_t rng = g_seed ^ size, target = 0;
	size_t cap = 40 * (RECORDS_CHUNK / size);
	bool filling = true;

	if (cap > LIVE_CAP)
		cap = LIVE_CAP;
	live_init(&l, cap);
	for (uint64_t op = 0; op < g_ops; op++) {
		if (filling && l.n >= target) {
			filling = false;
			target = rng_below(&rng, l.n + 1);
		} else if (!filling && l.n <= target) {
			filling = true;
			target = l.n + 1 + rng_below(&rng, cap - l.n);
		}
		/* Mostly the phase's way, sometimes the other. */
		if (l.n < cap &&
		    (l.n == 0 || (rng_below(&rng, 8) != 0) == filling))
			take_one(&r, &l, (uint32_t)op);
		else
			give_one(&r, &l, rng_below(&rng, l.n));
		if (op % CHECK_EVERY == 0) {
			check_ok(&r);
			stats(&r, &st);
			assert_int_equal(st.live, l.n);
			assert_true(st.capacity >= st.live);
			assert_true(st.spares <= RECORDS_SPARES);
			assert_int_equal(st.mapped - st.unmapped, st.chunks);
		}
	}
	give_all(&r, &l, &rng);
	check_ok(&r);
	stats(&r, &st);
	assert_int_equal(st.live, 0);
	assert_true(st.chunks <= RECORDS_SPARES);
	assert_int_equal(st.chunks, st.spares);
	records_trim(&r);
	check_ok(&r);
	stats(&r, &st);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.mapped, st.unmapped);
	printf("records of %zu B: %" PRIu64 " steps, %" PRIu64 " chunks "
	       "mapped and unmapped\n", size, g_ops, st.mapped);
	live_free(&l);
}

static void
random_against_model(void **state)
{
	(void)state;
	random_round(64);
	random_round(48);
	random_round(20);
	random_round(RECORDS_MAX_SIZE);
}

/* Records per chunk of r, once it has one chunk. */
static uint64_t
per_chunk(struct records *r)
{
	struct records_stats st;

	stats(r, &st);
	assert_int_equal(st.chunks, 1);
	return st.capacity;
}

static void
empty_chunks_go_back(void **state)
{
	struct records r = RECORDS_INIT(64);
	struct records_stats st;
	struct live l;
	uint64_t rng = g_seed, per;

	(void)state;
	live_init(&l, 16 * (RECORDS_CHUNK / 64));
	take_one(&r, &l, 1);
	per = per_chunk(&r);
	while (l.n < 10 * per)
		take_one(&r, &l, (uint32_t)l.n);
	stats(&r, &st);
	assert_int_equal(st.chunks, 10);
	assert_int_equal(st.unmapped, 0);
	give_all(&r, &l, &rng);
	check_ok(&r);
	stats(&r, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.chunks, 1);
	assert_int_equal(st.spares, 1);
	assert_int_equal(st.unmapped, 9);
	assert_int_equal(st.bytes, RECORDS_CHUNK);

	/* The spare serves the next takes: nothing is mapped for them. */
	while (l.n < per)
		take_one(&r, &l, (uint32_t)l.n);
	stats(&r, &st);
	assert_int_equal(st.mapped, 10);
	assert_int_equal(st.spares, 0);
	give_all(&r, &l, NULL);
	records_trim(&r);
	stats(&r, &st);
	assert_int_equal(st.chunks, 0);
	live_free(&l);
}

static void
takes_come_from_the_fullest_chunk(void **state)
{
	struct records r = RECORDS_INIT(64);
	struct live l;
	uintptr_t chunk[3];
	uint64_t per;

	(void)state;
	live_init(&l, 4 * (RECORDS_CHUNK / 64));
	take_one(&r, &l, 1);
	per = per_chunk(&r);
	while (l.n < 3 * per)
		take_one(&r, &l, (uint32_t)l.n);
	for (int k = 0; k < 3; k++)
		chunk[k] = chunk_addr(l.rec[k * per]);
	assert_true(chunk[0] != chunk[1] && chunk[1] != chunk[2]);
	/* Chunk 0 a fifth full, 1 half, 2 one short of full. */
	for (size_t i = l.n; i-- > 0;) {
		size_t k = i / per;
		uint64_t keep = k == 0 ? per / 5 : k == 1 ? per / 2 : per - 1;

		if (i - k * per >= keep)
			give_one(&r, &l, i);
	}
	check_ok(&r);
	take_one(&r, &l, 0);
	assert_int_equal(chunk_addr(l.rec[l.n - 1]), chunk[2]);
	for (uint64_t i = 0; i < per - per / 2; i++) {
		take_one(&r, &l, 0);
		assert_int_equal(chunk_addr(l.rec[l.n - 1]), chunk[1]);
	}
	take_one(&r, &l, 0);
	assert_int_equal(chunk_addr(l.rec[l.n - 1]), chunk[0]);
	check_ok(&r);
	give_all(&r, &l, NULL);
	records_trim(&r);
	live_free(&l);
}

static void
no_take_or_give_visits_other_chunks(void **state)
{
	struct records r = RECORDS_INIT(64);
	struct live l, mine;
	uint64_t rng = g_seed, per;
	uintptr_t open;

	(void)state;
	live_init(&l, 9 * (RECORDS_CHUNK / 64));
	live_init(&mine, RECORDS_CHUNK / 64);
	take_one(&r, &l, 1);
	per = per_chunk(&r);
	while (l.n < 8 * per)
		take_one(&r, &l, (uint32_t)l.n);
	take_one(&r, &mine, 0);
	open = chunk_addr(mine.rec[0]);
	for (size_t i = 0; i < l.n; i += per)
		assert_int_equal(mprotect((void *)chunk_addr(l.rec[i]),
					  RECORDS_CHUNK, PROT_NONE), 0);
	for (uint64_t op = 0; op < g_ops; op++) {
		if (mine.n < 2 || (mine.n < per - 1 && rng_below(&rng, 2))) {
			take_one(&r, &mine, (uint32_t)op);
			assert_int_equal(chunk_addr(mine.rec[mine.n - 1]),
					 open);
		} else {
			give_one(&r, &mine, rng_below(&rng, mine.n));
		}
	}
	for (size_t i = 0; i < l.n; i += per)
		assert_int_equal(mprotect((void *)chunk_addr(l.rec[i]),
					  RECORDS_CHUNK,
					  PROT_READ | PROT_WRITE), 0);
	check_ok(&r);
	give_all(&r, &mine, NULL);
	give_all(&r, &l, NULL);
	records_trim(&r);
	check_ok(&r);
	live_free(&l);
	live_free(&mine);
}

static long
maps_lines(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int ch;

	assert_non_null(f);
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void
chunks_merge_into_few_mappings(void **state)
{
	struct records r = RECORDS_INIT(64);
	struct records_stats st;
	struct live l;
	long before, after;

	(void)state;
	live_init(&l, 64 * (RECORDS_CHUNK / 64));
	before = maps_lines();
	do {
		take_one(&r, &l, (uint32_t)l.n);
		stats(&r, &st);
	} while (st.chunks < 64);
	after = maps_lines();
	printf("64 chunks: %ld mappings before, %ld after\n", before, after);
	assert_true(after - before <= 8);
	give_all(&r, &l, NULL);
	records_trim(&r);
	live_free(&l);
}

/*
 * A chunk mapped and given back, again and again, is mapped at the same
 * place each time: the next chunk goes under the last one mapped, and
 * before, the last one given back still counted, so each cycle took a
 * new address a chunk lower (and under AddressSanitizer, new shadow).
 */
static void
remapped_chunk_keeps_its_place(void **state)
{
	struct records r = RECORDS_INIT(64);
	uintptr_t first = 0, lowest = UINTPTR_MAX, at;
	void *a;
	int i;

	(void)state;
	for (i = 0; i < 64; i++) {
		a = records_take(&r);
		assert_non_null(a);
		at = (uintptr_t)a & ~(uintptr_t)(RECORDS_CHUNK - 1);
		if (i == 0)
			first = at;
		if (at < lowest)
			lowest = at;
		records_give(&r, a);
		records_trim(&r);
	}
	printf("64 cycles of map and unmap: the chunk moved down %lu KiB\n",
	       (unsigned long)((first - lowest) >> 10));
	assert_true(first - lowest <= RECORDS_CHUNK);
}

static void
check_finds_a_record_given_twice(void **state)
{
	struct records r = RECORDS_INIT(64);
	char problem[256] = "";
	void *a, *b, *c;

	(void)state;
	a = records_take(&r);
	b = records_take(&r);
	c = records_take(&r);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	records_give(&r, b);
	check_ok(&r);
	records_give(&r, b);
	assert_int_equal(records_check(&r, problem, sizeof problem), -EFAULT);
	printf("records_check: %s\n", problem);
	assert_non_null(strstr(problem, "twice"));
	/* The books are wrong now: the chunk is left mapped. */
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 0);
	return *end ? dflt : v;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_against_model),
		cmocka_unit_test(empty_chunks_go_back),
		cmocka_unit_test(takes_come_from_the_fullest_chunk),
		cmocka_unit_test(no_take_or_give_visits_other_chunks),
		cmocka_unit_test(chunks_merge_into_few_mappings),
		cmocka_unit_test(remapped_chunk_keeps_its_place),
		cmocka_unit_test(check_finds_a_record_given_twice),
	};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	g_seed = env_u64("POOLMGR_SEED", (uint64_t)ts.tv_sec * 1000000007ull ^
				 (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32);
	if (g_seed == 0)
		g_seed = 1;	/* xorshift stays at 0 */
	g_ops = env_u64("POOLMGR_OPS", DEFAULT_OPS);
	printf("seed: %" PRIu64 " (POOLMGR_SEED to replay)\n", g_seed);
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

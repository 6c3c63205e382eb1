/*
 * make_corpus.c - write the seed corpora of the two fuzzers.
 *
 *   tests/fuzz/corpus/fuzz_engine/    operation streams for fuzz_engine.c
 *   tests/fuzz/corpus/fuzz_dispatch/  request conversations for
 *                                     fuzz_dispatch.c: every request type,
 *                                     valid and refused, in its framing
 *
 * The input formats are described at the top of each harness.  Offsets in
 * the conversations come from a mirror of pool "f" (the engine itself, with
 * the daemon's configuration), so Free, Retain, Persist and friends name
 * real blocks.
 *
 * Built and run by hand, not by the Makefile (make build/proto/poolmgr.pb-c.o
 * first):
 *
 *   cc -std=gnu11 -O1 -Wall -Wextra -D_GNU_SOURCE -Idaemon -Ibuild/proto \
 *     -o build/make_corpus tests/fuzz/make_corpus.c build/proto/poolmgr.pb-c.c \
 *     daemon/heap.c daemon/heap_runs.c daemon/heap_buddy.c \
 *     daemon/heap_blockmap.c daemon/heap_spans.c daemon/heap_dirty.c \
 *     daemon/heap_cache.c daemon/heap_check.c daemon/heap_reserve.c \
 *     daemon/heap_walk.c daemon/heap_resize.c daemon/heap_stats.c \
 *     -lprotobuf-c
 *   build/make_corpus tests/fuzz/corpus
 *
 * Seeds named regress_* are not written here: they are inputs the fuzzer
 * once found to crash the engine, kept byte for byte so that the smoke test
 * replays them (regress_unpick_buddy_span: a page span found through the
 * buddy in a short run, at a large granularity, above the high-water mark
 * while blocks were cached; its bin's stack was overrun;
 * regress_trim_step_short_run: a trim in steps ran out of its page budget
 * inside a short run and skipped the rest of that run's dirty pages).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "poolmgr.pb-c.h"

#include "heap.h"

#define SEED_MAX 8192
#define OFF_NONE UINT64_MAX

struct seed {
	uint8_t b[SEED_MAX];
	size_t n;
};

static const char *outdir;
static unsigned nfiles;
static size_t nbytes;

static void
put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > SEED_MAX) {
		fprintf(stderr, "make_corpus: seed too long\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void
put8(struct seed *s, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(s, &b, 1);
}

static void
putn(struct seed *s, uint64_t v, unsigned bytes)
{
	unsigned i;

	for (i = 0; i < bytes; i++)
		put8(s, (unsigned)(v >> (8 * i)) & 0xff);
}

static void
write_seed(const char *sub, const char *name, const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	nfiles++;
	nbytes += s->n;
}

/*
 * The fuzz_engine seed s again as name, byte 4 set to b4: 0xE0..0xE3
 * pick a granularity of 512 << (b4 & 3) (fuzz_engine.c), which no other
 * seed sets; every other byte means what it meant.
 */
static void
write_seed_granular(const char *name, const struct seed *s, uint8_t b4)
{
	struct seed g = *s;

	g.b[4] = b4;
	write_seed("fuzz_engine", name, &g);
}

/* ------------------------------------------------------------------ */
/* fuzz_engine streams */

enum {
	E_ALLOC = 0, E_CALLOC = 3, E_REALLOC = 4, E_RESIZE = 5, E_FREE = 6,
	E_FREE_BOGUS = 8, E_USABLE = 9, E_TRIM = 10, E_BOGUS_RE = 11,
	E_BURST = 12, E_FREE_MANY = 13, E_ALIGNED = 14, E_CALLOC1 = 15,
	E_RESERVE = 9 | 0x20,
};

/* reserve: KIND (bit 0 a span, bits 1-2 where: 0 a recently freed
 * block, 1 a live block's end, 2 anywhere), then the place, size units
 * - 1 and what the request is short of the size. */
static void
e_reserve(struct seed *s, unsigned kind, uint64_t where, unsigned where_bytes,
	  unsigned units, unsigned short_by)
{
	put8(s, E_RESERVE);
	put8(s, kind);
	putn(s, where, where_bytes);
	put8(s, units - 1);
	putn(s, short_by, 2);
}

/* granularity index, cache off, retain index, threshold index, pages... */
static void
e_header(struct seed *s, unsigned gi, bool nocache, unsigned ri,
	 unsigned ti, unsigned pages, unsigned b3, unsigned b4)
{
	s->n = 0;
	put8(s, gi | (nocache ? 4 : 0) | ri << 3 | ti << 5);
	putn(s, pages - 1, 2);
	put8(s, b3);
	put8(s, b4);
}

/* SIZE: 1..65536 in two bytes, else three. */
static void
e_size(struct seed *s, uint64_t size)
{
	if (size >= 1 && size <= 65536) {
		put8(s, 1);
		putn(s, size - 1, 2);
	} else {
		put8(s, 2);
		putn(s, size - 1, 3);
	}
}

static void
e_edge(struct seed *s, unsigned k)
{
	put8(s, 5);
	put8(s, k);
}

/* ALIGN: 0 none, else 2^k (k < 24). */
static void
e_align(struct seed *s, int k)
{
	put8(s, k < 0 ? 0 : 144 + k);
}

static void
e_alloc(struct seed *s, uint64_t size, int align_log)
{
	put8(s, E_ALLOC);
	e_size(s, size);
	e_align(s, align_log);
}

/* walk the live blocks from where (4 bytes), steps of 1..4 extents. */
static void
e_walk(struct seed *s, uint32_t where, unsigned steps)
{
	put8(s, E_BOGUS_RE | (2 | (steps - 1) << 2) << 4);
	putn(s, where, 4);
}

static void
e_op_idx(struct seed *s, unsigned op, unsigned idx)
{
	put8(s, op);
	put8(s, idx);
}

static void
e_idx_size(struct seed *s, unsigned op, unsigned idx, uint64_t size)
{
	e_op_idx(s, op, idx);
	e_size(s, size);
}

static void
engine_seeds(void)
{
	struct seed s;
	unsigned i;

	/* Defaults: small blocks, frees, realloc both ways, trim. */
	e_header(&s, 1, false, 0, 0, 256, 0, 0);
	e_alloc(&s, 100, -1);
	e_alloc(&s, 200, -1);
	e_alloc(&s, 3000, -1);
	e_alloc(&s, 200000, -1);
	e_op_idx(&s, E_USABLE, 1);
	e_idx_size(&s, E_REALLOC, 0, 150);
	e_idx_size(&s, E_REALLOC, 1, 20);
	e_idx_size(&s, E_RESIZE, 2, 4000);
	e_idx_size(&s, E_RESIZE, 3, 100000);
	e_op_idx(&s, E_FREE, 1);
	e_op_idx(&s, E_FREE | 0x10, 0);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "basic", &s);
	write_seed_granular("basic_g1024", &s, 0xE1);

	/* Spans freed as released by their owner (the daemon's stepped
	 * release), beside a retained small block's page. */
	e_header(&s, 1, false, 0, 0, 256, 0, 0);
	e_alloc(&s, 1000, -1);
	e_alloc(&s, 200000, -1);
	e_alloc(&s, 300000, -1);
	e_op_idx(&s, E_FREE, 0);
	e_op_idx(&s, E_FREE | 0x20, 0);
	put8(&s, E_CALLOC1);
	e_size(&s, 150000);
	e_op_idx(&s, E_FREE | 0x20, 1);
	e_op_idx(&s, E_FREE | 0x20, 0);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "free_released", &s);

	/* A trim in steps of one and two pages over many small blocks, some
	 * freed; a block allocated and one freed between two of its steps. */
	e_header(&s, 1, false, 0, 0, 256, 0, 0);
	for (i = 0; i < 4; i++) {
		put8(&s, E_BURST | 0xf0);
		e_size(&s, 2000);
	}
	put8(&s, E_FREE_MANY | 0x10);
	put8(&s, E_TRIM | 0x10);
	put8(&s, E_TRIM | 0x10);
	put8(&s, E_TRIM | 0x20);
	e_alloc(&s, 700, -1);
	e_op_idx(&s, E_FREE, 3);
	for (i = 0; i < 40; i++)
		put8(&s, E_TRIM | 0x20);
	write_seed("fuzz_engine", "trim_steps", &s);

	/* g 8, no cache, retain none, 4 KiB threshold: spans everywhere. */
	e_header(&s, 0, true, 1, 2, 64, 0, 0);
	for (i = 1; i <= 6; i++)
		e_alloc(&s, i * 5000, -1);
	e_op_idx(&s, E_FREE, 2);
	e_op_idx(&s, E_FREE, 0);
	e_idx_size(&s, E_RESIZE, 0, 30000);
	e_idx_size(&s, E_REALLOC, 1, 60000);
	e_alloc(&s, 4095, -1);
	e_alloc(&s, 4096, -1);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "spans_g8", &s);

	/* g 64, threshold = g: everything of a granule or more is a span. */
	e_header(&s, 2, false, 2, 1, 32, 0, 0);
	e_alloc(&s, 1, -1);
	e_alloc(&s, 63, -1);
	e_alloc(&s, 64, -1);
	e_alloc(&s, 9000, -1);
	e_idx_size(&s, E_REALLOC, 0, 5000);
	e_idx_size(&s, E_RESIZE, 2, 10);
	e_op_idx(&s, E_FREE_MANY | 0x10, 0);
	write_seed("fuzz_engine", "threshold_g", &s);

	/* release() failing every other call. */
	e_header(&s, 1, false, 1, 2, 128, 0, 0xf1);
	for (i = 0; i < 8; i++)
		e_alloc(&s, 8192 + i * 100, -1);
	for (i = 0; i < 4; i++)
		e_op_idx(&s, E_FREE, i);
	put8(&s, E_TRIM);
	e_alloc(&s, 1000, -1);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "release_fails", &s);

	/* Fill a small pool to -ENOMEM, punch holes, fill again. */
	e_header(&s, 1, false, 0, 0, 4, 0, 0);
	for (i = 0; i < 8; i++) {
		put8(&s, E_BURST | 0xf0);
		e_size(&s, 48 + i * 16);
	}
	put8(&s, E_FREE_MANY);
	put8(&s, E_ALIGNED | 0x30);
	e_size(&s, 64);
	put8(&s, E_BURST | 0xf0);
	e_size(&s, 100);
	write_seed("fuzz_engine", "fill", &s);
	write_seed_granular("fill_g2048", &s, 0xE2);

	/* Aligned requests, small and large, and odd alignments. */
	e_header(&s, 1, false, 0, 3, 512, 0, 0);
	e_alloc(&s, 16, -1);
	for (i = 5; i < 22; i += 2)
		e_alloc(&s, 100 * i, (int)i);
	put8(&s, E_ALLOC);
	e_size(&s, 64);
	put8(&s, 240);		/* align 3 */
	put8(&s, E_ALLOC);
	e_size(&s, 64);
	put8(&s, 243);		/* align 2^63 */
	put8(&s, E_ALIGNED | 0xf0);
	e_size(&s, 9000);
	write_seed("fuzz_engine", "aligned", &s);

	/* calloc: fresh pages, dirty pages, overflow, zero. */
	e_header(&s, 1, false, 0, 0, 64, 0, 0);
	e_alloc(&s, 5000, -1);
	e_alloc(&s, 700, -1);
	e_op_idx(&s, E_FREE, 0);
	put8(&s, E_CALLOC);
	put8(&s, 4);
	e_size(&s, 1000);
	put8(&s, E_CALLOC1);
	e_size(&s, 700);
	put8(&s, E_CALLOC);
	put8(&s, 255);
	putn(&s, UINT64_MAX / 2, 8);
	e_size(&s, 3);
	put8(&s, E_CALLOC);
	put8(&s, 0);
	e_size(&s, 10);
	write_seed("fuzz_engine", "calloc", &s);

	/* Bad frees of every kind. */
	e_header(&s, 1, false, 0, 0, 16, 0, 0);
	e_alloc(&s, 64, -1);
	e_alloc(&s, 300, -1);
	e_op_idx(&s, E_FREE, 0);
	put8(&s, E_FREE_BOGUS);
	put8(&s, 0);		/* HEAP_OFF_NONE */
	for (i = 0; i < 6; i++) {
		put8(&s, E_FREE_BOGUS);
		put8(&s, 200);
		put8(&s, i | (i & 1 ? 0x80 : 0));
		putn(&s, 0x1234567 * (i + 1), 8);
	}
	put8(&s, E_USABLE | 0x10);
	put8(&s, 0);
	put8(&s, 0);
	put8(&s, 8);
	put8(&s, E_BOGUS_RE);
	put8(&s, 0);
	e_size(&s, 100);
	put8(&s, E_BOGUS_RE | 0x10);
	put8(&s, 200);
	put8(&s, 2);
	putn(&s, 3, 2);
	e_size(&s, 100);
	write_seed("fuzz_engine", "bogus", &s);

	/* realloc in place and moving, small and spans. */
	e_header(&s, 1, false, 0, 0, 1024, 0, 0);
	e_alloc(&s, 1000, -1);
	e_alloc(&s, 1000, -1);
	e_alloc(&s, 300000, -1);
	e_alloc(&s, 100, -1);
	e_idx_size(&s, E_REALLOC, 0, 2000);
	e_idx_size(&s, E_REALLOC, 1, 500);
	e_idx_size(&s, E_REALLOC, 2, 600000);
	e_idx_size(&s, E_REALLOC, 2, 1000);
	e_idx_size(&s, E_REALLOC, 3, 200000);
	e_op_idx(&s, E_REALLOC, 0);
	e_edge(&s, 0);
	e_op_idx(&s, E_RESIZE, 0);
	e_edge(&s, 5);
	write_seed("fuzz_engine", "realloc", &s);
	write_seed_granular("realloc_g4096", &s, 0xE3);

	/* A 16 MiB pool with big spans. */
	e_header(&s, 1, false, 0, 0, 4096, 0, 0);
	e_alloc(&s, 5u << 20, -1);
	e_alloc(&s, 3u << 20, 22);
	e_alloc(&s, 1u << 20, -1);
	e_alloc(&s, 16u << 20, -1);
	e_op_idx(&s, E_FREE, 0);
	e_alloc(&s, 6u << 20, -1);
	e_idx_size(&s, E_RESIZE, 1, 4u << 20);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "big_pool", &s);

	/* max_size not a page multiple; threshold 3000 at g 64. */
	e_header(&s, 2, false, 3, 7, 9, 0x80 | 100, 0);
	e_alloc(&s, 2999, -1);
	e_alloc(&s, 3000, -1);
	e_alloc(&s, 100, 8);
	put8(&s, E_ALLOC);
	e_edge(&s, 1);		/* the whole pool */
	e_align(&s, -1);
	put8(&s, E_ALLOC);
	e_edge(&s, 2);		/* one byte more */
	e_align(&s, -1);
	e_idx_size(&s, E_RESIZE, 0, 2000);
	write_seed("fuzz_engine", "odd_size", &s);

	/* Walks over live, cached and free blocks and spans, from offsets
	 * at, inside and between them, in steps of 1 to 4. */
	e_header(&s, 1, false, 0, 0, 1024, 0, 0);
	for (i = 0; i < 6; i++)
		e_alloc(&s, 48, -1);
	e_alloc(&s, 300000, -1);
	e_alloc(&s, 5000, -1);
	e_alloc(&s, 64, -1);
	e_op_idx(&s, E_FREE, 1);
	e_op_idx(&s, E_FREE, 2);
	e_op_idx(&s, E_FREE, 5);
	e_walk(&s, 0, 1);
	e_walk(&s, 40, 2);
	e_walk(&s, 100, 4);
	e_walk(&s, 5000, 1);
	e_walk(&s, 400000, 3);
	e_walk(&s, 0xffffffff, 1);
	e_op_idx(&s, E_FREE, 3);
	e_walk(&s, 300, 1);
	write_seed("fuzz_engine", "walk", &s);

	/* Churn of one size class through the caches. */
	e_header(&s, 1, false, 0, 0, 32, 0, 0);
	for (i = 0; i < 12; i++) {
		e_alloc(&s, 48, -1);
		e_alloc(&s, 48, -1);
		e_op_idx(&s, E_FREE, (unsigned)i);
	}
	e_alloc(&s, 20000, -1);
	write_seed("fuzz_engine", "cache_churn", &s);
	write_seed_granular("cache_churn_g512", &s, 0xE0);

	/*
	 * Pages of 2 MiB (byte 4 0xc8), as a pool on huge pages has, at
	 * the daemon's threshold for them (a page: spans are whole pages)
	 * and at the default (128 KiB): small blocks and spans, a realloc
	 * across the page, frees, a trim.
	 */
	for (i = 0; i < 2; i++) {
		e_header(&s, 1, false, i ? 0 : 1, i ? 0 : 6, 4096, 0, 0xc8);
		e_alloc(&s, 200u << 10, -1);
		e_alloc(&s, 3u << 20, -1);
		e_alloc(&s, 100, -1);
		e_alloc(&s, 2u << 20, 21);
		e_idx_size(&s, E_REALLOC, 0, 2u << 20);
		e_idx_size(&s, E_RESIZE, 1, 1u << 20);
		e_op_idx(&s, E_FREE, 2);
		e_op_idx(&s, E_FREE | 0x20, 0);
		put8(&s, E_BURST | 0xf0);
		e_size(&s, 300000);
		put8(&s, E_FREE_MANY);
		put8(&s, E_TRIM | 0x10);
		put8(&s, E_TRIM);
		write_seed("fuzz_engine", i ? "huge_page_default" :
			   "huge_page", &s);
	}

	/* Pages of 64 KiB (0xc3), a small pool, filled and emptied. */
	e_header(&s, 2, false, 2, 0, 64, 0, 0xc3);
	for (i = 0; i < 6; i++) {
		put8(&s, E_BURST | 0xf0);
		e_size(&s, 1000 + i * 7000);
	}
	put8(&s, E_FREE_MANY | 0x10);
	put8(&s, E_CALLOC1);
	e_size(&s, 70000);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "page_64k", &s);

	/* Reservations: over a cached block (made), at a live block's end
	 * into the next one (refused), a span anywhere, a size of 0, then
	 * a split of a reserved span and frees. */
	e_header(&s, 1, false, 0, 0, 1024, 0, 0);
	for (i = 0; i < 6; i++)
		e_alloc(&s, 64, -1);
	e_op_idx(&s, E_FREE, 1);
	e_op_idx(&s, E_FREE, 3);
	e_reserve(&s, 0, 0, 1, 4, 0);
	e_reserve(&s, 2, 0, 1, 9, 5);
	e_reserve(&s, 5, 16, 3, 4, 256);
	e_reserve(&s, 0x84, 0, 3, 1, 0);
	e_edge(&s, 0);
	e_size(&s, 6);
	e_reserve(&s, 0, 1, 1, 2, 1);
	e_idx_size(&s, E_RESIZE | 0x10, 5, 5000);
	e_alloc(&s, 1, -1);
	e_op_idx(&s, E_FREE | 0x20, 0);
	e_op_idx(&s, E_FREE, 0);
	put8(&s, E_TRIM);
	write_seed("fuzz_engine", "reserve", &s);
}

/* ------------------------------------------------------------------ */
/* fuzz_dispatch conversations */

#define CTL_CONN1 1
#define CTL_RECONNECT 2
#define CTL_HOLD 4
#define CTL_OVER_LIMIT 8
#define CTL_WAIT_ENDS 32	/* a waiting lookup's 1 ms passes first */

/*
 * Byte 0: bits 0-1 hello, 2-3 identity 0, 4 admin group, 5 socket, 6-7
 * identity 1.  Byte 1: the block cap (CAP_*).
 */
#define F_HELLO 1
#define F_ID0(i) ((i) << 2)
#define F_ADMIN 0x10
#define F_SOCKET 0x20
#define F_ID1(i) ((i) << 6)

enum { ID_TRUSTED, ID_OWNER, ID_GROUP, ID_OTHER };

static uint64_t next_id;

enum { CAP_DEFAULT, CAP_2, CAP_8, CAP_32 };

static void
d_begin_cap(struct seed *s, unsigned flags, unsigned cap)
{
	s->n = 0;
	next_id = 100;
	put8(s, flags);
	put8(s, cap);
}

static void
d_begin(struct seed *s, unsigned flags)
{
	d_begin_cap(s, flags, CAP_DEFAULT);
}

static void
d_raw(struct seed *s, unsigned ctl, const void *p, size_t len)
{
	put8(s, ctl);
	putn(s, len, 2);
	put(s, p, len);
}

static void
d_req(struct seed *s, unsigned ctl, Poolmgr__Request *r)
{
	uint8_t buf[4096];
	size_t len;

	r->id = next_id++;
	len = poolmgr__request__get_packed_size(r);
	if (len > sizeof(buf)) {
		fprintf(stderr, "make_corpus: request too large\n");
		exit(1);
	}
	poolmgr__request__pack(r, buf);
	d_raw(s, ctl, buf, len);
}

static void
d_hello(struct seed *s, unsigned ctl, uint32_t version, const char *name)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello m = POOLMGR__HELLO__INIT;

	m.version = version;
	m.client_name = (char *)name;
	r.body_case = POOLMGR__REQUEST__BODY_HELLO;
	r.hello = &m;
	d_req(s, ctl, &r);
}

static void
d_create(struct seed *s, unsigned ctl, const char *name, uint64_t size,
	 uint32_t g, uint32_t mode, uint64_t quota)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;

	m.name = (char *)name;
	m.max_size = size;
	m.granularity = g;
	m.mode = mode;
	m.quota = quota;
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/* A CreatePool of size on pages of page bytes, node < 0: no NUMA node. */
static void
d_create_paged(struct seed *s, unsigned ctl, const char *name, uint64_t size,
	       uint64_t page, int node, uint32_t policy)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;

	m.name = (char *)name;
	m.max_size = size;
	m.page_size = page;
	if (node >= 0) {
		m.numa_case = POOLMGR__CREATE_POOL__NUMA_NUMA_NODE;
		m.numa_node = (uint32_t)node;
	}
	m.numa_policy = policy;
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

static void
d_destroy(struct seed *s, unsigned ctl, const char *name, bool force)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__DestroyPool m = POOLMGR__DESTROY_POOL__INIT;

	m.name = (char *)name;
	m.force = force;
	r.body_case = POOLMGR__REQUEST__BODY_DESTROY;
	r.destroy = &m;
	d_req(s, ctl, &r);
}

static void
d_open(struct seed *s, unsigned ctl, const char *name, bool ro)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;

	m.name = (char *)name;
	m.read_only = ro;
	r.body_case = POOLMGR__REQUEST__BODY_OPEN;
	r.open = &m;
	d_req(s, ctl, &r);
}

static void
d_share_map(struct seed *s, unsigned ctl, uint32_t handle)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap m = POOLMGR__SHARE_MAP__INIT;

	m.handle = handle;
	r.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	r.share_map = &m;
	d_req(s, ctl, &r);
}

static void
d_close(struct seed *s, unsigned ctl, uint32_t handle)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ClosePool m = POOLMGR__CLOSE_POOL__INIT;

	m.handle = handle;
	r.body_case = POOLMGR__REQUEST__BODY_CLOSE;
	r.close = &m;
	d_req(s, ctl, &r);
}

/*
 * An Alloc through handle that may wait wait_ms for room (0: not), of a
 * block persistent from the start if persist.
 */
static void
d_alloc_as(struct seed *s, unsigned ctl, uint32_t handle, uint64_t size,
	   uint64_t align, bool zero, uint64_t nmemb, uint32_t wait_ms,
	   bool persist)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;

	m.handle = handle;
	m.size = size;
	m.align = align;
	m.zero = zero;
	m.nmemb = nmemb;
	m.wait_ms = wait_ms;
	m.persist = persist;
	r.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	r.alloc = &m;
	d_req(s, ctl, &r);
}

static void
d_alloc_for(struct seed *s, unsigned ctl, uint32_t handle, uint64_t size,
	    uint64_t align, bool zero, uint64_t nmemb, uint32_t wait_ms)
{
	d_alloc_as(s, ctl, handle, size, align, zero, nmemb, wait_ms, false);
}

static void
d_alloc(struct seed *s, unsigned ctl, uint32_t handle, uint64_t size,
	uint64_t align, bool zero, uint64_t nmemb)
{
	d_alloc_for(s, ctl, handle, size, align, zero, nmemb, 0);
}

static void
d_free(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Free m = POOLMGR__FREE__INIT;

	m.handle = handle;
	m.offset = off;
	r.body_case = POOLMGR__REQUEST__BODY_FREE;
	r.free = &m;
	d_req(s, ctl, &r);
}

static void
d_free_persisted(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off,
		 uint64_t min_age_ms)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__FreePersisted m = POOLMGR__FREE_PERSISTED__INIT;

	m.handle = handle;
	m.offset = off;
	m.min_age_ms = min_age_ms;
	r.body_case = POOLMGR__REQUEST__BODY_FREE_PERSISTED;
	r.free_persisted = &m;
	d_req(s, ctl, &r);
}

static void
d_realloc(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off,
	  uint64_t size)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;

	m.handle = handle;
	m.offset = off;
	m.size = size;
	r.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	r.realloc = &m;
	d_req(s, ctl, &r);
}

static void
d_retain(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Retain m = POOLMGR__RETAIN__INIT;

	m.handle = handle;
	m.offset = off;
	r.body_case = POOLMGR__REQUEST__BODY_RETAIN;
	r.retain = &m;
	d_req(s, ctl, &r);
}

static void
d_persist(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Persist m = POOLMGR__PERSIST__INIT;

	m.handle = handle;
	m.offset = off;
	r.body_case = POOLMGR__REQUEST__BODY_PERSIST;
	r.persist = &m;
	d_req(s, ctl, &r);
}

/*
 * Publish (replace), Lookup (retain) or Unpublish of name; N_*_EVICT
 * publish evictable; N_WAIT is a Lookup that waits a minute for a
 * generation above off, N_WAIT_BRIEF one that waits a millisecond and
 * N_WAIT_LONGEST one that waits the most wait_ms says, retaining.
 */
enum name_req { N_PUBLISH, N_REPLACE, N_LOOKUP, N_RETAIN, N_UNPUBLISH,
		N_WAIT, N_PUBLISH_EVICT, N_REPLACE_EVICT, N_WAIT_BRIEF,
		N_WAIT_LONGEST };

static void
d_name(struct seed *s, unsigned ctl, enum name_req what, uint32_t handle,
       const char *name, size_t len, uint64_t off)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__Publish pu = POOLMGR__PUBLISH__INIT;
	Poolmgr__Lookup lu = POOLMGR__LOOKUP__INIT;
	Poolmgr__Unpublish un = POOLMGR__UNPUBLISH__INIT;
	ProtobufCBinaryData b = {.len = len, .data = (uint8_t *)name};

	switch (what) {
	case N_PUBLISH:
	case N_REPLACE:
	case N_PUBLISH_EVICT:
	case N_REPLACE_EVICT:
		pu.handle = handle;
		pu.name = b;
		pu.offset = off;
		pu.replace = what == N_REPLACE || what == N_REPLACE_EVICT;
		pu.evictable = what == N_PUBLISH_EVICT ||
			       what == N_REPLACE_EVICT;
		r.body_case = POOLMGR__REQUEST__BODY_PUBLISH;
		r.publish = &pu;
		break;
	case N_LOOKUP:
	case N_RETAIN:
	case N_WAIT:
	case N_WAIT_BRIEF:
	case N_WAIT_LONGEST:
		lu.handle = handle;
		lu.name = b;
		lu.retain = what == N_RETAIN || what == N_WAIT_LONGEST;
		if (what == N_WAIT)
			lu.wait_ms = 60000;
		else if (what == N_WAIT_BRIEF)
			lu.wait_ms = 1;
		else if (what == N_WAIT_LONGEST)
			lu.wait_ms = UINT32_MAX;
		lu.after_generation = lu.wait_ms ? off : 0;
		r.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
		r.lookup = &lu;
		break;
	case N_UNPUBLISH:
		un.handle = handle;
		un.name = b;
		r.body_case = POOLMGR__REQUEST__BODY_UNPUBLISH;
		r.unpublish = &un;
		break;
	}
	d_req(s, ctl, &r);
}

static void
d_names(struct seed *s, unsigned ctl, uint32_t handle, const char *prefix)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames m = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;

	ref.handle = handle;
	ref.name = "";
	m.pool = &ref;
	m.prefix.data = (uint8_t *)prefix;
	m.prefix.len = strlen(prefix);
	r.body_case = POOLMGR__REQUEST__BODY_NAMES;
	r.names = &m;
	d_req(s, ctl, &r);
}

static void
d_usable(struct seed *s, unsigned ctl, uint32_t handle, uint64_t off)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize m = POOLMGR__USABLE_SIZE__INIT;

	m.handle = handle;
	m.offset = off;
	r.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	r.usable_size = &m;
	d_req(s, ctl, &r);
}

/* An AllocBatch; persist: AllocBatch.persist. */
static void
d_alloc_batch_as(struct seed *s, unsigned ctl, uint32_t handle,
		 const uint64_t *sizes, size_t n, bool persist)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch m = POOLMGR__ALLOC_BATCH__INIT;

	m.handle = handle;
	m.n_sizes = n;
	m.sizes = (uint64_t *)sizes;
	m.persist = persist;
	r.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	r.alloc_batch = &m;
	d_req(s, ctl, &r);
}

static void
d_alloc_batch(struct seed *s, unsigned ctl, uint32_t handle,
	      const uint64_t *sizes, size_t n)
{
	d_alloc_batch_as(s, ctl, handle, sizes, n, false);
}

static void
d_free_batch(struct seed *s, unsigned ctl, uint32_t handle,
	     const uint64_t *offsets, size_t n)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__FreeBatch m = POOLMGR__FREE_BATCH__INIT;

	m.handle = handle;
	m.n_offsets = n;
	m.offsets = (uint64_t *)offsets;
	r.body_case = POOLMGR__REQUEST__BODY_FREE_BATCH;
	r.free_batch = &m;
	d_req(s, ctl, &r);
}

/*
 * Stats, Trim, Check, ListPersisted and ListUsers name a pool by handle or
 * by name.
 */
enum pool_req { P_STATS, P_TRIM, P_CHECK, P_PERSISTED, P_USERS };

static void
d_poolref(struct seed *s, unsigned ctl, enum pool_req what,
	  uint32_t handle, const char *name)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Trim t = POOLMGR__TRIM__INIT;
	Poolmgr__Check c = POOLMGR__CHECK__INIT;
	Poolmgr__ListPersisted lp = POOLMGR__LIST_PERSISTED__INIT;
	Poolmgr__ListUsers lu = POOLMGR__LIST_USERS__INIT;

	ref.handle = handle;
	ref.name = (char *)(name ? name : "");
	switch (what) {
	case P_STATS:
		r.body_case = POOLMGR__REQUEST__BODY_STATS;
		r.stats = &ref;
		break;
	case P_TRIM:
		t.pool = &ref;
		r.body_case = POOLMGR__REQUEST__BODY_TRIM;
		r.trim = &t;
		break;
	case P_CHECK:
		c.pool = &ref;
		r.body_case = POOLMGR__REQUEST__BODY_CHECK;
		r.check = &c;
		break;
	case P_PERSISTED:
		lp.pool = &ref;
		r.body_case = POOLMGR__REQUEST__BODY_PERSISTED;
		r.persisted = &lp;
		break;
	case P_USERS:
		lu.pool = &ref;
		r.body_case = POOLMGR__REQUEST__BODY_USERS;
		r.users = &lu;
		break;
	}
	d_req(s, ctl, &r);
}

static void
d_list_from(struct seed *s, unsigned ctl, const char *after, bool paged)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools m = POOLMGR__LIST_POOLS__INIT;

	m.after = (char *)(after ? after : "");
	m.paged = paged;
	r.body_case = POOLMGR__REQUEST__BODY_LIST;
	r.list = &m;
	d_req(s, ctl, &r);
}

static void
d_list(struct seed *s, unsigned ctl)
{
	d_list_from(s, ctl, NULL, false);
}

static void
d_daemon_stats(struct seed *s, unsigned ctl)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__DaemonStats m = POOLMGR__DAEMON_STATS__INIT;

	r.body_case = POOLMGR__REQUEST__BODY_DAEMON_STATS;
	r.daemon_stats = &m;
	d_req(s, ctl, &r);
}

static void
d_list_blocks(struct seed *s, unsigned ctl, uint32_t handle, const char *pool,
	      uint64_t from, uint32_t pid, uint32_t of_handle)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ListBlocks m = POOLMGR__LIST_BLOCKS__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;

	ref.handle = handle;
	ref.name = (char *)(pool ? pool : "");
	m.pool = &ref;
	m.from = from;
	m.pid = pid;
	m.handle = of_handle;
	r.body_case = POOLMGR__REQUEST__BODY_LIST_BLOCKS;
	r.list_blocks = &m;
	d_req(s, ctl, &r);
}

static void
d_clients(struct seed *s, unsigned ctl, const char *pool)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__ListClients m = POOLMGR__LIST_CLIENTS__INIT;

	m.pool = (char *)(pool ? pool : "");
	r.body_case = POOLMGR__REQUEST__BODY_CLIENTS;
	r.clients = &m;
	d_req(s, ctl, &r);
}

static void
d_empty(struct seed *s, unsigned ctl)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;

	d_req(s, ctl, &r);
}

/*
 * A mirror of pool "f" (1 MiB, granularity 16), for real offsets; or of
 * a pool of another size a seed makes (mirror_reset_sized).
 */
static struct heap *mirror;

static void
mirror_reset_sized(uint64_t size)
{
	struct heap_config hc = {0};

	heap_destroy(mirror);
	hc.max_size = size;
	hc.granularity = 16;
	if (heap_create(&hc, &mirror) != 0) {
		fprintf(stderr, "make_corpus: heap_create failed\n");
		exit(1);
	}
}

static void
mirror_reset(void)
{
	mirror_reset_sized(1 << 20);
}

static uint64_t
mirror_alloc(uint64_t size)
{
	uint64_t off;

	if (heap_alloc(mirror, size, 0, &off) != 0) {
		fprintf(stderr, "make_corpus: mirror alloc failed\n");
		exit(1);
	}
	return off;
}

/* One request of each type on a fresh connection, after the Hello. */
static void
single_seeds(void)
{
	struct seed s;
	uint64_t a;

	d_begin(&s, 0);
	d_hello(&s, 0, 1, "client");
	write_seed("fuzz_dispatch", "hello", &s);

	d_begin(&s, 0);
	d_hello(&s, 0, 7, "future");
	write_seed("fuzz_dispatch", "hello_bad_version", &s);

	d_begin(&s, 0);
	d_hello(&s, 0, 1, "n\001\377me with a very long name that will not fit "
		"in the sixty four bytes the session keeps");
	d_hello(&s, 0, 1, "again");
	write_seed("fuzz_dispatch", "hello_twice", &s);

	d_begin(&s, 0);
	d_open(&s, 0, "f", false);
	write_seed("fuzz_dispatch", "before_hello", &s);

	d_begin(&s, F_HELLO);
	d_raw(&s, 0, "\xff\xff\xff\xff\x0f garbage", 14);
	write_seed("fuzz_dispatch", "garbage", &s);

	d_begin(&s, F_HELLO);
	d_empty(&s, 0);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "unknown_body", &s);

	d_begin(&s, F_HELLO);
	d_create(&s, 0, "new", 65536, 32, 0640, 4096);
	d_create(&s, 0, "new", 65536, 32, 0640, 4096);
	d_create(&s, 0, ".dot", 4096, 0, 0, 0);
	d_create(&s, 0, "bad/name", 4096, 0, 0, 0);
	d_create(&s, 0, "g24", 4096, 24, 0, 0);
	d_create(&s, 0, "zero", 0, 0, 0, 0);
	d_create(&s, 0, "modes", 4096, 0, 01777, 0);
	d_create(&s, 0, "huge", 1ull << 47, 0, 0, 0);
	d_create(&s, 0, "a123456789a123456789a123456789a123456789a123456789"
		 "a123456789a12345", 4096, 0, 0, 0);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "create", &s);

	d_begin(&s, F_HELLO);
	d_destroy(&s, 0, "g", false);
	d_destroy(&s, 0, "nope", false);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "destroy", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "f", true);
	d_open(&s, 0, "nope", false);
	d_close(&s, 0, 2);
	d_close(&s, 0, 9);
	write_seed("fuzz_dispatch", "open_close", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_alloc(&s, 0, 1, 5000, 4096, false, 0);
	d_alloc(&s, 0, 1, 300000, 0, false, 0);
	d_alloc(&s, 0, 1, 10, 3, false, 0);
	d_alloc(&s, 0, 1, 0, 0, false, 0);
	d_alloc(&s, 0, 1, 2u << 20, 0, false, 0);
	d_alloc(&s, 0, 7, 16, 0, false, 0);
	write_seed("fuzz_dispatch", "alloc", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, true, 0);
	d_alloc(&s, 0, 1, 100, 0, true, 30);
	d_alloc(&s, 0, 1, 1ull << 40, 0, true, 1ull << 40);
	d_free(&s, 0, 1, 0);
	d_alloc(&s, 0, 1, 64, 0, true, 1);
	write_seed("fuzz_dispatch", "calloc", &s);

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_free(&s, 0, 1, mirror_alloc(100));
	d_free(&s, 0, 1, 0);
	d_free(&s, 0, 1, 12345);
	d_free(&s, 0, 1, OFF_NONE);
	write_seed("fuzz_dispatch", "free", &s);

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_realloc(&s, 0, 1, mirror_alloc(100), 50);
	d_realloc(&s, 0, 1, 0, 5000);
	d_realloc(&s, 0, 1, OFF_NONE, 64);
	d_realloc(&s, 0, 1, mirror_alloc(100), 0);
	d_realloc(&s, 0, 1, 999, 10);
	write_seed("fuzz_dispatch", "realloc", &s);

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 256, 0, false, 0);
	d_retain(&s, 0, 2, mirror_alloc(256));
	d_retain(&s, 0, 2, 0);
	d_retain(&s, 0, 2, 4096);
	d_free(&s, 0, 1, 0);
	d_close(&s, 0, 2);
	write_seed("fuzz_dispatch", "retain", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 256, 0, false, 0);
	d_persist(&s, 0, 1, 0);
	d_persist(&s, 0, 1, 0);
	d_persist(&s, 0, 1, 16);
	d_close(&s, 0, 1);
	write_seed("fuzz_dispatch", "persist", &s);

	mirror_reset();
	{
		uint64_t a = mirror_alloc(256), b = mirror_alloc(100);

		d_begin(&s, F_HELLO);
		d_open(&s, 0, "f", false);
		d_open(&s, 0, "f", true);
		d_alloc(&s, 0, 1, 256, 0, false, 0);
		d_alloc(&s, 0, 1, 100, 0, false, 0);
		d_name(&s, 0, N_PUBLISH, 1, "frame", 5, a);
		d_name(&s, 0, N_PUBLISH, 1, "frame", 5, b);
		d_name(&s, 0, N_PUBLISH, 1, "other", 5, a);
		d_name(&s, 0, N_PUBLISH, 1, "", 0, b);
		d_name(&s, 0, N_PUBLISH, 1, "a\0b", 3, b);
		d_name(&s, 0, N_PUBLISH, 2, "ro", 2, b);
		d_free(&s, 0, 1, a);
		d_free(&s, 0, 1, a);
		d_name(&s, 0, N_LOOKUP, 2, "frame", 5, 0);
		d_name(&s, 0, N_RETAIN, 2, "frame", 5, 0);
		d_name(&s, 0, N_RETAIN, 1, "frame", 5, 0);
		d_name(&s, 0, N_REPLACE, 1, "frame", 5, b);
		d_names(&s, 0, 2, "fr");
		d_names(&s, 0, 1, "");
		d_name(&s, 0, N_UNPUBLISH, 1, "frame", 5, 0);
		d_name(&s, 0, N_UNPUBLISH, 1, "frame", 5, 0);
		d_name(&s, 0, N_LOOKUP, 1, "frame", 5, 0);
		d_close(&s, 0, 1);
		write_seed("fuzz_dispatch", "names", &s);
	}

	mirror_reset();
	{
		uint64_t a = mirror_alloc(256);

		/* Connection 0 waits; connection 1 publishes, twice. */
		d_begin(&s, F_HELLO);
		d_open(&s, 0, "f", true);
		d_open(&s, 1, "f", false);
		d_name(&s, 0, N_WAIT, 1, "frame", 5, 0);
		d_alloc(&s, 1, 1, 256, 0, false, 0);
		d_name(&s, 1, N_PUBLISH, 1, "frame", 5, a);
		d_name(&s, 0, N_WAIT, 1, "frame", 5, 1);
		d_name(&s, 1, N_REPLACE, 1, "frame", 5, a);
		/* It waits again, a ClosePool behind it, as the input ends. */
		d_name(&s, 0, N_WAIT, 1, "frame", 5, 2);
		d_close(&s, 0, 1);
		write_seed("fuzz_dispatch", "names_wait", &s);
	}

	mirror_reset();
	{
		const uint64_t sizes[] = {100, 200, 300000, 16, 4096};
		const uint64_t toobig[] = {64, 64, 2u << 20};
		uint64_t offs[5], bad[3];
		unsigned i;

		d_begin(&s, F_HELLO);
		d_open(&s, 0, "f", false);
		d_alloc_batch(&s, 0, 1, sizes, 5);
		for (i = 0; i < 5; i++)
			offs[i] = mirror_alloc(sizes[i]);
		d_alloc_batch(&s, 0, 1, toobig, 3);
		d_alloc_batch(&s, 0, 1, sizes, 0);
		bad[0] = offs[1];
		bad[1] = OFF_NONE;
		bad[2] = offs[1];
		d_free_batch(&s, 0, 1, bad, 3);
		bad[2] = 12345;
		d_free_batch(&s, 0, 1, bad, 3);
		d_free_batch(&s, 0, 1, offs, 3);
		d_free_batch(&s, 0, 1, offs + 3, 2);
		d_free_batch(&s, 0, 1, offs + 3, 2);
		/* Empty: offsets is NULL (once undefined behaviour). */
		d_free_batch(&s, 0, 1, NULL, 0);
		write_seed("fuzz_dispatch", "batch", &s);

		d_begin_cap(&s, F_HELLO, CAP_8);
		d_open(&s, 0, "g", false);
		d_alloc_batch(&s, 0, 1, sizes, 5);
		d_alloc_batch(&s, 0, 1, sizes, 5);
		d_alloc_batch(&s, 0, 1, sizes + 3, 2);
		write_seed("fuzz_dispatch", "batch_limits", &s);
	}

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 33, 0, false, 0);
	d_usable(&s, 0, 1, 0);
	d_usable(&s, 0, 1, 48);
	write_seed("fuzz_dispatch", "usable_size", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "g", false);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_STATS, 0, "f");
	d_poolref(&s, 0, P_STATS, 0, "nope");
	d_poolref(&s, 0, P_STATS, 5, NULL);
	write_seed("fuzz_dispatch", "stats", &s);

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	a = mirror_alloc(100);
	d_persist(&s, 0, 1, a);
	d_poolref(&s, 0, P_PERSISTED, 1, NULL);
	d_poolref(&s, 0, P_PERSISTED, 0, "f");
	d_poolref(&s, 0, P_PERSISTED, 0, "nope");
	d_poolref(&s, 0, P_PERSISTED, 5, NULL);
	d_free(&s, 0, 1, a);
	d_free(&s, 0, 1, a);
	d_poolref(&s, 0, P_PERSISTED, 0, "f");
	write_seed("fuzz_dispatch", "persisted", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "f", true);
	d_share_map(&s, 0, 1);
	d_share_map(&s, 0, 2);
	d_share_map(&s, 0, 0);
	d_share_map(&s, 0, 9);
	d_close(&s, 0, 1);
	d_share_map(&s, 0, 1);
	write_seed("fuzz_dispatch", "share_map", &s);

	d_begin(&s, F_HELLO);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "list", &s);

	d_begin(&s, F_HELLO);
	d_list_from(&s, 0, NULL, true);
	d_list_from(&s, 0, "f", true);
	d_list_from(&s, 0, "e", false);
	d_list_from(&s, 0, "\xff", true);
	write_seed("fuzz_dispatch", "list_pages", &s);

	d_begin(&s, F_HELLO);
	d_daemon_stats(&s, 0);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_daemon_stats(&s, 0);
	write_seed("fuzz_dispatch", "daemon_stats", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	d_alloc(&s, 0, 1, 40, 0, false, 0);
	d_list_blocks(&s, 0, 1, NULL, 0, 0, 0);
	d_list_blocks(&s, 0, 0, "f", 17, 0, 0);
	d_list_blocks(&s, 0, 0, "f", 0, 1, 0);
	d_list_blocks(&s, 0, 0, "f", 0, 0, 1);
	d_list_blocks(&s, 0, 0, "f", UINT64_MAX, 0, 0);
	d_list_blocks(&s, 0, 0, "nope", 0, 0, 0);
	d_list_blocks(&s, 0, 7, NULL, 0, 0, 0);
	write_seed("fuzz_dispatch", "list_blocks", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 40000, 0, false, 0);
	d_free(&s, 0, 1, 0);
	d_poolref(&s, 0, P_TRIM, 1, NULL);
	d_poolref(&s, 0, P_TRIM, 0, "g");
	write_seed("fuzz_dispatch", "trim", &s);

	d_begin(&s, F_HELLO);
	d_poolref(&s, 0, P_CHECK, 0, "f");
	d_open(&s, 0, "g", false);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "check", &s);

	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "g", true);
	d_clients(&s, 0, NULL);
	d_clients(&s, 0, "g");
	d_clients(&s, 0, "nope");
	write_seed("fuzz_dispatch", "clients", &s);
}

/* Longer conversations: ownership, identities, transports. */
static void
conversation_seeds(void)
{
	uint64_t a, b, c;
	struct seed s;

	/* One client's whole life on "f". */
	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	a = mirror_alloc(100);
	d_alloc(&s, 0, 1, 1000, 0, false, 0);
	b = mirror_alloc(1000);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	c = mirror_alloc(200000);
	d_realloc(&s, 0, 1, a, 5000);
	d_realloc(&s, 0, 1, c, 400000);
	d_retain(&s, 0, 1, b);
	d_persist(&s, 0, 1, b);
	d_usable(&s, 0, 1, b);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_free(&s, 0, 1, b);
	d_free(&s, 0, 1, b);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_poolref(&s, 0, P_TRIM, 1, NULL);
	d_close(&s, 0, 1);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "session", &s);

	/*
	 * A plain Realloc whose block must move and whose copy passes the
	 * fuzzer's 64 KiB release step: the copy goes in steps while client 0
	 * is held; client 1 may not retain the moving block.  Then the same
	 * with client 0 gone before the copy ends.
	 */
	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	a = mirror_alloc(200000);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	b = mirror_alloc(200000);
	d_realloc(&s, 0, 1, a, 300000);
	d_retain(&s, CTL_CONN1, 1, a);
	d_poolref(&s, CTL_CONN1, P_STATS, 0, "f");
	d_free(&s, 0, 1, a);
	d_free(&s, 0, 1, b);
	write_seed("fuzz_dispatch", "move", &s);

	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	a = mirror_alloc(200000);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	(void)mirror_alloc(200000);
	d_realloc(&s, 0, 1, a, 300000);
	d_raw(&s, 0, "", 0);	/* client 0 disconnects mid-move */
	d_retain(&s, CTL_CONN1, 1, a);
	d_poolref(&s, CTL_CONN1, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "move_gone", &s);

	/* A calloc over the 64 KiB step, zeroed in steps; one left mid-way. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, 0, 1, 300000, 0, true, 1);
	a = mirror_alloc(300000);
	d_retain(&s, CTL_CONN1, 1, a);
	d_poolref(&s, CTL_CONN1, P_STATS, 0, "f");
	d_alloc(&s, 0, 1, 300000, 0, true, 1);
	d_raw(&s, 0, "", 0);	/* client 0 disconnects mid-zeroing */
	d_poolref(&s, CTL_CONN1, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "calloc_steps", &s);

	/*
	 * settle_wait_ms = 0: client 1's Stats waits for the release queued
	 * before it, not for the move client 0 asks for after it, and is
	 * answered while that copy goes on; its Check too.
	 */
	mirror_reset();
	d_begin_cap(&s, F_HELLO | F_ID1(ID_TRUSTED), CAP_DEFAULT | 4);
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	a = mirror_alloc(200000);
	d_alloc(&s, 0, 1, 200000, 0, false, 0);
	b = mirror_alloc(200000);
	d_alloc(&s, 0, 1, 300000, 0, false, 0);
	c = mirror_alloc(300000);
	d_free(&s, 0, 1, c);
	d_poolref(&s, CTL_CONN1, P_STATS, 0, "f");
	d_realloc(&s, 0, 1, a, 300000);
	d_poolref(&s, CTL_CONN1, P_CHECK, 0, "f");
	d_alloc(&s, CTL_CONN1, 1, 3000000, 0, false, 0);
	d_free(&s, 0, 1, b);
	write_seed("fuzz_dispatch", "settle_wait_0", &s);

	/* Two clients share a block; the owner leaves first. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 4000, 0, false, 0);
	a = mirror_alloc(4000);
	d_open(&s, CTL_CONN1, "f", false);
	d_retain(&s, CTL_CONN1, 1, a);
	d_realloc(&s, CTL_CONN1, 1, a, 300000);
	d_free(&s, CTL_CONN1, 1, 16);
	d_clients(&s, CTL_CONN1, "f");
	d_persist(&s, 0, 1, a);
	d_raw(&s, 0, "", 0);	/* client 0 disconnects */
	d_free(&s, CTL_CONN1, 1, a);
	d_free(&s, CTL_CONN1, 1, a);
	d_poolref(&s, CTL_CONN1, P_STATS, 0, "f");
	write_seed("fuzz_dispatch", "two_clients", &s);

	/*
	 * A handle closed holding 8 blocks (more than the fuzzer's drop step
	 * of 4): the other client must not see the blocks only it held, a
	 * full pool settles, and a second such handle goes with its client.
	 */
	mirror_reset();
	{
		const uint64_t sizes[] = {64, 64, 64, 64, 64, 64, 64, 64};
		uint64_t offs[8];
		unsigned i;

		d_begin(&s, F_HELLO);
		d_open(&s, 0, "f", false);
		d_alloc_batch(&s, 0, 1, sizes, 8);
		for (i = 0; i < 8; i++)
			offs[i] = mirror_alloc(sizes[i]);
		d_open(&s, CTL_CONN1, "f", false);
		d_retain(&s, CTL_CONN1, 1, offs[0]);
		d_close(&s, 0, 1);
		d_usable(&s, CTL_CONN1, 1, offs[1]);
		d_retain(&s, CTL_CONN1, 1, offs[1]);
		d_usable(&s, CTL_CONN1, 1, offs[0]);
		d_alloc(&s, CTL_CONN1, 1, 1000000, 0, false, 0);
		d_open(&s, 0, "f", false);
		d_alloc_batch(&s, 0, 2, sizes, 8);
		d_raw(&s, 0, "", 0);	/* client 0 disconnects */
		d_free(&s, CTL_CONN1, 1, offs[0]);
		d_poolref(&s, CTL_CONN1, P_STATS, 0, "f");
		write_seed("fuzz_dispatch", "closing", &s);
	}

	/*
	 * Requests held until a big free's release is done (dispatch.c):
	 * stats, check, trim, a list and a destroy that counts live blocks,
	 * pipelined on one connection while the other one goes on; once
	 * through the socket (peer.c holds the rest of the batch), once
	 * directly, and once with the waiting client leaving.
	 */
	for (a = 0; a < 3; a++) {
		mirror_reset();
		d_begin(&s, F_HELLO | (a == 0 ? F_SOCKET : 0));
		d_open(&s, 0, "f", false);
		d_open(&s, CTL_CONN1, "f", false);
		d_alloc(&s, 0, 1, 600000, 0, false, 0);
		b = mirror_alloc(600000);
		d_free(&s, 0, 1, b);
		d_poolref(&s, 0, P_STATS, 0, "f");
		d_poolref(&s, 0, P_CHECK, 1, NULL);
		if (a == 2)
			d_raw(&s, 0, "", 0);	/* client 0 leaves */
		d_poolref(&s, 0, P_TRIM, 1, NULL);
		d_alloc(&s, CTL_CONN1, 1, 100, 0, false, 0);
		d_list(&s, 0);
		d_destroy(&s, 0, "f", false);
		d_alloc(&s, CTL_CONN1, 1, 700000, 0, false, 0);
		write_seed("fuzz_dispatch", a == 0 ? "held_socket" :
			   a == 1 ? "held" : "held_gone", &s);
	}

	/* A forced destroy while another client holds a handle. */
	d_begin(&s, F_HELLO);
	d_open(&s, CTL_CONN1, "g", false);
	d_alloc(&s, CTL_CONN1, 1, 1000, 0, false, 0);
	d_destroy(&s, 0, "g", false);
	d_destroy(&s, 0, "g", true);
	d_alloc(&s, CTL_CONN1, 1, 1000, 0, false, 0);
	d_create(&s, 0, "g", 8192, 0, 0666, 0);
	d_open(&s, CTL_CONN1, "g", false);
	d_close(&s, CTL_CONN1, 1);
	write_seed("fuzz_dispatch", "destroy_force", &s);

	/* The owner of "g": quota and its own pool's rights. */
	d_begin(&s, F_HELLO | F_ID0(ID_OWNER));
	d_open(&s, 0, "g", false);
	d_alloc(&s, 0, 1, 40000, 0, false, 0);
	d_alloc(&s, 0, 1, 40000, 0, false, 0);
	d_realloc(&s, 0, 1, 0, 70000);
	d_open(&s, 0, "f", false);
	d_create(&s, 0, "mine", 4096, 0, 0, 0);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "owner_quota", &s);

	/* A member of group 4243: read-only "g", admin when configured. */
	d_begin(&s, F_HELLO | F_ID0(ID_GROUP) | F_ADMIN);
	d_open(&s, 0, "g", false);
	d_open(&s, 0, "g", true);
	d_alloc(&s, 0, 1, 64, 0, false, 0);
	d_usable(&s, 0, 1, 0);
	d_poolref(&s, 0, P_TRIM, 0, "g");
	d_poolref(&s, 0, P_STATS, 0, "g");
	d_create(&s, 0, "grp", 16384, 0, 0660, 0);
	d_open(&s, 0, "grp", false);
	d_alloc(&s, 0, 2, 64, 0, false, 0);
	d_destroy(&s, 0, "grp", true);
	d_clients(&s, 0, NULL);
	write_seed("fuzz_dispatch", "group_admin", &s);

	/* Anyone else: sees "g" read-only, not "f". */
	d_begin(&s, F_HELLO | F_ID0(ID_OTHER));
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "g", true);
	d_poolref(&s, 0, P_CHECK, 0, "f");
	d_poolref(&s, 0, P_CHECK, 0, "g");
	d_clients(&s, 0, "f");
	d_list(&s, 0);
	d_destroy(&s, 0, "g", true);
	write_seed("fuzz_dispatch", "other", &s);

	/* Through the socket: peer.c reads, batches and replies. */
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_open(&s, 0, "f", true);
	d_list(&s, 0);
	d_raw(&s, 0, "\x08\x01\x52\x00", 4);
	write_seed("fuzz_dispatch", "socket", &s);

	d_begin(&s, F_SOCKET);
	d_hello(&s, 0, 1, "sock");
	d_open(&s, CTL_CONN1, "f", false);
	d_hello(&s, CTL_CONN1 | CTL_RECONNECT, 1, "again");
	d_open(&s, CTL_CONN1, "f", false);
	d_raw(&s, 0, "", 0);
	write_seed("fuzz_dispatch", "socket_reconnect", &s);

	/* Client 0 stops reading for a while: the peer queues its replies. */
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, CTL_HOLD, "f", false);
	for (a = 0; a < 8; a++)
		d_poolref(&s, 0, P_STATS, 0, "f");
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_open(&s, 0, "g", true);
	d_list(&s, CTL_HOLD);
	write_seed("fuzz_dispatch", "hold", &s);

	/* Connection limits: the first word of a refused client is answered
	 * with -EUSERS and the connection closed. */
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_list(&s, CTL_CONN1 | CTL_OVER_LIMIT);
	d_list(&s, CTL_CONN1);
	d_alloc(&s, 0, 1, 64, 0, false, 0);
	write_seed("fuzz_dispatch", "over_limit", &s);

	/* Two references per session at most. */
	mirror_reset();
	d_begin_cap(&s, F_HELLO, CAP_2);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 64, 0, false, 0);
	a = mirror_alloc(64);
	d_alloc(&s, 0, 1, 64, 0, false, 0);
	d_alloc(&s, 0, 1, 64, 0, false, 0);
	d_retain(&s, 0, 2, a);
	d_realloc(&s, 0, 2, OFF_NONE, 10);
	d_free(&s, 0, 1, a);
	d_retain(&s, 0, 2, a);
	write_seed("fuzz_dispatch", "block_cap", &s);

	/* Many handles and blocks, then a listing of all of them. */
	d_begin(&s, F_HELLO);
	for (a = 0; a < 24; a++)
		d_open(&s, a & 1, a & 2 ? "g" : "f", a & 4);
	for (a = 1; a <= 12; a++)
		d_alloc(&s, a & 1, (uint32_t)a, 100 * a, 0, false, 0);
	d_clients(&s, 0, NULL);
	d_list(&s, 1);
	write_seed("fuzz_dispatch", "many", &s);
}

/* Close connection ctl & 1 (an empty datagram: its end of file). */
static void
d_hangup(struct seed *s, unsigned ctl)
{
	d_raw(s, ctl, "", 0);
}

/*
 * Pool "f" filled with 4 page spans of 256 KiB, named n0..n3 (evictable
 * where mask has the bit), each let go by handle 1 of connection 0 in
 * name order; offs[i] is n<i>'s block.
 */
#define EV_BLK (256u << 10)

static void
d_fill_named(struct seed *s, unsigned mask, uint64_t *offs)
{
	char name[4];
	unsigned i;

	for (i = 0; i < 4; i++) {
		d_alloc(s, 0, 1, EV_BLK, 0, false, 0);
		offs[i] = mirror_alloc(EV_BLK);
	}
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		d_name(s, 0, (mask >> i) & 1 ? N_PUBLISH_EVICT : N_PUBLISH, 1,
		       name, 2, offs[i]);
	}
	for (i = 0; i < 4; i++)
		d_free(s, 0, 1, offs[i]);
}

/*
 * Evictable names: allocations in a full pool that must evict (each
 * eviction's span released in steps, so the allocation is held for
 * them), lookups that make a name newer, a name kept and made evictable
 * again in place, a holder's retain that keeps its block, a calloc, a
 * batch and a realloc that must evict, and refusals that evict nothing.
 */
static void
evict_seeds(void)
{
	const uint64_t one[1] = {EV_BLK}, forty[1] = {40 << 10};
	uint64_t offs[4], small[16];
	struct seed s;
	unsigned i;

	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_fill_named(&s, 0xb, offs);
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* evicts n0 */
	d_name(&s, 0, N_LOOKUP, 1, "n1", 2, 0);		/* n3 the oldest */
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* evicts n3 */
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_name(&s, 0, N_REPLACE, 1, "n1", 2, offs[1]);	/* kept now */
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* -ENOMEM */
	d_name(&s, 0, N_REPLACE_EVICT, 1, "n1", 2, offs[1]);
	d_alloc(&s, 0, 1, 2 * EV_BLK, 0, false, 0);	/* too big */
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* evicts n1 */
	d_names(&s, 0, 1, "");
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_name(&s, 0, N_UNPUBLISH, 1, "n2", 2, 0);
	d_close(&s, 0, 1);
	write_seed("fuzz_dispatch", "evict", &s);

	/* Connection 1 holds n0; connection 0's requests pass it over. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_open(&s, 1, "f", true);
	d_fill_named(&s, 0xf, offs);
	d_name(&s, 1, N_RETAIN, 1, "n0", 2, 0);
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* evicts n1 */
	d_alloc(&s, 0, 1, EV_BLK, 0, true, 0);		/* a calloc: n2 */
	d_hangup(&s, 1);				/* n0 the newest */
	d_alloc_batch(&s, 0, 1, one, 1);		/* n3 */
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_realloc(&s, 0, 1, offs[1], 2 * EV_BLK);	/* must move: n0 */
	d_poolref(&s, 0, P_STATS, 1, NULL);
	write_seed("fuzz_dispatch", "evict_held", &s);

	/* 16 blocks of 64 KiB, freed at once: evicted by small requests. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	for (i = 0; i < 16; i++) {
		char name[4];

		d_alloc(&s, 0, 1, 64 << 10, 0, false, 0);
		small[i] = mirror_alloc(64 << 10);
		snprintf(name, sizeof(name), "s%u", i);
		d_name(&s, 0, i & 4 ? N_PUBLISH : N_PUBLISH_EVICT, 1, name,
		       strlen(name),
		       small[i]);
		d_free(&s, 0, 1, small[i]);
	}
	d_alloc(&s, 0, 1, 100, 0, false, 0);
	d_alloc(&s, 0, 1, 128 << 10, 0, false, 0);
	d_alloc(&s, 0, 1, 512 << 10, 0, false, 0);
	d_name(&s, 0, N_RETAIN, 1, "s7", 2, 0);
	d_alloc(&s, 0, 1, 64 << 10, 4096, false, 0);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "evict_small", &s);

	/* A name moved between blocks with and without the flag. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_open(&s, 0, "f", true);
	d_alloc(&s, 0, 1, 300, 0, false, 0);
	offs[0] = mirror_alloc(300);
	d_alloc(&s, 0, 1, 300, 0, false, 0);
	offs[1] = mirror_alloc(300);
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "m", 1, offs[0]);
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "m", 1, offs[1]);	/* -EEXIST */
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "o", 1, offs[0]);	/* -EBUSY */
	d_name(&s, 0, N_PUBLISH_EVICT, 2, "r", 1, offs[1]);	/* read-only */
	d_free(&s, 0, 1, offs[0]);
	d_name(&s, 0, N_REPLACE, 1, "m", 1, offs[1]);
	d_name(&s, 0, N_REPLACE_EVICT, 1, "m", 1, offs[1]);
	d_name(&s, 0, N_RETAIN, 2, "m", 1, 0);
	d_name(&s, 0, N_REPLACE_EVICT, 1, "m", 1, offs[0]);	/* freed */
	d_free(&s, 0, 1, offs[1]);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_close(&s, 0, 2);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_name(&s, 0, N_UNPUBLISH, 1, "m", 1, 0);
	write_seed("fuzz_dispatch", "evict_replace", &s);

	/*
	 * Evicted, and refused all the same: pool "q" (64 KiB, a quota of
	 * 48 KiB per connection) holds client 0's evictable name of 16 KiB,
	 * which counts against the quota of both clients (one uid), and
	 * client 1's 32 KiB.  Client 0's Alloc of 40 KiB is over the quota
	 * by 8 KiB: the name goes, and the engine, with 32 KiB free, refuses
	 * it (-ENOMEM).  So do a batch of one block and a realloc's growth,
	 * each after a name of its own.
	 */
	mirror_reset_sized(64 << 10);
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_create(&s, 0, "q", 64 << 10, 16, 0600, 48 << 10);
	d_open(&s, 0, "q", false);
	d_open(&s, CTL_CONN1, "q", false);
	d_alloc(&s, 0, 1, 16 << 10, 0, false, 0);
	offs[0] = mirror_alloc(16 << 10);
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "e0", 2, offs[0]);
	d_free(&s, 0, 1, offs[0]);
	d_alloc(&s, CTL_CONN1, 1, 32 << 10, 0, false, 0);
	(void)mirror_alloc(32 << 10);
	d_alloc(&s, 0, 1, 40 << 10, 0, false, 0);	/* evicts e0: -ENOMEM */
	heap_free(mirror, offs[0]);
	d_names(&s, 0, 1, "");
	d_alloc(&s, 0, 1, 16 << 10, 0, false, 0);
	offs[1] = mirror_alloc(16 << 10);
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "e1", 2, offs[1]);
	d_free(&s, 0, 1, offs[1]);
	d_alloc_batch(&s, 0, 1, forty, 1);		/* evicts e1: -ENOMEM */
	heap_free(mirror, offs[1]);
	d_alloc(&s, 0, 1, 8 << 10, 0, false, 0);
	offs[2] = mirror_alloc(8 << 10);
	d_alloc(&s, 0, 1, 16 << 10, 0, false, 0);
	offs[3] = mirror_alloc(16 << 10);
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "e2", 2, offs[3]);
	d_free(&s, 0, 1, offs[3]);
	d_realloc(&s, 0, 1, offs[2], 40 << 10);	/* evicts e2: -ENOMEM */
	d_names(&s, 0, 1, "");
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "evict_refused", &s);
}

/*
 * Lookups that wait: one whose pool is destroyed by force under it, with
 * a request queued behind it; one whose client hangs up, the name then
 * published to nobody; one of a millisecond; one of the longest wait
 * that retains; and one answered by an evictable publish in a full pool.
 */
static void
wait_seeds(void)
{
	uint64_t offs[4];
	struct seed s;
	unsigned i;

	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", true);
	d_name(&s, 0, N_WAIT, 1, "frame", 5, 0);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_destroy(&s, 1, "f", false);			/* -EBUSY */
	d_destroy(&s, 1, "f", true);
	d_name(&s, 0, N_WAIT, 1, "frame", 5, 0);	/* -EBADF */
	d_list(&s, 1);
	write_seed("fuzz_dispatch", "names_wait_destroy", &s);

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", true);
	d_name(&s, 0, N_WAIT_LONGEST, 1, "x", 1, UINT64_MAX);
	d_hangup(&s, 0);
	d_open(&s, 1, "f", false);
	d_alloc(&s, 1, 1, 64, 0, false, 0);
	offs[0] = mirror_alloc(64);
	d_name(&s, 1, N_PUBLISH, 1, "x", 1, offs[0]);
	d_open(&s, CTL_RECONNECT, "f", true);	/* connection 0 again */
	d_name(&s, 0, N_WAIT_BRIEF, 1, "y", 1, 0);
	d_list(&s, CTL_CONN1 | CTL_WAIT_ENDS);
	d_name(&s, 0, N_WAIT_LONGEST, 1, "x", 1, 0);
	d_name(&s, 0, N_WAIT, 1, "x", 1, 1);
	d_poolref(&s, 1, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "names_wait_hangup", &s);

	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_open(&s, 1, "f", true);
	d_fill_named(&s, 0xf, offs);
	d_name(&s, 1, N_WAIT, 1, "late", 4, 0);
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);		/* evicts n0 */
	d_name(&s, 0, N_PUBLISH_EVICT, 1, "late", 4, offs[0]);
	d_free(&s, 0, 1, offs[0]);
	d_alloc(&s, 0, 1, 3 * EV_BLK, 0, false, 0);
	d_name(&s, 1, N_WAIT, 1, "late", 4, 0);
	for (i = 0; i < 16; i++)	/* a release step after each */
		d_poolref(&s, 1, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "names_wait_evict", &s);
}

/*
 * Page sizes and NUMA policies at creation: huge pages the machine has
 * none of reserved (-ENOMEM; fuzz_dispatch keeps out any it has), sizes
 * the kernel does not offer, a policy with huge pages, nodes that do not
 * exist, and policies that are not ones.
 */
static void
create_page_seeds(void)
{
	struct seed s;

	d_begin(&s, F_HELLO);
	d_create_paged(&s, 0, "h2m", 2 << 20, 2 << 20, -1, 0);
	d_create_paged(&s, 0, "h1g", 4 << 20, 1 << 30, -1, 0);
	d_create_paged(&s, 0, "h3k", 4 << 20, 3000, -1, 0);
	d_create_paged(&s, 0, "h8k", 4 << 20, 8192, -1, 0);
	d_create_paged(&s, 0, "h4g", 4 << 20, 4ull << 30, -1, 0);
	d_create_paged(&s, 0, "hbig", 4 << 20, 1ull << 63, -1, 0);
	d_create_paged(&s, 0, "hnuma", 2 << 20, 2 << 20, 0, 2);
	d_create_paged(&s, 0, "hsys", 1 << 20, 4096, -1, 0);
	d_open(&s, 0, "hsys", false);
	d_alloc(&s, 0, 1, 5000, 0, false, 0);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_list(&s, 0);
	d_destroy(&s, 0, "hsys", true);
	write_seed("fuzz_dispatch", "create_pages", &s);

	d_begin(&s, F_HELLO);
	d_create_paged(&s, 0, "n0", 1 << 20, 0, 0, 0);
	d_create_paged(&s, 0, "n0b", 1 << 20, 0, 0, 2);
	d_create_paged(&s, 0, "n63", 1 << 20, 0, 63, 1);
	d_create_paged(&s, 0, "n1k", 1 << 20, 0, 1000, 2);
	d_create_paged(&s, 0, "np7", 1 << 20, 0, 0, 7);
	d_create_paged(&s, 0, "np3", 1 << 20, 0, 0, 3);
	d_create_paged(&s, 0, "npn", 1 << 20, 0, -1, 2);
	d_open(&s, 0, "n0b", false);
	d_alloc(&s, 0, 1, 300000, 0, true, 0);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_STATS, 0, "n0");
	d_list(&s, 0);
	d_destroy(&s, 0, "n0b", true);
	d_destroy(&s, 0, "n0", false);
	write_seed("fuzz_dispatch", "create_numa", &s);
}

/*
 * A SetPool of name: each of mode, uid, gid, quota and retain given when
 * not -1; retain -2 asks for the daemon's default.
 */
static void
d_set(struct seed *s, unsigned ctl, const char *name, int64_t mode,
      int64_t uid, int64_t gid, int64_t quota, int64_t retain)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;

	m.name = (char *)name;
	if (mode != -1) {
		m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
		m.mode = (uint32_t)mode;
	}
	if (uid != -1) {
		m.set_uid_case = POOLMGR__SET_POOL__SET_UID_UID;
		m.uid = (uint32_t)uid;
	}
	if (gid != -1) {
		m.set_gid_case = POOLMGR__SET_POOL__SET_GID_GID;
		m.gid = (uint32_t)gid;
	}
	if (quota != -1) {
		m.set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
		m.quota = (uint64_t)quota;
	}
	if (retain == -2) {
		m.set_retain_case =
		    POOLMGR__SET_POOL__SET_RETAIN_RETAIN_DEFAULT;
		m.retain_default = true;
	} else if (retain != -1) {
		m.set_retain_case = POOLMGR__SET_POOL__SET_RETAIN_RETAIN;
		m.retain = (uint64_t)retain;
	}
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(s, ctl, &r);
}

/* A CreatePool made for uid and gid (each given when not -1). */
static void
d_create_owned(struct seed *s, unsigned ctl, const char *name, uint32_t mode,
	       int64_t uid, int64_t gid)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;

	m.name = (char *)name;
	m.max_size = 1 << 20;
	m.mode = mode;
	if (uid != -1) {
		m.owner_uid_case = POOLMGR__CREATE_POOL__OWNER_UID_UID;
		m.uid = (uint32_t)uid;
	}
	if (gid != -1) {
		m.owner_gid_case = POOLMGR__CREATE_POOL__OWNER_GID_GID;
		m.gid = (uint32_t)gid;
	}
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/*
 * Live settings: SetPool by the trusted uid, by "g"'s owner (mode and
 * group only) and by anyone else; pools created for another owner.
 */
static void
set_seeds(void)
{
	struct seed s;

	d_begin(&s, F_HELLO);
	d_create_owned(&s, 0, "o", 0600, 4242, 4243);
	d_create_owned(&s, 0, "o1", 0, 4245, -1);
	d_create_owned(&s, 0, "o2", 0, UINT32_MAX, -1);
	d_create_owned(&s, 0, "o3", 0, -1, UINT32_MAX);
	d_set(&s, 0, "f", 0640, -1, -1, 4096, 0);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 3000, 0, false, 0);
	d_alloc(&s, 0, 1, 3000, 0, false, 0);
	d_set(&s, 0, "f", -1, -1, -1, 0, -2);
	d_alloc(&s, 0, 1, 3000, 0, false, 0);
	d_set(&s, 0, "f", 0, -1, -1, -1, -1);
	d_set(&s, 0, "f", 01000, -1, -1, -1, -1);
	d_set(&s, 0, "f", -1, UINT32_MAX, -1, -1, -1);
	d_set(&s, 0, "f", -1, -1, UINT32_MAX, -1, -1);
	d_set(&s, 0, "f", -1, 4245, 4243, -1, 1 << 20);
	d_set(&s, 0, "nosuch", 0600, -1, -1, -1, -1);
	d_set(&s, 0, "", -1, -1, -1, -1, -1);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "set_trusted", &s);

	/* Connection 0 as uid 4242, "g"'s owner; connection 1 anyone. */
	d_begin(&s, F_HELLO | F_ID0(1) | F_ID1(3));
	d_set(&s, 0, "g", 0666, -1, -1, -1, -1);
	d_set(&s, 0, "g", -1, -1, 4243, -1, -1);
	d_set(&s, 0, "g", -1, -1, 4244, -1, -1);
	d_set(&s, 0, "g", -1, -1, -1, 1 << 20, -1);
	d_set(&s, 0, "f", 0666, -1, -1, -1, -1);
	d_set(&s, 1, "g", 0600, -1, -1, -1, -1);
	d_create_owned(&s, 1, "x", 0600, 4245, -1);
	d_open(&s, 1, "g", false);
	d_set(&s, 0, "g", 0600, -1, -1, -1, -1);
	d_open(&s, 1, "g", false);
	write_seed("fuzz_dispatch", "set_owner", &s);
}

/* A SetPool of name's limit alone (0: none). */
static void
d_set_limit(struct seed *s, unsigned ctl, const char *name, uint64_t limit)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;

	m.name = (char *)name;
	m.set_limit_case = POOLMGR__SET_POOL__SET_LIMIT_LIMIT;
	m.limit = limit;
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(s, ctl, &r);
}

/* A SetPool of name's user quota alone (0: none). */
static void
d_set_user_quota(struct seed *s, unsigned ctl, const char *name,
		 uint64_t bytes)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;

	m.name = (char *)name;
	m.set_user_quota_case = POOLMGR__SET_POOL__SET_USER_QUOTA_USER_QUOTA;
	m.user_quota = bytes;
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(s, ctl, &r);
}

/* A CreatePool of 1 MiB with a user quota. */
static void
d_create_user_quota(struct seed *s, unsigned ctl, const char *name,
		    uint64_t bytes)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;

	m.name = (char *)name;
	m.max_size = 1 << 20;
	m.mode = 0666;
	m.user_quota = bytes;
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/*
 * A user quota: a pool made with one, and "f" given one that two
 * connections of one uid run into together (alone, in a batch, by a
 * realloc's growth, a retain of the other's block) while neither passes
 * the quota per connection; raised, removed; set by one who may not;
 * ListUsers between, by handle, by name and of no pool.
 */
static void
user_quota_seeds(void)
{
	const uint64_t two[2] = {4096, 4096};
	uint64_t a, b;
	struct seed s;

	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_create_user_quota(&s, 0, "uq", 8192);
	d_set_user_quota(&s, 0, "f", 12288);
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, 0, 1, 4096, 0, false, 0);
	a = mirror_alloc(4096);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	b = mirror_alloc(4096);
	d_alloc(&s, 0, 1, 8192, 0, false, 0);
	d_alloc_batch(&s, CTL_CONN1, 1, two, 2);
	d_realloc(&s, 0, 1, a, 12288);
	d_retain(&s, 0, 1, b);
	d_poolref(&s, 0, P_USERS, 1, NULL);
	d_poolref(&s, 0, P_USERS, 0, "f");
	d_poolref(&s, 0, P_USERS, 0, "nope");
	d_poolref(&s, 0, P_USERS, 5, NULL);
	d_set_user_quota(&s, 0, "f", 1 << 20);
	d_retain(&s, 0, 1, b);
	d_persist(&s, 0, 1, a);
	d_poolref(&s, CTL_CONN1, P_USERS, 0, "f");
	d_set_user_quota(&s, 0, "f", 0);
	d_alloc(&s, 0, 1, 8192, 0, false, 0);
	d_set_user_quota(&s, CTL_CONN1, "f", 4096);
	d_poolref(&s, 0, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "user_quota", &s);
}

/* User quotas of uids for a request: n of {uid, bytes}. */
struct seed_uq {
	size_t n;
	const uint64_t (*e)[2];
};

#define SEED_UQ_MAX 40		/* room past the daemon's 32, to refuse */

struct uq_room {
	Poolmgr__UserQuota e[SEED_UQ_MAX];
	Poolmgr__UserQuota *ptr[SEED_UQ_MAX];
};

/* The UserQuota messages of u, built in room: the pointers. */
static Poolmgr__UserQuota **
d_uq_msg(struct uq_room *room, const struct seed_uq *u)
{
	size_t i;

	if (u->n > SEED_UQ_MAX) {
		fprintf(stderr, "make_corpus: user quotas too many\n");
		exit(1);
	}
	for (i = 0; i < u->n; i++) {
		poolmgr__user_quota__init(&room->e[i]);
		room->e[i].uid = (uint32_t)u->e[i][0];
		room->e[i].bytes = u->e[i][1];
		room->ptr[i] = &room->e[i];
	}
	return room->ptr;
}

/* A CreatePool of 1 MiB, mode 0666, user quota dflt and entries u. */
static void
d_create_uq(struct seed *s, unsigned ctl, const char *name, uint64_t dflt,
	    const struct seed_uq *u)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	struct uq_room room;

	m.name = (char *)name;
	m.max_size = 1 << 20;
	m.mode = 0666;
	m.user_quota = dflt;
	m.n_user_quotas = u->n;
	m.user_quotas = d_uq_msg(&room, u);
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/* A SetPool of name's user quotas of uids: rm taken out, then mod set. */
static void
d_set_uq(struct seed *s, unsigned ctl, const char *name,
	 const struct seed_uq *mod, const uint32_t *rm, size_t nrm)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	struct uq_room room;

	m.name = (char *)name;
	m.n_user_quota_modify = mod->n;
	m.user_quota_modify = d_uq_msg(&room, mod);
	m.n_user_quota_remove = nrm;
	m.user_quota_remove = (uint32_t *)rm;
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(s, ctl, &r);
}

/*
 * User quotas of uids: pool "uq" made with a default of 4096 and uid
 * 4245's own 8192 (and 4242's none); 4245 allocates until its own bound
 * refuses, alone and in a batch; its entry raised, it allocates more;
 * ListUsers and Stats read them; its entry removed, the default binds
 * it; the ways a change is refused (a uid twice, in a part or across
 * both, nobody's, 33 at creation and by a change) and by one who may not;
 * a change emptying them; Check.
 */
static void
uid_quota_seeds(void)
{
	static const uint64_t made[][2] = {{4245, 8192}, {4242, 0}};
	static const uint64_t raised[][2] = {{4245, 16384}};
	static const uint64_t twice[][2] = {{7, 1}, {7, 2}};
	static const uint64_t nobody[][2] = {{UINT32_MAX, 1}};
	static const uint32_t rm_4245[] = {4245};
	static const uint32_t rm_all[] = {4242, 4245, 9};
	const uint64_t two[2] = {4096, 4096};
	uint64_t many[33][2];
	struct seed s;
	size_t i;

	for (i = 0; i < 33; i++) {
		many[i][0] = 6000 + i;
		many[i][1] = 4096 * (i + 1);
	}
	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_OTHER));
	d_create_uq(&s, 0, "uq", 4096, &(struct seed_uq){2, made});
	d_create_uq(&s, 0, "uq2", 0, &(struct seed_uq){33, many});
	d_create_uq(&s, 0, "uq3", 0, &(struct seed_uq){2, twice});
	d_open(&s, CTL_CONN1, "uq", false);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	d_alloc_batch(&s, CTL_CONN1, 1, two, 2);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){1, raised}, NULL, 0);
	d_alloc_batch(&s, CTL_CONN1, 1, two, 2);
	d_poolref(&s, 0, P_USERS, 0, "uq");
	d_poolref(&s, 0, P_STATS, 0, "uq");
	d_set_uq(&s, 0, "uq", &(struct seed_uq){0, NULL}, rm_4245, 1);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	d_poolref(&s, CTL_CONN1, P_USERS, 1, NULL);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){2, twice}, NULL, 0);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){1, raised}, rm_4245, 1);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){1, nobody}, NULL, 0);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){33, many}, NULL, 0);
	d_set_uq(&s, 0, "uq", &(struct seed_uq){31, many}, NULL, 0);
	d_set_uq(&s, CTL_CONN1, "uq", &(struct seed_uq){1, raised}, NULL, 0);
	d_poolref(&s, 0, P_STATS, 0, "uq");
	d_set_uq(&s, 0, "uq", &(struct seed_uq){0, NULL}, rm_all, 3);
	d_poolref(&s, 0, P_CHECK, 0, "uq");
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "uid_quota", &s);
}

/* Entries' kinds and rights, as proto/poolmgr.proto numbers them. */
#define ACE_USER 1
#define ACE_GROUP 2
#define ACE_R 4
#define ACE_W 2
#define ACE_RW 6

/* An access control entry as a seed gives it: kind, id and rights. */
struct seed_ace {
	uint32_t kind, id, rights;
};

/* A list for a request: absent when NULL, else its n entries (0: empty). */
struct seed_acl {
	size_t n;
	const struct seed_ace *e;
};

#define SEED_ACL_MAX 40		/* room past the daemon's 32, to refuse */

struct acl_room {
	Poolmgr__Acl acl;
	Poolmgr__AclEntry e[SEED_ACL_MAX];
	Poolmgr__AclEntry *ptr[SEED_ACL_MAX];
};

/* The Acl message of a, built in room; NULL (not sent) when a is. */
static Poolmgr__Acl *
d_acl_msg(struct acl_room *room, const struct seed_acl *a)
{
	size_t i;

	if (!a)
		return NULL;
	if (a->n > SEED_ACL_MAX) {
		fprintf(stderr, "make_corpus: list too long\n");
		exit(1);
	}
	poolmgr__acl__init(&room->acl);
	for (i = 0; i < a->n; i++) {
		poolmgr__acl_entry__init(&room->e[i]);
		room->e[i].kind = a->e[i].kind;
		room->e[i].id = a->e[i].id;
		room->e[i].rights = a->e[i].rights;
		room->ptr[i] = &room->e[i];
	}
	room->acl.n_entries = a->n;
	room->acl.entries = room->ptr;
	return &room->acl;
}

/* A CreatePool of 1 MiB of mode with an access control list. */
static void
d_create_acl(struct seed *s, unsigned ctl, const char *name, uint32_t mode,
	     const struct seed_acl *acl)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	struct acl_room room;

	m.name = (char *)name;
	m.max_size = 1 << 20;
	m.mode = mode;
	m.acl = d_acl_msg(&room, acl);
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/*
 * A SetPool of name's access control list alone: replaced by acl,
 * changed by modify and remove (each sent when not NULL).
 */
static void
d_set_acl(struct seed *s, unsigned ctl, const char *name,
	  const struct seed_acl *acl, const struct seed_acl *modify,
	  const struct seed_acl *remove)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	struct acl_room rooms[3];

	m.name = (char *)name;
	m.acl = d_acl_msg(&rooms[0], acl);
	m.acl_modify = d_acl_msg(&rooms[1], modify);
	m.acl_remove = d_acl_msg(&rooms[2], remove);
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(s, ctl, &r);
}

/* n entries from id up, users and groups by turns, rights by turns. */
static void
acl_many(struct seed_ace *e, size_t n, uint32_t id)
{
	static const uint32_t rights[4] = {ACE_R, ACE_RW, 0, ACE_W};
	size_t i;

	for (i = 0; i < n; i++) {
		e[i].kind = i % 2 ? ACE_GROUP : ACE_USER;
		e[i].id = id + (uint32_t)(i / 2);
		e[i].rights = rights[i % 4];
	}
}

/*
 * Is name readable and writable by what: Stats (read), Check (write; not
 * Trim, which holds the connection's next datagram while it runs), Open
 * both ways.
 */
static void
d_acl_probe(struct seed *s, unsigned ctl, const char *name)
{
	d_poolref(s, ctl, P_STATS, 0, name);
	d_poolref(s, ctl, P_CHECK, 0, name);
	d_open(s, ctl, name, true);
	d_open(s, ctl, name, false);
}

/*
 * Access control lists at CreatePool: one valid (given unsorted, with an
 * entry that refuses), then each way a list is refused: a kind and id
 * twice, 33 entries, kind 3 and 0, rights 8, id 4294967295; 32 entries
 * are the most.  Read back by Stats, ListPools and ListClients, by the
 * trusted uid and by uid 4245, whom the entries name.
 */
static void
acl_create_seeds(void)
{
	static const struct seed_ace valid[] = {
		{ACE_GROUP, 4243, ACE_RW}, {ACE_USER, 4245, ACE_R},
		{ACE_USER, 4242, 0}, {ACE_GROUP, 4245, ACE_W},
	};
	static const struct seed_ace twice[] = {
		{ACE_USER, 4245, ACE_R}, {ACE_GROUP, 4245, ACE_R},
		{ACE_USER, 4245, ACE_RW},
	};
	static const struct seed_ace kind3[] = {{3, 7, ACE_R}};
	static const struct seed_ace kind0[] = {{0, 7, ACE_R}};
	static const struct seed_ace rights8[] = {{ACE_USER, 7, 8}};
	static const struct seed_ace nobody[] = {
		{ACE_GROUP, 7, ACE_R}, {ACE_USER, UINT32_MAX, ACE_R},
	};
	struct seed_ace many[33];
	struct seed s;

	d_begin(&s, F_HELLO | F_ID1(ID_OTHER));
	d_create_acl(&s, 0, "a", 0600, &(struct seed_acl){4, valid});
	d_create_acl(&s, 0, "a1", 0600, &(struct seed_acl){3, twice});
	acl_many(many, 33, 5000);
	d_create_acl(&s, 0, "a2", 0600, &(struct seed_acl){33, many});
	d_create_acl(&s, 0, "a3", 0600, &(struct seed_acl){1, kind3});
	d_create_acl(&s, 0, "a4", 0600, &(struct seed_acl){1, kind0});
	d_create_acl(&s, 0, "a5", 0600, &(struct seed_acl){1, rights8});
	d_create_acl(&s, 0, "a6", 0600, &(struct seed_acl){2, nobody});
	d_create_acl(&s, 0, "a7", 0644, &(struct seed_acl){32, many});
	d_create_acl(&s, 0, "a8", 0644, &(struct seed_acl){0, NULL});
	d_poolref(&s, 0, P_STATS, 0, "a");
	d_poolref(&s, 0, P_STATS, 0, "a7");
	d_list(&s, 0);
	d_acl_probe(&s, CTL_CONN1, "a");
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	d_acl_probe(&s, CTL_CONN1, "a7");
	d_acl_probe(&s, CTL_CONN1, "a8");
	d_list(&s, CTL_CONN1);
	d_clients(&s, CTL_CONN1, "a");
	d_clients(&s, CTL_CONN1, NULL);
	d_create_acl(&s, CTL_CONN1, "a9", 0600, &(struct seed_acl){4, valid});
	d_destroy(&s, 0, "a7", false);
	d_destroy(&s, 0, "a", true);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "acl_create", &s);
}

/*
 * Access control lists changed live on "g" by its owner, uid 4242, and
 * read by uid 4244, in "g"'s group 4243 (a supplementary group) with
 * primary group 4244: a user entry refusing what the group grants, set,
 * changed in place and taken out; a group entry granting beyond the
 * group bits and one refusing beside them; a list replaced and changed
 * in one request (refused), removed and added in one; each bad entry in
 * a change; a change past 32 entries; changes by one who may not; the
 * list emptied.
 */
static void
acl_set_seeds(void)
{
	static const struct seed_ace refuse_user[] = {
		{ACE_USER, 4244, 0}, {ACE_GROUP, 4243, ACE_RW},
	};
	static const struct seed_ace user_rw[] = {{ACE_USER, 4244, ACE_RW}};
	static const struct seed_ace user_any[] = {{ACE_USER, 4244, 8}};
	static const struct seed_ace group_none[] = {{ACE_GROUP, 4243, 0}};
	static const struct seed_ace group_rm[] = {{ACE_GROUP, 4243, ACE_R}};
	static const struct seed_ace primary[] = {
		{ACE_USER, 4245, ACE_R}, {ACE_GROUP, 4244, ACE_W},
	};
	static const struct seed_ace kind3[] = {{3, 4244, ACE_R}};
	static const struct seed_ace kind0[] = {{0, 4244, 0}};
	static const struct seed_ace twice[] = {
		{ACE_USER, 1, ACE_R}, {ACE_USER, 1, ACE_W},
	};
	static const struct seed_ace nobody[] = {
		{ACE_GROUP, UINT32_MAX, ACE_R},
	};
	static const struct seed_ace rights8[] = {{ACE_GROUP, 4243, 8}};
	struct seed_ace many[31];
	struct seed s;

	d_begin(&s, F_HELLO | F_ID0(ID_OWNER) | F_ID1(ID_GROUP));
	d_acl_probe(&s, CTL_CONN1, "g");
	d_set_acl(&s, 0, "g", &(struct seed_acl){2, refuse_user}, NULL,
		  NULL);
	d_acl_probe(&s, CTL_CONN1, "g");
	d_poolref(&s, 0, P_STATS, 0, "g");
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){1, user_rw}, NULL);
	d_acl_probe(&s, CTL_CONN1, "g");
	d_set_acl(&s, 0, "g", NULL, NULL, &(struct seed_acl){1, user_any});
	d_acl_probe(&s, CTL_CONN1, "g");
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){1, group_none}, NULL);
	d_acl_probe(&s, CTL_CONN1, "g");
	d_list(&s, CTL_CONN1);
	d_set_acl(&s, 0, "g", &(struct seed_acl){1, user_rw},
		  &(struct seed_acl){1, user_rw}, NULL);
	d_set_acl(&s, 0, "g", &(struct seed_acl){0, NULL}, NULL,
		  &(struct seed_acl){1, group_rm});
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){2, primary},
		  &(struct seed_acl){1, group_rm});
	d_acl_probe(&s, CTL_CONN1, "g");
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){1, kind3}, NULL);
	d_set_acl(&s, 0, "g", NULL, NULL, &(struct seed_acl){1, kind0});
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){2, twice}, NULL);
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){1, nobody}, NULL);
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){1, rights8}, NULL);
	acl_many(many, 31, 6000);
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){31, many}, NULL);
	d_set_acl(&s, 0, "g", NULL, &(struct seed_acl){30, many},
		  &(struct seed_acl){1, primary});
	d_poolref(&s, 0, P_STATS, 0, "g");
	d_set_acl(&s, CTL_CONN1, "g", &(struct seed_acl){0, NULL}, NULL,
		  NULL);
	d_set_acl(&s, 0, "f", &(struct seed_acl){1, user_rw}, NULL, NULL);
	d_set_acl(&s, 0, "nosuch", &(struct seed_acl){1, user_rw}, NULL,
		  NULL);
	d_list(&s, 0);
	d_set_acl(&s, 0, "g", &(struct seed_acl){0, NULL}, NULL, NULL);
	d_acl_probe(&s, CTL_CONN1, "g");
	d_poolref(&s, 0, P_STATS, 0, "g");
	write_seed("fuzz_dispatch", "acl_set", &s);
}

/*
 * Handles outlive the list they were opened under: uid 4245 opens "f"
 * through its entry and allocates; the trusted uid then refuses it by
 * entry, and the handle still allocates, frees and reads its pool while
 * new opens are refused; write alone; a change naming an entry the list
 * has not; a list and the mode set in one request.
 */
static void
acl_handle_seeds(void)
{
	static const struct seed_ace rw[] = {{ACE_USER, 4245, ACE_RW}};
	static const struct seed_ace none[] = {{ACE_USER, 4245, 0}};
	static const struct seed_ace w[] = {{ACE_USER, 4245, ACE_W}};
	static const struct seed_ace other[] = {{ACE_GROUP, 9, ACE_R}};
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	struct acl_room room;
	uint64_t a;
	struct seed s;

	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_OTHER));
	d_set_acl(&s, 0, "f", &(struct seed_acl){1, rw}, NULL, NULL);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc(&s, CTL_CONN1, 1, 4096, 0, false, 0);
	a = mirror_alloc(4096);
	d_set_acl(&s, 0, "f", &(struct seed_acl){1, none}, NULL, NULL);
	d_alloc(&s, CTL_CONN1, 1, 256, 0, false, 0);
	mirror_alloc(256);
	d_poolref(&s, CTL_CONN1, P_STATS, 1, NULL);
	d_acl_probe(&s, CTL_CONN1, "f");
	d_free(&s, CTL_CONN1, 1, a);
	d_set_acl(&s, 0, "f", NULL, &(struct seed_acl){1, w}, NULL);
	d_acl_probe(&s, CTL_CONN1, "f");
	d_set_acl(&s, 0, "f", NULL, NULL, &(struct seed_acl){1, other});
	d_set_acl(&s, 0, "f", NULL, &(struct seed_acl){0, NULL},
		  &(struct seed_acl){0, NULL});
	m.name = "f";
	m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
	m.mode = 0604;
	m.acl = d_acl_msg(&room, &(struct seed_acl){1, none});
	r.body_case = POOLMGR__REQUEST__BODY_SET;
	r.set = &m;
	d_req(&s, 0, &r);
	d_acl_probe(&s, CTL_CONN1, "f");
	d_list(&s, CTL_CONN1);
	d_close(&s, CTL_CONN1, 1);
	d_poolref(&s, 0, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "acl_handles", &s);
}

/* A CreatePool of size with a limit. */
static void
d_create_limited(struct seed *s, unsigned ctl, const char *name,
		 uint64_t size, uint64_t limit)
{
	Poolmgr__Request r = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;

	m.name = (char *)name;
	m.max_size = size;
	m.limit = limit;
	r.body_case = POOLMGR__REQUEST__BODY_CREATE;
	r.create = &m;
	d_req(s, ctl, &r);
}

/*
 * A pool's limit: pools created with one (and refused ones), a limit set
 * on "f" that allocations, a calloc, a batch and a realloc's growth run
 * into, raised and taken away live; lowered below what evictable names
 * hold (which evicts them down to it); allocations and a realloc that
 * must evict to stay under it; a limit set by someone who may not.
 */
static void
limit_seeds(void)
{
	const uint64_t three[3] = {EV_BLK, EV_BLK, EV_BLK};
	const uint64_t two[2] = {4096, 4096};
	uint64_t offs[4], a, b;
	struct seed s;

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_create_limited(&s, 0, "l", 1 << 20, 64 << 10);
	d_create_limited(&s, 0, "l2", 1 << 20, 2 << 20);	/* > size */
	d_create_limited(&s, 0, "l3", 1 << 20, 1);		/* < granule */
	d_create_limited(&s, 0, "l4", 1 << 20, UINT64_MAX);
	d_open(&s, 0, "l", false);
	d_alloc(&s, 0, 1, 60 << 10, 0, false, 0);
	d_alloc(&s, 0, 1, 8 << 10, 0, false, 0);		/* over it */
	d_alloc(&s, 0, 1, 100, 0, true, 0);
	d_alloc_batch(&s, 0, 1, two, 2);
	d_set_limit(&s, 0, "l", 1 << 20);
	d_alloc(&s, 0, 1, 8 << 10, 0, false, 0);
	d_set_limit(&s, 0, "l", 16);				/* below use */
	d_alloc(&s, 0, 1, 16, 0, false, 0);
	d_set_limit(&s, 0, "l", 0);
	d_set_limit(&s, 0, "l", 3 << 20);
	d_set_limit(&s, 0, "l", 1);
	d_set_limit(&s, 0, "nosuch", 4096);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "limit", &s);

	/* On "f": a realloc grows into its limit, a batch is refused whole. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_set_limit(&s, 0, "f", 512 << 10);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 200 << 10, 0, false, 0);
	a = mirror_alloc(200 << 10);
	d_realloc(&s, 0, 1, a, 300 << 10);
	d_realloc(&s, 0, 1, a, 600 << 10);			/* past it */
	d_alloc_batch(&s, 0, 1, three, 3);
	d_alloc(&s, 0, 1, 1000, 0, false, 0);
	b = mirror_alloc(1000);
	d_realloc(&s, 0, 1, b, 300 << 10);			/* a move */
	d_set_limit(&s, 0, "f", 0);
	d_realloc(&s, 0, 1, b, 300 << 10);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "limit_grow", &s);

	/* Evictable names above a lowered limit, then allocations under it. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_fill_named(&s, 0xb, offs);
	d_set_limit(&s, 0, "f", 600 << 10);	/* evicts n0 and n1 */
	heap_free(mirror, offs[0]);
	heap_free(mirror, offs[1]);
	d_names(&s, 0, 1, "");
	d_alloc(&s, 0, 1, EV_BLK, 0, false, 0);	/* evicts n3 */
	(void)mirror_alloc(EV_BLK);
	heap_free(mirror, offs[3]);
	d_alloc(&s, 0, 1, 4096, 0, false, 0);
	a = mirror_alloc(4096);
	d_realloc(&s, 0, 1, a, EV_BLK);		/* evicts for its growth */
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_set_limit(&s, 0, "f", 4096);
	d_names(&s, 0, 1, "");
	d_close(&s, 0, 1);
	write_seed("fuzz_dispatch", "limit_evict", &s);

	/* "g"'s owner and anyone else may not set it. */
	d_begin(&s, F_HELLO | F_ID0(1) | F_ID1(3));
	d_set_limit(&s, 0, "g", 128 << 10);
	d_set_limit(&s, 1, "g", 128 << 10);
	d_create_limited(&s, 1, "x", 1 << 20, 4096);
	d_poolref(&s, 0, P_STATS, 0, "g");
	write_seed("fuzz_dispatch", "limit_rights", &s);
}

/* An Alloc of size through handle that may wait wait_ms for room. */
static void
d_alloc_wait(struct seed *s, unsigned ctl, uint32_t handle, uint64_t size,
	     uint64_t align, bool zero, uint32_t wait_ms)
{
	d_alloc_for(s, ctl, handle, size, align, zero, 0, wait_ms);
}

/*
 * Allocations that wait for room (Alloc.wait_ms): held on a full "f"
 * until the other connection frees, raises the limit, destroys the pool
 * or the waiter hangs up; one whose millisecond passes; one refused its
 * quota at once on "g"; one that finds room without waiting.
 */
static void
room_seeds(void)
{
	unsigned flags[2] = {F_HELLO, F_HELLO | F_SOCKET};
	const char *names[2] = {"alloc_wait", "alloc_wait_socket"};
	uint64_t full;
	struct seed s;
	unsigned i;

	for (i = 0; i < 2; i++) {
		mirror_reset();
		d_begin(&s, flags[i]);
		d_open(&s, 0, "f", false);
		d_alloc(&s, 0, 1, 1 << 20, 0, false, 0);
		full = mirror_alloc(1 << 20);
		d_open(&s, 1, "f", false);
		d_alloc_wait(&s, 1, 1, 4096, 0, true, 60000);	/* held */
		d_poolref(&s, 1, P_STATS, 1, NULL);		/* behind it */
		d_poolref(&s, 0, P_STATS, 1, NULL);
		d_poolref(&s, 0, P_CHECK, 1, NULL);
		d_daemon_stats(&s, 0);
		d_free(&s, 0, 1, full);				/* room */
		d_poolref(&s, 1, P_CHECK, 1, NULL);
		d_alloc_wait(&s, 1, 1, 100, 64, false, 60000);	/* at once */
		write_seed("fuzz_dispatch", names[i], &s);
	}

	/* Its millisecond passes: -ETIMEDOUT; then the longest wait. */
	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 1 << 20, 0, false, 0);
	full = mirror_alloc(1 << 20);
	d_alloc_wait(&s, 0, 1, 16, 0, false, 1);
	d_poolref(&s, CTL_WAIT_ENDS, P_STATS, 1, NULL);
	d_open(&s, 1, "f", false);
	d_alloc_wait(&s, 1, 1, 16, 0, false, UINT32_MAX);
	d_alloc_wait(&s, 1, 1, 16, 0, false, 1);	/* behind it */
	d_free(&s, 0, 1, full);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "alloc_wait_ends", &s);

	/* A limit raised, a waiter hanging up, the pool destroyed. */
	d_begin(&s, F_HELLO);
	d_set_limit(&s, 0, "f", 64 << 10);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 64 << 10, 0, false, 0);
	d_open(&s, 1, "f", false);
	d_alloc_wait(&s, 1, 1, 8 << 10, 0, false, 60000);
	d_set_limit(&s, 0, "f", 128 << 10);		/* room */
	d_alloc_wait(&s, 1, 1, 128 << 10, 0, false, 60000);
	d_hangup(&s, 1);				/* gone, waiting */
	d_open(&s, 1, "f", false);
	d_alloc_wait(&s, 1, 1, 128 << 10, 0, false, 60000);
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_destroy(&s, 0, "f", true);			/* -ENOENT */
	d_alloc_wait(&s, 1, 1, 16, 0, false, 60000);
	d_list(&s, 0);
	write_seed("fuzz_dispatch", "alloc_wait_gone", &s);

	/* "g"'s quota of 64 KiB: -EDQUOT at once, never waited on. */
	d_begin(&s, F_HELLO | F_ID0(1));
	d_open(&s, 0, "g", false);
	d_alloc(&s, 0, 1, 64 << 10, 0, false, 0);
	d_alloc_wait(&s, 0, 1, 4096, 0, false, 60000);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	write_seed("fuzz_dispatch", "alloc_wait_quota", &s);
}

/*
 * Blocks persistent from the start (Alloc.persist): one handed to the
 * other connection, which frees it; one zeroed in steps whose maker hangs
 * up mid-way; one that waits for room; one past "g"'s quota.
 */
static void
persist_seeds(void)
{
	uint64_t a, full;
	struct seed s;

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc_as(&s, 0, 1, 4096, 0, false, 0, 0, true);
	a = mirror_alloc(4096);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_open(&s, 1, "f", false);
	d_free(&s, 1, 1, a);				/* ends it */
	d_free(&s, 0, 1, a);				/* -EINVAL */
	d_poolref(&s, 1, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "alloc_persist", &s);

	mirror_reset();
	d_begin(&s, F_HELLO | F_ID1(ID_TRUSTED));
	d_open(&s, 0, "f", false);
	d_open(&s, CTL_CONN1, "f", false);
	d_alloc_as(&s, 0, 1, 300000, 0, true, 1, 0, true);
	a = mirror_alloc(300000);
	d_alloc_as(&s, 0, 1, 300000, 0, true, 1, 0, true);
	d_raw(&s, 0, "", 0);	/* client 0 disconnects mid-zeroing */
	d_free(&s, CTL_CONN1, 1, a);
	d_poolref(&s, CTL_CONN1, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "alloc_persist_steps", &s);

	mirror_reset();
	d_begin(&s, F_HELLO | F_SOCKET);
	d_open(&s, 0, "f", false);
	d_alloc(&s, 0, 1, 1 << 20, 0, false, 0);
	full = mirror_alloc(1 << 20);
	d_open(&s, 1, "f", false);
	d_alloc_as(&s, 1, 1, 4096, 0, false, 0, 60000, true);	/* held */
	d_free(&s, 0, 1, full);					/* room */
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "alloc_persist_wait", &s);

	d_begin(&s, F_HELLO | F_ID0(1));
	d_open(&s, 0, "g", false);
	d_alloc_as(&s, 0, 1, 60 << 10, 0, false, 0, 0, true);
	d_alloc_as(&s, 0, 1, 8 << 10, 0, false, 0, 0, true);	/* -EDQUOT */
	d_poolref(&s, 0, P_STATS, 1, NULL);
	write_seed("fuzz_dispatch", "alloc_persist_quota", &s);

	/* Ended by age: too young, unknown, not persistent, then ended. */
	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc_as(&s, 0, 1, 4096, 0, false, 0, 0, true);
	a = mirror_alloc(4096);
	d_alloc(&s, 0, 1, 256, 0, false, 0);
	d_free_persisted(&s, 0, 1, a, UINT64_MAX);		/* -ESTALE */
	d_free_persisted(&s, 0, 1, a + 16, 0);			/* -EINVAL */
	d_free_persisted(&s, 0, 1, mirror_alloc(256), 0);	/* -EPERM */
	d_free_persisted(&s, 0, 7, a, 0);			/* -EBADF */
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	d_free_persisted(&s, 0, 1, a, 0);			/* ends it */
	d_poolref(&s, 0, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "free_persisted", &s);
}

/*
 * Batches of blocks persistent from the start (AllocBatch.persist): one
 * handed to the other connection, which frees each; one past the pool's
 * room (none made); one past "g"'s quota; one past the blocks a session
 * may hold, which it never holds.
 */
static void
batch_persist_seeds(void)
{
	const uint64_t sizes[] = {100, 4096, 300, 16, 64};
	const uint64_t toobig[] = {64, 64, 2u << 20};
	const uint64_t quota[] = {32 << 10, 16 << 10};
	uint64_t offs[3];
	struct seed s;
	unsigned i;

	mirror_reset();
	d_begin(&s, F_HELLO);
	d_open(&s, 0, "f", false);
	d_alloc_batch_as(&s, 0, 1, sizes, 3, true);
	for (i = 0; i < 3; i++)
		offs[i] = mirror_alloc(sizes[i]);
	d_poolref(&s, 0, P_STATS, 1, NULL);
	d_alloc_batch_as(&s, 0, 1, toobig, 3, true);	/* -ENOMEM: none */
	d_open(&s, 1, "f", false);
	for (i = 0; i < 3; i++)
		d_free(&s, 1, 1, offs[i]);		/* ends each */
	d_free(&s, 0, 1, offs[0]);			/* -EINVAL */
	d_poolref(&s, 1, P_CHECK, 1, NULL);
	write_seed("fuzz_dispatch", "batch_persist", &s);

	d_begin(&s, F_HELLO | F_ID0(1));
	d_open(&s, 0, "g", false);
	d_alloc_batch_as(&s, 0, 1, quota, 2, true);
	d_alloc_batch_as(&s, 0, 1, quota, 2, true);	/* -EDQUOT */
	d_poolref(&s, 0, P_STATS, 1, NULL);
	write_seed("fuzz_dispatch", "batch_persist_quota", &s);

	mirror_reset();
	d_begin_cap(&s, F_HELLO, CAP_2);
	d_open(&s, 0, "f", false);
	d_alloc_batch_as(&s, 0, 1, sizes, 5, true);	/* no references */
	d_alloc_batch(&s, 0, 1, sizes, 5);		/* -EDQUOT */
	d_close(&s, 0, 1);
	d_poolref(&s, 0, P_CHECK, 0, "f");
	write_seed("fuzz_dispatch", "batch_persist_cap", &s);
}

int
main(int argc, char **argv)
{
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR (tests/fuzz/corpus)\n");
		return 2;
	}
	outdir = argv[1];
	snprintf(path, sizeof(path), "%s/fuzz_engine", outdir);
	mkdir(outdir, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/fuzz_dispatch", outdir);
	mkdir(path, 0755);
	engine_seeds();
	single_seeds();
	conversation_seeds();
	evict_seeds();
	wait_seeds();
	create_page_seeds();
	set_seeds();
	limit_seeds();
	user_quota_seeds();
	uid_quota_seeds();
	acl_create_seeds();
	acl_set_seeds();
	acl_handle_seeds();
	room_seeds();
	persist_seeds();
	batch_persist_seeds();
	heap_destroy(mirror);
	printf("make_corpus: %u files, %zu bytes\n", nfiles, nbytes);
	return 0;
}

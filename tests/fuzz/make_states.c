/*
 * make_states.c - write seeds of fuzz_restore.c: states that carry named
 * blocks (their flags, evictable or kept, their generations and the
 * pool's, and the eviction counters, as a restart in place saves them,
 * and the ways a state can get these wrong), and two oversized states.
 *
 *   tests/fuzz/corpus/fuzz_restore/named-*
 *
 * And the pool's limit: kept as saved, below what the pool holds too, or
 * refused past its size or below a granule.
 *
 *   tests/fuzz/corpus/fuzz_restore/limit-*
 *
 * And the pool's access control list (PoolState.acl): rebuilt as saved,
 * out of order too, none at all, or 32 entries; refused with a word no
 * entry makes (a kind of 3, a bit past the kind), an entry twice, or 33.
 *
 *   tests/fuzz/corpus/fuzz_restore/acl-*
 *
 * And the pool's user quotas of uids (PoolState.user_quotas): rebuilt as
 * saved, out of order too, or 32 entries; refused with an odd word, a uid
 * past 32 bits or nobody's, a uid twice, or 33.
 *
 *   tests/fuzz/corpus/fuzz_restore/uq-*
 *
 * And when the persistent blocks became so (block_persisted_ns): long
 * ago, or none at all (0: since the restore), restored; a time after any
 * now, one for the block that is not persistent, or arrays of another
 * length, refused.
 *
 *   tests/fuzz/corpus/fuzz_restore/persist-*
 *
 * Each seed is one pool "a" of 1 MiB and one client whose handle 5
 * holds a small block and the block of the evictable name n3; n1 (also
 * evictable) and n2 (kept) are held by their names only.  The good ones
 * must be rebuilt with every name as saved; the others are refused whole
 * (arrays of the new repeated fields shorter or longer than named_name, a
 * flag bit this image does not know, a generation of 0 or above the
 * pool's, a count with no room for the generations still to give, an
 * order of eviction not one per name) or rebuilt as an older image's (no
 * flags: all kept; no generations: given anew; no order of eviction: the
 * names' order).
 *
 * And the two oversized states: a client's unsent replies whose queue
 * would cost more than PEER_MAX_QUEUED, as itest_restore.c's 64 replies
 * of 64 KiB, but from one-byte replies, as many as the count's own bound
 * lets pass (tests/fuzz/corpus/fuzz_restore/oversized_queue, about 170
 * KiB, where those make 4 MiB: a seed that size would slow every
 * mutation); and one more reply than that bound.
 *
 *   tests/fuzz/corpus/fuzz_restore/oversized_queue, oversized_count
 *
 * The other seeds there are the states tests/integration/itest_restore.c
 * makes (fuzz_restore.c says how).  Built and run by hand, not by the
 * Makefile (make build/proto/state.pb-c.o first; peer.c says what a
 * queued reply costs):
 *
 *   cc -std=gnu11 -O1 -Wall -Wextra -D_GNU_SOURCE -Idaemon -Ibuild/proto \
 *     -o build/make_states tests/fuzz/make_states.c build/proto/state.pb-c.c \
 *     daemon/peer.c daemon/peer_kept.c daemon/peer_store.c \
 *     daemon/peer_socket.c daemon/fdstore.c daemon/notify.c daemon/log.c \
 *     -lprotobuf-c -levent -lsystemd
 *   build/make_states tests/fuzz/corpus
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.pb-c.h"

#include "memtrim.h"
#include "peer.h"

#define KIB		1024u
#define NBLOCKS		4
#define NNAMES		3
#define EVICTABLE	POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE
#define NO_PERSISTER	0xffffffffu

struct named_state {
	Poolmgrd__State st;
	Poolmgrd__PoolState pool;
	Poolmgrd__SessionState sess;
	Poolmgrd__HandleState hd;
	Poolmgrd__PoolState *pools[1];
	Poolmgrd__SessionState *sessions[1];
	Poolmgrd__HandleState *handles[1];
	uint64_t off[NBLOCKS], size[NBLOCKS], req[NBLOCKS];
	protobuf_c_boolean span[NBLOCKS];
	uint32_t persister[NBLOCKS];
	uint64_t holds[2];
	uint32_t rank[1];
	ProtobufCBinaryData names[NNAMES];
	uint64_t named_off[NNAMES];
	uint32_t publisher[NNAMES];
	uint32_t flags[NNAMES + 1];
	uint64_t generation[NNAMES + 1];
	uint64_t use_order[NNAMES + 1];
};

/*
 * peer.c is linked for peer_out_cost alone; its queue, which gives pages
 * back through memtrim.c (and it through the dispatch's buffers), is
 * never used here.
 */
void
memtrim_pages(void *buf, size_t len)
{
	(void)buf;
	(void)len;
}

static const char *outdir;
static unsigned nfiles;

/*
 * A small block at 0, held by handle 5; spans of 64 KiB at 64, 128 and
 * 192 KiB, persistent, named n1 (evictable, unheld), n2 (kept) and n3
 * (evictable, held by handle 5 too), of generations 3, 1 and 7 of 9.
 */
static void
named_init(struct named_state *f)
{
	static const char *const names[NNAMES] = {"n1", "n2", "n3"};
	static const uint32_t flags[NNAMES] = {EVICTABLE, 0, EVICTABLE};
	static const uint64_t gens[NNAMES] = {3, 1, 7};
	unsigned i;

	memset(f, 0, sizeof(*f));
	poolmgrd__state__init(&f->st);
	poolmgrd__pool_state__init(&f->pool);
	poolmgrd__session_state__init(&f->sess);
	poolmgrd__handle_state__init(&f->hd);
	f->st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	f->st.n_pools = 1;
	f->st.pools = f->pools;
	f->pools[0] = &f->pool;
	f->st.n_sessions = 1;
	f->st.sessions = f->sessions;
	f->sessions[0] = &f->sess;

	f->pool.name = "a";
	f->pool.size = 1024 * KIB;
	f->pool.granularity = 16;
	f->pool.page_size = 4096;
	f->pool.mode = 0600;
	f->off[0] = 0, f->size[0] = 64, f->req[0] = 64;
	f->persister[0] = NO_PERSISTER;
	for (i = 1; i < NBLOCKS; i++) {
		f->off[i] = i * 64 * KIB;
		f->size[i] = f->req[i] = 64 * KIB;
		f->span[i] = 1;
		f->persister[i] = 0;
	}
	f->pool.n_block_off = f->pool.n_block_size = NBLOCKS;
	f->pool.n_block_requested = f->pool.n_block_span = NBLOCKS;
	f->pool.n_block_persister = NBLOCKS;
	f->pool.block_off = f->off;
	f->pool.block_size = f->size;
	f->pool.block_requested = f->req;
	f->pool.block_span = f->span;
	f->pool.block_persister = f->persister;

	for (i = 0; i < NNAMES; i++) {
		f->names[i].data = (uint8_t *)names[i];
		f->names[i].len = strlen(names[i]);
		f->named_off[i] = f->off[i + 1];
		f->flags[i] = flags[i];
		f->generation[i] = gens[i];
	}
	f->pool.n_named_name = f->pool.n_named_off = NNAMES;
	f->pool.n_named_publisher = NNAMES;
	f->pool.n_named_flags = f->pool.n_named_generation = NNAMES;
	f->pool.named_name = f->names;
	f->pool.named_off = f->named_off;
	f->pool.named_publisher = f->publisher;
	f->pool.named_flags = f->flags;
	f->pool.named_generation = f->generation;
	f->pool.name_generation = 9;
	f->pool.evictions = 12;
	f->pool.evicted_bytes = 12 * 64 * KIB;

	f->sess.greeted = 1;
	f->sess.name = "named";
	f->sess.next_handle = 6;
	f->sess.n_handles = 1;
	f->sess.handles = f->handles;
	f->handles[0] = &f->hd;
	f->sess.n_handle_rank = 1;
	f->sess.handle_rank = f->rank;
	f->hd.id = 5;
	f->holds[0] = f->off[0];
	f->holds[1] = f->off[3];
	f->hd.n_holds = 2;
	f->hd.holds = f->holds;
}

static void
write_state_as(const char *path_name, const struct named_state *f)
{
	size_t len = poolmgrd__state__get_packed_size(&f->st);
	uint8_t *buf = malloc(len ? len : 1);
	char path[512];
	FILE *fp;

	if (!buf) {
		fprintf(stderr, "make_states: out of memory\n");
		exit(1);
	}
	poolmgrd__state__pack(&f->st, buf);
	snprintf(path, sizeof(path), "%s/fuzz_restore/%s", outdir, path_name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
		fprintf(stderr, "make_states: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(buf);
	nfiles++;
}

static void
write_state(const char *name, const struct named_state *f)
{
	char path_name[128];

	snprintf(path_name, sizeof(path_name), "named-%s", name);
	write_state_as(path_name, f);
}

/* Restored as saved, or as an older image's state. */
static void
good_states(void)
{
	struct named_state f;

	named_init(&f);
	write_state("evictable", &f);

	/* No flags (an image before evictable names): all kept. */
	named_init(&f);
	f.pool.n_named_flags = 0;
	write_state("flags_absent", &f);

	/* No generations (an image before them): given anew, after 9. */
	named_init(&f);
	f.pool.n_named_generation = 0;
	write_state("generations_absent", &f);
	f.pool.name_generation = 0;
	write_state("generations_none", &f);

	/* Counters at their ends, generations high; every name evictable
	 * and unheld. */
	named_init(&f);
	f.pool.evictions = UINT64_MAX;
	f.pool.evicted_bytes = UINT64_MAX;
	f.flags[1] = EVICTABLE;
	f.hd.n_holds = 1;
	f.pool.name_generation = 1ull << 40;
	f.generation[2] = 1ull << 40;
	write_state("counters_max", &f);

	/* Two names of one generation (never saved so; nothing breaks). */
	named_init(&f);
	f.generation[1] = f.generation[0];
	write_state("generation_twice", &f);

	/*
	 * The order of eviction, every name evictable and unheld: n2, n1,
	 * n3 by their places (not the names' order); places all equal (a
	 * crash recovery's generations may be): the names' order.
	 */
	named_init(&f);
	f.flags[1] = EVICTABLE;
	f.hd.n_holds = 1;
	f.use_order[0] = 5, f.use_order[1] = 2, f.use_order[2] = 9;
	f.pool.n_named_use_order = NNAMES;
	f.pool.named_use_order = f.use_order;
	write_state("use_order", &f);
	f.use_order[0] = f.use_order[1] = f.use_order[2] = 4;
	write_state("use_order_equal", &f);
}

/* Refused whole: the rebuild is never begun. */
static void
bad_states(void)
{
	struct named_state f;

	named_init(&f);
	f.pool.n_named_flags = NNAMES - 1;
	write_state("flags_short", &f);
	f.pool.n_named_flags = NNAMES + 1;
	f.flags[NNAMES] = EVICTABLE;
	write_state("flags_long", &f);

	named_init(&f);
	f.flags[0] = EVICTABLE | 4;
	write_state("flag_unknown", &f);

	named_init(&f);
	f.pool.n_named_generation = NNAMES - 1;
	write_state("generations_short", &f);
	f.pool.n_named_generation = NNAMES + 1;
	f.generation[NNAMES] = 2;
	write_state("generations_long", &f);

	named_init(&f);
	f.generation[1] = 0;
	write_state("generation_zero", &f);

	named_init(&f);
	f.generation[2] = f.pool.name_generation + 1;
	write_state("generation_above", &f);

	/* Flags and generations for names the state does not have. */
	named_init(&f);
	f.pool.n_named_name = f.pool.n_named_off = 0;
	f.pool.n_named_publisher = 0;
	write_state("flags_without_names", &f);

	/* An order of eviction not one place per name. */
	named_init(&f);
	f.pool.named_use_order = f.use_order;
	f.pool.n_named_use_order = NNAMES - 1;
	write_state("use_order_short", &f);
	f.pool.n_named_use_order = NNAMES + 1;
	write_state("use_order_long", &f);

	/* An evictable name on a block that is not persistent. */
	named_init(&f);
	f.named_off[0] = f.off[0];
	write_state("evictable_unpersisted", &f);
}

/*
 * A count with no room left for the names' generations: an older
 * image's names (no generations saved) are given the ones after it, which
 * wrap to 0, a generation no name may have.  The state must be refused
 * (restore_check.c), not rebuilt with names of generation 0.
 */
static void
wrapping_states(void)
{
	struct named_state f;

	named_init(&f);
	f.pool.n_named_generation = 0;
	f.pool.name_generation = UINT64_MAX - 1;
	write_state("generation_wraps", &f);
}

/*
 * Unsent replies of one byte, as many as restore_check's count allows
 * (PEER_MAX_QUEUED over the cost of an empty one): each costs a byte
 * more than that, so together they are over PEER_MAX_QUEUED; then one
 * reply more than the count allows.
 */
static void
oversized_states(void)
{
	size_t n = PEER_MAX_QUEUED / peer_out_cost(0), i;
	ProtobufCBinaryData *unsent = calloc(n + 1, sizeof(*unsent));
	static uint8_t byte = 0x0a;
	struct named_state f;

	if (!unsent) {
		fprintf(stderr, "make_states: out of memory\n");
		exit(1);
	}
	for (i = 0; i <= n; i++) {
		unsent[i].data = &byte;
		unsent[i].len = 1;
	}
	named_init(&f);
	f.sess.n_unsent = n;
	f.sess.unsent = unsent;
	write_state_as("oversized_queue", &f);
	for (i = 0; i <= n; i++)
		unsent[i].len = 0;
	f.sess.n_unsent = n + 1;
	write_state_as("oversized_count", &f);
	free(unsent);
}

/* Pool a's limit: restored as saved, or the state refused. */
static void
limit_states(void)
{
	static const struct {
		const char *name;
		uint64_t limit;
	} cases[] = {
		{"limit-half", 512 * KIB},	/* over what it holds */
		{"limit-below_held", 64 * KIB},	/* a lowered limit */
		{"limit-whole", 1024 * KIB},
		{"limit-granule", 16},
		{"limit-past_size", 1024 * KIB + 1},
		{"limit-below_granule", 8},
	};
	struct named_state f;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		named_init(&f);
		f.pool.limit = cases[i].limit;
		write_state_as(cases[i].name, &f);
	}
}

/* An entry's word, as acl_word makes it (pool_acl.h): kind 1 user, 2 group. */
static uint64_t
acl_w(unsigned kind, uint64_t id, unsigned rights)
{
	return (uint64_t)kind << 40 | (uint64_t)rights << 32 | id;
}

/* Pool a's access control list: rebuilt as saved, or the state refused. */
static void
acl_states(void)
{
	uint64_t w[33] = {
		acl_w(2, 100, 4), acl_w(1, 1000, 6), acl_w(1, 7, 0),
	};
	struct named_state f;
	unsigned i;

	named_init(&f);
	f.pool.acl = w;
	f.pool.n_acl = 3;
	write_state_as("acl-unsorted", &f);
	w[1] = acl_w(3, 1000, 6);
	write_state_as("acl-kind", &f);
	w[1] = 1ull << 48 | acl_w(1, 1000, 6);
	write_state_as("acl-high_bits", &f);
	w[1] = acl_w(2, 100, 0);
	write_state_as("acl-twice", &f);
	for (i = 0; i < 33; i++)
		w[i] = acl_w(i % 2 ? 2 : 1, 100 + i, i % 3 ? 4 : 6);
	f.pool.n_acl = 32;
	write_state_as("acl-full", &f);
	f.pool.n_acl = 33;
	write_state_as("acl-too_many", &f);
}

/* Pool a's user quotas of uids: rebuilt as saved, or the state refused. */
static void
uq_states(void)
{
	uint64_t w[66] = {1001, 1 << 20, 7, 0, 500, 4096};
	struct named_state f;
	unsigned i;

	named_init(&f);
	f.pool.user_quotas = w;
	f.pool.n_user_quotas = 6;
	write_state_as("uq-unsorted", &f);
	f.pool.n_user_quotas = 5;
	write_state_as("uq-odd", &f);
	f.pool.n_user_quotas = 6;
	w[2] = 1ull << 32 | 7;
	write_state_as("uq-wide", &f);
	w[2] = UINT32_MAX;
	write_state_as("uq-nobody", &f);
	w[2] = 500;
	write_state_as("uq-twice", &f);
	for (i = 0; i < 33; i++) {
		w[2 * i] = 100 + 7 * (33 - i);
		w[2 * i + 1] = i % 3 ? 4096 * i : 0;
	}
	f.pool.n_user_quotas = 64;
	write_state_as("uq-full", &f);
	f.pool.n_user_quotas = 66;
	write_state_as("uq-too_many", &f);
}

/* The spans' persist times: restored as saved, or the state refused. */
static void
persist_time_states(void)
{
	static const struct {
		const char *name;
		uint64_t first, span;	/* block 0's, each span's */
		size_t n;
	} cases[] = {
		{"persist-times", 0, 1000000000, NBLOCKS},
		{"persist-times_zero", 0, 0, NBLOCKS},
		{"persist-time_after_now", 0, UINT64_MAX, NBLOCKS},
		{"persist-time_unpersisted", 1000000000, 1000000000, NBLOCKS},
		{"persist-times_short", 0, 1000000000, NBLOCKS - 1},
	};
	uint64_t times[NBLOCKS];
	struct named_state f;
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		named_init(&f);
		times[0] = cases[i].first;
		for (k = 1; k < NBLOCKS; k++)
			times[k] = cases[i].span ? cases[i].span - k : 0;
		f.pool.n_block_persisted_ns = cases[i].n;
		f.pool.block_persisted_ns = times;
		write_state_as(cases[i].name, &f);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_states DIR (tests/fuzz/corpus)\n");
		return 2;
	}
	outdir = argv[1];
	good_states();
	bad_states();
	wrapping_states();
	oversized_states();
	limit_states();
	acl_states();
	uq_states();
	persist_time_states();
	printf("make_states: %u files\n", nfiles);
	return 0;
}

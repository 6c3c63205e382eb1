/*
 * fuzz_recover.c - libFuzzer harness for a start after a crash: the crash
 * journal's replay (recover.c) into a state, the checks of that state
 * (state_check) and, when they accept it, the rebuild of every pool
 * (restore.c's build) and its undoing (teardown).
 *
 * WHAT IT COVERS
 *
 * The input is what systemd's fd store gives back after a crash: a
 * journal and a set of keep.<n> memfds.  Its first bytes say which:
 *
 *   byte 0   bit 0: recompute the header's hash; bit 1: recompute the
 *            hash of every whole record from offset 64; bit 2: move the
 *            committed end to the last whole record (after bit 1's walk);
 *            bit 3: a listening socket is passed; bits 4-7: how many
 *            keep.<n> memfds follow (at most 8)
 *   byte 1   bit 0: name the journal one past its header's id; bit 1:
 *            pass an older journal.<n> too, of the same bytes
 *   then     two bytes per keep memfd: its n, and its kind (bits 0-2:
 *            its size, of sizes[]; bit 3: not sealed; bit 4: read-only)
 *   the rest the journal's bytes, its memfd exactly that long
 *
 * Without the hash bits a mutation of a record almost always fails its
 * hash; with them the fuzzer reaches what whole records say.
 *
 * What the journal says is read a second time by a model of its format
 * here (model_read), every record type journal_rec.h defines, each only
 * where journal.c writes it (generations and the socket as journal_rec.h
 * says; in a journal with a record of generations or of a type after
 * them, a name record followed by its generation's unless it is the
 * last): recover.c must accept exactly the whole journals (of no more
 * live pools than a state takes), and make of them the model's pools
 * (but for one with no keep of its number, or several, not exactly one
 * of them sealed at its size: left out alone; with exactly one, from
 * that one),
 * settings, blocks, names (bytes, publisher, flag, generation; names
 * whose generation record never came get the ones after the pool's
 * last, in the order of their name records; the order of eviction the
 * generations), the pool's last generation and limit, its access control
 * list (the last JREC_ACL's entries, each a word acl_word could make, at
 * most 32, no kind and id twice, sorted users then groups by id; anything
 * else refuses the journal), its user quotas of uids (the last
 * JREC_USER_QUOTAS's entries, two words each, a uid below 2^32 - 1 and
 * its bytes, at most 32, no uid twice, sorted by uid; anything else
 * refuses the journal), and the socket record's path and mode unless
 * a socket was passed.  A state in which two names
 * of a pool have one generation must not be built.  Every keep memfd has
 * a marker word at the start and the end of every page.  A refusal must
 * say why, take no descriptor (when the replay refuses) or close what it
 * took (teardown), and leave every journal byte and, teardown and all,
 * every marker as it was.  An acceptance must build the state's pools,
 * each passing heap_check and dpool_check with exactly its blocks, and
 * punch exactly the pages no block touches: markers gone there and kept
 * everywhere else, and in every keep no pool took.  Either way no pool is
 * left behind after teardown (under ASan: no leak, no use after free) and
 * no descriptor stays open that was not open before the input.  A
 * failure aborts with a message on the real stderr.
 *
 * The seeds (tests/fuzz/corpus/fuzz_recover/) are the stores
 * tests/integration/itest_recover*.c start from after their crashes, good
 * and bad, written there with POOLMGR_JOURNAL_SEEDS=DIR (a snapshot
 * and records after it, a torn tail, a scribbled record, records that
 * cannot be, a keep.<n> missing).  Two are journal-00 with records
 * appended, hashes and end made right: set_gone, a settings change of
 * pool b and the destruction of pool a; many_blocks, pool a alone with
 * 100 page blocks persisted, a third of them unpersisted, some of those
 * persisted again and some others grown (the block table rehashed).
 * found-* are inputs of up to 1 KiB from a minimized corpus the fuzzer
 * grew from those (-merge=1), kept for the coverage they reach.
 * make_journals.c writes named-*: journals with names published, taken,
 * replaced and published in place, a snapshot with the pool's count and
 * the socket, names whose generation record never came, and the ways
 * these records can be wrong (a generation of 0, past the next, of an
 * unnamed block or a dead pool, a count that goes down or out of its
 * place, an old generation after a change or apart from its name
 * record, two names of one generation, a name twice, a second socket
 * record or one after a change); and limit-*: a pool's limit after its
 * record, changed, removed, and limits that cannot be (past the size,
 * below a granule, of a dead pool or of none, a record of the wrong
 * length); and acl-*: a pool's list after its record, changed after a
 * settings change, emptied, of 32 entries, and lists that cannot be (a
 * word of no kind, of bits past the kind, of nobody's id or rights past
 * read and write, an entry twice, 33 entries, of a dead pool, a record
 * without its pool); and uq-*: a pool's user quotas of uids after its
 * record, changed after a settings change, emptied, of 32 entries, and
 * ones that cannot be (an odd word, a uid past 32 bits or nobody's, a
 * uid twice, of a dead pool).  A rebuilt pool has exactly the list and
 * the user quotas of uids recovered.  keep-twice_*: a seed of one pool
 * with a second keep.<n> of its number ahead of its own, of another size
 * (sized: recovered from its own) or of its size (unknown: left out).
 * With POOLMGR_FUZZ_WHY set, every refusal's reason is printed (to see
 * what a corpus reaches).
 *
 * restore.c is included, not linked, to reach its static rebuild; the
 * Makefile leaves it out of the daemon's sources here.  The daemon logs
 * to stderr; libFuzzer is asked to close it (-close_fd_mask=2) unless
 * POOLMGR_FUZZ_LOG is set.
 */
#include "restore.c"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "journal_rec.h"
#include "pool.h"

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_KEEPS	8
#define FUZZ_MAX_FDS	(2 + FUZZ_MAX_KEEPS)	/* the journals, the keeps */
#define MARK		0x6b6565702e6d726bull

#define FIX_HEADER	0x01
#define FIX_RECORDS	0x02
#define FIX_END		0x04
#define WITH_LISTEN	0x08
#define NAME_OFF	0x01
#define WITH_OLDER	0x02
#define KEEP_UNSEALED	0x08
#define KEEP_RDONLY	0x10

static const uint64_t sizes[8] = {
	4096, 8192, 65536, 1 << 20, 2 << 20, 4 << 20, 12288, 5000,
};

struct keep {
	int fd;
	uint64_t size;
	uint64_t *map;
};

/*
 * The journal as journal_rec.h defines it, read here on its own: what
 * recover.c must accept and make of it.  Pools and blocks in the order
 * the journal made them; a block unpersisted is dead until persisted
 * again.
 */
struct mpool {
	uint64_t w[11 + JREC_NAME_MAX];
	uint64_t limit;		/* its last JREC_BOUNDS's; 0: none */
	uint64_t user_quota;	/* ... */
	/* Its last JREC_ACL's entries, sorted (kind, then id); 0: none. */
	uint64_t acl[JREC_ACL_MAX];
	unsigned nacl;
	/* Its last JREC_USER_QUOTAS's words, sorted by uid; 0: none. */
	uint64_t uq[2 * JREC_UQ_MAX];
	unsigned nuq;		/* words */
	bool live;
};

struct mblock {
	uint64_t keep, off, size, requested, span, uid;
	bool live;
	/* Its name's bytes, in the journal, or NULL; 0: no generation. */
	const uint8_t *name;
	uint64_t name_len, publisher, generation;
	uint64_t named_at;	/* its name record's place among them */
	bool evictable;
};

struct model {
	struct mpool *pools;
	uint64_t *generations;	/* the last each pool gave */
	struct mblock *blocks;
	size_t npools, nblocks;
	/* The socket record's path (NULL: none) and mode. */
	const uint8_t *sock;
	uint64_t sock_len, sock_mode;
	const uint64_t *prev;	/* the record before, or NULL */
	bool changes;		/* a record only a change writes was read */
	uint64_t named;		/* name records read */
	bool gen_writer;	/* a record of JREC_GENERATIONS or after */
	bool bare;		/* a name record followed by anything but
				 * its generation's */
};

static int listen_fd = -1;
static long page;
static unsigned long inputs, fed, recovered;

static void
report(void)
{
	fprintf(fuzz_errout, "fuzz_recover: %lu inputs, %lu journals fed, "
		"%lu recovered\n", inputs, fed, recovered);
	fflush(fuzz_errout);
}

static uint64_t
mark(unsigned k, uint64_t word)
{
	return MARK ^ (uint64_t)k << 56 ^ word;
}

/* A keep memfd of sizes[kind], its pages marked, sealed as a pool's. */
static void
keep_make(struct keep *kp, unsigned k, unsigned kind)
{
	uint64_t p, words;
	char path[64];
	int fd, ro;

	kp->size = sizes[kind & 7];
	fd = memfd_create("poolmgr:fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1 || ftruncate(fd, (off_t)kp->size) == -1)
		die("a keep memfd: %s", strerror(errno));
	kp->map = mmap(NULL, kp->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       0);
	if (kp->map == MAP_FAILED)
		die("mapping a keep memfd: %s", strerror(errno));
	words = kp->size / 8;
	for (p = 0; p < kp->size; p += (uint64_t)page) {
		kp->map[p / 8] = mark(k, p / 8);
		if (p / 8 + (uint64_t)page / 8 - 1 < words)
			kp->map[p / 8 + (uint64_t)page / 8 - 1] =
			    mark(k, p / 8 + (uint64_t)page / 8 - 1);
	}
	if (!(kind & KEEP_UNSEALED) &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == -1)
		die("sealing a keep memfd: %s", strerror(errno));
	kp->fd = fd;
	if (kind & KEEP_RDONLY) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((ro = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			die("%s: %s", path, strerror(errno));
		close(fd);
		kp->fd = ro;
	}
}

/* Is the marker word at w of keep k as written (1), zero (0), or else? */
static int
marker(const struct keep *kp, unsigned k, uint64_t w)
{
	if (kp->map[w] == mark(k, w))
		return 1;
	if (kp->map[w] == 0)
		return 0;
	die("keep %u: word %#llx is %#llx, neither its marker nor zero", k,
	    (unsigned long long)w, (unsigned long long)kp->map[w]);
}

/*
 * Every page of keep k: its markers kept if touched says so, else gone
 * (punched), both words alike.
 */
static void
keep_check(const struct keep *kp, unsigned k, const Poolmgrd__PoolState *ps)
{
	uint64_t p, last, words = kp->size / 8;
	size_t i = 0;
	int touched, m;

	for (p = 0; p < kp->size; p += (uint64_t)page) {
		touched = 1;
		if (ps) {
			while (i < ps->n_block_off &&
			       ps->block_off[i] + ps->block_size[i] <= p)
				i++;
			touched = i < ps->n_block_off &&
			    ps->block_off[i] < p + (uint64_t)page;
		}
		last = p / 8 + (uint64_t)page / 8 - 1;
		if ((m = marker(kp, k, p / 8)) != touched ||
		    (last < words && marker(kp, k, last) != m))
			die("keep %u: the page at %#llx is %s, but %s", k,
			    (unsigned long long)p, m ? "kept" : "punched",
			    !ps ? "the journal was refused" :
			    touched ? "a block touches it" : "no block does");
	}
}

/* The hashes and end the input asks for, in its own copy. */
static void
fix(uint64_t *w, size_t len, unsigned flags)
{
	size_t at = JREC_HEADER, n;

	if ((flags & (FIX_RECORDS | FIX_END)) && len >= JREC_HEADER) {
		while (at + 8 <= len) {
			n = (size_t)(w[at / 8] >> 32);
			if (n < 2 || n > JREC_MAX_WORDS || at + 8 * n > len)
				break;
			if (flags & FIX_RECORDS)
				w[at / 8 + n - 1] = jrec_sum(&w[at / 8], n - 1);
			at += 8 * n;
		}
		if (flags & FIX_END)
			w[JH_END] = at;
	}
	if ((flags & FIX_HEADER) && len >= 8 * (JH_SUM + 1))
		w[JH_SUM] = jrec_sum(w, 2);
}

static struct mpool *
model_pool(struct model *md, uint64_t keep, bool live)
{
	size_t i;

	for (i = 0; i < md->npools; i++)
		if (md->pools[i].w[1] == keep)
			return !live || md->pools[i].live ? &md->pools[i] : NULL;
	return NULL;
}

static struct mblock *
model_block(struct model *md, uint64_t keep, uint64_t off)
{
	size_t i;

	for (i = 0; i < md->nblocks; i++)
		if (md->blocks[i].keep == keep && md->blocks[i].off == off)
			return &md->blocks[i];
	return NULL;
}

/*
 * A name given (JREC_NAME, JREC_NAME_EVICTABLE) or taken (JREC_UNNAME):
 * a length of 1 to 255 bytes in exactly its words, a publisher that is a
 * uid; given to a live persistent block without one, taken from one with
 * one.  Whether the name is valid and once in its pool is the state's
 * checks' business, not the journal's.
 */
static int
model_name(struct model *md, struct mblock *b, uint64_t type,
	   const uint64_t *w, unsigned n)
{
	if (!b || !b->live)
		return -1;
	if (type == JREC_UNNAME) {
		if (n != 4 || !b->name)
			return -1;
		b->name = NULL;
		return 0;
	}
	if (b->name || w[4] == 0 || w[4] > 255 || n != 6 + (w[4] + 7) / 8 ||
	    w[3] >= UINT32_MAX)
		return -1;
	b->name = (const uint8_t *)&w[5];
	b->name_len = w[4];
	b->publisher = w[3];
	b->evictable = type == JREC_NAME_EVICTABLE;
	b->generation = 0;
	b->named_at = ++md->named;
	return 0;
}

static size_t
model_live_blocks(const struct model *md, uint64_t keep)
{
	size_t i, n = 0;

	for (i = 0; i < md->nblocks; i++)
		n += md->blocks[i].keep == keep && md->blocks[i].live;
	return n;
}

/*
 * A generation where journal.c writes one.  The pool's last: in the
 * snapshot (no change read yet), of the pool made last, before any block
 * of it, once, never 0.  A named block's: the pool's next, which it then
 * gave and which ends the snapshot; or one the pool gave, in the
 * snapshot, right after the block's name record.
 */
static int
model_generation(struct model *md, struct mpool *mp, struct mblock *b,
		 uint64_t type, const uint64_t *w, unsigned n)
{
	uint64_t *last = &md->generations[mp - md->pools];
	const uint64_t *p = md->prev;

	if (type == JREC_GENERATIONS) {
		if (n != 4 || w[2] == 0 || md->changes || *last != 0 ||
		    mp != &md->pools[md->npools - 1] ||
		    model_live_blocks(md, w[1]) != 0)
			return -1;
		*last = w[2];
		return 0;
	}
	if (n != 5 || !b || !b->live || !b->name || w[3] == 0 ||
	    w[3] - 1 > *last)
		return -1;
	if (w[3] - 1 == *last) {
		*last = w[3];
		md->changes = true;
	} else if (md->changes || !p || p[1] != w[1] || p[2] != w[2] ||
		   ((p[0] & 0xffffffff) != JREC_NAME &&
		    (p[0] & 0xffffffff) != JREC_NAME_EVICTABLE))
		return -1;
	b->generation = w[3];
	return 0;
}

/*
 * The daemon's own socket: a path of 1 to 107 bytes with no NUL, in
 * exactly its words, a mode of at most 0777.  Of a live pool or none;
 * once, in the snapshot (its last record).
 */
static int
model_socket(struct model *md, const uint64_t *w, unsigned n)
{
	if (n < 5 || w[2] == 0 || w[2] > 107 || n != 4 + (w[2] + 7) / 8 ||
	    w[1] > 0777 || memchr(&w[3], '\0', w[2]) || md->changes)
		return -1;
	md->sock = (const uint8_t *)&w[3];
	md->sock_len = w[2];
	md->sock_mode = w[1];
	md->changes = true;
	return 0;
}

/* An entry word's kind and id: the order a list is kept in. */
static uint64_t
acl_key(uint64_t w)
{
	return (w >> 40 & 0xff) << 32 | (w & 0xffffffff);
}

/*
 * A pool's access control list: a word per entry, each with nothing past
 * its kind (bits 48 up), a user's (1) or a group's (2), an id that is not
 * 2^32 - 1, rights of read (4) and write (2) only; at most 32, no kind
 * and id twice.  Kept sorted by kind and id, in place of the one before.
 */
static int
model_acl(struct model *md, const uint64_t *w, unsigned n)
{
	uint64_t v[JREC_ACL_MAX], t, kind;
	struct mpool *mp;
	unsigned i, j, k = n - 3;

	if (n < 3 || !(mp = model_pool(md, w[1], true)) || k > JREC_ACL_MAX)
		return -1;
	for (i = 0; i < k; i++) {
		t = w[2 + i];
		kind = t >> 40 & 0xff;
		if (t >> 48 || (kind != 1 && kind != 2) ||
		    (t & 0xffffffff) == 0xffffffff || (t >> 32 & 0xff & ~6u))
			return -1;
		/* Insertion by key: a handful of words. */
		for (j = i; j > 0 && acl_key(v[j - 1]) > acl_key(t); j--)
			v[j] = v[j - 1];
		if (j > 0 && acl_key(v[j - 1]) == acl_key(t))
			return -1;
		v[j] = t;
	}
	memcpy(mp->acl, v, k * sizeof(*v));
	mp->nacl = k;
	return 0;
}

/*
 * A pool's user quotas of uids: two words an entry, a uid below 2^32 - 1
 * then any bytes; at most 32, no uid twice.  Kept sorted by uid, in place
 * of those before.
 */
static int
model_uq(struct model *md, const uint64_t *w, unsigned n)
{
	uint64_t v[2 * JREC_UQ_MAX];
	struct mpool *mp;
	unsigned i, j, k;

	if (n < 3 || (n - 3) % 2 || !(mp = model_pool(md, w[1], true)))
		return -1;
	k = (n - 3) / 2;
	if (k > JREC_UQ_MAX)
		return -1;
	for (i = 0; i < k; i++) {
		uint64_t uid = w[2 + 2 * i], bytes = w[3 + 2 * i];

		if (uid >= 0xffffffff)
			return -1;
		for (j = i; j > 0 && v[2 * (j - 1)] > uid; j--) {
			v[2 * j] = v[2 * (j - 1)];
			v[2 * j + 1] = v[2 * (j - 1) + 1];
		}
		if (j > 0 && v[2 * (j - 1)] == uid)
			return -1;
		v[2 * j] = uid;
		v[2 * j + 1] = bytes;
	}
	memcpy(mp->uq, v, 2 * k * sizeof(*v));
	mp->nuq = 2 * k;
	return 0;
}

/* One whole record of n words: 0 if it says what can be. */
static int
model_record(struct model *md, const uint64_t *w, unsigned n)
{
	static const unsigned words[] = {0, 19, 8, 3, 8, 6, 4};
	uint64_t type = w[0] & 0xffffffff;
	struct mpool *mp;
	struct mblock *b;

	if (type == JREC_SOCKET)
		return model_socket(md, w, n);
	if (type == JREC_ACL)
		return model_acl(md, w, n);
	if (type == JREC_USER_QUOTAS)
		return model_uq(md, w, n);
	if (type == JREC_BOUNDS) {	/* 0, or a granule to the size */
		if ((n != 4 && n != 5) ||
		    !(mp = model_pool(md, w[1], true)) ||
		    (w[2] && (w[2] < mp->w[3] || w[2] > mp->w[2])))
			return -1;
		mp->limit = w[2];
		mp->user_quota = n == 5 ? w[3] : 0;
		return 0;
	}
	if (type == JREC_NAME || type == JREC_NAME_EVICTABLE ||
	    type == JREC_UNNAME || type == JREC_GENERATIONS ||
	    type == JREC_GENERATION) {
		if (n < 4 || !(mp = model_pool(md, w[1], true)))
			return -1;
		b = model_block(md, w[1], w[2]);
		if (type == JREC_GENERATIONS || type == JREC_GENERATION)
			return model_generation(md, mp, b, type, w, n);
		return model_name(md, b, type, w, n);
	}
	if (type < JREC_POOL || type > JREC_UNPERSIST || n != words[type])
		return -1;
	if (type == JREC_POOL) {
		if (!w[1] || model_pool(md, w[1], false) ||
		    w[2] > POOL_MAX_SIZE || w[3] > UINT32_MAX ||
		    w[4] > UINT32_MAX || w[5] > UINT32_MAX ||
		    w[6] > UINT32_MAX || w[7] > 0777)
			return -1;
		mp = &md->pools[md->npools++];
		memcpy(mp->w, w, sizeof(mp->w));
		mp->limit = 0;
		mp->user_quota = 0;
		mp->nacl = 0;
		mp->nuq = 0;
		mp->live = true;
		return 0;
	}
	if (!(mp = model_pool(md, w[1], true)))
		return -1;
	b = model_block(md, w[1], w[2]);
	switch (type) {
	case JREC_SET:
		if (w[2] > UINT32_MAX || w[3] > UINT32_MAX || w[4] > 0777)
			return -1;
		memcpy(&mp->w[5], &w[2], 5 * sizeof(uint64_t));
		return 0;
	case JREC_GONE:
		mp->live = false;
		return 0;
	case JREC_PERSIST:
		if ((b && b->live) || w[5] > 1 || w[6] >= UINT32_MAX)
			return -1;
		if (!b)
			b = &md->blocks[md->nblocks++];
		*b = (struct mblock){.keep = w[1], .off = w[2], .size = w[3],
				     .requested = w[4], .span = w[5],
				     .uid = w[6], .live = true};
		return 0;
	case JREC_RESIZE:
		if (!b || !b->live)
			return -1;
		b->size = w[3];
		b->requested = w[4];
		return 0;
	default:
		/* The daemon takes a block's name before its persistence. */
		if (!b || !b->live || b->name)
			return -1;
		b->live = false;
		return 0;
	}
}

/*
 * Is the record before w (of type, taken) a name record that w is not the
 * generation of?
 */
static bool
model_name_bare(const struct model *md, const uint64_t *w, uint64_t type)
{
	const uint64_t *p = md->prev;

	if (!p || ((p[0] & 0xffffffff) != JREC_NAME &&
		   (p[0] & 0xffffffff) != JREC_NAME_EVICTABLE))
		return false;
	return type != JREC_GENERATION || p[1] != w[1] || p[2] != w[2];
}

/* The journal m of len bytes named journal.<id>: 0 if it is whole. */
static int
model_read(struct model *md, const uint64_t *m, size_t len, uint64_t id)
{
	uint64_t end, at, n, type;

	if (len < JREC_HEADER || m[JH_MAGIC] != JREC_MAGIC ||
	    m[JH_ID] != id || m[JH_SUM] != jrec_sum(m, 2))
		return -1;
	end = m[JH_END];
	if (end < JREC_HEADER || end > len || end % 8)
		return -1;
	for (at = JREC_HEADER; at < end; at += 8 * n) {
		n = m[at / 8] >> 32;
		if (n < 2 || n > JREC_MAX_WORDS || at + 8 * n > end ||
		    m[at / 8 + n - 1] != jrec_sum(&m[at / 8], n - 1) ||
		    model_record(md, &m[at / 8], (unsigned)n) != 0)
			return -1;
		type = m[at / 8] & 0xffffffff;
		md->gen_writer |= type >= JREC_GENERATIONS;
		md->bare |= model_name_bare(md, &m[at / 8], type);
		/* Settings, a pool gone, a resize, a block or name taken. */
		if (type == JREC_SET || type == JREC_GONE ||
		    type == JREC_RESIZE || type == JREC_UNPERSIST ||
		    type == JREC_UNNAME)
			md->changes = true;
		md->prev = &m[at / 8];
	}
	/* Torn between the two, a name is the last; an older image's, bare. */
	return md->bare && md->gen_writer ? -1 : 0;
}

/*
 * How a pool's keep.<n> stands among the keeps: kept (the one of its
 * number, or of several exactly one sealed at its size), missing (none),
 * or not known (several, and not exactly one of them sealed at its
 * size).  A pool missing or not known is left out alone.
 */
enum kept { KEPT, KEEP_MISSING, KEEP_NOT_KNOWN };

static enum kept
pool_kept(const struct mpool *mp, const uint8_t *keeps, unsigned nkeeps)
{
	unsigned k, named, sized;

	for (k = named = sized = 0; k < nkeeps; k++) {
		if (keeps[2 * k] != mp->w[1])
			continue;
		named++;
		sized += !(keeps[2 * k + 1] & KEEP_UNSEALED) &&
			 sizes[keeps[2 * k + 1] & 7] == mp->w[2];
	}
	if (named == 0)
		return KEEP_MISSING;
	return named > 1 && sized != 1 ? KEEP_NOT_KNOWN : KEPT;
}

/*
 * Does a state take the model's live pools, those left out for their
 * keep too (recover.c counts them before it leaves any out)?
 */
static bool
pools_fit(const struct model *md)
{
	size_t i, live = 0;

	for (i = 0; i < md->npools; i++)
		live += md->pools[i].live;
	return live <= POOL_MAX_POOLS;
}

/*
 * The generation recovery gives named block b of pool keep, whose last
 * given is last: its own, or, for a name whose generation record never
 * came, the ones after last, in the order of their name records.
 * *given counts those (the pool's last is then last + *given).
 */
static uint64_t
model_named_generation(const struct model *md, uint64_t keep,
		       const struct mblock *b, uint64_t last, uint64_t *given)
{
	const struct mblock *o;
	uint64_t before = 0;
	size_t i;

	*given = 0;
	for (i = 0; i < md->nblocks; i++) {
		o = &md->blocks[i];
		if (o->keep != keep || !o->live || !o->name || o->generation)
			continue;
		++*given;
		before += o->named_at < b->named_at;
	}
	return b->generation ? b->generation : last + before + 1;
}

/*
 * Do two live names of a live pool have one generation, as recovery
 * gives them?  state_check must then refuse the state.
 */
static bool
model_generation_twice(const struct model *md)
{
	const struct mblock *b;
	uint64_t *g, given;
	size_t i, j, k, p;
	bool twice = false;

	if (!(g = calloc(md->nblocks + 1, sizeof(*g))))
		die("out of memory");
	for (p = 0; p < md->npools && !twice; p++) {
		if (!md->pools[p].live)
			continue;
		for (i = k = 0; i < md->nblocks; i++) {
			b = &md->blocks[i];
			if (b->keep == md->pools[p].w[1] && b->live && b->name)
				g[k++] = model_named_generation(md, b->keep, b,
				    md->generations[p], &given);
		}
		for (i = 0; i < k && !twice; i++)
			for (j = i + 1; j < k && !twice; j++)
				twice = g[i] == g[j];
	}
	free(g);
	return twice;
}

/*
 * Pool mp's names as recovered in ps: by offset, each a live named
 * block's with its bytes, publisher, flag and generation; the order of
 * eviction the generations (lookups are not journalled); the pool's last
 * generation past them all.
 */
static void
model_same_names(const struct model *md, const struct mpool *mp,
		 uint64_t last, const Poolmgrd__PoolState *ps)
{
	const struct mblock *b;
	uint64_t gen, given = 0;
	size_t j, nn = 0;

	if (ps->n_named_off != ps->n_named_name ||
	    ps->n_named_publisher != ps->n_named_name ||
	    ps->n_named_flags != ps->n_named_name ||
	    ps->n_named_generation != ps->n_named_name ||
	    ps->n_named_use_order != ps->n_named_name)
		die("pool %s: its name arrays differ in length", ps->name);
	for (j = 0; j < ps->n_named_name; j++) {
		b = model_block((struct model *)md, mp->w[1], ps->named_off[j]);
		if (!b || !b->live || !b->name ||
		    (j && ps->named_off[j] <= ps->named_off[j - 1]))
			die("pool %s: a name at %#llx, none in the journal",
			    ps->name, (unsigned long long)ps->named_off[j]);
		gen = model_named_generation(md, mp->w[1], b, last, &given);
		if (ps->named_name[j].len != b->name_len ||
		    memcmp(ps->named_name[j].data, b->name, b->name_len) ||
		    ps->named_publisher[j] != b->publisher ||
		    ps->named_flags[j] != (b->evictable ?
		    POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE : 0u) ||
		    ps->named_generation[j] != gen ||
		    ps->named_use_order[j] != gen)
			die("pool %s: the name at %#llx is not as its records "
			    "say (generation %llu, place %llu; %llu by them)",
			    ps->name, (unsigned long long)ps->named_off[j],
			    (unsigned long long)ps->named_generation[j],
			    (unsigned long long)ps->named_use_order[j],
			    (unsigned long long)gen);
	}
	for (j = 0; j < md->nblocks; j++)
		nn += md->blocks[j].keep == mp->w[1] && md->blocks[j].live &&
		    md->blocks[j].name;
	if (nn != ps->n_named_name)
		die("pool %s: %zu names of %zu", ps->name, ps->n_named_name,
		    nn);
	if (ps->name_generation != last + given)
		die("pool %s: generation %llu, %llu by its records", ps->name,
		    (unsigned long long)ps->name_generation,
		    (unsigned long long)(last + given));
}

/*
 * A state recover.c made is the model's: its live pools in order, but for
 * those whose keep is missing or not known (pool_kept), their settings,
 * their live blocks by offset and their names; the socket of the last
 * socket record unless one was passed.
 */
static void
model_same(const struct model *md, const Poolmgrd__State *st, bool listen,
	   const uint8_t *keeps, unsigned nkeeps)
{
	const Poolmgrd__PoolState *ps;
	const struct mpool *mp;
	const struct mblock *b;
	char name[JREC_NAME_MAX * 8 + 1];
	const char *sock;
	size_t i, j, k = 0, nb, want;
	uint64_t last;

	for (i = 0; i < md->npools; i++) {
		mp = &md->pools[i];
		if (!mp->live || pool_kept(mp, keeps, nkeeps) != KEPT)
			continue;
		if (k == st->n_pools)
			die("keep.%llu: a live pool not recovered",
			    (unsigned long long)mp->w[1]);
		ps = st->pools[k++];
		memcpy(name, &mp->w[10], JREC_NAME_MAX * 8);
		name[JREC_NAME_MAX * 8] = '\0';
		if (strcmp(ps->name, name) != 0 || ps->size != mp->w[2] ||
		    ps->granularity != mp->w[3] || ps->page_size != mp->w[4] ||
		    ps->uid != mp->w[5] || ps->gid != mp->w[6] ||
		    ps->mode != mp->w[7] || ps->quota != mp->w[8] ||
		    ps->retain != mp->w[9] || ps->limit != mp->limit ||
		    ps->user_quota != mp->user_quota)
			die("pool %s: not as its records say", ps->name);
		if (ps->n_acl != mp->nacl ||
		    (mp->nacl &&
		     memcmp(ps->acl, mp->acl, mp->nacl * sizeof(*mp->acl))))
			die("pool %s: an access control list of %zu entries, "
			    "not as its records say (%u)", ps->name, ps->n_acl,
			    mp->nacl);
		if (ps->n_user_quotas != mp->nuq ||
		    (mp->nuq && memcmp(ps->user_quotas, mp->uq,
				       mp->nuq * sizeof(*mp->uq))))
			die("pool %s: user quotas of uids in %zu words, not as "
			    "its records say (%u)", ps->name,
			    ps->n_user_quotas, mp->nuq);
		nb = 0;
		last = 0;
		for (j = 0; j < ps->n_block_off; j++) {
			b = model_block((struct model *)md, mp->w[1],
					ps->block_off[j]);
			if (!b || !b->live || (j && ps->block_off[j] <= last) ||
			    ps->block_size[j] != b->size ||
			    ps->block_requested[j] != b->requested ||
			    ps->block_span[j] != (b->span != 0) ||
			    ps->block_persister[j] != b->uid)
				die("pool %s: block %#llx is not as its "
				    "records say", ps->name,
				    (unsigned long long)ps->block_off[j]);
			last = ps->block_off[j];
		}
		for (j = 0; j < md->nblocks; j++)
			nb += md->blocks[j].keep == mp->w[1] &&
			    md->blocks[j].live;
		if (nb != ps->n_block_off)
			die("pool %s: %zu blocks of %zu", ps->name,
			    ps->n_block_off, nb);
		model_same_names(md, mp, md->generations[i], ps);
	}
	if (k != st->n_pools)
		die("%zu pools recovered, %zu live", st->n_pools, k);
	/* "" (protobuf's default) or NULL: none. */
	sock = st->socket_path ? st->socket_path : "";
	want = listen ? 0 : md->sock_len;
	if (strlen(sock) != want || (want && memcmp(sock, md->sock, want)) ||
	    st->socket_mode != (want ? md->sock_mode : 0))
		die("the socket is \"%s\" (%#o), not as its records say",
		    sock, st->socket_mode);
}

static int
journal_make(const void *buf, size_t len)
{
	int fd = memfd_create("poolmgr:journal", MFD_CLOEXEC);

	if (fd == -1 || ftruncate(fd, (off_t)len) == -1 ||
	    (len && pwrite(fd, buf, len, 0) != (ssize_t)len))
		die("a journal memfd: %s", strerror(errno));
	return fd;
}

static void
journal_same(int fd, const void *buf, size_t len, const char *what)
{
	void *m;

	if (!len)
		return;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mapping the journal: %s", strerror(errno));
	if (memcmp(m, buf, len) != 0)
		die("the %s journal's bytes changed", what);
	munmap(m, len);
}

/* The built pools are the state's, blocks and all, and pass the checks. */
static void
check_built(const struct rebuild *rb)
{
	char problem[256];
	unsigned k;
	size_t i;

	if (dpool_count() != rb->st->n_pools || rb->st->n_sessions)
		die("built %u pools of %zu, %zu clients", dpool_count(),
		    rb->st->n_pools, rb->st->n_sessions);
	for (k = 0; k < rb->st->n_pools; k++) {
		const Poolmgrd__PoolState *ps = rb->st->pools[k];
		struct dpool *p = rb->pools[k];
		struct heap_block_info bi;
		struct block *b;

		if (heap_check(p->heap, problem, sizeof(problem)) != 0 ||
		    dpool_check(p, problem, sizeof(problem)) != 0)
			die("pool %s recovered, but: %s", p->name, problem);
		/* The list the state says, entry for entry. */
		if (p->acl.n != ps->n_acl)
			die("pool %s: %u access control entries, %zu in the "
			    "state", p->name, (unsigned)p->acl.n, ps->n_acl);
		for (i = 0; i < ps->n_acl; i++)
			if (((uint64_t)p->acl.e[i].kind << 40 |
			     (uint64_t)p->acl.e[i].rights << 32 |
			     p->acl.e[i].id) != ps->acl[i])
				die("pool %s: access control entry %zu is not "
				    "the state's", p->name, i);
		/* And the user quotas of uids, entry for entry. */
		if (2 * p->uquotas.n != ps->n_user_quotas)
			die("pool %s: %u user quotas of uids, %zu words in the "
			    "state", p->name, (unsigned)p->uquotas.n,
			    ps->n_user_quotas);
		for (i = 0; i < p->uquotas.n; i++)
			if (p->uquotas.e[i].uid != ps->user_quotas[2 * i] ||
			    p->uquotas.e[i].bytes != ps->user_quotas[2 * i + 1])
				die("pool %s: user quota entry %zu is not the "
				    "state's", p->name, i);
		for (i = 0; i < ps->n_block_off; i++) {
			b = block_index_find(&p->blocks, ps->block_off[i]);
			if (heap_block_info(p->heap, ps->block_off[i], &bi) ||
			    bi.size != ps->block_size[i] ||
			    bi.requested < ps->block_requested[i] ||
			    bi.span != (ps->block_span[i] ? 1 : 0) || !b ||
			    b->persister != (uid_t)ps->block_persister[i])
				die("pool %s: block %#llx is not as the "
				    "journal says", p->name,
				    (unsigned long long)ps->block_off[i]);
		}
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	fuzz_quiet_daemon_log("fuzz_recover", argc, argv);
	signal(SIGPIPE, SIG_IGN);
	atexit(report);
	page = sysconf(_SC_PAGESIZE);
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	/* Bound to an abstract name the kernel picks (autobind). */
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listen_fd == -1 ||
	    bind(listen_fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) ||
	    listen(listen_fd, 1) == -1)
		die("sockets: %s", strerror(errno));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char named[FUZZ_MAX_FDS][32];
	char *names[FUZZ_MAX_FDS];
	int fds[FUZZ_MAX_FDS], given[FUZZ_MAX_FDS];
	int slot[POOL_MAX_POOLS];
	struct keep keeps[FUZZ_MAX_KEEPS];
	struct passed_fds pf = {0};
	struct rebuild rb = {0};
	struct model md = {0};
	unsigned nkeeps, n = 0, k, i;
	uint64_t *buf, id;
	size_t len;
	long before;
	bool whole, twice;
	int jfd, ofd = -1, rc;

	inputs++;
	if (size < 2)
		return 0;
	nkeeps = data[0] >> 4;
	if (nkeeps > FUZZ_MAX_KEEPS || size < 2 + 2 * (size_t)nkeeps)
		return 0;
	fed++;
	before = fuzz_open_fds();
	len = size - 2 - 2 * nkeeps;
	if (!(buf = calloc(len / 8 + 1, 8)))
		die("out of memory");
	memcpy(buf, data + 2 + 2 * nkeeps, len);
	fix(buf, len, data[0]);
	id = len >= 16 && buf[JH_ID] ? buf[JH_ID] : 1;
	if (data[1] & NAME_OFF)
		id++;

	jfd = journal_make(buf, len);
	snprintf(named[n], sizeof(named[0]), "journal.%llu",
		 (unsigned long long)id);
	fds[n++] = jfd;
	if ((data[1] & WITH_OLDER) && id > 1) {
		ofd = journal_make(buf, len);
		snprintf(named[n], sizeof(named[0]), "journal.%llu",
			 (unsigned long long)id - 1);
		fds[n++] = ofd;
	}
	for (k = 0; k < nkeeps; k++) {
		keep_make(&keeps[k], k, data[3 + 2 * k]);
		snprintf(named[n], sizeof(named[0]), "keep.%u",
			 data[2 + 2 * k]);
		fds[n++] = keeps[k].fd;
	}
	for (i = 0; i < n; i++)
		names[i] = named[i];
	memcpy(given, fds, sizeof(fds));
	pf.n = n;
	pf.fd = fds;
	pf.name = names;
	pf.listen = data[0] & WITH_LISTEN ? listen_fd : -1;
	pf.state = -1;

	md.pools = calloc(len / 24 + 1, sizeof(*md.pools));
	md.generations = calloc(len / 24 + 1, sizeof(*md.generations));
	md.blocks = calloc(len / 24 + 1, sizeof(*md.blocks));
	if (!md.pools || !md.generations || !md.blocks)
		die("out of memory");
	whole = model_read(&md, buf, len, id) == 0;
	twice = whole && model_generation_twice(&md);
	rc = load_recovered(&rb, &pf);
	if (rb.st && !whole)
		die("a journal that is not whole was replayed: %s", rb.why);
	if (rb.st)
		model_same(&md, rb.st, pf.listen >= 0, data + 2, nkeeps);
	else if (whole && pools_fit(&md))
		die("a whole journal refused: %s", rb.why);
	if (!rb.st) {
		/* The replay refused: nothing taken. */
		if (memcmp(given, fds, n * sizeof(int)) != 0 || rb.fds)
			die("a refused journal took descriptors");
	} else if (rb.nfds != 2 + rb.st->n_pools || rb.fds[1] != jfd ||
		   rb.fds[0] != pf.listen)
		die("%u descriptors for %zu pools", rb.nfds, rb.st->n_pools);
	/* Which keep each pool took, before build takes it over. */
	for (k = 0; rb.st && k < rb.st->n_pools; k++) {
		for (i = 0; i < nkeeps && keeps[i].fd != rb.fds[2 + k]; i++)
			;
		if (i == nkeeps)
			die("pool %s: not on a keep memfd", rb.st->pools[k]->name);
		slot[k] = (int)i;
	}
	if (rc == 0 && twice)
		die("two names of one generation recovered");
	if (rc == 0)
		rc = build(&rb);
	if (rc == 0) {
		check_built(&rb);
		for (k = 0; k < rb.st->n_pools; k++)
			keep_check(&keeps[slot[k]], (unsigned)slot[k],
				   rb.st->pools[k]);
		recovered++;
	} else {
		if (!*rb.why)
			die("refused (%d) without saying why", rc);
		if (getenv("POOLMGR_FUZZ_WHY"))
			fprintf(fuzz_errout, "refused: %s\n", rb.why);
	}
	journal_same(jfd, buf, len, "newest");
	if (ofd >= 0)
		journal_same(ofd, buf, len, "older");

	/* What load placed, teardown closes; the listening socket is ours. */
	if (rb.fds)
		rb.fds[0] = -1;
	teardown(&rb);
	if (dpool_count() != 0)
		die("teardown left %u pools", dpool_count());
	/* Every keep no recovered pool took, as it was, teardown and all. */
	for (k = 0; k < nkeeps; k++) {
		for (i = 0; rc == 0 && i < rb.st->n_pools && slot[i] != (int)k;
		     i++)
			;
		if (rc != 0 || i == rb.st->n_pools)
			keep_check(&keeps[k], k, NULL);
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (k = 0; k < nkeeps; k++)
		munmap(keeps[k].map, keeps[k].size);
	if (rb.st)
		poolmgrd__state__free_unpacked(rb.st, NULL);
	free(rb.pools);
	free(rb.sessions);
	free(rb.fds);
	free(buf);
	free(md.pools);
	free(md.generations);
	free(md.blocks);
	if (fuzz_open_fds() != before)
		die("%ld descriptors open after the input, %ld before",
		    fuzz_open_fds(), before);
	return 0;
}

/*
 * itest_crash_load.c - poolmgrd killed (SIGKILL) at random moments while
 * several client processes work at once, under systemd's fd store, and
 * what the recovery brings back compared with what the clients were told
 * (docs/design.md, "The crash journal").
 *
 *   kills_under_load  each round, NKIDS processes each with a connection
 *       and a handle on pool a (no client cache) make persistent blocks
 *       (allocated, written with a pattern of their tag, persisted, their
 *       hold dropped), name them (kept or evictable), move a name to
 *       another of their blocks, unpublish, end persistent blocks one at
 *       a time and in batches; one of them also sets pool q's mode,
 *       quota, limit, user quota, access control list and uids' own
 *       user quotas (one request), and another
 *       makes and ends batches of 512 persistent blocks in pool f, which
 *       brings the journal to its compactions.  Each writes what it is
 *       about to ask and, once answered, what it was told, to a file of
 *       its own.  After a random while the daemon is killed; in some
 *       rounds a restart in place (SIGUSR2) comes first, waited for or
 *       killed in the middle; in some it is killed by fail_grow.so at
 *       whichever record next grows a journal (a change's, a
 *       compaction's); in some the recovered daemon is killed again as
 *       soon as it is ready.  Then: every block and name a
 *       client was told of is there (a's blocks with their bytes), none
 *       that no client asked for, the request each client had in flight
 *       either done or not, q's settings those of the last answered set
 *       or of the one in flight, f's persistent blocks a whole number of
 *       its batches, and every pool's check clean.  The pools are then
 *       emptied for the next round.
 *
 * $POOLMGR_LOAD_SEED replays a run's choices (not the daemon's timing),
 * $POOLMGR_LOAD_ROUNDS lengthens it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define CONFIG	"[daemon]\nsocket_mode = 0666\n" \
		"[pool a]\nsize = 16M\n" \
		"[pool f]\nsize = 16M\n"

#define ROUNDS		12	/* rounds of a default run */
#define NKIDS		4	/* client processes */
#define KID_SETS	0	/* the one that sets q */
#define KID_CHURN	1	/* the one that fills f's journal */
#define OWN_MAX		40	/* persistent blocks of a kid at a time */
#define BATCH		8	/* offsets of a FreeBatch of a */
#define CHURN		512	/* f's blocks made and ended at a time */
#define MAXB		(NKIDS * OWN_MAX * 4)	/* the model's blocks */
#define NAME_LEN	24
#define KID_ALARM	120	/* seconds: no kid may hang the test */

enum op { OP_PERSIST = 1, OP_NAME, OP_REPLACE, OP_UNNAME, OP_FREE,
	  OP_FREEB, OP_SET, OP_CHURN_MAKE, OP_CHURN_END };
enum { ASKED, DONE, REFUSED };

/* A line of a kid's file: what it asks (ASKED), then what it was told. */
struct rec {
	uint32_t op, state;
	int32_t rc;
	uint32_t n;			/* offsets in off[]; flag of a name */
	uint64_t off[BATCH];
	uint64_t len, tag, seq;
	char name[NAME_LEN];
};

/* A block of a the model has: certain, or maybe (in flight). */
struct mblock {
	unsigned kid;
	uint64_t off, len, tag;
	bool maybe;
};

/* A name of a: at off, or maybe at alt (a replace in flight), or gone. */
struct mname {
	char name[NAME_LEN];
	uint64_t off, alt;
	bool evictable, maybe_gone;
};

static struct harness_store st;
static struct mblock mb[MAXB];
static unsigned nmb;
static struct mname mn[MAXB];
static unsigned nmn;
static uint64_t q_seq, q_alt;		/* q's settings: seq, or alt too */
static bool q_has_alt;
static uint64_t f_lo, f_hi;		/* f's batches made: between */
static uint64_t rng, seed;
static unsigned restarts, mid_restart, at_grow, again, compactions;
static char flag[96];			/* fail_grow.so's: kill at a grow */

static uint64_t
rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(rnd64() % n);
}

static uint64_t
env_number(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* ---- q's settings, a function of their sequence number ------------------ */

static const uint32_t modes[] = {0600, 0640, 0660, 0644};

static struct pool_set_opts
q_settings(uint64_t s, struct pool_acl_entry *acl)
{
	struct pool_set_opts o = {
		.which = POOL_SET_MODE | POOL_SET_QUOTA | POOL_SET_LIMIT |
			 POOL_SET_USER_QUOTA | POOL_SET_ACL,
		.mode = modes[s % 4],
		.quota = (s % 5) << 20,
		.limit = s % 3 ? (s % 3 + 2) << 20 : 0,
		.user_quota = s % 2 ? 0 : (s % 7 + 1) << 20,
		.acl = acl,
		.nacl = (uint32_t)(s % 4),
	};
	static const uint32_t rights[] = {POOL_ACL_READ,
					  POOL_ACL_READ | POOL_ACL_WRITE, 0};
	uint32_t i;

	for (i = 0; i < o.nacl; i++)
		acl[i] = (struct pool_acl_entry){
			.kind = (s + i) % 2 ? POOL_ACL_USER : POOL_ACL_GROUP,
			.id = 3000 + i * 7 + (uint32_t)(s % 11),
			.rights = rights[(s + i) % 3],
		};
	return o;
}

/*
 * q's uids' own user quotas of sequence number s: uids UQ_UID + i, for i
 * below s % UQ_UIDS, set to bytes that say s; the others of the range
 * taken out.  Both in the settings' request (pool_set_user_quotas).
 */
#define UQ_UID	4000
#define UQ_UIDS	6

static size_t
q_uquotas(uint64_t s, struct pool_user_quota *set, uint32_t *rm, size_t *nrm)
{
	size_t i, n = (size_t)(s % UQ_UIDS);

	*nrm = 0;
	for (i = 0; i < UQ_UIDS; i++)
		if (i < n)
			set[i] = (struct pool_user_quota){
				.uid = UQ_UID + (uint32_t)i,
				.bytes = (s % 13 + i + 1) << 20,
			};
		else
			rm[(*nrm)++] = UQ_UID + (uint32_t)i;
	return n;
}

/* Are q's uids' own user quotas now those of sequence number s? */
static bool
q_uquotas_are(struct pool_conn *c, uint64_t s)
{
	struct pool_user_quota want[UQ_UIDS], got[UQ_UIDS + 1];
	uint32_t rm[UQ_UIDS];
	size_t nrm, n = q_uquotas(s, want, rm, &nrm), i;
	int k = pool_user_quota_get(c, "q", got, UQ_UIDS + 1);

	if (k < 0 || (size_t)k != n)
		return false;
	for (i = 0; i < n; i++)	/* both sorted by uid */
		if (got[i].uid != want[i].uid || got[i].bytes != want[i].bytes)
			return false;
	return true;
}

/* Are q's settings now those of sequence number s? */
static bool
q_is(struct pool_conn *c, uint64_t s)
{
	struct pool_acl_entry want[4], got[8];
	struct pool_set_opts o = q_settings(s, want);
	struct pool_stats ps = harness_stats_of(c, "q");
	uint32_t i, j;
	int n;

	if (ps.mode != o.mode || ps.quota != o.quota || ps.limit != o.limit ||
	    ps.user_quota != o.user_quota)
		return false;
	n = pool_acl_get(c, "q", got, 8);
	if (n < 0 || (uint32_t)n != o.nacl)
		return false;
	for (i = 0; i < o.nacl; i++) {
		for (j = 0; j < o.nacl; j++)
			if (got[j].kind == want[i].kind &&
			    got[j].id == want[i].id &&
			    got[j].rights == want[i].rights)
				break;
		if (j == o.nacl)
			return false;
	}
	return q_uquotas_are(c, s);
}

/* ---- a kid ---------------------------------------------------------------- */

struct own {
	uint64_t off, len;
	char name[NAME_LEN];	/* "": none */
};

static int kid_log;
static struct pool *kid_a, *kid_f;
static struct pool_conn *kid_q;

static void
say(const struct rec *r)
{
	if (write(kid_log, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(4);
}

/* A call that failed but for room: the kid's end, the daemon gone or not. */
static void __attribute__((noreturn))
gone(int rc)
{
	if (rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN ||
	    rc == -ESHUTDOWN || rc == -ECONNABORTED)
		_exit(0);
	fprintf(stderr, "kid: %s\n", pool_strerror(rc));
	_exit(3);
}

/*
 * What the daemon answered to r: 0 told (logged DONE), a refusal a busy
 * pool may give (logged REFUSED), or the kid's end (gone: the request
 * stays in flight).
 */
static bool
answered(struct rec *r, int rc)
{
	if (rc != 0 && rc != -ENOMEM && rc != -EDQUOT && rc != -ENOSPC)
		gone(rc);
	r->rc = rc;
	r->state = rc ? REFUSED : DONE;
	say(r);
	return rc == 0;
}

static void
fill(void *p, uint64_t len, uint64_t tag)
{
	memset(p, (int)(tag & 0xff), len);
	memcpy(p, &tag, sizeof(tag));
}

static unsigned
pick(const struct own *o, unsigned n, bool named)
{
	unsigned i, k = n ? rnd(n) : 0;

	for (i = 0; i < n; i++, k = (k + 1) % n)
		if ((o[k].name[0] != '\0') == named)
			return k;
	return n;
}

static void
drop(struct own *o, unsigned *n, unsigned k)
{
	o[k] = o[--*n];
}

static void
kid_persist(struct own *o, unsigned *n, uint64_t tag)
{
	struct rec r = {.op = OP_PERSIST, .tag = tag};
	pool_off_t off;
	int rc;

	r.len = 16 + rnd(rnd(2) ? 256 : 40000);
	if ((rc = pool_alloc(kid_a, r.len, &off)) == -ENOMEM)
		return;
	if (rc != 0)
		gone(rc);
	fill(pool_ptr(kid_a, off), r.len, tag);
	r.off[0] = off;
	say(&r);
	if (!answered(&r, pool_persist(kid_a, off)))
		return;
	o[*n] = (struct own){.off = off, .len = r.len};
	(*n)++;
	/* Its hold: the block lives on as the pool's. */
	if ((rc = pool_free(kid_a, off)) != 0)
		gone(rc);
}

static void
kid_name(struct own *o, unsigned n, unsigned kid, uint64_t seq)
{
	struct rec r = {.op = OP_NAME, .seq = seq};
	unsigned k = pick(o, n, false);

	if (k == n)
		return;
	snprintf(r.name, sizeof(r.name), "k%u.%" PRIu64, kid, seq);
	r.off[0] = o[k].off;
	r.n = rnd(2);
	say(&r);
	if (answered(&r, pool_publish_flags(kid_a, o[k].off, r.name,
					    r.n ? POOL_PUBLISH_EVICTABLE : 0)))
		memcpy(o[k].name, r.name, NAME_LEN);
}

/* A name moved to another block: the old one's persistence ends. */
static void
kid_replace(struct own *o, unsigned *n)
{
	struct rec r = {.op = OP_REPLACE};
	unsigned from = pick(o, *n, true), to = pick(o, *n, false);

	if (from == *n || to == *n)
		return;
	memcpy(r.name, o[from].name, NAME_LEN);
	r.off[0] = o[to].off;
	r.off[1] = o[from].off;
	r.n = rnd(2);
	say(&r);
	if (!answered(&r, pool_publish_flags(kid_a, o[to].off, r.name,
					     POOL_PUBLISH_REPLACE |
					     (r.n ? POOL_PUBLISH_EVICTABLE :
					      0))))
		return;
	memcpy(o[to].name, r.name, NAME_LEN);
	drop(o, n, from);
}

static void
kid_unname(struct own *o, unsigned *n)
{
	struct rec r = {.op = OP_UNNAME};
	unsigned k = pick(o, *n, true);

	if (k == *n)
		return;
	memcpy(r.name, o[k].name, NAME_LEN);
	r.off[0] = o[k].off;
	say(&r);
	if (answered(&r, pool_unpublish(kid_a, r.name)))
		drop(o, n, k);
}

static void
kid_free(struct own *o, unsigned *n, bool batch)
{
	struct rec r = {.op = batch ? OP_FREEB : OP_FREE};
	unsigned want = batch ? 1 + rnd(BATCH) : 1, k, i;
	unsigned at[BATCH];

	while (r.n < want && (k = pick(o, *n, false)) != *n) {
		for (i = 0; i < r.n && at[i] != k; i++)
			;
		if (i < r.n)
			break;	/* picked twice: enough */
		at[r.n] = k;
		r.off[r.n++] = o[k].off;
	}
	if (r.n == 0)
		return;
	say(&r);
	if (!answered(&r, batch ? pool_free_batch(kid_a, r.n, r.off) :
		      pool_free(kid_a, r.off[0])))
		return;
	/* Highest index first: drop moves the last into the hole. */
	for (i = 0; i < r.n; i++)
		for (k = *n; k-- > 0;)
			if (o[k].off == r.off[i]) {
				drop(o, n, k);
				break;
			}
}

static void
kid_set(uint64_t seq)
{
	struct pool_acl_entry acl[4];
	struct pool_set_opts o = q_settings(seq, acl);
	struct pool_user_quota uq[UQ_UIDS];
	uint32_t rm[UQ_UIDS];
	size_t nrm, n = q_uquotas(seq, uq, rm, &nrm);
	struct rec r = {.op = OP_SET, .seq = seq};

	say(&r);
	answered(&r, pool_set_user_quotas(kid_q, "q", &o, uq, n, rm, nrm));
}

static void
kid_churn(void)
{
	static size_t sizes[CHURN];
	static pool_off_t offs[CHURN];
	struct rec r = {.op = OP_CHURN_MAKE};
	unsigned i;

	for (i = 0; i < CHURN; i++)
		sizes[i] = 16;
	say(&r);
	if (!answered(&r, pool_alloc_batch_flags(kid_f, CHURN, sizes,
						 POOL_ALLOC_PERSIST, offs)))
		return;
	r.op = OP_CHURN_END;
	r.state = ASKED;
	say(&r);
	answered(&r, pool_free_batch(kid_f, CHURN, offs));
}

/*
 * The kid's connection and handles.  A kid slow to start (a sanitized
 * one on a busy machine) may find the daemon killed already, the round's
 * load over: it has done nothing, and ends as the others do.  Any other
 * failure says what failed.
 */
static void
kid_setup(struct pool_conn **c)
{
	int rc;

	if ((rc = pool_connect(st.sock, c)) == -ECONNREFUSED || rc == -ENOENT)
		_exit(0);
	if (rc || (rc = pool_open(*c, "a", &kid_a)) ||
	    (rc = pool_set_cache(kid_a, 0)) ||
	    (rc = pool_open(*c, "f", &kid_f)) ||
	    (rc = pool_set_cache(kid_f, 0)))
		gone(rc);
}

static void
kid_main(unsigned kid, const char *path, uint64_t kseed)
{
	struct own o[OWN_MAX];
	struct pool_conn *c;
	unsigned n = 0, r;
	uint64_t seq = 0, tag = (uint64_t)kid << 48;

	alarm(KID_ALARM);
	rng = kseed | 1;
	if ((kid_log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			    0600)) < 0)
		_exit(2);
	kid_setup(&c);
	kid_q = c;
	for (;;) {
		r = rnd(100);
		if (kid == KID_CHURN && r < 15)
			kid_churn();
		else if (kid == KID_SETS && r < 8)
			kid_set(++seq);
		else if (r < 40 && n < OWN_MAX)
			kid_persist(o, &n, ++tag);
		else if (r < 55)
			kid_name(o, n, kid, ++seq);
		else if (r < 65)
			kid_replace(o, &n);
		else if (r < 75)
			kid_unname(o, &n);
		else if (r < 90)
			kid_free(o, &n, false);
		else
			kid_free(o, &n, true);
	}
}

/* ---- the model, from the kids' files --------------------------------------- */

static struct mblock *
block_of(unsigned kid, uint64_t off)
{
	unsigned i;

	for (i = nmb; i-- > 0;)
		if (mb[i].kid == kid && mb[i].off == off)
			return &mb[i];
	return NULL;
}

static struct mname *
name_of(const char *name)
{
	unsigned i;

	for (i = 0; i < nmn; i++)
		if (strcmp(mn[i].name, name) == 0)
			return &mn[i];
	return NULL;
}

static void
block_gone(unsigned kid, uint64_t off, bool maybe)
{
	struct mblock *b = block_of(kid, off);

	if (!b)
		fail_msg("kid %u: 0x%" PRIx64 " ended, never made", kid, off);
	if (maybe)
		b->maybe = true;
	else
		*b = mb[--nmb];
}

static void
name_gone(const char *name, bool maybe)
{
	struct mname *m = name_of(name);

	if (!m)
		fail_msg("name %s taken, never given", name);
	if (maybe)
		m->maybe_gone = true;
	else
		*m = mn[--nmn];
}

/* r's change, done (maybe false) or in flight (maybe true). */
static void
apply(unsigned kid, const struct rec *r, bool maybe)
{
	struct mname *m;
	unsigned i;

	switch (r->op) {
	case OP_PERSIST:
		assert_true(nmb < MAXB);
		mb[nmb++] = (struct mblock){kid, r->off[0], r->len, r->tag,
					    maybe};
		break;
	case OP_NAME:
		assert_true(nmn < MAXB);
		mn[nmn++] = (struct mname){.off = r->off[0],
					   .alt = r->off[0],
					   .evictable = r->n,
					   .maybe_gone = maybe};
		memcpy(mn[nmn - 1].name, r->name, NAME_LEN);
		break;
	case OP_REPLACE:
		if (!(m = name_of(r->name)))
			fail_msg("name %s moved, never given", r->name);
		block_gone(kid, r->off[1], maybe);
		if (maybe) {
			m->alt = r->off[0];	/* flag: either */
			break;
		}
		m->off = m->alt = r->off[0];
		m->evictable = r->n;
		break;
	case OP_UNNAME:
		name_gone(r->name, maybe);
		block_gone(kid, r->off[0], maybe);
		break;
	case OP_FREE:
	case OP_FREEB:
		for (i = 0; i < r->n; i++)
			block_gone(kid, r->off[i], maybe);
		break;
	case OP_SET:
		if (maybe) {
			q_alt = r->seq;
			q_has_alt = true;
		} else
			q_seq = r->seq;
		break;
	case OP_CHURN_MAKE:
		f_hi++;
		if (!maybe)
			f_lo++;
		break;
	case OP_CHURN_END:
		f_lo--;
		if (!maybe)
			f_hi--;
		break;
	}
}

/* Kid kid's file into the model: what it was told, and its last ask. */
static void
learn(unsigned kid, const char *path)
{
	struct rec r, asked = {0};
	bool pending = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	while (harness_read_full(fd, &r, sizeof(r)) == 0) {
		if (r.state == ASKED) {
			if (pending)
				fail_msg("kid %u: two requests in flight", kid);
			asked = r;
			pending = true;
			continue;
		}
		if (!pending || r.op != asked.op)
			fail_msg("kid %u: an answer to no request", kid);
		pending = false;
		if (r.state == REFUSED && r.rc != -ENOMEM && r.rc != -EDQUOT &&
		    r.rc != -ENOSPC)
			fail_msg("kid %u: request %u refused: %s", kid, r.op,
				 pool_strerror(r.rc));
		if (r.state == DONE)
			apply(kid, &r, false);
	}
	close(fd);
	if (pending)
		apply(kid, &asked, true);
}

/* ---- the check after a recovery ------------------------------------------- */

static void
check_pool(struct pool_conn *c, const char *name)
{
	char msg[256];
	int rc = pool_check_by_name(c, name, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("pool %s: check: %s (%s)", name, pool_strerror(rc),
			 msg);
}

/* Every live block of pool name, into *out (free it), their count. */
static size_t
live_blocks(struct pool_conn *c, const char *name,
	    struct pool_block_info **out)
{
	struct pool_block_info *all = NULL, *page, *more;
	uint64_t from = 0;
	size_t n = 0, got;
	int done = 0;

	while (!done) {
		EXPECT_RC(pool_blocks(c, name, 0, 0, &from, &page, &got,
				      &done), 0);
		more = realloc(all, (n + got + 1) * sizeof(*all));
		assert_non_null(more);
		all = more;
		memcpy(all + n, page, got * sizeof(*page));
		n += got;
		free(page);
	}
	*out = all;
	return n;
}

/* Is the block at b one of the model's, with its bytes?  Which, or NULL. */
static const struct mblock *
explained(struct pool *a, const struct pool_block_info *b)
{
	const uint8_t *p = pool_ptr(a, b->offset);
	unsigned i;
	uint64_t k;

	for (i = 0; i < nmb; i++) {
		if (mb[i].off != b->offset || mb[i].len > b->usable_size ||
		    memcmp(p, &mb[i].tag, sizeof(mb[i].tag)) != 0)
			continue;
		for (k = sizeof(mb[i].tag); k < mb[i].len; k++)
			if (p[k] != (uint8_t)(mb[i].tag & 0xff))
				fail_msg("a: block 0x%" PRIx64 " of tag %#" PRIx64
					 ": byte %" PRIu64 " is %#x",
					 b->offset, mb[i].tag, k, p[k]);
		return &mb[i];
	}
	return NULL;
}

static void
check_a(struct pool_conn *c)
{
	struct pool_block_info *b;
	struct pool_named *nm;
	struct pool *a;
	size_t n, nn, total, i, j;
	unsigned k;

	EXPECT_RC(pool_open_readonly(c, "a", &a), 0);
	n = live_blocks(c, "a", &b);
	for (i = 0; i < n; i++) {
		if (!(b[i].flags & POOL_BLOCK_PERSISTENT))
			fail_msg("a: block 0x%" PRIx64 " live, not persistent",
				 b[i].offset);
		if (!explained(a, &b[i]))
			fail_msg("a: block 0x%" PRIx64 " of %" PRIu64 " bytes "
				 "recovered: no client was told of it, nor "
				 "asked for it", b[i].offset,
				 b[i].usable_size);
	}
	for (k = 0; k < nmb; k++) {
		if (mb[k].maybe)
			continue;
		for (i = 0; i < n && b[i].offset != mb[k].off; i++)
			;
		if (i == n)
			fail_msg("a: kid %u's block 0x%" PRIx64 " (tag %#"
				 PRIx64 ") lost", mb[k].kid, mb[k].off,
				 mb[k].tag);
	}
	EXPECT_RC(pool_names(c, "a", NULL, &nm, &nn, &total), 0);
	assert_int_equal(nn, total);
	for (i = 0; i < nn; i++) {
		const struct mname *m = name_of(nm[i].name);

		if (!m)
			fail_msg("a: name %s recovered: never given",
				 nm[i].name);
		if (nm[i].offset != m->off && nm[i].offset != m->alt)
			fail_msg("a: name %s at 0x%" PRIx64 ", not 0x%" PRIx64
				 " (nor 0x%" PRIx64 ")", nm[i].name,
				 nm[i].offset, m->off, m->alt);
		if (m->off == m->alt && !m->maybe_gone &&
		    nm[i].evictable != m->evictable)
			fail_msg("a: name %s %s", nm[i].name, m->evictable ?
				 "kept, not evictable" : "evictable");
	}
	for (k = 0; k < nmn; k++) {
		if (mn[k].maybe_gone)
			continue;
		for (j = 0; j < nn && strcmp(nm[j].name, mn[k].name); j++)
			;
		if (j == nn)
			fail_msg("a: name %s lost", mn[k].name);
	}
	free(nm);
	free(b);
	pool_close(a);
}

static void
check_q_f(struct pool_conn *c)
{
	struct pool_stats f = harness_stats_of(c, "f");

	if (!q_is(c, q_seq) && !(q_has_alt && q_is(c, q_alt))) {
		if (q_has_alt)
			fail_msg("q: settings neither of set %" PRIu64 " nor of "
				 "set %" PRIu64 ", in flight", q_seq, q_alt);
		fail_msg("q: settings not of set %" PRIu64 " (none in "
			 "flight)", q_seq);
	}
	if (f.persistent_blocks % CHURN ||
	    f.persistent_blocks / CHURN < f_lo ||
	    f.persistent_blocks / CHURN > f_hi)
		fail_msg("f: %" PRIu64 " persistent blocks, not %" PRIu64
			 " to %" PRIu64 " batches of %u", f.persistent_blocks,
			 f_lo, f_hi, CHURN);
	if (f.live_blocks != f.persistent_blocks)
		fail_msg("f: %" PRIu64 " live blocks, %" PRIu64 " persistent",
			 f.live_blocks, f.persistent_blocks);
}

/* Every block of pool name ended, its names first: an empty pool. */
static void
empty(struct pool_conn *c, const char *name)
{
	struct pool_block_info *b;
	struct pool_named *nm;
	struct pool *p;
	size_t n, nn, total, i;

	EXPECT_RC(pool_open(c, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_names(c, name, NULL, &nm, &nn, &total), 0);
	for (i = 0; i < nn; i++)
		EXPECT_RC(pool_unpublish(p, nm[i].name), 0);
	free(nm);
	n = live_blocks(c, name, &b);
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, b[i].offset), 0);
	free(b);
	pool_close(p);
	assert_int_equal(harness_stats_of(c, name).live_blocks, 0);
}

/* The daemon as the last round left it: checked, then emptied. */
static void
check_and_empty(void)
{
	struct pool_conn *c;

	EXPECT_RC(pool_connect(st.sock, &c), 0);
	check_pool(c, "a");
	check_pool(c, "f");
	check_pool(c, "q");
	check_a(c);
	check_q_f(c);
	empty(c, "a");
	empty(c, "f");
	/* The set in flight, if it was done, is where the next round starts. */
	if (q_has_alt && !q_is(c, q_seq))
		q_seq = q_alt;
	pool_disconnect(c);
	nmb = nmn = 0;
	q_has_alt = false;
	f_lo = f_hi = 0;
}

/* ---- a round -------------------------------------------------------------- */

/* poolmgrd with fail_grow.so, which kills it while flag exists. */
static int
start(void)
{
	char *saved = harness_preload("fail_grow.so");
	int rc;

	setenv("POOLMGR_KILL_ON_GROW", flag, 1);
	rc = harness_store_start(&st);
	unsetenv("POOLMGR_KILL_ON_GROW");
	harness_preload_off(saved);
	return rc;
}

static void
recovered_start(void)
{
	unsigned before = harness_store_log_count(&st, " recovered");

	if (start() != 0)
		fail_msg("poolmgrd did not start after the crash");
	if (harness_store_log_count(&st, " recovered") != before + 1 ||
	    harness_store_log_count(&st, "journal is refused")) {
		harness_store_print_log(&st);
		fail_msg("no recovery");
	}
}

/* The kids' load for ms, the store's messages applied meanwhile. */
static void
load_for(unsigned ms)
{
	uint64_t end = harness_now_ms() + ms;

	while (harness_now_ms() < end) {
		harness_store_drain(&st);
		harness_sleep_ms(2);
	}
}

static void
round_of_kills(unsigned round)
{
	char path[NKIDS][96];
	pid_t pid[NKIDS];
	unsigned k, how = rnd(6);
	int status;

	for (k = 0; k < NKIDS; k++) {
		uint64_t kseed = rnd64();

		snprintf(path[k], sizeof(path[k]), "%s/kid%u.%u", st.dir, k,
			 round);
		if ((pid[k] = fork()) == 0) {
			kid_main(k, path[k], kseed);
			_exit(1);
		}
		assert_true(pid[k] > 0);
	}
	load_for(20 + rnd(400));
	if (how == 0) {
		/* A restart in place under load, then more load. */
		restarts++;
		if (kill(st.pid, SIGUSR2) != 0 ||
		    harness_store_wait(&st, "READY=1", 30000) != 0)
			fail_msg("no restart in place");
		load_for(20 + rnd(200));
	} else if (how == 1) {
		/* Killed in the middle of one. */
		mid_restart++;
		assert_int_equal(kill(st.pid, SIGUSR2), 0);
		load_for(rnd(30));
	} else if (how == 2) {
		/* Killed as the next record grows the journal, if one does. */
		int fd = open(flag, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		siginfo_t si = {0};

		assert_true(fd >= 0);
		close(fd);
		load_for(100 + rnd(400));
		/* Dead already?  Looked at, not reaped: the crash reaps it. */
		at_grow += waitid(P_PID, (id_t)st.pid, &si,
				  WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == st.pid;
	}
	if (harness_store_crash(&st) != 0)
		fail_msg("the daemon could not be killed and waited for");
	for (k = 0; k < NKIDS; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("kid %u: exit status %#x", k, status);
		learn(k, path[k]);
	}
	unlink(flag);
	recovered_start();
	if (rnd(4) == 0) {
		/* Again, from the snapshot that start wrote. */
		again++;
		if (harness_store_crash(&st) != 0)
			fail_msg("the daemon could not be killed again");
		recovered_start();
	}
	check_and_empty();
}

static void
kills_under_load(void **state)
{
	struct pool_acl_entry acl[4];
	struct pool_create_opts co = {.max_size = 8 << 20};
	struct pool_set_opts o = q_settings(0, acl);
	struct pool_conn *c;
	unsigned rounds, r;

	(void)state;
	seed = env_number("POOLMGR_LOAD_SEED",
			  harness_now_ms() ^ (uint64_t)getpid() << 20);
	rounds = (unsigned)env_number("POOLMGR_LOAD_ROUNDS", ROUNDS);
	printf("seed %" PRIu64 " (POOLMGR_LOAD_SEED replays it), %u rounds\n",
	       seed, rounds);
	fflush(stdout);
	rng = seed * 0x9e3779b97f4a7c15ull | 1;

	assert_int_equal(harness_store_open(&st, CONFIG), 0);
	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st.dir);
	if (start() != 0)
		fail_msg("poolmgrd did not start");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_create_set(c, "q", &co, &o), 0);	/* s 0: no uid's own */
	pool_disconnect(c);
	for (r = 0; r < rounds; r++)
		round_of_kills(r);
	/* A sanitized daemon's report goes to its log, which goes with st. */
	if (harness_store_logged(&st, "Sanitizer") ||
	    harness_store_logged(&st, "runtime error")) {
		harness_store_print_log(&st);
		fail_msg("the daemon's log has a sanitizer's report");
	}
	compactions = harness_store_log_count(&st, "compacted into journal.");
	printf("%u rounds: %u restarts in place before the kill, %u killed "
	       "in the middle of one, %u at a journal's grow, %u killed again "
	       "at once, %u compactions\n", rounds, restarts, mid_restart,
	       at_grow, again, compactions);
	harness_store_close(&st);
}

/* A failed check leaves its daemon running: killed here, its files gone. */
static int
teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(kills_under_load, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

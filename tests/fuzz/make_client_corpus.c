/*
 * make_client_corpus.c - write the seed corpus of fuzz_client.c:
 *
 *   tests/fuzz/corpus/fuzz_client/   conversations in which the fake
 *                                    daemon tells the truth
 *
 * Each seed is a pool configuration, a script of library calls and
 * reply records (the format is at the top of fuzz_client.c; its
 * constants in fuzz_client.h).  The records here are truthful: the
 * fake's own answer (a 0 byte, or no record at all once they run out),
 * or the same answer spelled out as raw protobuf bytes, so that the
 * fuzzer starts from replies it can twist field by field, or the share
 * map written as the daemon writes it (a pool destroyed by force, a
 * restart in place).  A few seeds tell a lie the library must refuse,
 * so that the fuzzer starts from its refusal too (write_lies).  The
 * default
 * script (every call once) runs over every pool size with each
 * granularity, with all the HelloReply features and with none; the
 * paired-* seeds run their scripts on two threads.
 *
 * Built and run by hand, not by the Makefile (make build/proto/poolmgr.pb-c.c
 * first):
 *
 *   cc -std=gnu11 -O1 -Wall -Wextra -D_GNU_SOURCE -Ibuild/proto \
 *     -o build/make_client_corpus tests/fuzz/make_client_corpus.c \
 *     build/proto/poolmgr.pb-c.c -lprotobuf-c
 *   build/make_client_corpus tests/fuzz/corpus/fuzz_client
 *
 * Seeds named regress_* are not written here: they are inputs the fuzzer
 * found to break the library, kept byte for byte so that the smoke test
 * replays them (regress_refill_inside_granule: a cache refill's block
 * 143 bytes into a pool of 4096-byte granules, which the cache then
 * handed to pool_alloc_aligned(512); regress_check_words, written by
 * hand: a failed check whose problem text holds an escape and a bell,
 * which pool_check_by_name copied as they came).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "poolmgr.pb-c.h"

#include "fuzz_client.h"

#define SEED_MAX	8192

struct seed {
	uint8_t	b[SEED_MAX];
	size_t	n;
};

static const char	*out_dir;

static void
put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > sizeof s->b) {
		fprintf(stderr, "make_client_corpus: seed too long\n");
		exit(1);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void
put_byte(struct seed *s, uint8_t b)
{
	put(s, &b, 1);
}

/* The configuration byte (fuzz_client.c: pool size, granularity,
 * features) and the script: n calls, or none for the default one. */
static void
begin(struct seed *s, unsigned size_idx, unsigned g_idx, unsigned features,
    const uint8_t *script, size_t n)
{
	s->n = 0;
	put_byte(s, (uint8_t)(size_idx | g_idx << 3 | features << 5));
	put_byte(s, (uint8_t)n);
	put(s, script, n);
}

/* A raw record: reply r, which the fake sends with the request's id. */
static void
put_raw(struct seed *s, const Poolmgr__Reply *r)
{
	uint8_t	buf[1024];
	size_t	len = poolmgr__reply__get_packed_size(r);

	if (len > sizeof buf) {
		fprintf(stderr, "make_client_corpus: reply too large\n");
		exit(1);
	}
	poolmgr__reply__pack(r, buf);
	put_byte(s, REC_RAW);
	put_byte(s, (uint8_t)len);
	put_byte(s, (uint8_t)(len >> 8));
	put(s, buf, len);
}

static void
save(const struct seed *s, const char *name)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", out_dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		fprintf(stderr, "make_client_corpus: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
}

/* The default script over each pool size and granularity. */
static void
write_defaults(void)
{
	static const char *const sizes[8] = {
		"64k", "1m", "4k", "8k", "256k", "2m", "12k", "128k",
	};
	static const char *const grans[4] = { "g16", "g64", "g8", "g4096" };
	struct seed	s;
	char		name[64];
	unsigned	i, g;

	for (i = 0; i < 8; i++)
		for (g = 0; g < 4; g++) {
			begin(&s, i, g, (i + g) % 2 ? 7 : 0, NULL, 0);
			snprintf(name, sizeof name, "default-%s-%s-%s",
			    sizes[i], grans[g], (i + g) % 2 ? "features" :
			    "plain");
			save(&s, name);
		}
}

/* Short scripts: the allocation calls, names, batches, a read-only pool. */
static void
write_scripts(void)
{
	static const uint8_t alloc[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 0), OP(OP_ALLOC, 2),
		OP(OP_ALLOC, 5), OP(OP_CALLOC, 1), OP(OP_ALIGNED, 4),
		OP(OP_REALLOC, 1), OP(OP_REALLOC, 6), OP(OP_REALLOC, 7),
		OP(OP_USABLE, 1), OP(OP_REALLOC, 0), OP(OP_FREE, 0),
		OP(OP_FREE, 1), OP(OP_ALLOC, 1),
		OP(OP_ALLOC, 1), OP(OP_FLUSH, 0), OP(OP_STATS, 0),
		OP(OP_CLOSE, 0),
	};
	static const uint8_t cache[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 1), OP(OP_ALLOC, 1),
		OP(OP_ALLOC, 2), OP(OP_FREE, 0), OP(OP_FREE, 1),
		OP(OP_ALLOC, 1), OP(OP_ALLOC, 2), OP(OP_FREE, 2),
		OP(OP_SET_CACHE, 1), OP(OP_ALLOC, 1), OP(OP_SET_CACHE, 2),
		OP(OP_ALLOC, 1), OP(OP_FREE, 0), OP(OP_TRIM, 0),
		OP(OP_DISCONNECT, 0),
	};
	static const uint8_t batch[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC_BATCH, 0), OP(OP_ALLOC_BATCH, 3),
		OP(OP_ALLOC_BATCH, 7), OP(OP_FREE_BATCH, 0),
		OP(OP_ALLOC_BATCH, 1), OP(OP_FREE, 0), OP(OP_FREE_BATCH, 0),
	};
	static const uint8_t names[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 2), OP(OP_PUBLISH, 0),
		OP(OP_PUBLISH_FLAGS, 4), OP(OP_OPEN_RO, 0), OP(OP_LOOKUP, 4),
		OP(OP_LOOKUP_RETAIN, 0), OP(OP_LOOKUP_WAIT, 0),
		OP(OP_LOOKUP_WAIT, 1), OP(OP_LOOKUP_WAIT, 4),
		OP(OP_LOOKUP_WAIT, 2), OP(OP_NAMES, 1), OP(OP_UNPUBLISH, 0),
		OP(OP_LOOKUP, 0), OP(OP_CLOSE_RO, 0),
	};
	static const uint8_t readonly[] = {
		OP(OP_OPEN_RO, 0), OP(OP_LOOKUP, 4), OP(OP_USABLE, 4),
		OP(OP_STATS, 4), OP(OP_ALLOC, 1), OP(OP_FLUSH, 0),
		OP(OP_OPEN_RO, 0), OP(OP_DISCONNECT, 0),
	};
	/* OP_CALLOC 4-7: pool_alloc_wait, with room, then in a full pool. */
	static const uint8_t alloc_wait[] = {
		OP(OP_OPEN, 0), OP(OP_CALLOC, 4), OP(OP_CALLOC, 5),
		OP(OP_CALLOC, 6), OP(OP_CALLOC, 7), OP(OP_ALLOC, 7),
		OP(OP_ALLOC, 7), OP(OP_ALLOC, 7), OP(OP_CALLOC, 4),
		OP(OP_CALLOC, 5), OP(OP_CALLOC, 6), OP(OP_STATS, 0),
		OP(OP_FREE, 0), OP(OP_CALLOC, 4), OP(OP_CLOSE, 0),
	};
	static const uint8_t admin[] = {
		OP(OP_LIST, 0), OP(OP_CLIENTS, 1), OP(OP_CLIENTS, 0),
		OP(OP_PERSISTED, 0), OP(OP_NAMES, 0), OP(OP_CHECK, 0),
		OP(OP_STATS_NAME, 0), OP(OP_TRIM, 1), OP(OP_CREATE, 0),
		OP(OP_CREATE, 1),
	};
	struct seed	s;

	begin(&s, 0, 0, 7, alloc, sizeof alloc);
	save(&s, "alloc-64k");
	begin(&s, 1, 1, 0, alloc, sizeof alloc);
	save(&s, "alloc-1m-g64-plain");
	begin(&s, 5, 0, 7, alloc, sizeof alloc);
	save(&s, "alloc-2m");
	begin(&s, 1, 0, 7, cache, sizeof cache);
	save(&s, "cache-1m");
	begin(&s, 4, 2, 7, cache, sizeof cache);
	save(&s, "cache-256k-g8");
	begin(&s, 1, 0, 7, batch, sizeof batch);
	save(&s, "batch-1m");
	begin(&s, 0, 0, 4, batch, sizeof batch);
	save(&s, "batch-64k-bounds");
	begin(&s, 0, 0, 7, names, sizeof names);
	save(&s, "names-wait");
	begin(&s, 0, 0, 0, names, sizeof names);
	save(&s, "names-old-daemon");
	begin(&s, 2, 3, 0, readonly, sizeof readonly);
	save(&s, "readonly-4k-g4096");
	begin(&s, 0, 0, 7, admin, sizeof admin);
	save(&s, "admin-lists");
	begin(&s, 0, 0, 7, alloc_wait, sizeof alloc_wait);
	save(&s, "alloc-wait-64k");
	begin(&s, 1, 1, 7, alloc_wait, sizeof alloc_wait);
	save(&s, "alloc-wait-1m-g64");
	begin(&s, 0, 0, 3, alloc_wait, sizeof alloc_wait);
	save(&s, "alloc-wait-old-daemon");

	/* Two threads: each call beside the next where it may be. */
	begin(&s, 1, 0, 7, cache, sizeof cache);
	s.b[1] |= SCRIPT_PAIRED;
	save(&s, "paired-cache-1m");
	begin(&s, 1, 0, 7, batch, sizeof batch);
	s.b[1] |= SCRIPT_PAIRED;
	save(&s, "paired-batch-1m");
	begin(&s, 1, 0, 7, names, sizeof names);
	s.b[1] |= SCRIPT_PAIRED;
	save(&s, "paired-names-1m");
	begin(&s, 4, 1, 7, NULL, 0);
	s.b[1] |= SCRIPT_PAIRED;
	save(&s, "paired-default-256k-g64");
	begin(&s, 0, 0, 7, alloc_wait, sizeof alloc_wait);
	s.b[1] |= SCRIPT_PAIRED;
	save(&s, "paired-alloc-wait-64k");
}

/*
 * The fake's own answers spelled out as raw records: the HelloReply,
 * then an OpenReply (its memfd and share map come with it as ever), an
 * AllocReply and an empty reply (the Free: a block too large for the
 * cache goes to the daemon at once).
 */
static void
write_raw(void)
{
	static const uint8_t script[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 6), OP(OP_FREE, 0),
		OP(OP_CLOSE, 0),
	};
	Poolmgr__Reply		r = POOLMGR__REPLY__INIT;
	Poolmgr__HelloReply	h = POOLMGR__HELLO_REPLY__INIT;
	Poolmgr__OpenReply	o = POOLMGR__OPEN_REPLY__INIT;
	Poolmgr__AllocReply	a = POOLMGR__ALLOC_REPLY__INIT;
	struct seed		s;

	begin(&s, 1, 0, 7, script, sizeof script);
	r.id = 1;
	h.version = 1;
	h.max_message = 65536;
	h.server = (char *)"poolmgrd fake";
	h.features = 7;
	r.body_case = POOLMGR__REPLY__BODY_HELLO;
	r.hello = &h;
	put_raw(&s, &r);

	r.id = 2;
	o.handle = 7;
	o.max_size = 1 << 20;
	o.granularity = 16;
	o.page_size = 4096;
	/* 65536 granules' bits fill two pages; then the state page. */
	o.share_map_size = 3 * 4096;
	r.body_case = POOLMGR__REPLY__BODY_OPEN;
	r.open = &o;
	put_raw(&s, &r);

	r.id = 3;
	a.offset = 0;
	a.usable_size = 70000;	/* script_sizes[6], a multiple of 16 */
	r.body_case = POOLMGR__REPLY__BODY_ALLOC;
	r.alloc = &a;
	put_raw(&s, &r);

	r.id = 4;
	r.body_case = POOLMGR__REPLY__BODY__NOT_SET;
	put_raw(&s, &r);
	save(&s, "raw-truthful");
}

/*
 * A TWEAK record: the truthful answer with element index of the body's
 * repeated uint64 field name set to 0 (fuzz_client.c: tweak_field).
 */
static void
put_tweak_zero(struct seed *s, const ProtobufCMessageDescriptor *d,
    const char *name, unsigned index)
{
	uint64_t	v = 0x100 | (uint64_t)index << 9;	/* v >> 16 == 0 */
	unsigned	i;

	for (i = 0; i < d->n_fields; i++)
		if (strcmp(d->fields[i].name, name) == 0)
			break;
	if (i == d->n_fields || i > TWEAK_FIELD || index >= 128) {
		fprintf(stderr, "make_client_corpus: no field %s\n", name);
		exit(1);
	}
	put_byte(s, REC_TWEAK);
	put_byte(s, (uint8_t)(TWEAK_BODY | i));
	for (i = 0; i < 8; i++)		/* low byte first, as in_u64 reads */
		put_byte(s, (uint8_t)(v >> 8 * i));
}

/*
 * Batch replies that name one block twice: the first AllocBatch of the
 * conversation (after Hello and OpenPool) gets its block 1 at offset 0,
 * where block 0 is.  Through pool_alloc_batch (4 blocks), which must
 * fail with -EPROTO, and through a caching handle's first refill, which
 * must be refused (the block asked for then comes alone): a library that
 * took either would hand one block out twice, which fuzz_client's
 * oracle sees.
 */
static void
write_lies(void)
{
	static const uint8_t batch[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC_BATCH, 1), OP(OP_ALLOC_BATCH, 1),
		OP(OP_FREE_BATCH, 0), OP(OP_CLOSE, 0),
	};
	static const uint8_t refill[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 1), OP(OP_ALLOC, 1),
		OP(OP_ALLOC, 1), OP(OP_ALLOC, 1), OP(OP_ALLOC, 1),
		OP(OP_ALLOC, 1), OP(OP_FREE, 0), OP(OP_ALLOC, 1),
		OP(OP_CLOSE, 0),
	};
	struct seed	s;

	begin(&s, 1, 0, 7, batch, sizeof batch);
	put_byte(&s, REC_TRUTH);	/* Hello */
	put_byte(&s, REC_TRUTH);	/* OpenPool */
	put_tweak_zero(&s, &poolmgr__alloc_batch_reply__descriptor,
	    "offsets", 1);
	save(&s, "batch-duplicate");

	begin(&s, 1, 0, 7, refill, sizeof refill);
	put_byte(&s, REC_TRUTH);	/* Hello */
	put_byte(&s, REC_TRUTH);	/* OpenPool */
	put_tweak_zero(&s, &poolmgr__alloc_batch_reply__descriptor,
	    "offsets", 1);
	save(&s, "refill-duplicate");
}

/*
 * The daemon writing the share map under a caching handle: the pool
 * destroyed by force, and a restart in place (the map frozen, every bit
 * set, and replaced: the library asks for the new one), each told
 * before the answer to the request after the first refill.
 */
static void
write_share_events(void)
{
	static const uint8_t script[] = {
		OP(OP_OPEN, 0), OP(OP_ALLOC, 1), OP(OP_ALLOC, 1),
		OP(OP_FREE, 0), OP(OP_ALLOC, 2), OP(OP_ALLOC, 1),
		OP(OP_FREE, 1), OP(OP_FREE, 0), OP(OP_ALLOC, 1),
		OP(OP_FLUSH, 0), OP(OP_ALLOC, 1), OP(OP_STATS, 0),
	};
	static const struct {
		const char	*name;
		uint8_t		 fill, state, replaced;
	} events[] = {
		{ "share-destroyed", 0x00, 1, 0 },
		{ "share-replaced", 0xff, 0, 1 },
	};
	struct seed	s;
	size_t		i;

	for (i = 0; i < sizeof events / sizeof events[0]; i++) {
		begin(&s, 1, 0, 7, script, sizeof script);
		put_byte(&s, REC_TRUTH);	/* Hello */
		put_byte(&s, REC_TRUTH);	/* OpenPool */
		put_byte(&s, REC_TRUTH);	/* the first refill */
		put_byte(&s, REC_SPECIAL);
		put_byte(&s, SPECIAL_SHARE_WRITE);
		put_byte(&s, events[i].fill);
		put_byte(&s, events[i].state);
		put_byte(&s, events[i].replaced);
		save(&s, events[i].name);
	}
}

/*
 * A script on two threads whose batch allocations are answered twice:
 * the second copy's id is that of a call already answered, so the
 * library must not hand it to the other thread's call in flight, which
 * would then hold blocks the first holds too (fuzz_client's oracle
 * checks paired scripts and the truthful answer sent twice).
 */
static void
write_paired_twice(void)
{
	static const uint8_t script[] = {
		OP(OP_OPEN, 0),
		OP(OP_ALLOC_BATCH, 1), OP(OP_ALLOC_BATCH, 1),
		OP(OP_ALLOC_BATCH, 2), OP(OP_ALLOC_BATCH, 2),
		OP(OP_ALLOC_BATCH, 1), OP(OP_ALLOC_BATCH, 1),
		OP(OP_FREE_BATCH, 0), OP(OP_CLOSE, 0),
	};
	struct seed	s;
	int		i;

	begin(&s, 1, 0, 7, script, sizeof script);
	s.b[1] |= SCRIPT_PAIRED;
	put_byte(&s, REC_TRUTH);	/* Hello */
	put_byte(&s, REC_TRUTH);	/* OpenPool */
	for (i = 0; i < 6; i++) {
		put_byte(&s, REC_SPECIAL);
		put_byte(&s, SPECIAL_TWICE);
	}
	save(&s, "paired-reply-twice");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_client_corpus DIR "
		    "(tests/fuzz/corpus/fuzz_client)\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0777) == -1 && errno != EEXIST) {
		fprintf(stderr, "make_client_corpus: %s: %s\n", out_dir,
		    strerror(errno));
		return 1;
	}
	write_defaults();
	write_scripts();
	write_raw();
	write_share_events();
	write_lies();
	write_paired_twice();
	return 0;
}

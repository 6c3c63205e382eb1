/*
 * poolctl_blocks.c - `poolctl blocks`: a pool's live blocks, as text, JSON
 * or kv.
 *
 * A pool may hold millions of blocks, so unlike the other listings this
 * one is never gathered and sorted: each page pool_blocks returns is
 * printed as it comes, in the daemon's order (by offset), and freed.  The
 * JSON array is written piece by piece for the same reason, each element
 * made by json-c.  A failure after some pages leaves what was printed, a
 * JSON array closed so that it still parses, and says why on stderr with
 * the failure's exit status.
 *
 * --by-size sums the blocks up by the size asked for instead, in a table
 * of one entry per distinct size (a program asks for few sizes, however
 * many blocks), printed once the last page came: a failure prints none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* What blocks prints, and how far it has got. */
struct blocks_out {
	const struct ctl	*ctl;
	enum format		 fmt;
	const char		*pool;
	size_t			 printed;	/* blocks so far */
	bool			 started;	/* a page came: output begun */
};

/* The blocks of one requested size (--by-size); requested 0: empty. */
struct size_sum {
	uint64_t	requested, blocks, bytes;
};

/* Open addressing, linear probing, at most half full. */
struct size_table {
	struct size_sum	*slot;
	size_t		 cap, n;
	uint64_t	 blocks, bytes;	/* over all sizes */
};

/*
 * The top bits of a Fibonacci hash: sizes are often multiples of a large
 * power of two (pages, MiB), whose low product bits are all alike.
 */
static size_t
size_home(uint64_t requested, size_t cap)
{
	return (size_t)((requested * 0x9e3779b97f4a7c15ull) >>
	    (64 - __builtin_ctzll(cap)));
}

static struct size_sum *
size_slot(struct size_sum *slot, size_t cap, uint64_t requested)
{
	size_t	i = size_home(requested, cap);

	while (slot[i].requested != 0 && slot[i].requested != requested)
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

static int
size_grow(struct size_table *t)
{
	size_t		 cap = t->cap ? t->cap * 2 : 64, i;
	struct size_sum	*slot = calloc(cap, sizeof *slot);

	if (slot == NULL)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i].requested != 0)
			*size_slot(slot, cap, t->slot[i].requested) =
			    t->slot[i];
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

/* A page's blocks into t: 0 or -ENOMEM. */
static int
size_add(struct size_table *t, const struct pool_block_info *b, size_t n)
{
	struct size_sum	*e;
	size_t		 i;
	int		 error;

	for (i = 0; i < n; i++) {
		if (t->n * 2 >= t->cap && (error = size_grow(t)) != 0)
			return error;
		/* A daemon never says 0; counted as 1 if it did. */
		e = size_slot(t->slot, t->cap,
		    b[i].requested ? b[i].requested : 1);
		if (e->requested == 0) {
			e->requested = b[i].requested ? b[i].requested : 1;
			t->n++;
		}
		e->blocks++;
		e->bytes += b[i].usable_size;
		t->blocks++;
		t->bytes += b[i].usable_size;
	}
	return 0;
}

/* The most bytes first, then the smaller size; empty slots last. */
static int
size_cmp(const void *x, const void *y)
{
	const struct size_sum	*a = x, *b = y;

	if ((a->requested == 0) != (b->requested == 0))
		return a->requested == 0 ? 1 : -1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return (a->requested > b->requested) - (a->requested < b->requested);
}

static void
sizes_print(const struct blocks_out *bo, struct size_table *t)
{
	struct json_object	*o, *a, *e;
	size_t			 i;

	if (t->cap > 0)
		qsort(t->slot, t->cap, sizeof *t->slot, size_cmp);
	switch (bo->fmt) {
	case FMT_KV:
		for (i = 0; i < t->n; i++) {
			printf("%s %" PRIu64 " blocks %" PRIu64 "\n", bo->pool,
			    t->slot[i].requested, t->slot[i].blocks);
			printf("%s %" PRIu64 " bytes %" PRIu64 "\n", bo->pool,
			    t->slot[i].requested, t->slot[i].bytes);
		}
		printf("%s total blocks %" PRIu64 "\n", bo->pool, t->blocks);
		printf("%s total bytes %" PRIu64 "\n", bo->pool, t->bytes);
		break;
	case FMT_JSON:
		o = json_object_new_object();
		json_object_object_add(o, "pool",
		    json_object_new_string(bo->pool));
		a = json_object_new_array();
		for (i = 0; i < t->n; i++) {
			e = json_object_new_object();
			json_object_object_add(e, "requested",
			    json_object_new_uint64(t->slot[i].requested));
			json_object_object_add(e, "blocks",
			    json_object_new_uint64(t->slot[i].blocks));
			json_object_object_add(e, "bytes",
			    json_object_new_uint64(t->slot[i].bytes));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "sizes", a);
		json_object_object_add(o, "blocks",
		    json_object_new_uint64(t->blocks));
		json_object_object_add(o, "bytes",
		    json_object_new_uint64(t->bytes));
		puts(json_object_to_json_string_ext(o, bo->ctl->json_flags));
		json_object_put(o);
		break;
	default:
		/* Bytes exactly: 4000 and 4001 are two kinds of block. */
		printf("%12s %10s %10s\n", "REQUESTED", "BLOCKS", "BYTES");
		for (i = 0; i < t->n; i++)
			printf("%12" PRIu64 " %10" PRIu64 " %10s\n",
			    t->slot[i].requested, t->slot[i].blocks,
			    human(t->slot[i].bytes).s);
		printf("%12s %10" PRIu64 " %10s\n", "total", t->blocks,
		    human(t->bytes).s);
		break;
	}
}

/* --format=FMT (or --json): text, json or kv; 0 or the exit code. */
static int
blocks_format(const struct ctl *ctl, enum format *fmt)
{
	*fmt = ctl->json ? FMT_JSON : FMT_TEXT;
	if (ctl->format_arg == NULL)
		return 0;
	if (strcmp(ctl->format_arg, "text") == 0)
		*fmt = FMT_TEXT;
	else if (strcmp(ctl->format_arg, "json") == 0)
		*fmt = FMT_JSON;
	else if (strcmp(ctl->format_arg, "kv") == 0)
		*fmt = FMT_KV;
	else
		return usage_error("blocks: unknown format '%s' (text, json "
		    "or kv)", ctl->format_arg);
	if (ctl->json && *fmt != FMT_JSON)
		return usage_error("blocks: --json conflicts with "
		    "--format=%s", ctl->format_arg);
	return 0;
}

/* A block's flags as letters (N, E, P, B), "-" for none. */
struct block_flags {
	char	s[8];
};

static struct block_flags
block_flags(uint32_t flags)
{
	struct block_flags	f;
	size_t			n = 0;

	if (flags & POOL_BLOCK_NAMED)
		f.s[n++] = 'N';
	if (flags & POOL_BLOCK_EVICTABLE)
		f.s[n++] = 'E';
	if (flags & POOL_BLOCK_PERSISTENT)
		f.s[n++] = 'P';
	if (flags & POOL_BLOCK_BUSY)
		f.s[n++] = 'B';
	if (n == 0)
		f.s[n++] = '-';
	f.s[n] = '\0';
	return f;
}

/* PERSISTER's column: its header's width. */
#define BLOCKS_PERSISTER_WIDTH	9

static void
blocks_text_header(void)
{
	printf("%18s %10s %10s %7s %-5s %9s %9s %s\n", "OFFSET", "SIZE",
	    "REQUESTED", "HOLDERS", "FLAGS", "PERSISTER", "PERSISTED",
	    "PID:HANDLE");
}

/*
 * The persister by name where one fits the column, else by number (-n:
 * always): blocks come a page at a time, printed as they come, so the
 * column cannot widen to its longest entry as the other tables' do; ps
 * names users the same way.
 */
static struct acl_who
blocks_persister(const struct ctl *ctl, uint32_t uid)
{
	struct acl_who	w = id_who(ctl, POOL_ACL_USER, uid);

	if (strlen(w.s) > BLOCKS_PERSISTER_WIDTH)
		snprintf(w.s, sizeof w.s, "%" PRIu32, uid);
	return w;
}

static void
blocks_text(const struct ctl *ctl, const struct pool_block_info *b)
{
	uint32_t	i;

	printf("%18s %10s %10s %7" PRIu32 " %-5s ", offset_text(b->offset).s,
	    human(b->usable_size).s, human(b->requested).s, b->holders,
	    block_flags(b->flags).s);
	if (b->flags & POOL_BLOCK_PERSISTENT)
		printf("%*s %9s", BLOCKS_PERSISTER_WIDTH,
		    blocks_persister(ctl, b->persister).s,
		    age_text(b->persisted_ms).s);
	else
		printf("%9s %9s", "-", "-");
	for (i = 0; i < b->nlisted; i++)
		printf(" %" PRIu32 ":%" PRIu32, b->first_holders[i].pid,
		    b->first_holders[i].handle);
	if (b->holders > b->nlisted)
		printf(" +%" PRIu32, b->holders - b->nlisted);
	else if (b->holders == 0)
		fputs(" -", stdout);	/* only a name or Persist holds it */
	putchar('\n');
}

/* "POOL OFFSET KEY VALUE", as stats --format=kv's "POOL KEY VALUE". */
static void
blocks_kv(const char *pool, const struct pool_block_info *b)
{
	static const struct {
		const char	*key;
		uint32_t	 flag;
	} flags[] = {
		{ "named", POOL_BLOCK_NAMED },
		{ "evictable", POOL_BLOCK_EVICTABLE },
		{ "persistent", POOL_BLOCK_PERSISTENT },
		{ "busy", POOL_BLOCK_BUSY },
	};
	struct offset_text	at = offset_text(b->offset);
	size_t			i;

	printf("%s %s usable_size %" PRIu64 "\n", pool, at.s, b->usable_size);
	printf("%s %s requested %" PRIu64 "\n", pool, at.s, b->requested);
	printf("%s %s holders %" PRIu32 "\n", pool, at.s, b->holders);
	for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
		printf("%s %s %s %d\n", pool, at.s, flags[i].key,
		    (b->flags & flags[i].flag) != 0);
	if (b->flags & POOL_BLOCK_PERSISTENT) {
		printf("%s %s persister %" PRIu32 "\n", pool, at.s,
		    b->persister);
		printf("%s %s persisted_ms %" PRIu64 "\n", pool, at.s,
		    b->persisted_ms);
	}
	for (i = 0; i < b->nlisted; i++)
		printf("%s %s holder %" PRIu32 ":%" PRIu32 "\n", pool, at.s,
		    b->first_holders[i].pid, b->first_holders[i].handle);
}

static struct json_object *
json_block(const char *pool, const struct pool_block_info *b)
{
	struct json_object	*o, *a, *h;
	uint32_t		 i;

	o = json_object_new_object();
	json_object_object_add(o, "pool", json_object_new_string(pool));
	json_object_object_add(o, "offset", json_object_new_uint64(b->offset));
	json_object_object_add(o, "usable_size",
	    json_object_new_uint64(b->usable_size));
	json_object_object_add(o, "requested",
	    json_object_new_uint64(b->requested));
	json_object_object_add(o, "holders",
	    json_object_new_uint64(b->holders));
	json_object_object_add(o, "named",
	    json_object_new_boolean(b->flags & POOL_BLOCK_NAMED));
	json_object_object_add(o, "evictable",
	    json_object_new_boolean(b->flags & POOL_BLOCK_EVICTABLE));
	json_object_object_add(o, "persistent",
	    json_object_new_boolean(b->flags & POOL_BLOCK_PERSISTENT));
	json_object_object_add(o, "busy",
	    json_object_new_boolean(b->flags & POOL_BLOCK_BUSY));
	json_object_object_add(o, "persister",
	    b->flags & POOL_BLOCK_PERSISTENT ?
	    json_object_new_uint64(b->persister) : NULL);
	json_object_object_add(o, "persister_user",
	    b->flags & POOL_BLOCK_PERSISTENT ?
	    id_json(POOL_ACL_USER, b->persister) : NULL);
	json_object_object_add(o, "persisted_ms",
	    b->flags & POOL_BLOCK_PERSISTENT ?
	    json_object_new_uint64(b->persisted_ms) : NULL);
	a = json_object_new_array();
	for (i = 0; i < b->nlisted; i++) {
		h = json_object_new_object();
		json_object_object_add(h, "pid",
		    json_object_new_uint64(b->first_holders[i].pid));
		json_object_object_add(h, "uid",
		    json_object_new_uint64(b->first_holders[i].uid));
		json_object_object_add(h, "user", id_json(POOL_ACL_USER,
		    b->first_holders[i].uid));
		json_object_object_add(h, "handle",
		    json_object_new_uint64(b->first_holders[i].handle));
		json_object_array_add(a, h);
	}
	json_object_object_add(o, "first_holders", a);
	return o;
}

/*
 * One element of the array being written: after "[" or a comma, and, when
 * pretty, each of its lines indented as json-c indents an array's.
 */
static void
blocks_json(const struct blocks_out *bo, const struct pool_block_info *b)
{
	struct json_object	*o = json_block(bo->pool, b);
	const char		*s;
	bool			 pretty;

	pretty = (bo->ctl->json_flags & JSON_C_TO_STRING_PRETTY) != 0;
	fputs(bo->printed == 0 ? "[" : ",", stdout);
	if (pretty)
		fputs("\n  ", stdout);
	for (s = json_object_to_json_string_ext(o, bo->ctl->json_flags);
	    *s != '\0'; s++) {
		putchar(*s);
		if (*s == '\n' && pretty)
			fputs("  ", stdout);
	}
	json_object_put(o);
}

static void
blocks_print(struct blocks_out *bo, const struct pool_block_info *b,
    size_t n)
{
	size_t	i;

	if (!bo->started && bo->fmt == FMT_TEXT)
		blocks_text_header();
	bo->started = true;
	for (i = 0; i < n; i++, bo->printed++) {
		switch (bo->fmt) {
		case FMT_JSON:
			blocks_json(bo, &b[i]);
			break;
		case FMT_KV:
			blocks_kv(bo->pool, &b[i]);
			break;
		default:
			blocks_text(bo->ctl, &b[i]);
			break;
		}
	}
}

/*
 * The end of the output: the JSON array closed, whatever was in it, once
 * a page came (a refusal of the first prints nothing, as elsewhere).
 */
static void
blocks_end(const struct blocks_out *bo)
{
	if (bo->fmt != FMT_JSON || !bo->started)
		return;
	if (bo->printed == 0)
		puts("[]");
	else
		puts((bo->ctl->json_flags & JSON_C_TO_STRING_PRETTY) ?
		    "\n]" : "]");
}

/* Why a page was refused, in blocks' words; the exit status. */
static int
blocks_failed(int error, const char *pool, uint32_t pid, uint32_t handle)
{
	if (error == -ESRCH && handle != 0) {
		ctl_warnx("blocks: process %" PRIu32 " has no handle %" PRIu32
		    " on pool %s", pid, handle, pool);
		return EXIT_FAILED;
	}
	if (error == -ESRCH) {
		ctl_warnx("blocks: process %" PRIu32 " has no handle on pool "
		    "%s", pid, pool);
		return EXIT_FAILED;
	}
	if (error == -EOPNOTSUPP)
		return fail_pool(error, "blocks", pool,
		    "this poolmgrd cannot list blocks");
	return fail_pool(error, "blocks", pool, NULL);
}

/* --pid and --handle; 0 or the exit code. */
static int
blocks_filter(const struct ctl *ctl, uint32_t *pid, uint32_t *handle)
{
	*pid = 0;
	*handle = 0;
	if (ctl->handle_arg != NULL && ctl->pid_arg == NULL)
		return usage_error("blocks: --handle needs --pid (a handle "
		    "number is a connection's, as clients lists it)");
	if (ctl->pid_arg != NULL && parse_id(ctl->pid_arg, pid) != 0)
		return usage_error("blocks: bad --pid '%s' (a process id, 1 "
		    "to %" PRIu32 ")", ctl->pid_arg, UINT32_MAX);
	if (ctl->handle_arg != NULL && parse_id(ctl->handle_arg, handle) != 0)
		return usage_error("blocks: bad --handle '%s' (a handle, 1 to "
		    "%" PRIu32 ", as clients lists it)", ctl->handle_arg,
		    UINT32_MAX);
	return 0;
}

int
cmd_blocks(struct ctl *ctl, int argc, char **argv)
{
	struct blocks_out	 bo = { ctl, FMT_TEXT, argv[0], 0, false };
	struct size_table	 sizes = { NULL, 0, 0, 0, 0 };
	struct pool_block_info	*b;
	uint64_t		 from = 0;
	uint32_t		 pid, handle;
	size_t			 n;
	int			 rc, error, done = 0;

	(void)argc;
	if ((rc = check_pool_name("blocks", bo.pool)) != 0 ||
	    (rc = blocks_format(ctl, &bo.fmt)) != 0 ||
	    (rc = blocks_filter(ctl, &pid, &handle)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* A page may hold none and not be the last: on until done. */
	do {
		error = pool_blocks(ctl->conn, bo.pool, pid, handle, &from, &b,
		    &n, &done);
		if (error != 0)
			break;
		if (ctl->by_size)
			error = size_add(&sizes, b, n);
		else
			blocks_print(&bo, b, n);
		free(b);
	} while (error == 0 && !done);
	if (ctl->by_size && error == 0)
		sizes_print(&bo, &sizes);
	free(sizes.slot);
	if (!ctl->by_size)
		blocks_end(&bo);
	if (error != 0)
		return blocks_failed(error, bo.pool, pid, handle);
	return 0;
}

/*
 * block_names.c - a pool's names (block_names.h).
 *
 * A name is any 1 to 255 bytes but NUL, compared as unsigned bytes
 * (strcmp's order, since no NUL is inside), so a listing is in the same
 * order on every machine.  A record is malloc'd with its name after it:
 * one allocation per name, counted in x->bytes at what was asked for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block_names.h"

static int
name_cmp(const struct block_name *a, const struct block_name *b)
{
	return strcmp(a->name, b->name);
}

static uint32_t
subtree_of(const struct block_name *n)
{
	return n ? n->subtree : 0;
}

/* n's count from its children's. */
static void
subtree_set(struct block_name *n)
{
	n->subtree = 1 + subtree_of(RB_LEFT(n, entry)) +
		     subtree_of(RB_RIGHT(n, entry));
}

/*
 * The counts of a change: a record inserted or removed changes the count
 * of each record on its way to the root, and the tree's rotations move
 * records on and next to that way.  The tree sets the count of each
 * record a link or a rotation moves from its children's (RB_AUGMENT: the
 * record alone), and after the change the way from its deepest record
 * (the new record; a removed one's parent, or its successor's) is set
 * once more, bottom up (subtree_fix_up): a record off that way that a
 * rotation moved has children whose counts were right then (off the way
 * too), and every record whose count the change alters ends on it.
 * O(log n) a change.  block_names_counts_ok checks the result.
 */
static void
subtree_fix_up(struct block_name *n)
{
	for (; n; n = RB_PARENT(n, entry))
		subtree_set(n);
}

/*
 * Not RB_GENERATE_STATIC: libbsd marks those __unused, which glibc's
 * headers leave undefined.  The tree's functions are this file's alone.
 */
#undef RB_AUGMENT
#define RB_AUGMENT(x) subtree_set(x)
RB_PROTOTYPE(block_name_tree, block_name, entry, name_cmp)
RB_GENERATE(block_name_tree, block_name, entry, name_cmp)

void
block_names_init(struct block_names *x)
{
	RB_INIT(&x->tree);
	x->count = 0;
	x->bytes = 0;
}

void
block_names_free(struct block_names *x)
{
	struct block_name *n, *next;

	RB_FOREACH_SAFE(n, block_name_tree, &x->tree, next) {
		RB_REMOVE(block_name_tree, &x->tree, n);
		free(n);
	}
	block_names_init(x);
}

int
block_name_valid(const void *name, size_t len)
{
	if (len == 0 || memchr(name, '\0', len))
		return -EINVAL;
	return len > BLOCK_NAME_MAX ? -ENAMETOOLONG : 0;
}

/*
 * A key for the tree: name, NUL-terminated in buf.  An empty one (a
 * listing's prefix) may come as NULL, which memcpy may not be given.
 */
static struct block_name *
name_key(struct block_name *key, char *buf, const void *name, size_t len)
{
	if (len)
		memcpy(buf, name, len);
	buf[len] = '\0';
	key->name = buf;
	return key;
}

struct block_name *
block_names_find(struct block_names *x, const void *name, size_t len)
{
	char buf[BLOCK_NAME_MAX + 1];
	struct block_name key;

	if (len > BLOCK_NAME_MAX)
		return NULL;
	return RB_FIND(block_name_tree, &x->tree,
		       name_key(&key, buf, name, len));
}

static size_t
record_size(size_t len)
{
	return sizeof(struct block_name) + len + 1;
}

struct block_name *
block_name_make(const void *name, size_t len, struct block *b,
		uid_t publisher)
{
	struct block_name *n;
	char *s;

	if (!(n = malloc(record_size(len))))
		return NULL;
	s = (char *)(n + 1);
	memcpy(s, name, len);
	s[len] = '\0';
	n->name = s;
	n->len = (uint32_t)len;
	n->block = b;
	n->publisher = publisher;
	n->evict = NULL;
	return n;
}

void
block_names_insert(struct block_names *x, struct block_name *n)
{
	n->subtree = 1;
	RB_INSERT(block_name_tree, &x->tree, n);
	subtree_fix_up(n);
	x->count++;
	x->bytes += record_size(n->len);
}

/*
 * Where removing n changes the tree's links deepest: its parent, if it
 * has a child at most; else where its successor is taken from (the
 * successor itself, when it is n's right child).  That record stays.
 */
static struct block_name *
removal_point(struct block_name *n)
{
	struct block_name *s, *left;

	if (!RB_LEFT(n, entry) || !RB_RIGHT(n, entry))
		return RB_PARENT(n, entry);
	for (s = RB_RIGHT(n, entry); (left = RB_LEFT(s, entry)); s = left)
		;
	return RB_PARENT(s, entry) == n ? s : RB_PARENT(s, entry);
}

void
block_names_unlink(struct block_names *x, struct block_name *n)
{
	struct block_name *at = removal_point(n);

	RB_REMOVE(block_name_tree, &x->tree, n);
	subtree_fix_up(at);
	x->count--;
	x->bytes -= record_size(n->len);
}

void
block_names_remove(struct block_names *x, struct block_name *n)
{
	block_names_unlink(x, n);
	free(n);
}

struct block_name *
block_names_from(struct block_names *x, const void *prefix, size_t len)
{
	char buf[BLOCK_NAME_MAX + 1];
	struct block_name key;

	if (len > BLOCK_NAME_MAX)
		return NULL;	/* no name is that long */
	return RB_NFIND(block_name_tree, &x->tree,
			name_key(&key, buf, prefix, len));
}

/*
 * A page from after: the first name not before after, itself passed over
 * (strictly after), unless prefix sorts later: then the prefix's first.
 * A name before prefix may not start a page, for the walk stops at the
 * first name without it.
 */
struct block_name *
block_names_page(struct block_names *x, const void *prefix, size_t plen,
		 const void *after, size_t alen)
{
	char pbuf[BLOCK_NAME_MAX + 1], abuf[BLOCK_NAME_MAX + 1];
	struct block_name key, *n;

	if (plen > BLOCK_NAME_MAX || alen > BLOCK_NAME_MAX)
		return NULL;	/* no name is that long */
	name_key(&key, pbuf, prefix, plen);
	if (alen == 0 || strcmp(name_key(&key, abuf, after, alen)->name,
				pbuf) < 0)
		return RB_NFIND(block_name_tree, &x->tree,
				name_key(&key, pbuf, prefix, plen));
	n = RB_NFIND(block_name_tree, &x->tree, &key);
	if (n && strcmp(n->name, abuf) == 0)
		n = RB_NEXT(block_name_tree, &x->tree, n);
	return n;
}

struct block_name *
block_names_next(struct block_names *x, struct block_name *n)
{
	(void)x;	/* RB_NEXT needs only the node */
	return RB_NEXT(block_name_tree, &x->tree, n);
}

int
block_name_has_prefix(const struct block_name *n, const void *prefix,
		      size_t len)
{
	return len == 0 || (n->len >= len && memcmp(n->name, prefix, len) == 0);
}

/* The names before key (a NUL-terminated string) in byte order. */
static uint32_t
names_before(struct block_names *x, const char *key)
{
	struct block_name *n = RB_ROOT(&x->tree);
	uint32_t before = 0;

	while (n) {
		if (strcmp(n->name, key) < 0) {
			before += 1 + subtree_of(RB_LEFT(n, entry));
			n = RB_RIGHT(n, entry);
		} else {
			n = RB_LEFT(n, entry);
		}
	}
	return before;
}

/*
 * The names of a prefix are those from it (inclusive) to the first
 * string past all of them (exclusive): the prefix with its trailing
 * 0xff bytes dropped and its last byte then one more.  A prefix of
 * 0xff bytes alone has no such string: its names run to the end.
 * names_to_end counts the names before that string: those before the
 * prefix's and the prefix's own.
 */
static uint32_t
names_to_end(struct block_names *x, const void *prefix, size_t len)
{
	char past[BLOCK_NAME_MAX + 1];

	if (len == 0)
		return x->count;
	memcpy(past, prefix, len);
	past[len] = '\0';
	while (len > 0 && (unsigned char)past[len - 1] == 0xff)
		past[--len] = '\0';
	if (len == 0)
		return x->count;
	past[len - 1] = (char)((unsigned char)past[len - 1] + 1);
	return names_before(x, past);
}

/* The names of the prefix from n on: those to its end but n's before. */
uint32_t
block_names_count_from(struct block_names *x, const struct block_name *n,
		       const void *prefix, size_t len)
{
	if (len > BLOCK_NAME_MAX)
		return 0;	/* no name is that long */
	return names_to_end(x, prefix, len) - names_before(x, n->name);
}

static int
counts_ok(const struct block_name *n)
{
	return !n || (n->subtree == 1 + subtree_of(RB_LEFT(n, entry)) +
		      subtree_of(RB_RIGHT(n, entry)) &&
		      counts_ok(RB_LEFT(n, entry)) &&
		      counts_ok(RB_RIGHT(n, entry)));
}

int
block_names_counts_ok(struct block_names *x)
{
	return counts_ok(RB_ROOT(&x->tree));
}

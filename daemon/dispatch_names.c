/*
 * dispatch_names.c - names for blocks: publish, lookup, unpublish and the
 * listing (docs/protocol.md, "Named blocks").
 *
 * A name is checked here (1 to 255 bytes, no NUL); what it does to the
 * pool's books is pool_names.c's.  Every refusal changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "dispatch_internal.h"
#include "pool.h"
#include "pool_evict.h"
#include "pool_names.h"
#include "session.h"

#define MAX_LISTED_NAMES 1000
/* Room for the entries: the rest of the datagram is the reply's own. */
#define NAMES_REPLY_MAX (PEER_MAX_MESSAGE - 1024)

/* See dispatch_internal.h. */
struct name_shown
name_shown(const ProtobufCBinaryData *name)
{
	static const char hex[] = "0123456789abcdef";
	struct name_shown o;
	size_t at = 0, i;

	o.s[at++] = '\'';
	for (i = 0; i < name->len; i++) {
		unsigned char b = name->data[i];
		bool plain = b >= 0x20 && b < 0x7f && b != '\'' && b != '\\';

		if (at - 1 + (plain ? 1 : 4) > NAME_SHOWN_MAX)
			break;
		if (plain) {
			o.s[at++] = (char)b;
			continue;
		}
		o.s[at++] = '\\';
		o.s[at++] = 'x';
		o.s[at++] = hex[b >> 4];
		o.s[at++] = hex[b & 0xf];
	}
	o.s[at++] = '\'';
	o.s[at] = '\0';
	if (i < name->len)
		memcpy(o.s + at, "...", sizeof("..."));
	return o;
}

static int
check_block_name(struct call *c, const ProtobufCBinaryData *name)
{
	int rc = block_name_valid(name->data, name->len);

	if (rc == -ENAMETOOLONG)
		return refuse(c, rc, "a block name of %zu bytes: at most %d",
			      name->len, BLOCK_NAME_MAX);
	if (rc)
		return refuse(c, rc, "a block name is 1 to %d bytes, no NUL",
			      BLOCK_NAME_MAX);
	return 0;
}

/*
 * The handle (writable if write) and the block name of a request on a
 * name, both checked, the handle first: the handle, or NULL with *err
 * set.
 */
static struct handle *
name_handle(struct call *c, uint32_t id, bool write,
	    const ProtobufCBinaryData *name, int *err)
{
	struct handle *h;

	if (!(h = get_handle(c, id, write, err)))
		return NULL;
	if ((*err = check_block_name(c, name)))
		return NULL;
	return h;
}

int
do_publish(struct call *c, const Poolmgr__Publish *m)
{
	struct handle *h;
	int rc;

	if (!(h = name_handle(c, m->handle, true, &m->name, &rc)))
		return rc;
	rc = dpool_publish(h->pool, h, m->offset, m->name.data, m->name.len,
			   m->replace, m->evictable);
	switch (rc) {
	case 0:
		lookup_waits_published(h->pool, m->name.data, m->name.len);
		return 0;
	case -EINVAL:
		return refuse(c, rc, "0x%llx is not a live block",
			      (unsigned long long)m->offset);
	case -EEXIST:
		return refuse(c, rc, "the name %s is in use in pool %s",
			      name_shown(&m->name).s, h->pool->name);
	case -EBUSY:
		return refuse(c, rc, "block 0x%llx has another name",
			      (unsigned long long)m->offset);
	case -ENOSPC:
		return refuse(c, rc, "pool %s has %d names, the most allowed",
			      h->pool->name, POOL_MAX_NAMES);
	case -EPERM:
		return refuse(c, rc, "only a holder may publish a block, and "
			      "this handle holds no reference to 0x%llx",
			      (unsigned long long)m->offset);
	case -EDQUOT:
		return refuse_persist_quota(c, h->pool, false);
	default:
		return refuse(c, rc, "cannot publish 0x%llx",
			      (unsigned long long)m->offset);
	}
}

/*
 * With retain, the reference is taken before the reply: a lookup and a
 * Retain after it would leave a window in which the name's owner could
 * unpublish the block, the last reference go, and its bytes be handed to
 * someone else, so that the retain takes hold of another block.  A
 * read-only handle may retain: readers are who a published block is for.
 *
 * With wait_ms, a name not there or not newer than after_generation is
 * waited for (dispatch_wait.c); each time the lookup is dispatched again
 * it is checked anew, so the retain is taken when it is answered.
 * retained_now says whether the retain gave the handle its reference:
 * a client interrupted as the answer came frees the block only then.
 */
int
do_lookup(struct call *c, const Poolmgr__Lookup *m)
{
	struct block_name *n;
	struct handle *h;
	bool took = false;
	int rc;

	/* Its handle was closed with the pool: say why, not -EBADF. */
	if (lookup_wait_pool_gone(c->s))
		return refuse(c, -ENOENT, "the pool was destroyed while the "
			      "lookup waited");
	if (!(h = name_handle(c, m->handle, false, &m->name, &rc)))
		return rc;
	n = block_names_find(&h->pool->names, m->name.data, m->name.len);
	if (m->wait_ms && (!n || n->generation <= m->after_generation))
		return lookup_wait(c, h->pool, m);
	if (!n)
		return refuse(c, -ENOENT, "no such name %s in pool %s",
			      name_shown(&m->name).s, h->pool->name);
	if (m->retain) {
		if ((rc = check_retain_cap(c, h, n->block->off)))
			return rc;
		/* A handle holds a block once: a retain of it adds nothing. */
		took = !dpool_holds(n->block, h);
		rc = dpool_retain(h->pool, h, n->block->off,
				  quota_used(c, h));
		if (rc)
			return refuse_retain(c, h->pool, rc, n->block->off,
					     m->retry_follows);
	}
	/*
	 * A use once answered: a refused retain told the client nothing of
	 * the name, and must not keep it from the eviction it was next for.
	 */
	if (n->evict)
		evict_touch(h->pool, n);
	reply_block(c, n->block->off, n->block->size);
	c->rep->alloc->generation = n->generation;
	c->rep->alloc->retained_now = took;
	return 0;
}

int
do_unpublish(struct call *c, const Poolmgr__Unpublish *m)
{
	struct handle *h;
	int rc;

	if (!(h = name_handle(c, m->handle, true, &m->name, &rc)))
		return rc;
	if (dpool_unpublish(h->pool, m->name.data, m->name.len))
		return refuse(c, -ENOENT, "no such name %s in pool %s",
			      name_shown(&m->name).s, h->pool->name);
	return 0;
}

static Poolmgr__NamedBlock named[MAX_LISTED_NAMES];
static Poolmgr__NamedBlock *named_ptrs[MAX_LISTED_NAMES];
static Poolmgr__ListNamesReply names_reply;

/*
 * A listing's prefix or a page's after (what: "a prefix", "an after
 * name"), checked as a name: empty is none (all names; from the first).
 * The words name the field, not "a block name": the request has none.
 * An after need not be a name in the pool: one removed since the page
 * before it was listed still says where the next page starts.
 */
static int
check_listed(struct call *c, const char *what, const ProtobufCBinaryData *b)
{
	int rc;

	if (!b->len)
		return 0;
	rc = block_name_valid(b->data, b->len);
	if (rc == -ENAMETOOLONG)
		return refuse(c, rc, "%s of %zu bytes: at most %d", what,
			      b->len, BLOCK_NAME_MAX);
	if (rc)
		return refuse(c, rc, "%s is 0 to %d bytes, no NUL", what,
			      BLOCK_NAME_MAX);
	return 0;
}

/*
 * The names with the prefix, in order, from where the tree puts it (the
 * first after m->after, if given): as many as fit one datagram.  The rest
 * of the prefix's names are counted, not walked (block_names_count_from):
 * a walk to the prefix's end took 65,536 steps for a reply of 200 names,
 * 1.4 ms, and 64 such requests in one read batch held every other client
 * back 90 ms.  So is the start found, not walked to, on a later page.
 * No block looked at.
 */
int
do_list_names(struct call *c, const Poolmgr__ListNames *m)
{
	const ProtobufCBinaryData *pre = &m->prefix;
	struct block_name *n;
	struct dpool *p;
	size_t k = 0, bytes = 0;
	int rc;

	if (!(p = get_pool(c, m->pool, false, &rc)))
		return rc;
	if ((rc = check_listed(c, "a prefix", pre)))
		return rc;
	if ((rc = check_listed(c, "an after name", &m->after)))
		return rc;
	for (n = block_names_page(&p->names, pre->data, pre->len,
				  m->after.data, m->after.len);
	     n && block_name_has_prefix(n, pre->data, pre->len) &&
	     k < MAX_LISTED_NAMES;
	     n = block_names_next(&p->names, n)) {
		Poolmgr__NamedBlock *nb = &named[k];

		poolmgr__named_block__init(nb);
		nb->name.data = (uint8_t *)n->name;
		nb->name.len = n->len;
		nb->offset = n->block->off;
		nb->usable_size = n->block->size;
		nb->publisher = n->publisher;
		nb->evictable = n->evict != NULL;
		nb->generation = n->generation;
		bytes += poolmgr__named_block__get_packed_size(nb) + 4;
		if (bytes > NAMES_REPLY_MAX)
			break;
		named_ptrs[k++] = nb;
	}
	poolmgr__list_names_reply__init(&names_reply);
	names_reply.n_names = k;
	names_reply.names = named_ptrs;
	/* n: the first the reply leaves out, if it has the prefix. */
	names_reply.unlisted =
		n && block_name_has_prefix(n, pre->data, pre->len) ?
		block_names_count_from(&p->names, n, pre->data, pre->len) : 0;
	c->rep->body_case = POOLMGR__REPLY__BODY_NAMES;
	c->rep->names = &names_reply;
	return 0;
}

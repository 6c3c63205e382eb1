/*
 * dispatch_open.c - handles on pools: open and close (a handle, within
 * the pool's mode), and a handle's share map after a restart in place;
 * and who may reach a pool a request names (get_pool, with the words of
 * a refusal by its mode or access control list: refuse_access), which
 * every request on a pool by name goes through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dispatch_internal.h"
#include "peer.h"
#include "pool.h"
#include "session.h"

int
check_name_length(struct call *c, const char *name)
{
	if (name && strlen(name) > 64)
		return refuse(c, -ENAMETOOLONG, "pool name longer than 64");
	return 0;
}

/*
 * Every refusal by a pool's mode says the same: the pool, its mode, what
 * was missing and for whom, whatever the request.  A pool with an access
 * control list says which of its rules decided, since the mode alone may
 * seem to allow what an entry refuses.  want: the rights asked for (4
 * read, 2 write; a read-write open asks both, its mapping being readable).
 */
int
refuse_access(struct call *c, const struct dpool *p, unsigned want)
{
	struct acl_caller who = session_caller(c->s);
	bool unwritable = (want & 2) && !session_may_access(c->s, p, 2);
	bool unreadable = (want & 4) && !session_may_access(c->s, p, 4);
	const char *what = unwritable ? "writable" : "readable";
	const char *rw = !unwritable && (want & 2) ? " (a read-write handle "
						      "reads too)" : "";
	size_t n;

	/*
	 * Read by one group's entry and write by another's: each right
	 * alone is granted, so "not readable" would be untrue.
	 */
	if (want == 6 && !unwritable && !unreadable) {
		what = "readable and writable by one rule";
		rw = " (a read-write open needs both from one entry or the "
		     "group bits)";
	}

	if (p->acl.n == 0)
		return refuse(c, -EACCES, "pool %s (mode 0%03o) is not %s "
			      "for uid %u%s", p->name, p->mode, what,
			      (unsigned)c->s->uid, rw);
	/*
	 * The rule in the room the message has left, so that acl_decider
	 * rather than the message's end decides where its words stop: cut
	 * there, an entry would read as another's.
	 */
	refuse(c, -EACCES, "pool %s (mode 0%03o, with an access control "
	       "list) is not %s for uid %u%s: ", p->name, p->mode, what,
	       (unsigned)c->s->uid, rw);
	n = strlen(c->msg);
	if (n + 1 < sizeof(c->msg))
		acl_decider(&p->acl, p->uid, p->gid, p->mode, &who,
			    c->msg + n, sizeof(c->msg) - n);
	return -EACCES;
}

/*
 * A descriptor of fd for a reply to pass, its own: taken here, before the
 * request changes anything, so that a daemon out of descriptors refuses
 * the one request that needs one.  peer_send, left to take it, could only
 * drop the connection.  read_only: a new open file description that only
 * allows reading, not a duplicate.
 */
static int
reply_fd(struct call *c, int fd, bool read_only, int *out)
{
	char path[64];

	if (read_only) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		*out = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		*out = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	}
	if (*out >= 0)
		return 0;
	if (errno == EMFILE || errno == ENFILE)
		return refuse(c, -errno, "the daemon is out of descriptors");
	return refuse(c, -errno, read_only ? "cannot reopen pool read-only" :
		      "cannot pass the pool's memory");
}

/*
 * An open refused -EMFILE: which of its two bounds was reached, since the
 * code alone reads as the daemon's descriptors (reply_fd says those in
 * words of their own), and only the first goes away with a close.
 */
static int
refuse_handles(struct call *c)
{
	if (c->s->next_handle == 0)
		return refuse(c, -EMFILE, "this connection has opened %u pool "
			      "handles, as many as there are numbers for: "
			      "connect again", UINT32_MAX);
	return refuse(c, -EMFILE, "this connection has %u pool handles open, "
		      "the most it may: close one first", c->s->nhandles);
}

/* The descriptors of c's reply, closed: the request was refused. */
static void
reply_fds_close(struct call *c)
{
	int i;

	for (i = 0; i < c->fds.n; i++)
		close(c->fds.fd[i]);
	c->fds.n = 0;
}

int
do_open(struct call *c, const Poolmgr__OpenPool *m)
{
	static Poolmgr__OpenReply orep;
	struct heap_stats st;
	struct dpool *p;
	struct handle *h;
	bool share;
	int rc;

	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse_no_pool(c, m->name);
	/*
	 * A read-write handle maps the pool readable too: it needs both
	 * rights, as shm_open(O_RDWR) does, or a write right alone would
	 * read every byte.
	 */
	if (!session_may_access(c->s, p, m->read_only ? 4 : 6))
		return refuse_access(c, p, m->read_only ? 4 : 6);
	/* The share map is for clients that cache, so for writers only. */
	share = m->want_share_map && !m->read_only && p->share_fd >= 0;
	if ((rc = reply_fd(c, p->memfd, m->read_only, &c->fds.fd[0])))
		return rc;
	c->fds.close[0] = true;
	c->fds.n = 1;
	if (share) {
		if ((rc = reply_fd(c, p->share_fd, false, &c->fds.fd[1]))) {
			reply_fds_close(c);
			return rc;
		}
		c->fds.close[1] = true;
		c->fds.n = 2;
	}
	if (!(h = session_open(c->s, p, m->read_only))) {
		int err = errno;

		reply_fds_close(c);
		if (err == ENOMEM)
			return refuse(c, -ENOMEM, "out of memory");
		return refuse_handles(c);
	}
	heap_get_stats(p->heap, &st);
	poolmgr__open_reply__init(&orep);
	orep.handle = h->id;
	orep.max_size = p->size;
	orep.granularity = (uint32_t)st.granularity;
	orep.page_size = (uint32_t)st.page_size;
	orep.read_only = m->read_only;
	orep.quota = handle_quota_share(h);
	orep.limit = p->limit;
	if (share)
		orep.share_map_size = p->share_size;
	c->rep->body_case = POOLMGR__REPLY__BODY_OPEN;
	c->rep->open = &orep;
	return 0;
}

int
do_close(struct call *c, const Poolmgr__ClosePool *m)
{
	int err;
	struct handle *h = get_handle(c, m->handle, false, &err);

	if (!h)
		return err;
	room_kept_closed(c->s, h->id);
	session_close(c->s, h);
	return 0;
}

/*
 * The pool's share map now, as OpenPool sends it: after a restart in place
 * a handle's map is frozen, and its client asks for this one.  Nothing is
 * noted: any handle may ask any time.
 */
int
do_share_map(struct call *c, const Poolmgr__ShareMap *m)
{
	static Poolmgr__ShareMapReply srep;
	struct handle *h;
	int err;

	/* As OpenPool: the map is for clients that cache, writers only. */
	if (!(h = get_handle(c, m->handle, true, &err)))
		return err;
	if (h->pool->share_fd < 0)
		return refuse(c, -ENODEV, "pool %s has no share map",
			      h->pool->name);
	if ((err = reply_fd(c, h->pool->share_fd, false, &c->fds.fd[0])))
		return err;
	c->fds.close[0] = true;
	c->fds.n = 1;
	poolmgr__share_map_reply__init(&srep);
	srep.share_map_size = h->pool->share_size;
	c->rep->body_case = POOLMGR__REPLY__BODY_SHARE_MAP;
	c->rep->share_map = &srep;
	return 0;
}

/*
 * -ENOENT for a name no pool has; an empty one said so, not left blank.
 * A pool's name is [A-Za-z0-9._-], but the one asked for may hold any
 * byte: the backslash and every byte that is not printable ASCII are
 * shown as \xHH, as a block name's are (name_shown), for the words go in
 * Reply.message, a protobuf string, which must be valid UTF-8: a client
 * in another language would not decode the reply, and terminals and
 * logs take them too.  The name is at most 64 bytes (check_name_length).
 */
int
refuse_no_pool(struct call *c, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	char shown[64 * 4 + 1];
	size_t at = 0;

	if (!name || !*name)
		return refuse(c, -ENOENT, "no pool has an empty name");
	for (; *name && at + 4 < sizeof(shown); name++) {
		unsigned char b = (unsigned char)*name;

		if (b >= 0x20 && b < 0x7f && b != '\\') {
			shown[at++] = (char)b;
			continue;
		}
		shown[at++] = '\\';
		shown[at++] = 'x';
		shown[at++] = hex[b >> 4];
		shown[at++] = hex[b & 0xf];
	}
	shown[at] = '\0';
	return refuse(c, -ENOENT, "no pool %s", shown);
}

struct dpool *
get_pool(struct call *c, const Poolmgr__PoolRef *ref, bool write, int *err)
{
	struct dpool *p;
	struct handle *h;

	if (!ref) {
		*err = refuse(c, -EINVAL, "no pool named");
		return NULL;
	}
	if (ref->handle) {
		h = get_handle(c, ref->handle, write, err);
		return h ? h->pool : NULL;
	}
	if ((*err = check_name_length(c, ref->name)))
		return NULL;
	if (!ref->name || !(p = dpool_find(ref->name))) {
		*err = refuse_no_pool(c, ref->name);
		return NULL;
	}
	if (!session_may_access(c->s, p, write ? 2 : 4)) {
		*err = refuse_access(c, p, write ? 2 : 4);
		return NULL;
	}
	return p;
}


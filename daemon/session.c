/*
 * session.c - per-client state: credentials, pool handles, authorization.
 *
 * Credentials come from the kernel at accept (SO_PEERCRED, SO_PEERGROUPS)
 * and never from the client's own words, so a client cannot claim to be
 * someone else.  Processes of the daemon's uid and root are trusted.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "session.h"

/* Every session, for `poolctl clients`. */
struct session_node {
	LIST_ENTRY(session_node) entry;
	struct session *s;
};

static LIST_HEAD(, session_node) sessions = LIST_HEAD_INITIALIZER(sessions);
static unsigned nsessions;

bool
session_has_pool(const struct session *s, const struct dpool *p)
{
	const struct handle *h;

	LIST_FOREACH(h, &s->handles, in_session)
		if (h->pool == p)
			return true;
	return false;
}

unsigned
session_count(void)
{
	return nsessions;
}

/* Linear, but bounded by max_connections and run only at accept. */
unsigned
session_count_uid(uid_t uid)
{
	struct session_node *n;
	unsigned count = 0;

	LIST_FOREACH(n, &sessions, entry)
		if (n->s->uid == uid)
			count++;
	return count;
}

/*
 * By p's accounts, not by the connections' handles: a process of 256
 * connections with 1024 handles each on another pool made each request
 * walk 262,144 handles (2.4 ms), and 64 of them in one read batch held
 * every other client back 150 ms.
 */
unsigned
session_pid_handles(const struct dpool *p, pid_t pid, uint32_t id,
		    const struct handle **out, unsigned max)
{
	const struct user_account *u;
	const struct session_account *a;
	const struct handle *h;
	unsigned count = 0;

	USER_ACCOUNT_FOREACH(u, p)
		LIST_FOREACH(a, &u->accounts, by_user) {
			if (a->session->pid != pid)
				continue;
			if (id) {
				h = session_handle(a->session, id);
				if (h && h->pool == p && count++ < max)
					out[count - 1] = h;
			} else {
				LIST_FOREACH(h, &a->handles, in_account)
					if (count++ < max)
						out[count - 1] = h;
					else
						break;
			}
			if (count > max)
				return max + 1;
		}
	return count;
}

/*
 * The peer's supplementary groups.  Most fit the room in the session; for
 * more, the kernel answers ERANGE with the length they need, and they go
 * on the heap: a client in many groups must not lose them all.  False
 * when there is no memory for them: the session is not made.
 */
static bool
session_get_groups(struct session *s, int fd)
{
	static struct log_limit lim;
	socklen_t len = sizeof(s->group_room);
	int err;

	s->groups = s->group_room;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, s->groups, &len) == 0) {
		s->ngroups = (int)(len / sizeof(gid_t));
		return true;
	}
	if (errno == ERANGE && len > sizeof(s->group_room)) {
		if (!(s->groups = malloc(len))) {
			s->groups = s->group_room;
			return false;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, s->groups,
			       &len) == 0) {
			s->ngroups = (int)(len / sizeof(gid_t));
			return true;
		}
		err = errno;
		free(s->groups);
		s->groups = s->group_room;
		errno = err;
	}
	/* A line per connection, which a client opens at will. */
	log_limited(&lim, LOG_PRI_WARNING, "client pid %d uid %u: "
		    "SO_PEERGROUPS: %s; its supplementary groups are unknown: "
		    "none grants it anything, and a pool's group or group "
		    "entry it may be in refuses it what it does not grant",
		    (int)s->pid, (unsigned)s->uid, strerror(errno));
	s->groups_unknown = true;
	return true;
}

struct session *
session_new(int fd)
{
	struct session *s = calloc(1, sizeof(*s));
	struct session_node *n = calloc(1, sizeof(*n));
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!s || !n ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		if (!s || !n)
			errno = ENOMEM;
		free(s);
		free(n);
		return NULL;
	}
	s->uid = cred.uid;
	s->gid = cred.gid;
	s->pid = cred.pid;
	if (!session_get_groups(s, fd)) {
		free(s);
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	s->next_handle = 1;
	LIST_INIT(&s->handles);
	LIST_INIT(&s->accounts);
	n->s = s;
	LIST_INSERT_HEAD(&sessions, n, entry);
	nsessions++;
	return s;
}

void
session_free(struct session *s)
{
	struct session_node *n;
	struct handle *h;

	while ((h = LIST_FIRST(&s->handles)))
		session_close(s, h);
	free(s->handle_slots);
	LIST_FOREACH(n, &sessions, entry) {
		if (n->s == s) {
			LIST_REMOVE(n, entry);
			nsessions--;
			free(n);
			break;
		}
	}
	if (s->groups != s->group_room)
		free(s->groups);
	free(s);
}

/*
 * The table of a session's open handles by id (session.h).  A request
 * that names a handle once walked the session's list for it, up to 1024
 * handles each time.
 */
#define HANDLE_SLOTS_MIN 8
#define HANDLE_HASH 0x9e3779b1u	/* 2^32 divided by the golden ratio */

/*
 * Where the probe for id starts: the top bits of a multiplicative hash.
 * Ids come in sequence, but which stay open is the client's choice; the
 * low bits alone would put every id a table's size apart in one run.
 */
static uint32_t
handle_home(uint32_t id, uint32_t mask)
{
	return (uint32_t)(((uint64_t)(uint32_t)(id * HANDLE_HASH) *
			   ((uint64_t)mask + 1)) >> 32);
}

static void
handle_slots_put(struct handle **slots, uint32_t mask, struct handle *h)
{
	uint32_t i;

	for (i = handle_home(h->id, mask); slots[i]; i = (i + 1) & mask)
		;
	slots[i] = h;
}

/*
 * A table of nslots for the handles on the session's list; false, the old
 * one kept, if there is no memory for it.
 */
static bool
handle_slots_resize(struct session *s, uint32_t nslots)
{
	struct handle **slots = calloc(nslots, sizeof(*slots));
	struct handle *h;

	if (!slots)
		return false;
	LIST_FOREACH(h, &s->handles, in_session)
		handle_slots_put(slots, nslots - 1, h);
	free(s->handle_slots);
	s->handle_slots = slots;
	s->handle_mask = nslots - 1;
	return true;
}

/*
 * Take h out of the table and close the gap it leaves: each later entry of
 * its run moves back into the gap unless its probe starts after the gap,
 * so that no lookup stops at an empty slot before its handle.
 */
static void
handle_slots_remove(struct session *s, struct handle *h)
{
	struct handle **slots = s->handle_slots;
	uint32_t mask = s->handle_mask, i, j, home;

	for (i = handle_home(h->id, mask); slots[i] != h; i = (i + 1) & mask)
		;
	for (j = (i + 1) & mask; slots[j]; j = (j + 1) & mask) {
		home = handle_home(slots[j]->id, mask);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i] = NULL;
}

static int
user_account_cmp(const struct user_account *a, const struct user_account *b)
{
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

RB_GENERATE(user_account_tree, user_account, entry, user_account_cmp)

/* The account of uid on p, or NULL: O(log uids). */
static struct user_account *
user_account_find(const struct dpool *p, uid_t uid)
{
	struct user_account key = {.uid = uid};

	return RB_FIND(user_account_tree,
		       (struct user_account_tree *)&p->users, &key);
}

/*
 * The account of uid on p, made if there is none (NULL if there is no
 * memory for it).
 */
static struct user_account *
user_account_get(struct dpool *p, uid_t uid)
{
	struct user_account *u = user_account_find(p, uid);

	if (u)
		return u;
	if (!(u = calloc(1, sizeof(*u))))
		return NULL;
	u->pool = p;
	u->uid = uid;
	LIST_INIT(&u->accounts);
	RB_INSERT(user_account_tree, &p->users, u);
	return u;
}

/*
 * The account of s on p, made if there is none (NULL if there is no memory
 * for it).  A session's handles are mostly on a pool or two, so the walk is
 * short and happens only at open.
 */
static struct session_account *
account_get(struct session *s, struct dpool *p)
{
	struct session_account *a;
	struct user_account *u;

	LIST_FOREACH(a, &s->accounts, entry)
		if (a->pool == p)
			return a;
	if (!(u = user_account_get(p, s->uid)))
		return NULL;
	if (!(a = calloc(1, sizeof(*a)))) {
		if (u->naccounts == 0 && u->nclosing == 0) {
			RB_REMOVE(user_account_tree, &p->users, u);
			free(u);
		}
		return NULL;
	}
	a->pool = p;
	a->user = u;
	a->session = s;
	LIST_INIT(&a->handles);
	u->naccounts++;
	LIST_INSERT_HEAD(&u->accounts, a, by_user);
	LIST_INSERT_HEAD(&s->accounts, a, entry);
	return a;
}

/* u has no session's account left, nor a closed handle: it goes. */
static void
user_account_maybe_free(struct user_account *u)
{
	if (u->naccounts || u->nclosing)
		return;
	assert(u->bytes == 0 && u->nhandles == 0);
	RB_REMOVE(user_account_tree, &u->pool->users, u);
	free(u);
}

/*
 * h is closing: its bytes leave its session's account, and the last
 * handle it.  Its uid's account counts its blocks until its references
 * are dropped (handle_refs_gone), at once or a step at a time: the uid's
 * other handles may hold them too, which only the holds themselves tell.
 * The growth of a block being moved leaves it now, as the rest of the
 * move's books do (pool_block.c).
 */
static void
account_leave(struct handle *h)
{
	struct session_account *a = h->account;
	struct user_account *u = a->user;

	a->bytes -= h->bytes + h->moving;
	u->bytes -= h->moving;
	/*
	 * Room under the user quota, as handle_set's: the blocks still
	 * held by others are not freed when this handle's references go.
	 */
	if (h->moving && dpool_has_user_quota(h->pool))
		dpool_room(h->pool);
	u->nhandles--;
	if (h->nrefs)
		u->nclosing++;
	else
		h->user = NULL;
	LIST_REMOVE(h, in_account);
	if (--a->nhandles == 0) {
		LIST_REMOVE(a, entry);
		LIST_REMOVE(a, by_user);
		free(a);
		u->naccounts--;
		user_account_maybe_free(u);
	}
	h->account = NULL;
}

void
handle_refs_gone(struct handle *h)
{
	struct user_account *u = h->user;

	assert(!h->session && h->nrefs == 0 && u && u->nclosing);
	h->user = NULL;
	u->nclosing--;
	user_account_maybe_free(u);
}

/*
 * A new open handle id on p (the session has room for it); NULL, errno
 * ENOMEM and nothing changed, if there is no memory for it.  A larger
 * table kept when a later step fails changes nothing a client sees.
 */
static struct handle *
handle_open(struct session *s, struct dpool *p, bool read_only, uint32_t id)
{
	struct handle *h;
	uint32_t nslots = s->handle_slots ? s->handle_mask + 1 : 0;

	if (((s->nhandles + 1) * 2 > nslots &&
	     !handle_slots_resize(s, nslots ? nslots * 2 : HANDLE_SLOTS_MIN)) ||
	    !(h = calloc(1, sizeof(*h)))) {
		errno = ENOMEM;
		return NULL;
	}
	if (!(h->account = account_get(s, p))) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->id = id;
	h->session = s;
	h->pool = p;
	h->user = h->account->user;
	h->account->nhandles++;
	h->account->user->nhandles++;
	LIST_INSERT_HEAD(&h->account->handles, h, in_account);
	h->read_only = read_only;
	LIST_INIT(&h->refs);
	LIST_INSERT_HEAD(&s->handles, h, in_session);
	handle_slots_put(s->handle_slots, s->handle_mask, h);
	s->nhandles++;
	LIST_INSERT_HEAD(&p->handles, h, in_pool);
	p->nhandles++;
	return h;
}

struct handle *
session_open(struct session *s, struct dpool *p, bool read_only)
{
	/*
	 * Handle ids are never used twice on a connection, so a stale one
	 * cannot reach a pool opened later: after 2^32 - 1 opens there are
	 * none left (0 means "by name"), and the client must reconnect.
	 */
	struct handle *h;

	if (s->nhandles >= SESSION_MAX_HANDLES || s->next_handle == 0) {
		errno = EMFILE;
		return NULL;
	}
	/* The id is used up only by an open that happened. */
	if ((h = handle_open(s, p, read_only, s->next_handle)))
		s->next_handle++;
	return h;
}

struct handle *
session_open_id(struct session *s, struct dpool *p, bool read_only,
		uint32_t id)
{
	if (s->nhandles >= SESSION_MAX_HANDLES || id == 0 ||
	    (s->next_handle != 0 && id >= s->next_handle) ||
	    session_handle(s, id) != NULL) {
		errno = EINVAL;
		return NULL;
	}
	return handle_open(s, p, read_only, id);
}

struct handle *
session_handle(struct session *s, uint32_t id)
{
	struct handle *h;
	uint32_t i, mask = s->handle_mask;

	if (!s->handle_slots)
		return NULL;
	/* Never full: the probe ends at an empty slot. */
	for (i = handle_home(id, mask); (h = s->handle_slots[i]);
	     i = (i + 1) & mask)
		if (h->id == id)
			return h;
	return NULL;
}

/*
 * The one place a handle's bytes or cached bytes change: Stats and List
 * read the pool's sum instead of walking its handles (256,000 of them took
 * 2 ms per request), and a quota check its account's instead of walking
 * the session's 1024.  A closed handle, still dropping its references, is
 * no longer in either.
 */
static void
handle_set(struct handle *h, uint64_t bytes, uint64_t cached)
{
	if (h->session) {
		h->pool->client_cached -= handle_cached(h);
		h->account->bytes += bytes - h->bytes;
		/*
		 * Less held by a connection is room under its quota per
		 * connection, which its waiting allocations are told of as
		 * of a free: nothing is freed when this handle lets go of a
		 * block another holds too, or when another uid persists a
		 * block it holds.  (Its uid's account follows the holds
		 * themselves, pool_hold.c.)
		 */
		if (bytes < h->bytes && dpool_has_quota(h->pool))
			dpool_room(h->pool);
	}
	h->bytes = bytes;
	h->cached_bytes = cached;
	if (h->session)
		h->pool->client_cached += handle_cached(h);
}

void
handle_set_bytes(struct handle *h, uint64_t bytes)
{
	handle_set(h, bytes, h->cached_bytes);
}

void
handle_set_cached(struct handle *h, uint64_t cached)
{
	handle_set(h, h->bytes, cached);
}

void
handle_set_moving(struct handle *h, uint64_t moving)
{
	if (h->session) {
		h->account->bytes += moving - h->moving;
		h->account->user->bytes += moving - h->moving;
	}
	h->moving = moving;
}

void
session_close(struct session *s, struct handle *h)
{
	h->pool->client_cached -= handle_cached(h);
	account_leave(h);
	LIST_REMOVE(h, in_pool);
	h->pool->nhandles--;
	handle_slots_remove(s, h);
	LIST_REMOVE(h, in_session);
	s->nhandles--;
	/*
	 * Back to at most a quarter full: room in step with the handles.
	 * Without memory for the smaller table, the larger one does.
	 */
	if (s->handle_mask + 1 > HANDLE_SLOTS_MIN &&
	    s->nhandles * 8 < s->handle_mask + 1)
		(void)handle_slots_resize(s, (s->handle_mask + 1) / 2);
	/* The session's books let go at once, whenever the pool's do. */
	s->nrefs -= h->nrefs;
	h->session = NULL;
	dpool_close_handle(h->pool, h);
}

void
session_close_pool_handles(struct dpool *p)
{
	struct handle *h;
	struct session *s;

	while ((h = LIST_FIRST(&p->handles))) {
		s = h->session;
		s->gone[s->ngone % SESSION_GONE].id = h->id;
		snprintf(s->gone[s->ngone % SESSION_GONE].pool,
			 sizeof(s->gone[0].pool), "%s", p->name);
		s->ngone++;
		session_close(s, h);
	}
}

const char *
session_gone_pool(const struct session *s, uint32_t id)
{
	uint32_t i, n = s->ngone < SESSION_GONE ? s->ngone : SESSION_GONE;

	for (i = 0; i < n; i++)
		if (s->gone[i].id == id)
			return s->gone[i].pool;
	return NULL;
}

uint64_t
session_pool_bytes(const struct session *s, const struct dpool *p)
{
	const struct session_account *a;

	LIST_FOREACH(a, &s->accounts, entry)
		if (a->pool == p)
			return a->bytes;
	return 0;
}

uint64_t
handle_session_bytes(const struct handle *h)
{
	return h->account->bytes;
}

uint64_t
session_user_bytes(const struct dpool *p, uid_t uid)
{
	const struct user_account *u = user_account_find(p, uid);

	return u ? u->bytes : 0;
}

uint32_t
session_user_closing(const struct dpool *p, uid_t uid)
{
	const struct user_account *u = user_account_find(p, uid);

	return u ? u->nclosing : 0;
}

uint64_t
handle_user_bytes(const struct handle *h)
{
	return h->account->user->bytes;
}

/* bound over n sharers; 0 (none) stays 0, and a share of none is 1. */
static uint64_t
bound_share(uint64_t bound, uint32_t n)
{
	if (!bound)
		return 0;
	return bound / n ? bound / n : 1;
}

uint64_t
handle_quota_share(const struct handle *h)
{
	uint64_t q = bound_share(h->pool->quota, h->account->nhandles);
	uint64_t u = bound_share(dpool_user_bound(h->pool,
						  h->account->user->uid, NULL),
				 h->account->user->nhandles);

	if (!q || (u && u < q))
		return u;
	return q;
}

/*
 * Each uid's list of its connections' accounts on p, and each account's list
 * of its handles (session_pid_handles' way to them): whole, and each
 * entry where it should be.
 */
static int
accounts_check(const struct dpool *p, char *problem, size_t len)
{
	const struct user_account *u;
	const struct session_account *a;
	const struct handle *h;
	uint32_t n, nacc;

	USER_ACCOUNT_FOREACH(u, p) {
		nacc = 0;
		LIST_FOREACH(a, &u->accounts, by_user) {
			n = 0;
			nacc++;
			LIST_FOREACH(h, &a->handles, in_account) {
				if (h->account != a || h->session !=
				    a->session) {
					snprintf(problem, len, "pool %s: "
						 "handle %u is on another "
						 "account's list", p->name,
						 h->id);
					return -1;
				}
				n++;
			}
			if (a->user != u || a->pool != p ||
			    n != a->nhandles) {
				snprintf(problem, len, "pool %s: an account "
					 "of uid %u lists %u handles of its "
					 "%u", p->name, (unsigned)u->uid, n,
					 a->nhandles);
				return -1;
			}
		}
		if (nacc != u->naccounts) {
			snprintf(problem, len, "pool %s: uid %u lists %u "
				 "accounts of its %u", p->name,
				 (unsigned)u->uid, nacc, u->naccounts);
			return -1;
		}
	}
	return 0;
}

/*
 * Recount each account with handles on p from those handles alone, and
 * each uid's handles, and compare: a drift in the running totals would
 * let a session past its quota, or refuse it within.  (A uid's bytes are
 * its holds', recounted from the blocks by dpool_check.)  Linear in p's
 * open handles.
 */
int
session_check_pool(struct dpool *p, char *problem, size_t len)
{
	struct handle *h;
	struct session_account *a;
	struct user_account *u;

	USER_ACCOUNT_FOREACH(u, p)
		u->check_handles = 0;
	LIST_FOREACH(h, &p->handles, in_pool) {
		h->account->check_bytes = 0;
		h->account->check_handles = 0;
	}
	LIST_FOREACH(h, &p->handles, in_pool) {
		if (h->account->pool != p) {
			snprintf(problem, len, "pool %s: handle %u of pid %d "
				 "counts on the account of pool %s", p->name,
				 h->id, (int)h->session->pid,
				 h->account->pool->name);
			return -EFAULT;
		}
		if (h->account->user != user_account_find(p, h->session->uid)) {
			snprintf(problem, len, "pool %s: handle %u of pid %d "
				 "counts on another uid's account than uid "
				 "%u's", p->name, h->id, (int)h->session->pid,
				 (unsigned)h->session->uid);
			return -EFAULT;
		}
		if (h->user != h->account->user) {
			snprintf(problem, len, "pool %s: handle %u of pid %d "
				 "counts its holds on another uid's account "
				 "than its session's", p->name, h->id,
				 (int)h->session->pid);
			return -EFAULT;
		}
		h->account->check_bytes += h->bytes + h->moving;
		h->account->check_handles++;
		h->account->user->check_handles++;
	}
	LIST_FOREACH(h, &p->handles, in_pool) {
		a = h->account;
		if (a->bytes != a->check_bytes ||
		    a->nhandles != a->check_handles) {
			snprintf(problem, len, "pool %s: pid %d's account "
				 "counts %u handles of %llu bytes, its open "
				 "handles are %u of %llu", p->name,
				 (int)h->session->pid, a->nhandles,
				 (unsigned long long)a->bytes,
				 a->check_handles,
				 (unsigned long long)a->check_bytes);
			return -EFAULT;
		}
	}
	if (accounts_check(p, problem, len))
		return -EFAULT;
	USER_ACCOUNT_FOREACH(u, p)
		if ((u->naccounts == 0 && u->nclosing == 0) ||
		    u->nhandles != u->check_handles) {
			snprintf(problem, len, "pool %s: uid %u's account "
				 "counts %u handles in %u sessions and %u "
				 "closing, its open handles are %u", p->name,
				 (unsigned)u->uid, u->nhandles, u->naccounts,
				 u->nclosing, u->check_handles);
			return -EFAULT;
		}
	return 0;
}

bool
session_trusted(const struct session *s)
{
	return s->uid == 0 || s->uid == geteuid();
}

struct acl_caller
session_caller(const struct session *s)
{
	struct acl_caller who = {
		.uid = s->uid, .gid = s->gid, .groups = s->groups,
		.ngroups = s->ngroups, .groups_unknown = s->groups_unknown,
	};

	return who;
}

bool
session_in_group(const struct session *s, gid_t gid)
{
	struct acl_caller who = session_caller(s);

	return acl_caller_in_group(&who, gid);
}

bool
session_admin(const struct session *s, const struct config *cf)
{
	return session_trusted(s) ||
	       (cf && cf->has_admin_gid && session_in_group(s, cf->admin_gid));
}

bool
session_may_access(const struct session *s, const struct dpool *p,
		   unsigned want)
{
	struct acl_caller who = session_caller(s);

	if (session_trusted(s))
		return true;
	return acl_grants(&p->acl, p->uid, p->gid, p->mode, &who, want);
}

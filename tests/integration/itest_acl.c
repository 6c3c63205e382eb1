/*
 * itest_acl.c - a pool's access control list as the daemon applies it to
 * real processes of many uids and groups.
 *
 * The test runs as root and makes pools owned by OWNER (not root) in
 * group GROUP with CreatePool messages carrying a list.  Each caller is a
 * child that takes its uid, primary group and supplementary groups
 * (setgroups, setgid, setuid) before it connects, as a client of that
 * user would, and asks the daemon itself:
 *
 *   rights_follow_the_rules   six pools, one rule each (the plain mode;
 *       the owner's bits over an entry naming the owner; a user entry over
 *       the pool's group, one of no rights refusing; group entries met as
 *       supplementary groups, read from one and write from another, the
 *       pool's group refusing what other would grant; an entry refusing
 *       what other would grant; rights that only entries give), and eight
 *       callers (root among them, which an entry cannot refuse): each
 *       opens every pool read-write and read-only, asks its statistics by
 *       name and lists the pools, and each is refused (-EACCES, unlisted)
 *       exactly where the rules say.  CreatePool of a bad list (33
 *       entries, kind 3, rights 8, a uid twice) is refused and makes no
 *       pool; PoolStats.acl comes back sorted.
 *   owner_changes_the_list    the owner (no admin) replaces, modifies and
 *       empties its pool's list, and each change holds for the next
 *       process; another uid, even one the list lets write, gets -EPERM.
 *       acl with acl_modify (-EINVAL), 33 entries and a modification to
 *       33 (-ENOSPC), kind 3, rights 8, uid 4294967295 and a uid twice
 *       (-EINVAL) are refused with words, as is a list beside a quota the
 *       owner may not set (-EPERM): each changes nothing, the mode sent
 *       with it neither.  A pool of the configuration file: -EROFS.
 *   open_handle_outlives_tightening   a process of a uid the list lets
 *       write opens the pool and allocates; the owner then refuses that
 *       uid by a modification; the handle still allocates and writes the
 *       memory, a new open of either kind and the statistics are refused,
 *       and the daemon logs the list's change.
 *   refusal_names_whole_entries   a caller in 16 groups, each with an
 *       entry of no rights, is refused the statistics of a pool of a
 *       64-character name: the words fit a reply, name the group class,
 *       and each entry they name is whole (no "group:10" cut from
 *       group:1000000012:-), those that do not fit counted.
 *   split_rights_refused_in_words   a caller that reads by one group's
 *       entry and writes by another's opens read-only, but not
 *       read-write, and the refusal says it lacks both from one rule,
 *       not that the pool is unreadable to it.
 *   second_acl_line_refused   a file whose pool says acl twice (a second
 *       "acl =" rather than an indented line, which would have replaced
 *       the first and let the uid it refused in) is refused by a reload
 *       naming both lines; the running list still keeps that uid out.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define OWNER		2001	/* every pool's owner, and its own group */
#define GROUP		3000	/* every pool's group */
#define GA		3001	/* groups that only entries name */
#define GB		3002
#define KIND_USER	1
#define KIND_GROUP	2
#define RD		4
#define WR		2
#define CHILD_ALARM	20
#define ROOM		40	/* entries a message of the test may carry */
#define MANY		33	/* one more than a list holds */

/* A pool of the configuration file: its settings are the file's. */
#define FILE_POOL_CONF	"[pool filed]\nsize = 1M\nmode = 0600\n"

static struct daemon_proc d;
static pid_t waiting_kid;	/* a child the test waits on while it runs */

/* ---- who asks ---------------------------------------------------------- */

struct who {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t groups[16];
	int ngroups;
};

static const struct who owner = {"owner", OWNER, OWNER, {0}, 0};
static const struct who named = {"named", 2002, 2002, {0}, 0};
static const struct who grouped = {"grouped", 2003, GROUP, {0}, 0};
static const struct who supp = {"supp", 2004, 2004, {GA, GB}, 2};
static const struct who stranger = {"stranger", 2005, 2005, {0}, 0};
static const struct who refused = {"refused", 2006, GROUP, {0}, 0};
static const struct who supp_group = {"supp-group", 2007, 2007,
				      {7000, GROUP}, 2};
static const struct who root = {"root", 0, 0, {0}, 0};

/*
 * Start fn(fd, arg) in a child of w's uid and groups, taken before it
 * connects, since the daemon reads a connection's credentials when it is
 * made.  With raw, fd is a connection of its own (greeted as w's name),
 * else -1.  The child exits with fn's code, 126 if it could not become w,
 * 125 if it could not connect.
 */
static pid_t
spawn_as(const struct who *w, int (*fn)(int, const void *), const void *arg,
	 bool raw)
{
	pid_t pid = fork();
	int fd = -1;

	if (pid == 0) {
		alarm(CHILD_ALARM);
		if (setgroups((size_t)w->ngroups, w->groups) == -1 ||
		    setgid(w->gid) == -1 || setuid(w->uid) == -1)
			_exit(126);
		if (raw && (fd = harness_raw_greeted(d.sock, w->name)) < 0)
			_exit(125);
		_exit(fn(fd, arg));
	}
	assert_true(pid > 0);
	return pid;
}

static int
run_as(const struct who *w, int (*fn)(int, const void *), const void *arg)
{
	return harness_wait(spawn_as(w, fn, arg, true));
}

static void
expect_as(const struct who *w, int (*fn)(int, const void *),
	  const void *arg, const char *what)
{
	int rc = run_as(w, fn, arg);

	if (rc != 0)
		fail_msg("%s as %s (uid %u gid %u): exit %d%s", what, w->name,
			 (unsigned)w->uid, (unsigned)w->gid, rc,
			 rc == 126 ? " (could not become it)" :
			 rc == 125 ? " (could not connect)" : "");
}

/* ---- the wire ---------------------------------------------------------- */

struct ent {
	uint32_t kind, id, rights;
};

/* A list on the wire: its message, entries and their pointers. */
struct acl_room {
	Poolmgr__Acl acl;
	Poolmgr__AclEntry e[ROOM];
	Poolmgr__AclEntry *p[ROOM];
};

static Poolmgr__Acl *
acl_msg(struct acl_room *r, const struct ent *e, size_t n)
{
	size_t i;

	assert_true(n <= ROOM);
	poolmgr__acl__init(&r->acl);
	for (i = 0; i < n; i++) {
		poolmgr__acl_entry__init(&r->e[i]);
		r->e[i].kind = e[i].kind;
		r->e[i].id = e[i].id;
		r->e[i].rights = e[i].rights;
		r->p[i] = &r->e[i];
	}
	r->acl.n_entries = n;
	r->acl.entries = r->p;
	return &r->acl;
}

/*
 * req's round trip: its error, the reply's words when refused into why
 * (len bytes), or HARNESS_RAW_LOST.  The reply is kept in *out on 0.
 */
static int
ask(int fd, Poolmgr__Request *req, Poolmgr__Reply **out, char *why,
    size_t len)
{
	Poolmgr__Reply *rep = harness_raw_ask(fd, req);
	int err;

	if (why && len)
		*why = '\0';
	if (!rep)
		return HARNESS_RAW_LOST;
	err = rep->error;
	if (why && len && rep->message)
		snprintf(why, len, "%s", rep->message);
	if (out && err == 0)
		*out = rep;
	else
		poolmgr__reply__free_unpacked(rep, NULL);
	return err;
}

/* CreatePool of a 1 MiB pool of OWNER and GROUP, with the list given. */
static int
create(int fd, const char *name, uint32_t mode, const struct ent *e,
       size_t n, char *why, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	struct acl_room r;

	m.name = (char *)name;
	m.max_size = 1 << 20;
	m.mode = mode;
	m.owner_uid_case = POOLMGR__CREATE_POOL__OWNER_UID_UID;
	m.uid = OWNER;
	m.owner_gid_case = POOLMGR__CREATE_POOL__OWNER_GID_GID;
	m.gid = GROUP;
	if (n)
		m.acl = acl_msg(&r, e, n);
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	return ask(fd, &req, NULL, why, len);
}

static int
open_rc(int fd, const char *name, bool read_only)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep = NULL;
	uint32_t h;
	int rc;

	m.name = (char *)name;
	m.read_only = read_only;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	if ((rc = ask(fd, &req, &rep, NULL, 0)) != 0)
		return rc;
	h = rep->open ? rep->open->handle : 0;
	poolmgr__reply__free_unpacked(rep, NULL);
	/* A handle that cannot be closed again is a failure of its own. */
	return h && harness_raw_close(fd, h) == 0 ? 0 : HARNESS_RAW_LOST;
}

/* PoolStats of name: 0 and the reply in *out, or the error. */
static int
stats_rc(int fd, const char *name, Poolmgr__Reply **out)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep = NULL;
	int rc;

	ref.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	if ((rc = ask(fd, &req, &rep, NULL, 0)) != 0)
		return rc;
	if (out)
		*out = rep;
	else
		poolmgr__reply__free_unpacked(rep, NULL);
	return 0;
}

/* Does ListPools show name to fd's caller?  -1 when it failed. */
static int
listed(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools m = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply *rep = NULL;
	size_t i;
	int found = 0;

	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &m;
	if (ask(fd, &req, &rep, NULL, 0) != 0 || !rep->list)
		return -1;
	for (i = 0; i < rep->list->n_pools; i++)
		if (strcmp(rep->list->pools[i]->name, name) == 0)
			found = 1;
	poolmgr__reply__free_unpacked(rep, NULL);
	return found;
}

/* ---- what a caller may do ---------------------------------------------- */

#define NPOOLS 6

static const char *const matrix_pools[NPOOLS] = {
	"plain", "owner-wins", "user-entry", "group-entries",
	"group-refuses", "acl-only",
};

/* A caller's rights in each pool, as the rules give them: "rw" "r" "w" "-". */
struct row {
	const struct who *w;
	const char *rights[NPOOLS];
};

/* One request's outcome against what the rights say; 1 if it differs. */
static int
differs(const struct who *w, const char *pool, const char *what, int got,
	int want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "%s (uid %u): pool %s: %s: %d (%s), not %d\n",
		w->name, (unsigned)w->uid, pool, what, got,
		pool_strerror(got), want);
	return 1;
}

static int
unlike_list(const struct who *w, const char *pool, int got, bool want)
{
	if (got == (int)want)
		return 0;
	fprintf(stderr, "%s (uid %u): pool %s: %s by ListPools\n", w->name,
		(unsigned)w->uid, pool, got < 0 ? "no answer" :
		got ? "listed, not left out" : "left out, not listed");
	return 1;
}

/*
 * In the child: each of the n pools opened read-write and read-only,
 * stated and looked for in the list, every outcome as its rights say;
 * exit 1 if any was not (each said on stderr).
 */
static int
child_rights(int fd, const struct row *r, const char *const *names,
	     size_t n)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < n; i++) {
		bool may_r = strchr(r->rights[i], 'r') != NULL;
		bool may_w = strchr(r->rights[i], 'w') != NULL;

		bad += differs(r->w, names[i], "open read-write",
			       open_rc(fd, names[i], false),
			       may_w ? 0 : -EACCES);
		bad += differs(r->w, names[i], "open read-only",
			       open_rc(fd, names[i], true),
			       may_r ? 0 : -EACCES);
		bad += differs(r->w, names[i], "stats",
			       stats_rc(fd, names[i], NULL),
			       may_r ? 0 : -EACCES);
		bad += unlike_list(r->w, names[i], listed(fd, names[i]),
				   may_r);
	}
	return bad ? 1 : 0;
}

static int
child_matrix(int fd, const void *arg)
{
	return child_rights(fd, arg, matrix_pools, NPOOLS);
}

/* The one pool "owned", for the changes of its list. */
static const char *const owned_name[] = {"owned"};

static int
child_owned(int fd, const void *arg)
{
	return child_rights(fd, arg, owned_name, 1);
}

/* ---- in the test process ------------------------------------------------ */

static int
root_fd(void)
{
	int fd = harness_raw_greeted(d.sock, "acl-root");

	assert_true(fd >= 0);
	return fd;
}

/* Pool name's list as PoolStats says it must be exactly e (n entries). */
static void
expect_acl(int fd, const char *name, const struct ent *e, size_t n)
{
	Poolmgr__Reply *rep = NULL;
	const Poolmgr__Acl *a;
	size_t i;

	EXPECT_RAW(stats_rc(fd, name, &rep), 0);
	a = rep->stats->acl;
	if (n == 0) {
		if (a && a->n_entries)
			fail_msg("pool %s: %zu entries, none expected", name,
				 a->n_entries);
		poolmgr__reply__free_unpacked(rep, NULL);
		return;
	}
	if (!a || a->n_entries != n)
		fail_msg("pool %s: %zu entries, not %zu", name,
			 a ? a->n_entries : 0, n);
	for (i = 0; i < n; i++)
		if (a->entries[i]->kind != e[i].kind ||
		    a->entries[i]->id != e[i].id ||
		    a->entries[i]->rights != e[i].rights)
			fail_msg("pool %s entry %zu: %u:%u:%u, not %u:%u:%u",
				 name, i, a->entries[i]->kind,
				 a->entries[i]->id, a->entries[i]->rights,
				 e[i].kind, e[i].id, e[i].rights);
	poolmgr__reply__free_unpacked(rep, NULL);
}

static uint32_t
mode_of(int fd, const char *name)
{
	Poolmgr__Reply *rep = NULL;
	uint32_t mode;

	EXPECT_RAW(stats_rc(fd, name, &rep), 0);
	mode = rep->stats->mode;
	poolmgr__reply__free_unpacked(rep, NULL);
	return mode;
}

static void
skip_unless_root(void)
{
	harness_skip_unless_root("become other uids and groups");
}

static int
teardown(void **state)
{
	(void)state;
	if (waiting_kid > 0) {
		kill(waiting_kid, SIGKILL);
		harness_wait(waiting_kid);
		waiting_kid = 0;
	}
	return harness_finish(&d);
}

/* ---- the rules --------------------------------------------------------- */

#define U(id, r)	{KIND_USER, (id), (r)}
#define G(id, r)	{KIND_GROUP, (id), (r)}

/* Entries given out of order; the sorted list PoolStats must say. */
static const struct ent owner_wins[] = {U(OWNER, RD | WR)};
static const struct ent user_entry[] = {U(2006, 0), U(2002, RD), U(0, 0)};
static const struct ent user_entry_sorted[] = {U(0, 0), U(2002, RD),
					       U(2006, 0)};
static const struct ent group_entries[] = {G(GB, WR), G(GA, RD)};
static const struct ent group_entries_sorted[] = {G(GA, RD), G(GB, WR)};
static const struct ent group_refuses[] = {G(GA, 0)};
static const struct ent acl_only[] = {G(GB, RD), U(2002, RD | WR),
				      G(GROUP, 0)};
static const struct ent acl_only_sorted[] = {U(2002, RD | WR), G(GROUP, 0),
					     G(GB, RD)};

/*
 *               mode  list
 * plain         0640  none
 * owner-wins    0406  user:OWNER:rw      the owner's r wins
 * user-entry    0660  user:2002:r user:2006:- user:0:-
 * group-entries 0606  group:GA:r group:GB:w; the pool's group none
 * group-refuses 0644  group:GA:-
 * acl-only      0600  user:2002:rw group:GB:r group:GROUP:-
 */
static const struct row matrix[] = {
	{&owner, {"rw", "r", "rw", "rw", "rw", "rw"}},
	/* A user entry wins over other's bits, either way. */
	{&named, {"-", "rw", "r", "rw", "r", "rw"}},
	/* The pool's group: its bits, none of them over other's rw. */
	{&grouped, {"r", "-", "rw", "-", "r", "-"}},
	/*
	 * r from group GA, w from GB, neither both: read only (a read-write
	 * open needs one entry of the class granting both); GA's - keeps
	 * other's r out.
	 */
	{&supp, {"-", "rw", "-", "r", "-", "r"}},
	{&stranger, {"-", "rw", "-", "rw", "r", "-"}},
	/* In the pool's group, but user:2006:- refuses it. */
	{&refused, {"r", "-", "-", "-", "r", "-"}},
	/* The pool's group as a supplementary one. */
	{&supp_group, {"r", "-", "rw", "-", "r", "-"}},
	/* Root has every right, user:0:- or not. */
	{&root, {"rw", "rw", "rw", "rw", "rw", "rw"}},
};

static void
expect_create_refused(int fd, const char *name, const struct ent *e,
		      size_t n, int want, const char *words)
{
	char why[256];

	EXPECT_RAW(create(fd, name, 0600, e, n, why, sizeof(why)), want);
	if (!strstr(why, words))
		fail_msg("CreatePool %s said \"%s\", nothing of \"%s\"", name,
			 why, words);
	EXPECT_RAW(stats_rc(fd, name, NULL), -ENOENT);
}

static void
rights_follow_the_rules(void **state)
{
	struct ent many[MANY];
	size_t i;
	int fd;

	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, "");
	fd = root_fd();
	EXPECT_RAW(create(fd, "plain", 0640, NULL, 0, NULL, 0), 0);
	EXPECT_RAW(create(fd, "owner-wins", 0406, owner_wins, 1, NULL, 0), 0);
	EXPECT_RAW(create(fd, "user-entry", 0660, user_entry, 3, NULL, 0), 0);
	EXPECT_RAW(create(fd, "group-entries", 0606, group_entries, 2, NULL,
			  0), 0);
	EXPECT_RAW(create(fd, "group-refuses", 0644, group_refuses, 1, NULL,
			  0), 0);
	EXPECT_RAW(create(fd, "acl-only", 0600, acl_only, 3, NULL, 0), 0);

	expect_acl(fd, "plain", NULL, 0);
	expect_acl(fd, "user-entry", user_entry_sorted, 3);
	expect_acl(fd, "group-entries", group_entries_sorted, 2);
	expect_acl(fd, "acl-only", acl_only_sorted, 3);

	for (i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++)
		expect_as(matrix[i].w, child_matrix, &matrix[i],
			  "the rights of every pool");

	/* Bad lists make no pool. */
	for (i = 0; i < MANY; i++)
		many[i] = (struct ent)G(100 + (uint32_t)i, RD);
	expect_create_refused(fd, "bad", many, 33, -ENOSPC, "at most 32");
	{
		const struct ent kind3[] = {U(1, RD), {3, 2, RD}};
		const struct ent rights8[] = {G(5, 8)};
		const struct ent twice[] = {U(7, RD), G(7, RD), U(7, WR)};

		expect_create_refused(fd, "bad", kind3, 2, -EINVAL, "kind 3");
		expect_create_refused(fd, "bad", rights8, 1, -EINVAL,
				      "rights 0x8");
		expect_create_refused(fd, "bad", twice, 3, -EINVAL,
				      "user 7 is given twice");
	}
	/* 32 fit. */
	EXPECT_RAW(create(fd, "full", 0600, many, 32, NULL, 0), 0);
	expect_acl(fd, "full", many, 32);
	close(fd);
}

/* ---- the owner's changes ----------------------------------------------- */

/* A SetPool of pool name: each list given when its pointer is not NULL
 * (with no entries: an empty one), a mode when mode is not 0, a quota
 * with quota; its error and words must be want and hold words. */
struct set_job {
	const char *name;
	const struct ent *acl, *mod, *rm;
	size_t nacl, nmod, nrm;
	uint32_t mode;
	bool quota;
	int want;
	const char *words;
};

static int
set_rc(int fd, const struct set_job *j, char *why, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	struct acl_room r[3];

	m.name = (char *)j->name;
	if (j->acl)
		m.acl = acl_msg(&r[0], j->acl, j->nacl);
	if (j->mod)
		m.acl_modify = acl_msg(&r[1], j->mod, j->nmod);
	if (j->rm)
		m.acl_remove = acl_msg(&r[2], j->rm, j->nrm);
	if (j->mode) {
		m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
		m.mode = j->mode;
	}
	if (j->quota) {
		m.set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
		m.quota = 1 << 20;
	}
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	return ask(fd, &req, NULL, why, len);
}

/* In the child: the jobs up to one without a name, each as it must end. */
static int
child_set(int fd, const void *arg)
{
	const struct set_job *j;
	char why[256];
	int rc, bad = 0;

	for (j = arg; j->name; j++) {
		rc = set_rc(fd, j, why, sizeof(why));
		if (rc != j->want || (j->words && !strstr(why, j->words))) {
			fprintf(stderr, "SetPool %s, job %d: %d \"%s\", not "
				"%d \"%s\"\n", j->name,
				(int)(j - (const struct set_job *)arg), rc,
				why, j->want, j->words ? j->words : "");
			bad++;
		}
	}
	return bad ? 1 : 0;
}

static const struct ent no_entries[1];
static const struct ent first[] = {G(GA, RD | WR), U(2005, 0), U(2002, RD)};
static const struct ent first_sorted[] = {U(2002, RD), U(2005, 0),
					  G(GA, RD | WR)};
static const struct ent second_mod[] = {U(2002, RD | WR), G(GB, RD)};
static const struct ent second_rm[] = {U(2005, RD), G(9999, 0)};
static const struct ent second[] = {U(2002, RD | WR), G(GA, RD | WR),
				    G(GB, RD)};
static const struct ent kind3[] = {{3, 1, RD}};
static const struct ent kind0[] = {{0, 1, 0}};
static const struct ent rights8[] = {G(GA, 8)};
static const struct ent nobody[] = {U(4294967295u, RD)};
static const struct ent twice[] = {U(9, RD), U(9, RD)};

static void
owner_changes_the_list(void **state)
{
	struct ent many[MANY];
	const struct row named_r = {&named, {"r"}};
	const struct row named_rw = {&named, {"rw"}};
	const struct row named_none = {&named, {"-"}};
	const struct row supp_rw = {&supp, {"rw"}};
	const struct row supp_r = {&supp, {"r"}};
	size_t i;
	int fd;

	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, FILE_POOL_CONF);
	fd = root_fd();
	EXPECT_RAW(create(fd, "owned", 0600, NULL, 0, NULL, 0), 0);
	for (i = 0; i < MANY; i++)
		many[i] = (struct ent)U(5000 + (uint32_t)i, RD);

	{
		const struct set_job jobs[] = {
			{"owned", .acl = first, .nacl = 3},
			{NULL},
		};

		expect_as(&owner, child_set, jobs, "replacing the list");
	}
	expect_acl(fd, "owned", first_sorted, 3);
	expect_as(&named, child_owned, &named_r, "user:2002:r");
	expect_as(&supp, child_owned, &supp_rw, "group:GA:rw");

	{
		const struct set_job jobs[] = {
			{"owned", .mod = second_mod, .nmod = 2,
			 .rm = second_rm, .nrm = 2},
			{NULL},
		};

		expect_as(&owner, child_set, jobs, "modifying the list");
	}
	expect_acl(fd, "owned", second, 3);
	expect_as(&named, child_owned, &named_rw, "user:2002:rw");

	{
		/* Each with a mode, which must not change either. */
		const struct set_job jobs[] = {
			{"owned", .acl = first, .nacl = 3, .mod = second_mod,
			 .nmod = 2, .mode = 0644, .want = -EINVAL,
			 .words = "either replaced whole or modified"},
			{"owned", .acl = first, .nacl = 3, .rm = second_rm,
			 .nrm = 2, .mode = 0644, .want = -EINVAL,
			 .words = "either replaced whole or modified"},
			{"owned", .acl = many, .nacl = MANY, .mode = 0644,
			 .want = -ENOSPC, .words = "at most 32"},
			/* 3 there, 30 more: 33. */
			{"owned", .mod = many, .nmod = 30, .mode = 0644,
			 .want = -ENOSPC, .words = "this would make 33"},
			{"owned", .acl = kind3, .nacl = 1, .mode = 0644,
			 .want = -EINVAL, .words = "kind 3"},
			{"owned", .mod = kind3, .nmod = 1, .mode = 0644,
			 .want = -EINVAL, .words = "kind 3"},
			{"owned", .rm = kind0, .nrm = 1, .mode = 0644,
			 .want = -EINVAL, .words = "kind 0"},
			{"owned", .acl = rights8, .nacl = 1, .mode = 0644,
			 .want = -EINVAL, .words = "rights 0x8"},
			{"owned", .mod = nobody, .nmod = 1, .mode = 0644,
			 .want = -EINVAL, .words = "nobody's"},
			{"owned", .acl = twice, .nacl = 2, .mode = 0644,
			 .want = -EINVAL, .words = "user 9 is given twice"},
			{"owned", .mod = twice, .nmod = 2, .mode = 0644,
			 .want = -EINVAL, .words = "user 9 is given twice"},
			/* The list is the owner's, the quota is not. */
			{"owned", .acl = first, .nacl = 3, .quota = true,
			 .want = -EPERM, .words = "quotas"},
			{NULL},
		};

		expect_as(&owner, child_set, jobs, "bad changes");
	}
	expect_acl(fd, "owned", second, 3);
	assert_int_equal(mode_of(fd, "owned"), 0600);

	{
		/* Not the owner: not even a uid the list lets write. */
		const struct set_job jobs[] = {
			{"owned", .acl = no_entries, .nacl = 0,
			 .want = -EPERM,
			 .words = "needs admin rights or its ownership"},
			{"owned", .rm = second, .nrm = 1, .want = -EPERM,
			 .words = "needs admin rights or its ownership"},
			{NULL},
		};

		expect_as(&named, child_set, jobs, "a writer's changes");
		expect_as(&stranger, child_set, jobs, "a stranger's changes");
	}
	expect_acl(fd, "owned", second, 3);

	{
		/* An empty list: none. */
		const struct set_job jobs[] = {
			{"owned", .acl = no_entries, .nacl = 0},
			{NULL},
		};

		expect_as(&owner, child_set, jobs, "emptying the list");
	}
	expect_acl(fd, "owned", NULL, 0);
	expect_as(&named, child_owned, &named_none, "no list");
	{
		/* The owner's pool: its mode still, and a list again. */
		const struct set_job jobs[] = {
			{"owned", .mod = no_entries, .nmod = 0,
			 .rm = no_entries, .nrm = 0, .mode = 0604},
			{"owned", .mod = second_mod + 1, .nmod = 1},
			{NULL},
		};

		expect_as(&owner, child_set, jobs, "the mode and a list");
	}
	expect_acl(fd, "owned", second_mod + 1, 1);
	expect_as(&supp, child_owned, &supp_r, "group:GB:r");
	expect_as(&named, child_owned, &named_r, "other's r");

	{
		/* The file's pool: the file's to say, even to root. */
		const struct set_job jobs[] = {
			{"filed", .acl = first, .nacl = 3, .want = -EROFS,
			 .words = "configuration file"},
			{NULL},
		};

		expect_as(&root, child_set, jobs, "the file's pool");
	}
	expect_acl(fd, "filed", NULL, 0);
	close(fd);
}

/* ---- a handle opened before ---------------------------------------------- */

struct hold {
	int ready, go;		/* pipe ends: written once open, read to go */
};

/* A byte pattern of block number k, to see each block's own bytes kept. */
static void
hold_fill(uint8_t *b, size_t len, int k)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 13 + (size_t)k);
}

static bool
hold_kept(const uint8_t *b, size_t len, int k)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (uint8_t)(i * 13 + (size_t)k))
			return false;
	return true;
}

/* In the child of uid 2002: through the library, as an application. */
static int
child_hold(int fd, const void *arg)
{
	const struct hold *h = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL, *q = NULL;
	struct pool_stats st;
	pool_off_t a, b;
	char byte = 'o';

	(void)fd;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "tight", &p), 0, 11);
	CHECK_RC(pool_alloc(p, 4096, &a), 0, 12);
	hold_fill(pool_ptr(p, a), 4096, 1);
	CHECK(harness_write_full(h->ready, &byte, 1) == 0, 13);
	CHECK(harness_read_full(h->go, &byte, 1) == 0, 14);

	/* The list refuses this uid now; what it holds still works. */
	CHECK_RC(pool_alloc(p, 4096, &b), 0, 20);
	hold_fill(pool_ptr(p, b), 4096, 2);
	CHECK(hold_kept(pool_ptr(p, a), 4096, 1), 21);
	CHECK(hold_kept(pool_ptr(p, b), 4096, 2), 22);
	CHECK_RC(pool_free(p, a), 0, 23);
	CHECK_RC(pool_free(p, b), 0, 24);

	CHECK_RC(pool_open(c, "tight", &q), -EACCES, 30);
	CHECK_RC(pool_open_readonly(c, "tight", &q), -EACCES, 31);
	CHECK_RC(pool_stats_by_name(c, "tight", &st), -EACCES, 32);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
open_handle_outlives_tightening(void **state)
{
	static const struct ent writer[] = {U(2002, RD | WR)};
	static const struct ent out[] = {U(2002, 0)};
	const struct set_job jobs[] = {
		{"tight", .mod = out, .nmod = 1},
		{NULL},
	};
	int ready[2], go[2], fd;
	struct hold h;
	char byte;

	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, "");
	fd = root_fd();
	EXPECT_RAW(create(fd, "tight", 0600, writer, 1, NULL, 0), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	h.ready = ready[1];
	h.go = go[0];
	waiting_kid = spawn_as(&named, child_hold, &h, false);
	close(ready[1]);
	close(go[0]);
	if (harness_read_full(ready[0], &byte, 1) != 0)
		fail_msg("the writer did not open the pool (exit %d)",
			 harness_wait(waiting_kid));

	expect_as(&owner, child_set, jobs, "refusing the writer");
	expect_acl(fd, "tight", out, 1);
	harness_expect_logged(&d, "pool tight set by uid 2001: acl "
			      "user:2002:rw -> user:2002:-");

	assert_int_equal(harness_write_full(go[1], &byte, 1), 0);
	assert_int_equal(harness_wait(waiting_kid), 0);
	waiting_kid = 0;
	close(ready[0]);
	close(go[1]);
	close(fd);
}

/* ---- the words of a refusal --------------------------------------------- */

#define CROWD_GID	1000000000u
#define CROWD		16
#define LONG_NAME	"refused-by-sixteen-groups-with-ids-of-ten-digits-" \
			"each-0123456789"

static const struct who crowd = {
	"crowd", 2008, 2008,
	{CROWD_GID, CROWD_GID + 1, CROWD_GID + 2, CROWD_GID + 3,
	 CROWD_GID + 4, CROWD_GID + 5, CROWD_GID + 6, CROWD_GID + 7,
	 CROWD_GID + 8, CROWD_GID + 9, CROWD_GID + 10, CROWD_GID + 11,
	 CROWD_GID + 12, CROWD_GID + 13, CROWD_GID + 14, CROWD_GID + 15},
	CROWD,
};

/* 0 if every "group:" in words is a whole entry of the crowd's list. */
static int
entries_whole(const char *words)
{
	const char *at = words;
	unsigned long id;
	char *end;

	while ((at = strstr(at, "group:"))) {
		at += strlen("group:");
		id = strtoul(at, &end, 10);
		if (id < CROWD_GID || id >= CROWD_GID + CROWD ||
		    strncmp(end, ":-", 2) != 0 ||
		    (end[2] != '\0' && end[2] != ',' && end[2] != ' ')) {
			print_error("a cut entry at \"%s\" in \"%s\"\n",
				    at - strlen("group:"), words);
			return 1;
		}
	}
	return 0;
}

static int
child_crowd(int fd, const void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	char why[1024];
	size_t len;
	int rc;

	(void)arg;
	ref.name = (char *)LONG_NAME;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	if ((rc = ask(fd, &req, NULL, why, sizeof(why))) != -EACCES) {
		print_error("stats of %s: %d, not -EACCES\n", LONG_NAME, rc);
		return 1;
	}
	len = strlen(why);
	if (len > 255 || !strstr(why, "the group class: group:")) {
		print_error("the refusal (%zu bytes): \"%s\"\n", len, why);
		return 1;
	}
	if (entries_whole(why))
		return 1;
	if (len < strlen(" more") ||
	    strcmp(why + len - strlen(" more"), " more") != 0) {
		print_error("no count of the entries left out: \"%s\"\n",
			    why);
		return 1;
	}
	return 0;
}

static void
refusal_names_whole_entries(void **state)
{
	struct ent e[CROWD];
	size_t i;
	int fd;

	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, "");
	fd = root_fd();
	assert_int_equal(strlen(LONG_NAME), 64);
	for (i = 0; i < CROWD; i++)
		e[i] = (struct ent)G(CROWD_GID + (uint32_t)i, 0);
	/* Other's r, which each refusing group entry keeps from it. */
	EXPECT_RAW(create(fd, LONG_NAME, 0604, e, CROWD, NULL, 0), 0);
	expect_as(&crowd, child_crowd, NULL, "the words of its refusal");
	close(fd);
}

/* ---- read from one entry, write from another ----------------------------- */

static int
child_split(int fd, const void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	char why[1024];
	int rc;

	(void)arg;
	if ((rc = open_rc(fd, "split", true)) != 0) {
		print_error("split read-only: %d, not 0\n", rc);
		return 1;
	}
	m.name = (char *)"split";
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	if ((rc = ask(fd, &req, NULL, why, sizeof(why))) != -EACCES) {
		print_error("split read-write: %d, not -EACCES\n", rc);
		return 1;
	}
	/* It may read: to say it may not would send it looking elsewhere. */
	if (strstr(why, "not readable for") || strstr(why, "not writable for") ||
	    !strstr(why, "readable and writable by one rule") ||
	    !strstr(why, "group:3001:r, group:3002:w")) {
		print_error("the refusal: \"%s\"\n", why);
		return 1;
	}
	return 0;
}

static void
split_rights_refused_in_words(void **state)
{
	int fd;

	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, "");
	fd = root_fd();
	EXPECT_RAW(create(fd, "split", 0600, group_entries, 2, NULL, 0), 0);
	expect_as(&supp, child_split, NULL, "read from GA, write from GB");
	close(fd);
}

/* ---- the file's list -------------------------------------------------- */

/* A pool any uid may read, but for the one the file's list refuses. */
#define GUARDED_CONF	"[pool guarded]\nsize = 1M\nmode = 0644\n" \
			"acl = user:2006:-\n"

static int
child_guarded(int fd, const void *arg)
{
	int rc = open_rc(fd, "guarded", true);

	(void)arg;
	if (rc != -EACCES) {
		print_error("uid 2006 opened guarded read-only: %d\n", rc);
		return 1;
	}
	return 0;
}

static void
second_acl_line_refused(void **state)
{
	(void)state;
	skip_unless_root();
	harness_fixture_start(&d, GUARDED_CONF);
	expect_as(&refused, child_guarded, NULL, "the file's refusal");
	/*
	 * The operator means to add a group, and writes a second key where
	 * an indented line would have added to the first.
	 */
	assert_int_equal(harness_reload_with(&d, GUARDED_CONF
					     "acl = group:3001:r\n"), 0);
	harness_expect_logged(&d, "acl given twice in [pool guarded] (first "
			      "on line ");
	harness_expect_logged(&d, "keeping the running configuration");
	expect_as(&refused, child_guarded, NULL, "the file's refusal kept");
}

/* ---- supplementary groups the kernel would not say -------------------- */

/*
 * Run as a stranger (uid 2005, in no group the pools name) whose
 * connection's supplementary groups the daemon could not learn: each
 * pool's open for reading, against what failing closed gives.
 */
static int
child_unknown_groups(int fd, const void *arg)
{
	static const struct {
		const char *pool;
		int rc;
	} want[] = {
		/* The pool's group grants as much as other: it may read. */
		{"plain-0644", 0},
		/* A refusing group entry it may be in: refused. */
		{"group-refuses", -EACCES},
		/* The pool's group grants less than other: refused. */
		{"group-less", -EACCES},
	};
	size_t i;
	int rc, bad = 0;

	(void)arg;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if ((rc = open_rc(fd, want[i].pool, true)) != want[i].rc) {
			print_error("unknown groups: %s read-only: %d, not %d\n",
				    want[i].pool, rc, want[i].rc);
			bad = 1;
		}
	return bad;
}

static void
unknown_groups_fail_closed(void **state)
{
	char *saved;
	int fd;

	(void)state;
	skip_unless_root();
	saved = harness_preload("fail_peergroups.so");
	setenv("POOLMGR_FAIL_PEERGROUPS", "1", 1);
	harness_fixture_start(&d, "");
	unsetenv("POOLMGR_FAIL_PEERGROUPS");
	harness_preload_off(saved);
	fd = root_fd();
	EXPECT_RAW(create(fd, "plain-0644", 0644, NULL, 0, NULL, 0), 0);
	EXPECT_RAW(create(fd, "group-refuses", 0644, group_refuses, 1, NULL,
			  0), 0);
	EXPECT_RAW(create(fd, "group-less", 0604, NULL, 0, NULL, 0), 0);
	expect_as(&stranger, child_unknown_groups, NULL,
		  "opens with its groups unknown");
	close(fd);
	assert_true(harness_log_count(&d, "SO_PEERGROUPS: Protocol not "
				      "available; its supplementary groups "
				      "are unknown") > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(rights_follow_the_rules, teardown),
		cmocka_unit_test_teardown(owner_changes_the_list, teardown),
		cmocka_unit_test_teardown(unknown_groups_fail_closed,
					  teardown),
		cmocka_unit_test_teardown(open_handle_outlives_tightening,
					  teardown),
		cmocka_unit_test_teardown(refusal_names_whole_entries,
					  teardown),
		cmocka_unit_test_teardown(second_acl_line_refused, teardown),
		cmocka_unit_test_teardown(split_rights_refused_in_words,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

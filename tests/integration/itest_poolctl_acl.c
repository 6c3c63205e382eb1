/*
 * itest_poolctl_acl.c - poolctl and pools' access control lists, against
 * a real daemon (docs/poolctl.md, `acl`).
 *
 *   create --acl makes the pool with its list (the library reads it back);
 *   `acl POOL` lists it getfacl's way, names where the databases have
 *   them, numbers where not (numbers only under -n, as getfacl -n;
 *   -n beside a change is a usage error), and as --json and --format=kv;
 *   -m and -x in one request; --set none and set --acl; --json of a
 *   change and of create, and --format=json of a change, the same;
 *   bad entries (no such user, no rights, x, a removal with rights, an
 *   empty word, a user twice, a name with a colon, --set with -m,
 *   prometheus): exit 2 before
 *   connecting, in pool_acl_parse's words, the list unchanged;
 *   no such pool (exit 1);
 *   another uid: refused a change (exit 77, the daemon's words, nothing
 *   changed) and a listing it may not read; the pool's owner, no admin,
 *   may change its list;
 *   stats: the "access control list" line (names; numbers under -n),
 *   kv's acl (numbers), JSON's array;
 *   list: a "+" after the mode of a pool with a list, as ls -l marks a
 *   file's, the columns still in step; acl_entries beside the mode in
 *   list's JSON and stats' kv and JSON, and a gauge of its own in
 *   Prometheus (which has no place for the list itself);
 *   stats of every pool asks the list of each pool with one, and of no
 *   other (the daemon's count of requests says so), each pool still
 *   shown with its list or "none";
 *   a group whose members take more than 16 KiB in the group database
 *   (bound over /etc/group in a mount namespace of poolctl's own) is
 *   named in acl's text and JSON and in stats, as any other;
 *   names the databases hold (bound over in a mount namespace of
 *   poolctl's own) that would not read back as their ids (a comma, a
 *   blank, digits, one name on two uids, a group's the same) are numbers
 *   in acl's getfacl lines and in stats' list, and so is a name the
 *   terminal would see changed (not ASCII); what acl prints, given back
 *   to acl --set, makes the same list;
 *   entries that change nothing (a user entry for uid 0 or the pool's
 *   owner) are sent all the same, by create --acl, set --acl, acl -m
 *   and acl --set, each with a note on stderr saying why, and exit 0; a
 *   group entry for the pool's group and other users' entries get none;
 *   create's and set's --json name the owner and group beside their
 *   numbers; with a daemon of uid 4242 (setpriv), an entry for 4242 gets
 *   the daemon's uid's note, one for root root's;
 *   and that the list holds: a process of a uid an entry names opens the
 *   pool as the entry allows (rw, r only, and "-" refusing what the
 *   other bits would give), of a gid a group entry names likewise.
 *   A daemon older than lists (a fake here, whose HelloReply lacks
 *   features bit 9): acl and its changes exit 1 saying so, with nothing
 *   asked; create --acl is refused rather than make a pool without its
 *   list; stats shows what it always did, and no list.
 *   A daemon with lists that refuses one pool's list after listing it
 *   (a fake again: the real one lists only what the caller may read,
 *   and a change between the listing and the request is a race):
 *   stats of every pool shows that pool's figures without a list, the
 *   other's with its list, and exits 0; statistics that count more
 *   entries than a list may hold are -EPROTO to the library.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_ids.h"
#include "poolclient.h"

#define OUT_MAX 65536

#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_NOPERM	77

/* Uids and gids for the processes of other users: no account needed. */
#define OTHER_UID	4242
#define OTHER_GID	4243
#define THIRD_UID	4244

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	char out[OUT_MAX];
	char err[4096];
	pid_t fake;		/* a fake daemon, if running */
};

static struct fixture fx;

static void
start(void)
{
	assert_int_equal(harness_start(&fx.d, NULL), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
}

static int
teardown(void **state)
{
	(void)state;
	if (fx.fake > 0) {
		kill(fx.fake, SIGKILL);
		harness_wait(fx.fake);
		fx.fake = 0;
	}
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	return 0;
}

#define ctl(...) harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out), \
				 fx.err, sizeof(fx.err), __VA_ARGS__)

#define expect(cond, what)						\
	do {								\
		if (!(cond))						\
			fail_msg("%s\n--- stdout:\n%s--- stderr:\n%s", what, \
				 fx.out, fx.err);			\
	} while (0)

static void
expect_exit(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
			 what, got, want, fx.out, fx.err);
}

/* The pool's list, as the library reads it, in numbers ("none"). */
static const char *
acl_now(const char *pool)
{
	static char words[1024];
	struct pool_acl_entry e[POOL_ACL_MAX];
	int n = pool_acl_get(fx.conn, pool, e, POOL_ACL_MAX);

	if (n < 0)
		fail_msg("pool_acl_get(%s): %s", pool, pool_strerror(n));
	assert_true(pool_acl_format(e, (size_t)n, 0, words, sizeof(words)) >
		    0);
	return words;
}

static void
expect_acl(const char *pool, const char *want, const char *what)
{
	const char *got = acl_now(pool);

	if (strcmp(got, want) != 0)
		fail_msg("%s: the list of %s is %s, want %s\n--- stderr:\n%s",
			 what, pool, got, want, fx.err);
}

/* A user's or group's name, or its number where the database has none. */
static const char *
who(bool user, uint32_t id)
{
	static char buf[4][64];	/* four may be in one printf */
	static int k;
	struct passwd *pw;
	struct group *gr;
	char *b = buf[k++ & 3];

	if (user && (pw = getpwuid(id)) != NULL)
		snprintf(b, sizeof(buf[0]), "%s", pw->pw_name);
	else if (!user && (gr = getgrgid(id)) != NULL)
		snprintf(b, sizeof(buf[0]), "%s", gr->gr_name);
	else
		snprintf(b, sizeof(buf[0]), "%u", (unsigned)id);
	return b;
}

/* The name of uid 65534 ("nobody"), or the test is skipped. */
static const char *
nobody_name(void)
{
	static char name[64];
	struct passwd *pw = getpwuid(65534);

	if (pw == NULL) {
		printf("acl: no user of uid 65534: names not tested\n");
		skip();
	}
	/* getpwuid's answer is overwritten by the next look-up (who). */
	snprintf(name, sizeof(name), "%s", pw->pw_name);
	return name;
}

/* ---- poolctl as another uid ------------------------------------------- */

struct as_other {
	const char *args;	/* poolctl's arguments, a shell line */
	int out, err;		/* the write ends of two pipes */
};

static int
exec_poolctl(void *arg)
{
	struct as_other *a = arg;
	char line[1024];

	if (dup2(a->out, 1) == -1 || dup2(a->err, 2) == -1)
		return 125;
	snprintf(line, sizeof(line), "exec %s/poolctl %s", harness_build(),
		 a->args);
	execl("/bin/sh", "sh", "-c", line, (char *)NULL);
	return 127;
}

static void
read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

/* Run poolctl ARGS as uid:gid; output in fx.out and fx.err; exit code. */
static int
ctl_as(uid_t uid, gid_t gid, const char *args)
{
	struct as_other a = {.args = args};
	int fds[2], efds[2], rc;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(efds), 0);
	a.out = fds[1];
	a.err = efds[1];
	pid = harness_spawn_as(uid, gid, exec_poolctl, &a);
	close(fds[1]);
	close(efds[1]);
	assert_true(pid > 0);
	read_all(fds[0], fx.out, sizeof(fx.out));
	read_all(efds[0], fx.err, sizeof(fx.err));
	rc = harness_wait(pid);
	printf("poolctl: as uid %u: `poolctl %s` -> %d\n", (unsigned)uid, args,
	       rc);
	fflush(stdout);
	return rc;
}

/* Skip unless setpriv can run this build's daemon as uid OTHER_UID. */
static void
skip_unless_other_runs_the_daemon(void)
{
	char out[512];

	harness_skip_unless_root("run the daemon as another uid");
	snprintf(out, sizeof(out), "setpriv --reuid=%d --regid=%d "
		 "--clear-groups %s/poolmgrd --version >/dev/null 2>&1",
		 OTHER_UID, OTHER_GID, harness_build());
	if (harness_run(out, NULL, 0) != 0) {
		printf("acl: uid %d cannot run %s/poolmgrd: skipping\n",
		       OTHER_UID, harness_build());
		skip();
	}
}

static void
skip_unless_others_can_run_poolctl(void)
{
	harness_skip_unless_root("run poolctl as another uid");
	if (ctl_as(OTHER_UID, OTHER_GID, "--version") != 0) {
		printf("acl: uid %d cannot run %s/poolctl: skipping\n",
		       OTHER_UID, harness_build());
		skip();
	}
}

/* ---- a group too big for a small buffer -------------------------------- */

#define BIG_GID 43210
#define BIG_MEMBERS 3000	/* "memberNNNN," each: some 33 KiB */

static int
exec_poolctl_big_group(void *arg)
{
	int rc = harness_big_group(BIG_GID, BIG_MEMBERS);

	return rc != 0 ? rc : exec_poolctl(arg);
}

/*
 * Run poolctl ARGS (as root) where the group database has pmbig; output
 * in fx.out and fx.err; its exit code, or 99 where no such database can
 * be had.
 */
static int
ctl_big_group(const char *args)
{
	struct as_other a = {.args = args};
	int fds[2], efds[2], rc;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(efds), 0);
	a.out = fds[1];
	a.err = efds[1];
	pid = harness_spawn(exec_poolctl_big_group, &a);
	close(fds[1]);
	close(efds[1]);
	assert_true(pid > 0);
	read_all(fds[0], fx.out, sizeof(fx.out));
	read_all(efds[0], fx.err, sizeof(fx.err));
	rc = harness_wait(pid);
	printf("poolctl: with a big group: `poolctl %s` -> %d\n", args, rc);
	fflush(stdout);
	return rc;
}

static void
a_big_group_is_named(void **state)
{
	(void)state;
	start();
	harness_skip_unless_root("bind a group database of its own");
	expect_exit(ctl("create cam --size 1M --acl g:%d:r", BIG_GID), 0,
		    "create cam");
	if (ctl_big_group("acl cam") == 99)
		skip();		/* no mount namespace here */
	expect(strstr(fx.out, "\ngroup:pmbig:r--\n"),
	       "acl: the big group not named");
	expect_exit(ctl_big_group("acl cam --json=short"), 0, "acl --json");
	expect(strstr(fx.out, "\"id\":43210,\"name\":\"pmbig\""),
	       "acl --json: the big group not named");
	expect_exit(ctl_big_group("stats cam"), 0, "stats");
	expect(strstr(fx.out, " group:pmbig:r\n"),
	       "stats: the big group not named");
}

/* ---- names that would not read back ----------------------------------- */

#define ODD_PASSWD							\
	"pm,comma:x:4311:4311::/:/bin/false\n"				\
	"pm blank:x:4312:4312::/:/bin/false\n"				\
	"4313:x:4314:4314::/:/bin/false\n"				\
	"pmdup:x:4318:4318::/:/bin/false\n"				\
	"pmdup:x:4319:4319::/:/bin/false\n"				\
	"pmplain:x:4323:4323::/:/bin/false\n"				\
	"pmj\303\266rg:x:4324:4324::/:/bin/false\n"
#define ODD_GROUP							\
	"pm blank:x:4331:\n"						\
	"pmgplain:x:4335:\n"

static int
exec_poolctl_odd_names(void *arg)
{
	int rc = harness_ids_bind(ODD_PASSWD, ODD_GROUP, "pmplain");

	return rc != 0 ? rc : exec_poolctl(arg);
}

/*
 * Run poolctl ARGS (as root, a shell line) where the databases hold the
 * odd names; output in fx.out and fx.err; its exit code, or 99 where no
 * such databases can be had.
 */
static int
ctl_odd_names(const char *args)
{
	struct as_other a = {.args = args};
	int fds[2], efds[2], rc;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(efds), 0);
	a.out = fds[1];
	a.err = efds[1];
	pid = harness_spawn(exec_poolctl_odd_names, &a);
	close(fds[1]);
	close(efds[1]);
	assert_true(pid > 0);
	read_all(fds[0], fx.out, sizeof(fx.out));
	read_all(efds[0], fx.err, sizeof(fx.err));
	rc = harness_wait(pid);
	printf("poolctl: with odd names: `poolctl %s` -> %d\n", args, rc);
	fflush(stdout);
	return rc;
}

static void
odd_names_read_back(void **state)
{
	char args[512], list[256];

	(void)state;
	start();
	harness_skip_unless_root("bind password and group databases of its "
				 "own");
	expect_exit(ctl("create cam --size 1M --acl u:4311:r,u:4312:r,"
			"u:4314:r,u:4318:r,u:4319:r,u:4323:rw,u:4324:r,"
			"g:4331:r,g:4335:w"), 0, "create cam");
	expect_exit(ctl("create cam2 --size 1M"), 0, "create cam2");
	if (ctl_odd_names("acl cam") == 99)
		skip();		/* no mount namespace, or NSS before files */
	expect(strstr(fx.out, "\nuser::rw-\nuser:4311:r--\nuser:4312:r--\n"
			      "user:4314:r--\nuser:pmdup:r--\nuser:4319:r--\n"
			      "user:pmplain:rw-\nuser:4324:r--\ngroup::---\n"
			      "group:4331:r--\ngroup:pmgplain:-w-\n"),
	       "acl: not numbers for the names that would not read back");
	expect_exit(ctl_odd_names("stats cam"), 0, "stats");
	expect(strstr(fx.out, "  access control list  user:4311:r,user:4312:r,"
			      "user:4314:r,user:pmdup:r,user:4319:r,"
			      "user:pmplain:rw,user:4324:r,"
			      "group:4331:r,group:pmgplain:w\n"),
	       "stats: not numbers for the names that would not read back");

	/* acl's entry lines, given back, make the same list. */
	snprintf(args, sizeof(args), "acl cam2 --set \"$(%s/poolctl acl cam | "
		 "grep -v -e '^#' -e '::')\"", harness_build());
	expect_exit(ctl_odd_names(args), 0, "acl --set of what acl printed");
	snprintf(list, sizeof(list), "%s", acl_now("cam"));
	expect_acl("cam2", list, "acl --set of what acl printed");
}

/* ---- a process of another uid opens the pool --------------------------- */

struct opener {
	const char *sock, *pool;
	bool read_only;
};

/* 0 opened; 1 refused (-EACCES); 2 anything else. */
static int
open_main(void *arg)
{
	struct opener *o = arg;
	struct pool_conn *c;
	struct pool *p;
	int rc;

	if (pool_connect(o->sock, &c) != 0)
		return 2;
	rc = o->read_only ? pool_open_readonly(c, o->pool, &p) :
			    pool_open(c, o->pool, &p);
	if (rc == 0)
		pool_close(p);
	pool_disconnect(c);
	if (rc != 0 && rc != -EACCES)
		fprintf(stderr, "open %s: %s\n", o->pool, pool_strerror(rc));
	return rc == 0 ? 0 : rc == -EACCES ? 1 : 2;
}

/* Can uid:gid open pool (read-only or read-write)?  true or false. */
static bool
opens_as(uid_t uid, gid_t gid, const char *pool, bool read_only)
{
	struct opener o = {fx.d.sock, pool, read_only};
	pid_t pid = harness_spawn_as(uid, gid, open_main, &o);
	int rc;

	assert_true(pid > 0);
	rc = harness_wait(pid);
	if (rc != 0 && rc != 1)
		fail_msg("open %s as uid %u: exit %d", pool, (unsigned)uid, rc);
	return rc == 0;
}

/* ---- the tests -------------------------------------------------------- */

static void
create_and_list_in_every_format(void **state)
{
	const char *nobody;
	char want[1024], acl[256];

	(void)state;
	nobody = nobody_name();
	start();
	snprintf(acl, sizeof(acl), "user:%s:r,group:%d:rw,u:%d:-", nobody,
		 OTHER_GID, OTHER_UID);
	expect_exit(ctl("create cam --size 1M --mode 0640 --acl %s", acl), 0,
		    "create --acl");
	expect_acl("cam", "user:4242:-,user:65534:r,group:4243:rw",
		   "create --acl");

	expect_exit(ctl("acl cam"), 0, "acl");
	snprintf(want, sizeof(want),
		 "# pool: cam\n# owner: %s\n# group: %s\n"
		 "user::rw-\nuser:%s:---\nuser:%s:r--\n"
		 "group::r--\ngroup:%s:rw-\nother::---\n",
		 who(true, 0), who(false, 0), who(true, OTHER_UID), nobody,
		 who(false, OTHER_GID));
	expect(strcmp(fx.out, want) == 0, "acl: not getfacl's layout");
	expect_exit(ctl("acl cam -n"), 0, "acl -n");
	expect(strcmp(fx.out, "# pool: cam\n# owner: 0\n# group: 0\n"
			      "user::rw-\nuser:4242:---\nuser:65534:r--\n"
			      "group::r--\ngroup:4243:rw-\nother::---\n") == 0,
	       "acl -n: not getfacl -n's numbers");
	expect_exit(ctl("acl cam -n -m u:7:r"), EXIT_USAGE, "acl -n -m");
	expect(strstr(fx.err, "acl: --numeric is for listing"),
	       "acl -n -m: not refused in words");
	expect_acl("cam", "user:4242:-,user:65534:r,group:4243:rw",
		   "acl -n -m changed the list");

	expect_exit(ctl("acl cam --json=short"), 0, "acl --json");
	snprintf(want, sizeof(want),
		 "{\"kind\":\"user\",\"id\":65534,\"name\":\"%s\","
		 "\"rights\":\"r\"}", nobody);
	expect(strstr(fx.out, "{\"pool\":\"cam\",") == fx.out,
	       "acl --json: not an object of the pool");
	expect(strstr(fx.out, "\"mode\":\"0640\""), "acl --json: mode");
	expect(strstr(fx.out, "\"uid\":0,") && strstr(fx.out, "\"gid\":0,"),
	       "acl --json: uid and gid");
	expect(strstr(fx.out, want), "acl --json: the entry of nobody");
	expect(strstr(fx.out, "\"rights\":\"-\"}"),
	       "acl --json: an entry that refuses");
	expect(strstr(fx.out, "{\"kind\":\"group\",\"id\":4243,"),
	       "acl --json: the group entry");

	expect_exit(ctl("acl cam --format=kv"), 0, "acl --format=kv");
	expect(strcmp(fx.out, "cam uid 0\ncam gid 0\ncam mode 0640\n"
			      "cam user.4242 -\ncam user.65534 r\n"
			      "cam group.4243 rw\n") == 0,
	       "acl --format=kv: not the lines of numbers");

	/* A create --json says the list it gave. */
	expect_exit(ctl("--json=short create cam2 --size 1M --acl u:7:rw"), 0,
		    "create --json --acl");
	expect(strstr(fx.out, "\"acl\":[{\"kind\":\"user\",\"id\":7,"),
	       "create --json: no acl");
	expect_acl("cam2", "user:7:rw", "create --acl u:7:rw");

	expect_exit(ctl("acl nope"), EXIT_FAILED, "acl of no pool");
	expect(strstr(fx.err, "no such pool: nope"), "acl of no pool: words");
}

static void
modify_remove_and_set(void **state)
{
	(void)state;
	start();
	expect_exit(ctl("create cam --size 1M --acl u:1001:r,u:1002:r,g:27:r"),
		    0, "create --acl");
	/* Both in one request: the rights of one changed, two out, one in. */
	expect_exit(ctl("acl cam -m 'user:1001:rw group:44:r' -x u:1002,g:27"),
		    0, "acl -m -x");
	expect(fx.out[0] == '\0', "a change prints nothing");
	expect_acl("cam", "user:1001:rw,group:44:r", "-m with -x");
	/* Long forms; a removal of an entry not there is no error. */
	expect_exit(ctl("acl cam --remove group:44,user:9 --modify u:1003:-"),
		    0, "acl --remove --modify");
	expect_acl("cam", "user:1001:rw,user:1003:-", "--remove --modify");

	expect_exit(ctl("--json=short acl cam -m g:5:w -x u:1003"), 0,
		    "acl --json -m -x");
	expect(strstr(fx.out, "{\"pool\":\"cam\",") == fx.out &&
	       strstr(fx.out, "\"modified\":[{\"kind\":\"group\",\"id\":5,") &&
	       strstr(fx.out, "\"removed\":[{\"kind\":\"user\",\"id\":1003,") &&
	       /* A removal has no rights: "-" would read as a refusal. */
	       !strstr(strstr(fx.out, "\"removed\""), "\"rights\""),
	       "acl --json: not what the change gave");
	expect_acl("cam", "user:1001:rw,group:5:w", "--json -m -x");

	expect_exit(ctl("acl cam --set u:8:r,g:9:rw"), 0, "acl --set");
	expect_acl("cam", "user:8:r,group:9:rw", "--set");
	expect_exit(ctl("acl cam --set none"), 0, "acl --set none");
	expect_acl("cam", "none", "--set none");

	expect_exit(ctl("set cam --acl u:10:rw --mode 0660"), 0, "set --acl");
	expect_acl("cam", "user:10:rw", "set --acl");
	expect_exit(ctl("--json=short set cam --acl none"), 0,
		    "set --acl none");
	expect(strstr(fx.out, "\"acl\":[]"), "set --json: the empty list");
	expect_acl("cam", "none", "set --acl none");
}

/*
 * --format=json is --json, for a change as for a listing: the change
 * prints what it gave, the same words; kv and text, which list, are
 * still refused beside a change.
 */
static void
a_change_takes_format_json(void **state)
{
	char by_json[OUT_MAX];

	(void)state;
	start();
	expect_exit(ctl("create cam --size 1M --acl u:1001:r"), 0,
		    "create --acl");
	expect_exit(ctl("--json acl cam -m g:5:w -x u:1001"), 0,
		    "acl --json -m -x");
	snprintf(by_json, sizeof(by_json), "%s", fx.out);
	expect_exit(ctl("acl cam -m g:5:w -x u:1001 --format=json"), 0,
		    "acl -m -x --format=json");
	expect(fx.err[0] == '\0', "acl --format=json: a complaint");
	expect(strcmp(fx.out, by_json) == 0,
	       "acl -m -x --format=json: not what --json printed");
	expect(strstr(fx.out, "\"modified\""), "--format=json: no change");
	expect_acl("cam", "group:5:w", "-m -x --format=json");

	expect_exit(ctl("acl cam --set u:8:r --format=json"), 0,
		    "acl --set --format=json");
	expect(strstr(fx.out, "\"acl\": [") && strstr(fx.out, "\"id\": 8"),
	       "acl --set --format=json: not the list it gave");
	expect_acl("cam", "user:8:r", "--set --format=json");

	expect_exit(ctl("acl cam -m u:9:r --format=kv"), EXIT_USAGE,
		    "acl -m --format=kv");
	expect(fx.out[0] == '\0' && strstr(fx.err, "--format is for listing"),
	       "acl -m --format=kv: not refused as a listing's format");
	expect_acl("cam", "user:8:r", "-m --format=kv");
}

/* args refused before connecting: exit 2, words in stderr, list kept. */
static void
expect_refused(const char *args, const char *words)
{
	char what[300];

	snprintf(what, sizeof(what), "poolctl %s", args);
	expect_exit(ctl("%s", args), EXIT_USAGE, what);
	if (!strstr(fx.err, words))
		fail_msg("%s: stderr lacks \"%s\":\n%s", what, words, fx.err);
	expect(fx.out[0] == '\0', "a refused change printed");
	expect_acl("cam", "user:1001:r", what);
}

static void
bad_entries_exit_2(void **state)
{
	struct pool_stats st;

	(void)state;
	start();
	expect_exit(ctl("create cam --size 1M --acl u:1001:r"), 0, "create");
	expect_refused("acl cam -m user:no-such-user-here:rw",
		       "acl: --modify: user:no-such-user-here: no such user");
	expect_refused("acl cam -m group:no-such-group-here:r",
		       "no such group");
	expect_refused("acl cam -m user:1002", "no rights (rw, r, w or -)");
	expect_refused("acl cam -m user:1002:rwx",
		       "x (execute) means nothing for a pool");
	expect_refused("acl cam -m other:1:r", "an entry is of a user or a "
		       "group");
	expect_refused("acl cam -x user:1001:r", "acl: --remove: user:1001:r: "
		       "a removal names the user alone, without rights");
	expect_refused("acl cam -m ''", "acl: --modify: no entries");
	expect_refused("acl cam -m none", "acl: --modify: no entries");
	/* "none" with blanks around it is still no entries to change. */
	expect_refused("acl cam -m ' none'", "acl: --modify: no entries");
	expect_refused("acl cam -x 'none,'", "acl: --remove: no entries");
	expect_refused("acl cam -x ,", "acl: --remove: no entries (user:WHO "
		       "or group:WHO, separated by commas)");
	expect_refused("acl cam --set ''", "none for an empty list");
	expect_refused("acl cam -m u:5:r,user:5:rw",
		       "acl: --modify: user 5 given twice");
	expect_refused("acl cam -m u:4294967295:r", "below 4294967295");
	/* No name holds a colon: refused as the file refuses it. */
	expect_refused("acl cam -m user:a:b:rw", "acl: --modify: user:a:b:rw: "
		       "no user name holds a colon");
	expect_refused("set cam --acl g:x:y:r", "set: --acl: g:x:y:r: no group "
		       "name holds a colon");
	expect_refused("acl cam --set none -m u:5:r",
		       "--set replaces the whole list");
	expect_refused("acl cam -m u:5:r --format=kv",
		       "--format is for listing");
	expect_refused("acl cam --format=prometheus",
		       "--format=prometheus does not apply");
	expect_refused("acl cam -m u:5:r -m u:6:r", "--modify given twice");
	expect_refused("set cam --acl u:5", "set: --acl: u:5: no rights");
	expect_refused("acl cam --acl u:5:r", "option --acl does not apply");
	expect_exit(ctl("create cam3 --size 1M --acl g:5:r,g:5:w"), EXIT_USAGE,
		    "create --acl with a group twice");
	expect(strstr(fx.err, "create: --acl: group 5 given twice"),
	       "create --acl: twice");
	expect(pool_stats_by_name(fx.conn, "cam3", &st) == -ENOENT,
	       "a refused create made the pool");
	/* 33 entries: more than a list holds, said before asking. */
	{
		char many[33 * 12 + 1] = "";
		size_t i;

		for (i = 0; i < 33; i++)
			snprintf(many + strlen(many), sizeof(many) -
				 strlen(many), "%su:%zu:r", i ? "," : "",
				 i + 100);
		expect_exit(ctl("acl cam --set %s", many), EXIT_USAGE,
			    "acl --set of 33");
		expect(strstr(fx.err, "more than 32 entries"),
		       "acl --set of 33: words");
	}
	expect_acl("cam", "user:1001:r", "after the refusals");
}

static void
other_uid_refused_owner_allowed(void **state)
{
	(void)state;
	start();
	skip_unless_others_can_run_poolctl();
	expect_exit(ctl("create cam --size 1M --mode 0644 --acl u:1001:r"), 0,
		    "create cam");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "acl cam -m u:4242:rw"),
		    EXIT_NOPERM, "acl -m by another uid");
	expect(strstr(fx.err, "poolctl: cannot change the list of pool cam: "
			      "not permitted"),
	       "acl -m by another uid: poolctl's words");
	expect(strstr(fx.err, "poolmgrd says: "),
	       "acl -m by another uid: the daemon's words");
	expect_acl("cam", "user:1001:r", "a refused change");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "acl cam --set none"),
		    EXIT_NOPERM, "acl --set by another uid");
	expect_acl("cam", "user:1001:r", "a refused --set");
	/* It may read the list of a pool it may read (0644). */
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "acl cam --format=kv"), 0,
		    "acl by another uid with read right");
	expect(strstr(fx.out, "cam user.1001 r\n"), "acl as another uid");

	/* Of a pool it may not read: refused, 77. */
	expect_exit(ctl("create shut --size 1M --mode 0600"), 0, "create shut");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "acl shut"), EXIT_NOPERM,
		    "acl of a 0600 pool by another uid");
	/*
	 * Refused by its entry, though the mode's other bits would let it
	 * read: the words do not blame the mode alone.
	 */
	expect_exit(ctl("create barred --size 1M --mode 0606 --acl u:%d:-",
			OTHER_UID), 0, "create barred");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "stats barred"), EXIT_NOPERM,
		    "stats of a pool whose list refuses");
	expect(strstr(fx.err, "poolctl: stats barred: permission denied by "
			      "the pool's mode or access control list; "),
	       "stats refused by a list: poolctl's words");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "acl barred"), EXIT_NOPERM,
		    "acl of a pool whose list refuses");
	expect(strstr(fx.err, "poolctl: acl barred: permission denied by "
			      "the pool's mode or access control list; "),
	       "acl refused by a list: poolctl's words");

	/* The owner, no admin, changes its own pool's list. */
	expect_exit(ctl("create mine --size 1M --owner %d --group %d",
			OTHER_UID, OTHER_GID), 0, "create mine");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID,
			   "acl mine -m u:4244:r,g:4243:rw"), 0,
		    "acl -m by the owner");
	expect_acl("mine", "user:4244:r,group:4243:rw", "the owner's change");
	expect_exit(ctl_as(OTHER_UID, OTHER_GID, "set mine --acl none"), 0,
		    "set --acl by the owner");
	expect_acl("mine", "none", "the owner's set --acl");
}

/* The note poolctl gives of entry (words) that changes nothing. */
static void
expect_note(const char *entry, const char *why, const char *what)
{
	char want[256];

	snprintf(want, sizeof(want), "poolctl: note: %s changes nothing: %s",
		 entry, why);
	if (!strstr(fx.err, want))
		fail_msg("%s: no note \"%s\"\n--- stderr:\n%s", what, want,
			 fx.err);
}

static void
idle_entries_noted(void **state)
{
	char root_why[128], owner_why[128], user[64], group[64];
	char *notes;

	(void)state;
	start();
	/* Root's entry and the owner's; the pool's group's and 4244's not. */
	expect_exit(ctl("create cam --size 1M --owner %d --group 0 --mode 0600 "
			"--acl u:0:r,u:%d:rw,g:0:rw,u:%d:r", OTHER_UID,
			OTHER_UID, THIRD_UID), 0, "create --acl");
	snprintf(root_why, sizeof(root_why), "%s (uid 0) has every right to "
		 "every pool, whatever its list says", who(true, 0));
	snprintf(owner_why, sizeof(owner_why), "%s owns pool cam, whose mode "
		 "decides the owner's access", who(true, OTHER_UID));
	snprintf(user, sizeof(user), "user:%s:r", who(true, 0));
	expect_note(user, root_why, "create --acl");
	snprintf(user, sizeof(user), "user:%s:rw", who(true, OTHER_UID));
	expect_note(user, owner_why, "create --acl");
	notes = fx.err;
	expect(strstr(notes, "group:") == NULL && strstr(notes, "4244") ==
	       NULL && strchr(strchr(strchr(notes, '\n') + 1, '\n') + 1,
			      '\0') == strchr(notes, '\0') &&
	       fx.out[0] == '\0',
	       "create --acl: a note beside the two, or output");
	expect_acl("cam", "user:0:r,user:4242:rw,user:4244:r,group:0:rw",
		   "create --acl: not every entry sent");

	expect_exit(ctl("acl cam -m u:%d:r", OTHER_UID), 0, "acl -m");
	snprintf(user, sizeof(user), "user:%s:r", who(true, OTHER_UID));
	expect_note(user, owner_why, "acl -m");
	expect_acl("cam", "user:0:r,user:4242:r,user:4244:r,group:0:rw",
		   "acl -m of the owner's entry: not sent");
	expect_exit(ctl("acl cam --set u:0:-"), 0, "acl --set");
	snprintf(user, sizeof(user), "user:%s:-", who(true, 0));
	expect_note(user, root_why, "acl --set");
	expect_acl("cam", "user:0:-", "acl --set of root's entry");
	/* Another user's entry, the pool's group's, a removal: no note. */
	expect_exit(ctl("acl cam -m u:%d:rw,g:0:r -x u:0", THIRD_UID), 0,
		    "acl -m -x");
	expect(fx.err[0] == '\0', "acl -m of entries that count: a note");

	/* set --acl, in JSON: the notes on stderr, the JSON whole. */
	expect_exit(ctl("--json=short set cam --acl u:%d:w --owner %d --group "
			"0", THIRD_UID, THIRD_UID), 0, "set --acl --owner");
	snprintf(owner_why, sizeof(owner_why), "%s owns pool cam, whose mode "
		 "decides the owner's access", who(true, THIRD_UID));
	snprintf(user, sizeof(user), "user:%s:w", who(true, THIRD_UID));
	expect_note(user, owner_why, "set --acl of the new owner");
	snprintf(group, sizeof(group), "\"gid\":0,\"group\":\"%s\"",
		 who(false, 0));
	expect(strstr(fx.out, "{\"pool\":\"cam\",\"set\":true,\"uid\":4244,"
			      "\"user\":null,") && strstr(fx.out, group),
	       "set --json: the owner and group not named beside numbers");
	expect_exit(ctl("--json=short create cam2 --size 1M --owner 0 "
			"--group 0"), 0, "create --json --owner");
	snprintf(user, sizeof(user), "\"uid\":0,\"user\":\"%s\"",
		 who(true, 0));
	expect(strstr(fx.out, user) && strstr(fx.out, group),
	       "create --json: the owner and group not named beside numbers");
	expect(fx.err[0] == '\0', "create without a list: a note");
}

/*
 * Start a daemon of uid OTHER_UID on fx.d: a script of the test's (in a
 * directory of its own under the build's tests/, gone once the daemon
 * runs) makes the socket's directory the daemon's, then runs it under
 * setpriv.
 */
static void
start_as_other(void)
{
	char dir[256], script[300], rm[300];
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/tests/poolmgrd-as-other.XXXXXX",
		 harness_build());
	assert_non_null(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/poolmgrd", dir);
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n"
		"# \"$3\" is the socket: its directory becomes the daemon's.\n"
		"chown %d:%d \"${3%%/*}\" || exit 126\n"
		"exec setpriv --reuid=%d --regid=%d --clear-groups "
		"%s/poolmgrd \"$@\"\n", OTHER_UID, OTHER_GID, OTHER_UID,
		OTHER_GID, harness_build());
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(script, 0755), 0);
	rc = harness_start_from(&fx.d, script, NULL);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	harness_run(rm, NULL, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
}

static void
daemon_uid_entry_noted(void **state)
{
	struct pool_daemon_stats ds;
	char why[160], user[64];

	(void)state;
	skip_unless_other_runs_the_daemon();
	start_as_other();
	EXPECT_RC(pool_daemon_stats(fx.conn, &ds), 0);
	assert_int_equal(ds.uid, OTHER_UID);

	expect_exit(ctl("create cam --size 1M --acl u:%d:r,u:0:rw,u:%d:r",
			OTHER_UID, THIRD_UID), 0, "create --acl");
	snprintf(why, sizeof(why), "%s is the daemon's uid, which has every "
		 "right to every pool, whatever its list says",
		 who(true, OTHER_UID));
	snprintf(user, sizeof(user), "user:%s:r", who(true, OTHER_UID));
	expect_note(user, why, "create --acl");
	snprintf(why, sizeof(why), "%s (uid 0) has every right to every "
		 "pool, whatever its list says", who(true, 0));
	snprintf(user, sizeof(user), "user:%s:rw", who(true, 0));
	expect_note(user, why, "create --acl");
	expect(strstr(fx.err, "4244") == NULL,
	       "create --acl: a note of another user's entry");
	expect_acl("cam", "user:0:rw,user:4242:r,user:4244:r",
		   "create --acl: not every entry sent");
}

static void
stats_shows_the_list(void **state)
{
	char line[256];
	const char *l;
	const char *nobody;

	(void)state;
	nobody = nobody_name();
	start();
	expect_exit(ctl("create cam --size 1M --acl u:65534:r,g:4243:rw"), 0,
		    "create");
	expect_exit(ctl("create bare --size 1M"), 0, "create bare");

	expect_exit(ctl("stats cam"), 0, "stats");
	l = strstr(fx.out, "  access control list ");
	expect(l, "stats: no access control list line");
	snprintf(line, sizeof(line), "user:%s:r,group:%s:rw\n", nobody,
		 who(false, OTHER_GID));
	expect(strstr(l, line) && strchr(l, '\n') == l + strlen(l) - 1,
	       "stats: not the list with names, last");
	/* The lines before it as they were; the owner by name. */
	expect(strstr(fx.out, "\n  owner                      root\n"),
	       "stats: the owner not named");
	expect(strstr(fx.out, "\n  fragmentation ") &&
	       strstr(fx.out, "\n  mode ") && strstr(fx.out, " 0600\n"),
	       "stats: the other lines changed");

	expect_exit(ctl("stats cam -n"), 0, "stats -n");
	expect(strstr(fx.out, "  access control list  "
			      "user:65534:r,group:4243:rw\n"),
	       "stats -n: the list not in numbers");

	expect_exit(ctl("stats --format=kv"), 0, "stats --format=kv");
	expect(strstr(fx.out, "cam acl user:65534:r,group:4243:rw\n"),
	       "stats kv: the list in numbers");
	expect(strstr(fx.out, "bare acl none\n"), "stats kv: no list is none");

	expect_exit(ctl("stats bare --json=short"), 0, "stats --json");
	expect(strstr(fx.out, "\"acl\":[]"), "stats --json: an empty array");
	expect_exit(ctl("stats cam --json=short"), 0, "stats --json");
	expect(strstr(fx.out, "\"acl\":[{\"kind\":\"user\",\"id\":65534,"),
	       "stats --json: the array");

	/* The count as a gauge, never the entries: no place for a list. */
	expect_exit(ctl("stats --format=prometheus"), 0, "stats prometheus");
	expect(!strstr(fx.out, "acl{") && !strstr(fx.out, "user:") &&
	       !strstr(fx.out, "4243"), "stats prometheus: the list");
}

/* The line of out that starts with word and a blank, or NULL. */
static const char *
line_of(const char *out, const char *word)
{
	size_t n = strlen(word);
	const char *l;

	for (l = out; l != NULL && *l != '\0'; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (strncmp(l, word, n) == 0 && l[n] == ' ')
			return l;
	}
	return NULL;
}

/* The column just past the word at field k (from 0) of line l. */
static size_t
field_end(const char *l, int k)
{
	size_t i = 0;

	for (;;) {
		i += strspn(l + i, " ");
		i += strcspn(l + i, " \n");
		if (k-- == 0)
			return i;
	}
}

static void
list_marks_pools_with_lists(void **state)
{
	const char *head, *cam, *bare;

	(void)state;
	start();
	expect_exit(ctl("create cam --size 1M --mode 0640 --acl "
			"u:%d:r,g:%d:rw", OTHER_UID, OTHER_GID), 0, "create cam");
	expect_exit(ctl("create bare --size 1M --mode 0600"), 0,
		    "create bare");

	expect_exit(ctl("list"), 0, "list");
	head = line_of(fx.out, "NAME");
	cam = line_of(fx.out, "cam");
	bare = line_of(fx.out, "bare");
	expect(head && cam && bare, "list: a line is missing");
	expect(strncmp(head, "NAME MODE ", 10) == 0,
	       "list: no MODE column after NAME");
	expect(strncmp(cam, "cam  0640+ ", 11) == 0,
	       "list: cam's mode without its +");
	expect(strncmp(bare, "bare 0600  ", 11) == 0,
	       "list: bare's mode not as it was, or marked");
	/* Every column ends where its heading does: SIZE to CLIENTS. */
	/* (Sizes are two words, "1.0 MiB" and "0 B".) */
	expect(field_end(head, 2) == field_end(cam, 3) &&
	       field_end(head, 2) == field_end(bare, 3) &&
	       field_end(head, 6) == field_end(cam, 8) &&
	       field_end(head, 6) == field_end(bare, 8),
	       "list: the columns out of step");

	expect_exit(ctl("list --json=short"), 0, "list --json");
	expect(strstr(fx.out, "\"mode\":\"0640\",\"acl_entries\":2,"),
	       "list --json: cam's acl_entries not beside its mode");
	expect(strstr(fx.out, "\"mode\":\"0600\",\"acl_entries\":0,"),
	       "list --json: bare's acl_entries not 0");

	expect_exit(ctl("stats --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "\ncam mode 0640\ncam acl_entries 2\n") &&
	       strstr(fx.out, "\nbare mode 0600\nbare acl_entries 0\n"),
	       "stats kv: acl_entries not beside the mode");
	expect_exit(ctl("stats cam --json=short"), 0, "stats --json");
	expect(strstr(fx.out, "\"mode\":\"0640\",\"acl_entries\":2,"),
	       "stats --json: acl_entries not beside the mode");
	expect_exit(ctl("stats --format=prometheus"), 0, "stats prometheus");
	expect(strstr(fx.out, "\n# TYPE poolmgr_pool_acl_entries gauge\n") &&
	       strstr(fx.out, "\npoolmgr_pool_acl_entries{pool=\"cam\"} 2\n")
	       && strstr(fx.out, "\npoolmgr_pool_acl_entries{pool=\"bare\"} "
			 "0\n"), "stats prometheus: the lists' counts");
}

/* Requests `poolctl ARGS` made beyond those of `poolctl list`; its
 * output in fx.out and fx.err. */
static uint64_t
requests_beyond_list(const char *args)
{
	return harness_poolctl_requests_beyond_list(&fx.d, fx.conn, args,
						    fx.out, sizeof(fx.out),
						    fx.err, sizeof(fx.err));
}

static void
stats_asks_only_lists(void **state)
{
	uint64_t extra;

	(void)state;
	start();
	expect_exit(ctl("create a --size 1M --acl u:%d:r", OTHER_UID), 0,
		    "create a");
	expect_exit(ctl("create b --size 1M"), 0, "create b");
	expect_exit(ctl("create c --size 1M"), 0, "create c");
	expect_exit(ctl("create d --size 1M --acl g:%d:rw,u:%d:r", OTHER_GID,
			THIRD_UID), 0, "create d");

	/* b and c have no list: they are asked nothing. */
	extra = requests_beyond_list("stats -n");
	if (extra != 2)
		fail_msg("stats: %llu requests beyond the listing, want 2 (the "
			 "lists of a and d)", (unsigned long long)extra);
	expect(strstr(fx.out, "pool a\n") && strstr(fx.out, "pool c\n"),
	       "stats: a pool missing");
	expect(strstr(fx.out, "  access control list  user:4242:r\n"),
	       "stats: a's list");
	expect(strstr(fx.out, "  access control list  "
			      "user:4244:r,group:4243:rw\n"), "stats: d's list");
	expect(strstr(fx.out, "pool b\n") &&
	       strstr(strstr(fx.out, "pool b\n"), "list       none\n") <
	       strstr(fx.out, "pool c\n"), "stats: b's list not none");

	extra = requests_beyond_list("stats --format=kv");
	if (extra != 2)
		fail_msg("stats kv: %llu requests beyond the listing, want 2",
			 (unsigned long long)extra);
	expect(strstr(fx.out, "b acl none\n") && strstr(fx.out, "c acl none\n")
	       && strstr(fx.out, "a acl user:4242:r\n"),
	       "stats kv: the lists");

	/* One pool with a list: its own request, as before. */
	expect_exit(ctl("stats d -n"), 0, "stats d");
	expect(strstr(fx.out, "user:4244:r,group:4243:rw\n"), "stats d");
	/* With no list anywhere shown, one request says the daemon has them. */
	expect_exit(ctl("acl a --set none"), 0, "acl a --set none");
	expect_exit(ctl("acl d --set none"), 0, "acl d --set none");
	extra = requests_beyond_list("stats --format=kv");
	if (extra != 1)
		fail_msg("stats kv without lists: %llu requests beyond the "
			 "listing, want 1", (unsigned long long)extra);
	expect(strstr(fx.out, "a acl none\n") && strstr(fx.out, "d acl none\n"),
	       "stats kv without lists: none");
}

static void
the_list_holds(void **state)
{
	(void)state;
	start();
	harness_skip_unless_root("open a pool as another uid");
	expect_exit(ctl("create cam --size 1M --mode 0600"), 0, "create");
	assert_false(opens_as(OTHER_UID, OTHER_GID, "cam", true));

	expect_exit(ctl("acl cam -m user:%d:rw", OTHER_UID), 0, "acl -m rw");
	assert_true(opens_as(OTHER_UID, OTHER_GID, "cam", false));
	assert_true(opens_as(OTHER_UID, OTHER_GID, "cam", true));
	/* Another uid is still out. */
	assert_false(opens_as(THIRD_UID, THIRD_UID, "cam", true));

	expect_exit(ctl("acl cam -m user:%d:r", OTHER_UID), 0, "acl -m r");
	assert_false(opens_as(OTHER_UID, OTHER_GID, "cam", false));
	assert_true(opens_as(OTHER_UID, OTHER_GID, "cam", true));

	expect_exit(ctl("acl cam -x user:%d", OTHER_UID), 0, "acl -x");
	assert_false(opens_as(OTHER_UID, OTHER_GID, "cam", true));

	/* A group entry: a process of that primary gid. */
	expect_exit(ctl("acl cam -m group:%d:rw", OTHER_GID), 0, "acl -m g");
	assert_true(opens_as(THIRD_UID, OTHER_GID, "cam", false));
	/* "-" refuses what the other bits of the mode would give. */
	expect_exit(ctl("set cam --mode 0666"), 0, "set --mode 0666");
	assert_true(opens_as(THIRD_UID, THIRD_UID, "cam", false));
	expect_exit(ctl("acl cam -m u:%d:-", THIRD_UID), 0, "acl -m u:-");
	assert_false(opens_as(THIRD_UID, THIRD_UID, "cam", true));
	assert_true(opens_as(OTHER_UID, OTHER_UID, "cam", false));
}

/* ---- a daemon older than lists ----------------------------------------- */

/*
 * The fake's log of what it was asked, one request name a line, so that
 * the test sees what poolctl sent: only Hello and Stats are answered,
 * anything else is refused -EOPNOTSUPP (and logged as "other").
 */
static int
old_reply(int cfd, const Poolmgr__Reply *rep)
{
	uint8_t buf[4096];
	size_t len = poolmgr__reply__get_packed_size(rep);

	if (len > sizeof(buf))
		return -1;
	poolmgr__reply__pack(rep, buf);
	return send(cfd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/*
 * A pool's statistics as the fakes send them; with lists, one entry.
 * The fake with lists (old_daemon.lists) lists pools "open" and "shut",
 * refuses a Stats of "shut", as the real daemon refuses an unreadable
 * pool's, and answers one of "lie" with a list one entry too long.
 */
static void
old_pool(Poolmgr__PoolStats *ps, Poolmgr__Acl *acl, Poolmgr__AclEntry **pe,
	 const char *name, bool lists)
{
	ps->name = (char *)name;
	ps->max_size = ps->free_bytes = ps->largest_free = 1 << 20;
	ps->granularity = 16;
	ps->page_size = 4096;
	ps->mode = 0660;
	if (lists) {
		acl->n_entries = 1;
		acl->entries = pe;
		ps->acl = acl;
	}
}

static void
old_answer(int cfd, const Poolmgr__Request *req, FILE *log, bool lists)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;
	Poolmgr__HelloReply hr = POOLMGR__HELLO_REPLY__INIT;
	Poolmgr__PoolStats ps = POOLMGR__POOL_STATS__INIT;
	Poolmgr__PoolStats shut = POOLMGR__POOL_STATS__INIT;
	Poolmgr__PoolStats *both[] = {&ps, &shut};
	Poolmgr__ListPoolsReply lr = POOLMGR__LIST_POOLS_REPLY__INIT;
	Poolmgr__Acl acl = POOLMGR__ACL__INIT;
	Poolmgr__AclEntry e = POOLMGR__ACL_ENTRY__INIT, *pe = &e;
	Poolmgr__AclEntry *too_many[POOL_ACL_MAX + 1];
	const char *name;
	size_t i;

	e.kind = POOL_ACL_USER;
	e.id = OTHER_UID;
	e.rights = POOL_ACL_READ;
	rep.id = req->id;
	switch (req->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		hr.version = 1;
		hr.max_message = 4096;
		hr.server = "poolmgrd before lists";
		hr.features = 0x1ff;	/* bits 0 to 8: all but lists */
		if (lists) {
			hr.server = "poolmgrd with lists";
			hr.features = 0x3ff;
		}
		rep.body_case = POOLMGR__REPLY__BODY_HELLO;
		rep.hello = &hr;
		break;
	case POOLMGR__REQUEST__BODY_LIST:
		if (!lists)
			goto other;
		fprintf(log, "list\n");
		old_pool(&ps, &acl, &pe, "open", true);
		old_pool(&shut, &acl, &pe, "shut", true);
		lr.n_pools = 2;
		lr.pools = both;
		rep.body_case = POOLMGR__REPLY__BODY_LIST;
		rep.list = &lr;
		break;
	case POOLMGR__REQUEST__BODY_STATS:
		name = req->stats->name != NULL ? req->stats->name : "";
		if (lists)
			fprintf(log, "stats %s\n", name);
		else
			fprintf(log, "stats\n");
		if (lists && strcmp(name, "shut") == 0) {
			rep.error = -EACCES;
			rep.message = "pool shut (mode 0600, with an access "
				      "control list) is not readable";
			break;
		}
		old_pool(&ps, &acl, &pe, lists ? name : "old", lists);
		if (lists && strcmp(name, "lie") == 0) {
			for (i = 0; i <= POOL_ACL_MAX; i++)
				too_many[i] = &e;
			acl.n_entries = POOL_ACL_MAX + 1;
			acl.entries = too_many;
		}
		rep.body_case = POOLMGR__REPLY__BODY_STATS;
		rep.stats = &ps;
		break;
	default:
	other:
		fprintf(log, "other\n");
		rep.error = -EOPNOTSUPP;
		break;
	}
	fflush(log);
	old_reply(cfd, &rep);
}

struct old_daemon {
	int lfd;
	const char *log;
	bool lists;		/* a daemon with lists (features bit 9) */
};

/* The fake: one connection at a time until the test kills it. */
static int
old_main(void *arg)
{
	struct old_daemon *o = arg;
	FILE *log = fopen(o->log, "a");
	uint8_t buf[4096];
	Poolmgr__Request *req;
	ssize_t n;
	int cfd;

	if (!log)
		return 3;
	while ((cfd = accept(o->lfd, NULL, NULL)) != -1) {
		while ((n = recv(cfd, buf, sizeof(buf), 0)) > 0) {
			req = poolmgr__request__unpack(NULL, (size_t)n, buf);
			if (!req)
				break;
			old_answer(cfd, req, log, o->lists);
			poolmgr__request__free_unpacked(req, NULL);
		}
		close(cfd);
	}
	return 0;
}

/*
 * Start a fake (with lists or not) on sock, logging to logp, both in a
 * real daemon's directory; its pid, which the teardown kills too.
 */
static pid_t
old_start(char *sock, size_t socklen, char *logp, size_t loglen, bool lists)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct old_daemon o = {.lists = lists};
	pid_t pid;

	start();
	snprintf(sock, socklen, "%s/old.sock", fx.d.dir);
	snprintf(logp, loglen, "%s/old.log", fx.d.dir);
	assert_true(strlen(sock) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	o.lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	o.log = logp;
	assert_true(o.lfd >= 0);
	assert_int_equal(bind(o.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(o.lfd, 8), 0);
	pid = harness_spawn(old_main, &o);
	close(o.lfd);
	assert_true(pid > 0);
	fx.fake = pid;
	return pid;
}

static void
daemon_without_lists(void **state)
{
	char sock[200], logp[200], log[256];
	pid_t pid;

	(void)state;
	pid = old_start(sock, sizeof(sock), logp, sizeof(logp), false);

	expect_exit(ctl("-s %s acl old", sock), EXIT_FAILED, "acl, old daemon");
	expect(strcmp(fx.err, "poolctl: acl old: this poolmgrd has no access "
			      "control lists (it is older than them)\n") == 0,
	       "acl, old daemon: not said so");
	expect(fx.out[0] == '\0', "acl, old daemon: printed");
	expect_exit(ctl("-s %s acl old -m u:1:r -x u:2", sock), EXIT_FAILED,
		    "acl -m, old daemon");
	expect(strstr(fx.err, "cannot change the list of pool old: this "
			      "poolmgrd has no access control lists"),
	       "acl -m, old daemon: not said so");
	expect_exit(ctl("-s %s create new --size 1M --acl u:1:r", sock),
		    EXIT_FAILED, "create --acl, old daemon");
	expect(strstr(fx.err, "cannot create pool new: not supported: the "
			      "daemon is too old for access control lists"),
	       "create --acl, old daemon: not said so");
	expect_exit(ctl("-s %s set old --acl u:1:r", sock), EXIT_FAILED,
		    "set --acl, old daemon");
	expect(strstr(fx.err, "too old for access control lists"),
	       "set --acl, old daemon: not said so");
	/*
	 * It knows limits and user quotas: given beside a list, they are
	 * not what it lacks.
	 */
	expect_exit(ctl("-s %s create new --size 1M --limit 512K --acl u:1:r",
			sock), EXIT_FAILED, "create --limit --acl, old daemon");
	expect(strstr(fx.err, "too old for access control lists"),
	       "create --limit --acl, old daemon: blames another setting");
	expect_exit(ctl("-s %s set old --user-quota 1M --limit 1M --acl u:1:r",
			sock), EXIT_FAILED, "set --user-quota --acl, old daemon");
	expect(strstr(fx.err, "too old for access control lists"),
	       "set --user-quota --acl, old daemon: blames another setting");

	/* Nothing of those was asked: the library knew from the Hello. */
	harness_read_text(logp, log, sizeof(log));
	if (log[0] != '\0')
		fail_msg("the old daemon was asked: %s", log);

	expect_exit(ctl("-s %s stats old", sock), 0, "stats, old daemon");
	expect(strstr(fx.out, "pool old\n") && strstr(fx.out, "  mode ") &&
	       !strstr(fx.out, "access control list"),
	       "stats, old daemon: a list line, or no stats");
	expect_exit(ctl("-s %s stats old --format=kv", sock), 0,
		    "stats kv, old daemon");
	expect(strstr(fx.out, "old mode 0660\n") && !strstr(fx.out, " acl "),
	       "stats kv, old daemon");
	expect_exit(ctl("-s %s stats old --json=short", sock), 0,
		    "stats json, old daemon");
	expect(strstr(fx.out, "\"name\":\"old\"") &&
	       !strstr(fx.out, "\"acl\""), "stats json, old daemon");

	kill(pid, SIGKILL);
	harness_wait(pid);
	fx.fake = 0;
	unlink(sock);
	unlink(logp);
}

static void
a_list_refused_after_listing(void **state)
{
	char sock[200], logp[200], log[256];
	const char *open, *shut;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	old_start(sock, sizeof(sock), logp, sizeof(logp), true);
	expect_exit(ctl("-s %s stats -n", sock), 0, "stats, shut refused");
	open = strstr(fx.out, "pool open\n");
	shut = strstr(fx.out, "pool shut\n");
	expect(open && shut && open < shut, "stats: a pool's figures missing");
	expect(strstr(open, "  access control list  user:4242:r\n") < shut,
	       "stats: open's list missing");
	expect(!strstr(shut, "access control list") &&
	       strstr(shut, "\n  mode "), "stats: shut's figures, or a list");
	expect(fx.err[0] == '\0', "stats: words on stderr");
	expect_exit(ctl("-s %s stats --format=kv", sock), 0, "stats kv");
	expect(strstr(fx.out, "open acl user:4242:r\n") &&
	       strstr(fx.out, "shut acl_entries 1\n") &&
	       !strstr(fx.out, "shut acl "), "stats kv: the lists");
	/* Each pool's list asked once per run: nothing more. */
	harness_read_text(logp, log, sizeof(log));
	expect(strcmp(log, "list\nstats open\nstats shut\n"
			   "list\nstats open\nstats shut\n") == 0,
	       "stats: not what the fake was asked");

	assert_int_equal(pool_connect(sock, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "open", &st), 0);
	assert_int_equal(st.acl_entries, 1);
	assert_int_equal(pool_stats_by_name(c, "lie", &st), -EPROTO);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(create_and_list_in_every_format,
					  teardown),
		cmocka_unit_test_teardown(modify_remove_and_set, teardown),
		cmocka_unit_test_teardown(a_change_takes_format_json,
					  teardown),
		cmocka_unit_test_teardown(bad_entries_exit_2, teardown),
		cmocka_unit_test_teardown(other_uid_refused_owner_allowed,
					  teardown),
		cmocka_unit_test_teardown(stats_shows_the_list, teardown),
		cmocka_unit_test_teardown(list_marks_pools_with_lists,
					  teardown),
		cmocka_unit_test_teardown(stats_asks_only_lists, teardown),
		cmocka_unit_test_teardown(a_big_group_is_named, teardown),
		cmocka_unit_test_teardown(odd_names_read_back, teardown),
		cmocka_unit_test_teardown(idle_entries_noted, teardown),
		cmocka_unit_test_teardown(daemon_uid_entry_noted, teardown),
		cmocka_unit_test_teardown(the_list_holds, teardown),
		cmocka_unit_test_teardown(daemon_without_lists, teardown),
		cmocka_unit_test_teardown(a_list_refused_after_listing,
					  teardown),
	};

	return cmocka_run_group_tests_name("integration: poolctl acl", tests,
					   NULL, NULL);
}

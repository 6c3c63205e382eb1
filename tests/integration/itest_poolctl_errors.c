/*
 * itest_poolctl_errors.c - the poolctl command line against a real
 * daemon: what it refuses, in which words, with which exit code.  What
 * poolctl prints is itest_poolctl.c's, the commands that change pools
 * itest_poolctl_admin.c's; the daemon, poolctl run against it and a
 * refused size's words are poolctl_util.h's.
 *
 * Runs build/poolctl (docs/poolctl.md) and checks each command's output and
 * exit status against what the daemon reports through libpoolclient:
 *   a byte unit on any size option ("64MB": exit 2, why and what to write),
 *   a size past 64 bits ("99999999999T": exit 2, too large, and the most),
 *   or past the most poolctl knows the option takes ("--size 65T", a limit
 *   above the size given with it), or both too large and with a byte unit
 *   ("99999999999TB"): the same, before connecting,
 *   --help / help / --version, usage errors (exit 2),
 *   bad pool names refused before connecting (exit 2), unknown pools (exit
 *   1, "no such pool: NAME"), a create the daemon refuses and a busy destroy
 *   (exit 1, said in the command's words), an unreachable daemon (exit 69;
 *   a missing socket in the library's words, not as the daemon's), a
 *   connection refused (which count was full, and the setting to look at),
 *   and another uid refused by the daemon or by the socket's mode (exit 77).
 *   wait: a timeout said as the name not published in time (exit 1), a
 *   pool that does not exist, a name there already (its line four fields,
 *   the size in bytes), a missing name with
 *   --timeout 0 (exit 1), a name too long, a bad timeout and a missing
 *   argument, named as the synopsis names it (exit 2).
 *   The daemon's words for a refusal: left out when poolctl's explain it
 *   whole (a pool of the file, a name taken, create's permission), after
 *   poolctl's summary when they name the case (a limit above the size,
 *   the counts of a busy pool, which rule of set's permission, the mode
 *   that refused a read).
 *   An option that takes a value given twice: exit 2, nothing done.  A
 *   socket path that is a directory or a file: exit 69, "not a socket";
 *   a socket nobody listens on, or one of another type: exit 69, said so.
 *   Usage errors of help, --socket, names, wait, unpublish and --mode
 *   (exit 2, nothing done); names and unpublish of no pool or no name
 *   (exit 1, in their words).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "poolctl_util.h"

/* ---- usage ---------------------------------------------------------------- */

static void
help_version_and_usage_errors(void **state)
{
	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("--help"), 0, "--help");
	expect(strstr(fx.out, "usage"), "--help prints no usage");
	expect_exit(ctl("-h"), 0, "-h");
	expect(strstr(fx.out, "usage"), "-h prints no usage");
	expect_exit(ctl("help"), 0, "help");
	expect(strstr(fx.out, "usage"), "help prints no usage");
	expect_exit(ctl("help create"), 0, "help create");
	expect(strstr(fx.out, "--size"), "help create does not show --size");
	expect_exit(ctl("create --help"), 0, "create --help");
	expect(strstr(fx.out, "--size"), "create --help does not show --size");
	/* Each command's help tells what it prints and what it needs. */
	expect_exit(ctl("help names"), 0, "help names");
	expect(strstr(fx.out, "EVICT") && strstr(fx.out, "read permission"),
	       "help names: no word of the EVICT column or of permission");
	/* The PERSISTED column is what free --older-than's age is read off. */
	expect_exit(ctl("help blocks"), 0, "help blocks");
	expect(strstr(fx.out, "PERSISTED") != NULL,
	       "help blocks: no word of the PERSISTED column");
	expect_exit(ctl("help check"), 0, "help check");
	expect(strstr(fx.out, "write permission"),
	       "help check: no word of the write permission it needs");
	expect_exit(ctl("help set"), 0, "help set");
	expect(strstr(fx.out, "'default'"),
	       "help set: no word of --retain default");
	expect_exit(ctl("--version"), 0, "--version");
	expect(fx.out[0] != '\0', "--version prints nothing");

	expect_exit(ctl("frobnicate"), EXIT_USAGE, "unknown command");
	expect(strncmp(fx.err, "poolctl: ", 9) == 0,
	       "unknown command: no diagnostic on stderr");
	expect_exit(ctl("--frobnicate list"), EXIT_USAGE, "unknown option");
	expect(strncmp(fx.err, "poolctl: unknown option '--frobnicate'\n",
		       39) == 0, "unknown option: not named");
	expect_exit(ctl("--frobnicate=3 list"), EXIT_USAGE, "unknown option=");
	expect(strncmp(fx.err, "poolctl: unknown option '--frobnicate'\n",
		       39) == 0, "unknown option with a value: not named alone");
	/* Named as written, not by the short letter it also has. */
	expect_exit(ctl("destroy x --force=1"), EXIT_USAGE, "--force=1");
	expect(strncmp(fx.err, "poolctl: option '--force' takes no value\n",
		       41) == 0, "--force=1: not said that it takes no value");
	expect_exit(ctl("destroy x --forc=1"), EXIT_USAGE, "--forc=1");
	expect(strncmp(fx.err, "poolctl: option '--force' takes no value\n",
		       41) == 0, "--forc=1: not read as --force's");
	expect_exit(ctl("list -q"), EXIT_USAGE, "-q");
	expect(strncmp(fx.err, "poolctl: unknown option '-q'\n", 29) == 0,
	       "-q: not named");
	/* An option refused as the line is read, after its command: that
	 * command's help is the one that lists its options and values. */
	expect(strstr(fx.err, "\nTry 'poolctl help list' for its arguments "
		      "and options.\n"),
	       "list -q: not pointed at 'poolctl help list'");
	expect_exit(ctl("stats --format"), EXIT_USAGE, "--format without FMT");
	expect(strstr(fx.err, "poolctl: option '--format' needs an argument\n"
		      "Try 'poolctl help stats' for its arguments and "
		      "options.\n"),
	       "stats --format: not pointed at 'poolctl help stats'");
	expect_exit(ctl("destroy x --force=1"), EXIT_USAGE, "--force=1 again");
	expect(strstr(fx.err, "\nTry 'poolctl help destroy' for its "
		      "arguments and options.\n"),
	       "destroy --force=1: not pointed at 'poolctl help destroy'");
	/* Before the command is read, the general help. */
	expect_exit(ctl("--frobnicate list"), EXIT_USAGE, "unknown option first");
	expect(strstr(fx.err, "\nTry 'poolctl --help' for more information.\n"),
	       "--frobnicate list: not pointed at 'poolctl --help'");
	expect_exit(ctl("list extra"), EXIT_USAGE, "extra argument");
	expect_exit(ctl("%s", ""), EXIT_USAGE, "no command");
	expect_exit(ctl("stats --format=xml"), EXIT_USAGE, "bad --format");
	/* A short option's argument follows it: "=short" is the argument. */
	expect_exit(ctl("-j=short list"), EXIT_USAGE, "-j=short");
	expect(strstr(fx.err, "bad JSON format '=short' (pretty or short: "
		      "--json=short, -jshort)\n"),
	       "-j=short: not said what the argument was and how to give it");
	expect_exit(ctl("-jshort list"), 0, "-jshort");
	expect(fx.out[0] == '[' && !strchr(fx.out, ' '), "-jshort: not short");
	expect_exit(ctl("create x --size 1M --mode 0"), EXIT_USAGE, "mode 0");
	expect_exit(ctl("create x --size 1M --mode 9"), EXIT_USAGE,
		    "mode 9 (not octal)");
	/* Help is pointed at: the command's own, once it is known. */
	expect(strstr(fx.err, "\nTry 'poolctl help create' for its arguments "
		      "and options.\n"),
	       "a usage error of create: not pointed at 'poolctl help create'");
	expect_exit(ctl("frobnicate"), EXIT_USAGE, "unknown command");
	expect(strstr(fx.err, "\nTry 'poolctl --help' for more information.\n"),
	       "an unknown command: not pointed at 'poolctl --help'");
	assert_false(pool_exists("x"));
	stop();
}

/* ---- pool names and the words of errors ----------------------------------- */

#define NAME64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"
#define NAME65 NAME64 "-"

/*
 * Every command that takes a pool name checks it by the daemon's rule
 * before it connects: with no daemon at the socket, a bad name is still a
 * usage error (2), while a good one gets as far as the connection (69).
 */
static void
bad_pool_names_exit_2_before_connecting(void **state)
{
	static const char *const bad[] = {
		".x", ".hidden", NAME65, "'a b'", "a/b", "'a:b'", "''",
	};
	static const char *const cmds[] = {
		"create %s --size 1M", "destroy %s", "stats %s", "clients %s",
		"trim %s", "check %s",
	};
	char env[300], args[200];
	unsigned i, j;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(strlen(NAME64), 64);
	snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
		 fx.d.dir);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			snprintf(args, sizeof(args), cmds[i], bad[j]);
			expect_exit(ctl_env(env, "%s", args), EXIT_USAGE, args);
			expect(strstr(fx.err, "pool name"),
			       "a bad name: the diagnostic does not say so");
		}
		/* The longest good name is not refused here. */
		snprintf(args, sizeof(args), cmds[i], NAME64);
		expect_exit(ctl_env(env, "%s", args), EXIT_UNAVAILABLE, args);
	}

	/* With the daemon there: refused alike, and nothing is created. */
	expect_exit(ctl("create .hidden --size 1M"), EXIT_USAGE,
		    "create .hidden");
	expect(strstr(fx.err, "'.hidden'") && !strstr(fx.err, "live block"),
	       "create .hidden: the diagnostic does not name the pool name");
	assert_false(pool_exists(".hidden"));
	expect_exit(ctl("create 'a b' --size 1M"), EXIT_USAGE, "create 'a b'");
	assert_false(pool_exists("a b"));

	/* The edges of the rule that are good: 64 bytes, a leading '-'. */
	expect_exit(ctl("create " NAME64 " --size 1M"), 0, "a 64-byte name");
	assert_true(pool_exists(NAME64));
	expect_exit(ctl("create --size 1M -- -dash"), 0, "create -- -dash");
	assert_true(pool_exists("-dash"));
	expect_exit(ctl("stats -- -dash"), 0, "stats -- -dash");
	expect_exit(ctl("destroy -- -dash"), 0, "destroy -- -dash");
	assert_false(pool_exists("-dash"));
	stop();
}

/*
 * A create the daemon refuses says so in words that fit a create, not in
 * pool_strerror's -EINVAL text, which speaks of live blocks.
 */
static void
create_refused_by_daemon_says_why(void **state)
{
	(void)state;
	start(TWO_POOLS);

	/*
	 * Well formed, so poolctl sends it; which huge pages there are only
	 * the daemon's kernel says, and none has pages of 1 TiB.
	 */
	expect_exit(ctl("create p1 --size 4M --page-size 1T"), EXIT_FAILED,
		    "create p1 --size 4M --page-size 1T");
	expect(strstr(fx.err, "poolctl: cannot create pool p1: invalid size "
			      "or option"),
	       "create with 1T pages: not \"cannot create pool p1: invalid "
	       "size or option\"");
	expect(!strstr(fx.err, "live block"),
	       "create with 1T pages: speaks of live blocks");
	assert_false(pool_exists("p1"));

	expect_exit(ctl("create alpha --size 1M"), EXIT_FAILED,
		    "create of an existing pool");
	expect(strstr(fx.err, "poolctl: cannot create pool alpha: ") &&
	       strstr(fx.err, "exists"),
	       "create alpha: not \"cannot create pool alpha: ... exists\"");
	stop();
}

/* Once connected, -ENOENT can only be the pool: no word of a socket. */
static void
no_such_pool_says_its_name(void **state)
{
	static const char *const cmds[] = {
		"stats nosuch", "destroy nosuch", "clients nosuch",
		"trim nosuch", "check nosuch", "destroy nosuch --force",
	};
	unsigned i;

	(void)state;
	start(TWO_POOLS);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		expect_exit(ctl("%s", cmds[i]), EXIT_FAILED, cmds[i]);
		expect(strcmp(fx.err, "poolctl: no such pool: nosuch\n") == 0,
		       "not \"poolctl: no such pool: nosuch\"");
	}
	stop();
}

/*
 * A busy destroy speaks of the pool's blocks and handles and of --force,
 * not of shared blocks that cannot move (pool_strerror's -EBUSY covers
 * pool_realloc too).
 */
static void
busy_destroy_says_why(void **state)
{
	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	expect(strstr(fx.err, "poolctl: cannot destroy pool alpha: ") &&
	       strstr(fx.err, "live blocks or open handles") &&
	       strstr(fx.err, "--force"),
	       "busy destroy: not \"cannot destroy pool alpha: ... live "
	       "blocks or open handles ... --force\"");
	expect(!strstr(fx.err, "cannot move"),
	       "busy destroy: speaks of a shared block that cannot move");
	assert_true(pool_exists("alpha"));
	stop();
}

/* ---- unreachable ---------------------------------------------------------- */

/*
 * A daemon that refuses the connection says which count was full, of the
 * uid or in all: poolctl tells, and names the setting to look at, the
 * places kept for the admins beside max_connections (a client that is no
 * admin is refused there below max_connections).
 */
static void
refused_connection_says_which_limit(void **state)
{
	struct pool_conn *second;
	int i, rc;

	(void)state;
	assert_int_equal(harness_start(&fx.d, "max_connections_per_uid = 1\n"
				       TWO_POOLS), 0);
	/* The start's own probe holds the place until the daemon sees it go. */
	for (i = 0; (rc = pool_connect(fx.d.sock, &fx.conn)) == -EUSERS &&
	     i < 1000; i++)
		harness_sleep_ms(5);
	assert_int_equal(rc, 0);
	expect_exit(ctl("list"), EXIT_UNAVAILABLE,
		    "list past max_connections_per_uid");
	expect(strstr(fx.err, "poolctl: cannot connect to ") == fx.err &&
	       strstr(fx.err, ": too many clients connected to poolmgrd; "
			      "poolmgrd says: too many clients of this uid "
			      "connected (max_connections_per_uid in "
			      "poolmgrd.conf)\n"),
	       "a refused connection: the limit not named");

	/* Two in all, one of them kept for the admins: ours and one more. */
	assert_int_equal(harness_reload_with(&fx.d, "max_connections = 2\n"
					     TWO_POOLS), 0);
	EXPECT_RC(pool_connect(fx.d.sock, &second), 0);
	expect_exit(ctl("list"), EXIT_UNAVAILABLE, "list past max_connections");
	expect(strstr(fx.err, ": too many clients connected to poolmgrd; "
		      "poolmgrd says: too many clients connected "
		      "(max_connections in poolmgrd.conf, of which "
		      "admin_connections are kept for root, the daemon's uid "
		      "and admin_group)\n") != NULL,
	       "a refused connection: the settings not named");
	pool_disconnect(second);
}

static void
unreachable_daemon_exits_69(void **state)
{
	char env[300];

	(void)state;
	start(TWO_POOLS);
	snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
		 fx.d.dir);
	expect_exit(ctl_env(env, "list"), EXIT_UNAVAILABLE,
		    "list with a socket that does not exist");
	expect_exit(ctl_env(env, "stats alpha"), EXIT_UNAVAILABLE,
		    "stats alpha with a socket that does not exist");
	expect_exit(ctl("--socket %s/nonexistent.sock list", fx.d.dir),
		    EXIT_UNAVAILABLE, "--socket that does not exist");
	/*
	 * No socket there: the library's own words, which name the path,
	 * said alone; no daemon was reached, so none are said as its.
	 */
	{
		char want[400];

		snprintf(want, sizeof(want), "poolctl: cannot connect: no "
			 "poolmgrd socket at %s/nonexistent.sock (is poolmgrd "
			 "running? $POOLMGRD_SOCKET names its socket)\n",
			 fx.d.dir);
		expect(strcmp(fx.err, want) == 0, "a missing socket: not "
		       "said in the library's words");
	}
	/* A path no socket can have is the command line's fault: 2. */
	{
		char path[200];

		memset(path, 's', sizeof(path) - 1);
		path[0] = '/';
		path[sizeof(path) - 1] = '\0';
		expect_exit(ctl("--socket %s list", path), EXIT_USAGE,
			    "--socket longer than a socket address holds");
		expect(strstr(fx.err, "poolctl: socket path longer than 107 "
			      "bytes: /sss"),
		       "a socket path too long: not said so");
		snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s", path);
		expect_exit(ctl_env(env, "list"), EXIT_USAGE,
			    "$POOLMGRD_SOCKET longer than a socket address");
		snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
			 fx.d.dir);
	}
	/* The right socket through --socket beats a wrong environment. */
	expect_exit(ctl_env(env, "--socket %s list", fx.d.sock), 0,
		    "--socket overrides $POOLMGRD_SOCKET");
	expect(line_starting(fx.out, "alpha"), "--socket: list lacks alpha");

	/* A daemon that went away. */
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
	{
		char cmd[300];
		int rc;

		snprintf(cmd, sizeof(cmd), "%s/poolctl list 2>/dev/null",
			 harness_build());
		rc = harness_run(cmd, fx.out, sizeof(fx.out));
		printf("poolctl: list after the daemon stopped -> %d\n", rc);
		expect_exit(rc, EXIT_UNAVAILABLE, "list after the daemon stopped");
	}
}

/* ---- another uid ---------------------------------------------------------- */

#define PERM_POOLS "[pool alpha]\nsize = 16M\nmode = 0600\n" \
		   "[pool open]\nsize = 1M\nmode = 0666\n"

static void
other_uid_refused_exits_77(void **state)
{
	(void)state;
	start(PERM_POOLS);
	skip_unless_nobody_can_run_poolctl();

	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	assert_false(pool_exists("zz"));
	expect_exit(ctl_as_nobody("destroy", "open", NULL, NULL), EXIT_NOPERM,
		    "destroy as nobody");
	assert_true(pool_exists("open"));
	expect_exit(ctl_as_nobody("stats", "alpha", NULL, NULL), EXIT_NOPERM,
		    "stats of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("trim", "alpha", NULL, NULL), EXIT_NOPERM,
		    "trim of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("check", "alpha", NULL, NULL), EXIT_NOPERM,
		    "check of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("clients", "alpha", NULL, NULL), EXIT_NOPERM,
		    "clients of a 0600 pool as nobody");

	/* What nobody may do still works. */
	expect_exit(ctl_as_nobody("stats", "open", NULL, NULL), 0,
		    "stats of a 0666 pool as nobody");
	expect(strstr(fx.out, "open"), "stats open as nobody");
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), 0, "list");
	expect(line_starting(fx.out, "open") && !line_starting(fx.out, "alpha"),
	       "list as nobody must show open and hide alpha");
	stop();
}

/* What lets clients in where the socket's group is none of theirs. */
#define SOCKET_SETTINGS "to let clients in, an administrator gives the " \
	"socket a group of theirs with mode 0660 (SocketGroup= and " \
	"SocketMode= in poolmgrd.socket, or, where poolmgrd binds the " \
	"socket itself, the group it runs as and socket_mode in " \
	"poolmgrd.conf)"

/*
 * The socket's mode keeps nobody out: exit 77, and the library's words
 * (pool_last_message) name the socket's owner, group and mode, and what
 * lets a client in, where the C library's "Permission denied" left the
 * admin to look.  The daemon, root's, binds its socket with group root:
 * nobody is to join group root (poolctl once said to), so the words say
 * who may connect and the settings that let clients in, at 0600 and at
 * 0660 alike.  A socket of another group that may connect names the
 * group to run as a member of.
 */
static void
socket_mode_refuses_other_uid_exits_77(void **state)
{
	const struct passwd *pw = getpwuid(geteuid());
	const struct group *gr = getgrgid(getegid());
	const struct group *other;
	char want[1024], owner[64], group[64], others[64];

	(void)state;
	/* Appended to [daemon]: the later socket_mode wins. */
	start("socket_mode = 0600\n" PERM_POOLS);
	skip_unless_nobody_can_run_poolctl();
	assert_non_null(pw);
	assert_non_null(gr);
	snprintf(owner, sizeof(owner), "%s", pw->pw_name);
	snprintf(group, sizeof(group), "%s", gr->gr_name);
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0600 socket");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0600): "
		 "only its owner may connect; " SOCKET_SETTINGS "\n",
		 fx.d.sock, owner, group);
	assert_string_equal(fx.err, want);
	stop();

	start("socket_mode = 0660\n" PERM_POOLS);
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0660 socket of group root");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0660): "
		 "only its owner and group %s may connect; " SOCKET_SETTINGS
		 "\n", fx.d.sock, owner, group, group);
	assert_string_equal(fx.err, want);

	/* Group 1, of which nobody is no member, is one to join. */
	assert_int_equal(chown(fx.d.sock, geteuid(), 1), 0);
	if ((other = getgrgid(1)) != NULL)
		snprintf(others, sizeof(others), "%s", other->gr_name);
	else
		snprintf(others, sizeof(others), "1");
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0660 socket of group 1");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0660): run "
		 "as a member of group %s (an administrator adds a user with "
		 "usermod -aG %s NAME; it takes a new login)\n", fx.d.sock,
		 owner, others, others, others);
	assert_string_equal(fx.err, want);
	stop();
}

/* ---- the daemon's words --------------------------------------------------- */

/*
 * A refusal that poolctl explains whole is said once, in poolctl's words:
 * the daemon's would say it again.  One that poolctl can only sum up
 * (several cases share the code) is followed by the daemon's words, which
 * name the case and its numbers.  Either way nothing changes.
 */
static void
daemon_words_only_when_they_add(void **state)
{
	(void)state;
	start(PERM_POOLS);

	expect_exit(ctl("set alpha --mode 0644"), EXIT_FAILED,
		    "set of a pool of the file");
	expect(strcmp(fx.err, "poolctl: cannot set pool alpha: the daemon's "
		      "configuration file defines it: change the pool there "
		      "and reload the daemon\n") == 0,
	       "set of a pool of the file: not said once, in poolctl's words");
	assert_int_equal(stats_of("alpha").mode, 0600);
	expect_exit(ctl("create alpha --size 1M"), EXIT_FAILED,
		    "create of an existing pool");
	expect(strcmp(fx.err, "poolctl: cannot create pool alpha: a pool with "
		      "that name exists\n") == 0,
	       "create of an existing pool: not said once, of a pool alone");
	assert_int_equal(stats_of("alpha").max_size, 16 * MiB);

	/* -EINVAL has many cases: the daemon says which, with numbers. */
	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_exit(ctl("set gamma --limit 2M"), EXIT_FAILED,
		    "a limit above the size");
	expect(strcmp(fx.err, "poolctl: cannot set pool gamma: invalid "
		      "setting; poolmgrd says: a limit above the pool's size: "
		      "2097152 of 1048576 bytes\n") == 0,
	       "a limit above the size: not the daemon's case and numbers");
	assert_int_equal(stats_of("gamma").limit, 0);

	/* A busy pool: the daemon counts what keeps it. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	expect(strstr(fx.err, "anyway); poolmgrd says: pool alpha has 1 open "
		      "handle and 1 live block\n"),
	       "busy destroy: the daemon's count of handles and blocks");
	assert_true(pool_exists("alpha"));

	/* Permission: create has one rule; set several, the daemon names it. */
	skip_unless_nobody_can_run_poolctl();
	expect_exit(ctl("create mine --size 1M --owner %d --group %d", NOBODY,
			NOBODY), 0, "create mine for nobody");
	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	expect(strcmp(fx.err, "poolctl: cannot create pool zz: not permitted "
		      "(only the daemon's uid, root and its admin group may "
		      "create pools)\n") == 0,
	       "create as nobody: not said once, in poolctl's words");
	assert_false(pool_exists("zz"));
	expect_exit(ctl_as_nobody("set", "mine", "--group", "0"), EXIT_NOPERM,
		    "set of its pool's group to one it is not in");
	expect(strcmp(fx.err, "poolctl: cannot set pool mine: not permitted; "
		      "poolmgrd says: uid 65534 is not in group 0\n") == 0,
	       "set --group as the owner: not the daemon's rule it broke");
	assert_int_equal(stats_of("mine").gid, NOBODY);
	expect_exit(ctl_as_nobody("stats", "alpha", NULL, NULL), EXIT_NOPERM,
		    "stats of a 0600 pool as nobody");
	expect(strcmp(fx.err, "poolctl: stats alpha: permission denied by the "
		      "pool's mode or access control list; poolmgrd says: "
		      "pool alpha (mode 0600) is not readable for uid "
		      "65534\n") == 0,
	       "stats as nobody: speaks of handles or of the socket");
	stop();
}

/* ---- sizes with a byte unit ---------------------------------------------- */

/*
 * Every size option refuses a byte unit ("MB" usually means powers of
 * 1000) and says why and what to write; a word that is no size at all
 * keeps a plain "bad" and the forms.  Nothing is made or changed.
 */
static void
size_with_byte_unit_says_what_to_write(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 64MB",
			      "create: bad size '64MB': " POWERS("MB")
			      "write 64M or 64MiB");
	expect_refused_saying("create delta --size 1gb",
			      "create: bad size '1gb': " POWERS("GB")
			      "write 1G or 1GiB");
	expect_refused_saying("create delta --size 4096B",
			      "create: bad size '4096B': " NO_B "write 4096");
	expect_refused_saying("create delta --size 1M --quota 8KB",
			      "create: bad quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("create delta --size 1M --limit 512kB",
			      "create: bad limit '512kB': " POWERS("KB")
			      "write 512K or 512KiB");
	expect_refused_saying("create delta --size 1M --retain 2MB",
			      "create: bad retain '2MB': " POWERS("MB")
			      "write 2M or 2MiB");
	expect_refused_saying("create delta --size 4M --page-size 2MB",
			      "create: bad page size '2MB': " POWERS("MB")
			      "write 2M or 2MiB");
	expect_refused_saying("create delta --size 1M --granularity 64B",
			      "create: bad granularity '64B': " NO_B
			      "write 64");
	expect_refused_saying("set alpha --quota 8KB",
			      "set: bad quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("set alpha --retain 1MB",
			      "set: bad retain '1MB': " POWERS("MB")
			      "write 1M or 1MiB");
	expect_refused_saying("set alpha --limit 8MB",
			      "set: bad limit '8MB': " POWERS("MB")
			      "write 8M or 8MiB");

	/* No size once the B goes: plain words, and what a size is. */
	expect_refused_saying("create delta --size 12x",
			      "create: bad size '12x' (" FORMS ")");
	expect_refused_saying("create delta --size 64MBB",
			      "create: bad size '64MBB' (" FORMS ")");
	expect_refused_saying("create delta --size 4KiBB",
			      "create: bad size '4KiBB' (" FORMS ")");
	expect_refused_saying("create delta --size 4TB",
			      "create: bad size '4TB': " POWERS("TB")
			      "write 4T or 4TiB");
	expect_refused_saying("create delta --size 1.5MB",
			      "create: bad size '1.5MB' (" FORMS ")");
	expect_refused_saying("create delta --size 0",
			      "create: bad size '0' (not 0)");
	expect_refused_saying("create delta --size 1M --quota lots",
			      "create: bad quota 'lots' (none, or "
			      FORMS ")");
	expect_refused_saying("set alpha --limit 12x",
			      "set: bad limit '12x' (none, or " FORMS ")");
	expect_refused_saying("set alpha --retain some",
			      "set: bad retain 'some' (default, none, or " FORMS
			      ")");
	expect_refused_saying("create delta --size 4M --page-size 3M",
			      "create: bad page size '3M' (the system page, or "
			      "a huge page size such as 2M or 1G)");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

/*
 * A size of the forms but past 64 bits, by its unit ("99999999999T") or
 * its digits, is too large, and the refusal says the most the option
 * takes: the largest pool for --size, the pool's size for --limit, and
 * so on; 2^64 - 1 bytes where the option has no bound of its own.  They
 * once got the forms, as if the word were no size.  Exit 2, nothing made
 * or changed.
 */
static void
size_past_64_bits_says_too_large(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 99999999999T",
			      "create: bad size '99999999999T': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 99999999999999999999",
			      "create: bad size '99999999999999999999': "
			      TOO_LARGE "64T, the largest pool)");
	expect_refused_saying("create delta --size 16777216TiB",
			      "create: bad size '16777216TiB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --quota 99999999999T",
			      "create: bad quota '99999999999T': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --retain 99999999999G",
			      "create: bad retain '99999999999G': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --limit 99999999999T",
			      "create: bad limit '99999999999T': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --granularity "
			      "99999999999T", "create: bad granularity "
			      "'99999999999T': " TOO_LARGE "the page size)");
	expect_refused_saying("create delta --size 1M --page-size "
			      "99999999999T", "create: bad page size "
			      "'99999999999T': " TOO_LARGE
			      "the largest huge page size)");
	expect_refused_saying("set alpha --quota 99999999999999999999",
			      "set: bad quota '99999999999999999999': "
			      TOO_LARGE MOST_BYTES);
	expect_refused_saying("set alpha --retain 99999999999T",
			      "set: bad retain '99999999999T': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --limit 99999999999T",
			      "set: bad limit '99999999999T': " TOO_LARGE
			      "the pool's size)");
	/* 2^64, one past what 64 bits hold: too large as well. */
	expect_refused_saying("create delta --size 18446744073709551616",
			      "create: bad size '18446744073709551616': "
			      TOO_LARGE "64T, the largest pool)");
	/* No size at all, however long its digits: the forms. */
	expect_refused_saying("create delta --size 99999999999999999999x",
			      "create: bad size '99999999999999999999x' ("
			      FORMS ")");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

/*
 * A size within 64 bits but above the most the option takes, where
 * poolctl knows that most, is refused here as one past 64 bits is: exit
 * 2, the same words.  --size 65T (above the largest pool) and a limit
 * above the size given with it were sent to the daemon and came back
 * exit 1, "invalid size or option".  A limit set on a live pool is the
 * daemon's to judge, up to the largest pool.  Nothing made or changed.
 */
static void
size_past_its_bound_refused_before_asking(void **state)
{
	(void)state;
	start(TWO_POOLS);

	expect_refused_saying("create delta --size 65T",
			      "create: bad size '65T': " TOO_LARGE
			      "64T, the largest pool)");
	/* 64 TiB and one byte. */
	expect_refused_saying("create delta --size 70368744177665",
			      "create: bad size '70368744177665': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --limit 2M",
			      "create: bad limit '2M': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --limit 1048577",
			      "create: bad limit '1048577': " TOO_LARGE
			      "the pool's size)");
	/* Above any page size there is. */
	expect_refused_saying("create delta --size 1M --granularity 1G",
			      "create: bad granularity '1G': " TOO_LARGE
			      "the page size)");
	assert_false(pool_exists("delta"));

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_refused_saying("set gamma --limit 65T",
			      "set: bad limit '65T': " TOO_LARGE
			      "the pool's size)");
	assert_int_equal(stats_of("gamma").limit, 0);
	/* Within the largest pool: only the daemon knows gamma's size. */
	expect_exit(ctl("set gamma --limit 64T"), EXIT_FAILED,
		    "set gamma --limit 64T");
	expect(strstr(fx.err, "poolmgrd says: a limit above the pool's size"),
	       "set gamma --limit 64T: not the daemon's words");
	assert_int_equal(stats_of("gamma").limit, 0);

	/* The bound itself is taken. */
	expect_exit(ctl("create delta --size 1M --limit 1M"), 0,
		    "create delta --size 1M --limit 1M");
	assert_int_equal(stats_of("delta").limit, 1 * MiB);
	stop();
}

/*
 * A size with a byte unit that would be too large without its B
 * ("99999999999TB", "65TB" for a pool) is too large: writing the unit as
 * the byte-unit hint says would not make it fit, so the refusal says the
 * most, as for the same size without the B.  Such words once got the
 * forms, as if they were no size.  One that fits without its B keeps the
 * hint.  Exit 2, nothing made or changed.
 */
static void
size_too_large_with_byte_unit_says_too_large(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 1G --limit 99999999999TB",
			      "create: bad limit '99999999999TB': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --limit 2MB",
			      "create: bad limit '2MB': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 99999999999TB",
			      "create: bad size '99999999999TB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 65TB",
			      "create: bad size '65TB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 70368744177665B",
			      "create: bad size '70368744177665B': " TOO_LARGE
			      "64T, the largest pool)");
	/* Longer than any size, yet digits and a unit: too large still. */
	expect_refused_saying("create delta --size "
			      "999999999999999999999999999999999999999TB",
			      "create: bad size "
			      "'999999999999999999999999999999999999999TB': "
			      TOO_LARGE "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --quota 99999999999TB",
			      "create: bad quota '99999999999TB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --retain "
			      "99999999999999999999B", "create: bad retain "
			      "'99999999999999999999B': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --page-size "
			      "99999999999TB", "create: bad page size "
			      "'99999999999TB': " TOO_LARGE
			      "the largest huge page size)");
	expect_refused_saying("create delta --size 1M --granularity 1GB",
			      "create: bad granularity '1GB': " TOO_LARGE
			      "the page size)");
	expect_refused_saying("set alpha --quota 16777216TB",
			      "set: bad quota '16777216TB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --retain 99999999999GB",
			      "set: bad retain '99999999999GB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --limit 65TB",
			      "set: bad limit '65TB': " TOO_LARGE
			      "the pool's size)");
	/* Within the bound without its B: the unit is what to fix. */
	expect_refused_saying("create delta --size 64TB",
			      "create: bad size '64TB': " POWERS("TB")
			      "write 64T or 64TiB");
	expect_refused_saying("create delta --size 2M --limit 1MB",
			      "create: bad limit '1MB': " POWERS("MB")
			      "write 1M or 1MiB");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

/* ---- wait ------------------------------------------------------------ */

static void
expect_usage_error(const char *args, const char *what)
{
	expect_exit(ctl("%s", args), EXIT_USAGE, args);
	expect(strstr(fx.err, what) && fx.out[0] == '\0', what);
}

/*
 * wait's line is for a script, as --format=kv's are: four fields, the
 * name, the offset in hexadecimal, the usable size as a plain count of
 * bytes and the generation, as the library answers them.  The size once
 * came as names shows it ("64 B"), a space in it making five fields.
 */
static void
wait_line_is_four_fields(pool_off_t off)
{
	char want[128];
	pool_off_t at;
	size_t usable;
	uint64_t gen;

	assert_int_equal(pool_lookup_wait(fx.pool, "frame", 0, 0, 0, &at,
					  &usable, &gen), 0);
	assert_int_equal(at, off);
	snprintf(want, sizeof(want), "frame 0x%" PRIx64 " %zu %" PRIu64 "\n",
		 (uint64_t)at, usable, gen);
	expect(strcmp(fx.out, want) == 0, want);
}

/*
 * A wait that times out says what did not happen, in the command's words,
 * not the errno's text ("Connection timed out").
 */
static void
wait_says_what_happened(void **state)
{
	char name[POOL_BLOCK_NAME_MAX + 2], args[POOL_BLOCK_NAME_MAX + 64];
	pool_off_t off;

	(void)state;
	start(WAIT_POOLS);
	expect_exit(ctl("wait alpha frame --timeout 1"), EXIT_FAILED,
		    "wait for a name never published");
	expect(strcmp(fx.err, "poolctl: wait: frame was not published in "
		      "alpha within 1 s\n") == 0 && fx.out[0] == '\0',
	       "not \"poolctl: wait: frame was not published in alpha "
	       "within 1 s\"");
	expect_exit(ctl("wait alpha frame --timeout 0"), EXIT_FAILED,
		    "--timeout 0 on a missing name");
	expect(strcmp(fx.err, "poolctl: wait alpha: no such name: frame\n")
	       == 0, "not \"poolctl: wait alpha: no such name: frame\"");
	expect_exit(ctl("wait nosuch frame --timeout 1"), EXIT_FAILED,
		    "wait in a pool that does not exist");
	expect(strcmp(fx.err, "poolctl: no such pool: nosuch\n") == 0,
	       "not \"poolctl: no such pool: nosuch\"");

	/* A name there already: printed at once, whatever the timeout. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	off = alloc_ok(fx.pool, 64);
	assert_int_equal(pool_publish(fx.pool, off, "frame"), 0);
	expect_exit(ctl("wait alpha frame --timeout 0"), 0, "wait, name there");
	expect(line_starting(fx.out, "frame"), "wait prints the name's row");
	expect_exit(ctl("wait alpha frame --timeout 1"), 0, "wait, name there");
	expect(line_starting(fx.out, "frame"), "wait prints the name's row");
	wait_line_is_four_fields(off);

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(args, sizeof(args), "wait alpha %s", name);
	expect_usage_error(args, "wait: block name longer than 255 bytes");
	expect_usage_error("wait alpha frame --timeout -1",
			   "wait: bad --timeout '-1'");
	expect_usage_error("wait alpha frame --timeout 1.5",
			   "wait: bad --timeout '1.5'");
	expect_usage_error("wait alpha frame --timeout soon",
			   "wait: bad --timeout 'soon'");
	expect_usage_error("wait alpha frame --timeout ''",
			   "wait: bad --timeout ''");
	expect_usage_error("wait alpha frame --timeout 2147484",
			   "wait: bad --timeout '2147484'");
	/* The argument missing is named: the first not given. */
	expect_usage_error("wait", "wait: missing POOL\n");
	expect_usage_error("wait alpha", "wait: missing NAME\n");
	expect_usage_error("unpublish alpha", "unpublish: missing NAME\n");
	expect_usage_error("create", "create: missing NAME\n");
	stop();
}

/* ---- options given twice -------------------------------------------------- */

/*
 * An option given twice is two answers to one question: refused (exit 2,
 * naming it) rather than the last one silently taken, and nothing done.
 */
static void
option_given_twice_is_refused(void **state)
{
	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create gamma --size 1M --mode 0600"), 0, "create");

	expect_refused_saying("create delta --size 1M --size 2M",
			      "create: option --size given twice");
	assert_false(pool_exists("delta"));
	expect_refused_saying("set gamma --mode 0644 --mode=0640",
			      "set: option --mode given twice");
	assert_int_equal(stats_of("gamma").mode & 0777, 0600);
	expect_refused_saying("stats alpha --format=kv --format json",
			      "stats: option --format given twice");
	expect_refused_saying("wait alpha x --timeout 1 --timeout 2",
			      "wait: option --timeout given twice");
	expect_refused_saying("--socket /nonexistent list --socket /x",
			      "list: option --socket given twice");
	expect_refused_saying("--json=short list -jpretty",
			      "list: option --json given twice");
	/* A flag twice says the same thing twice: taken. */
	expect_exit(ctl("--json list --json"), 0, "--json twice, no FMT");
	expect_exit(ctl("destroy gamma -f --force"), 0, "-f twice");
	assert_false(pool_exists("gamma"));
	stop();
}

/* ---- a socket path that is no socket -------------------------------------- */

/* A directory or a file at the socket's path: said so, exit 69. */
static void
socket_path_not_a_socket_says_so(void **state)
{
	char path[300], want[400];
	FILE *f;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("--socket %s list", fx.d.dir), EXIT_UNAVAILABLE,
		    "--socket a directory");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: not a "
		 "socket\n", fx.d.dir);
	expect(strcmp(fx.err, want) == 0, want);

	snprintf(path, sizeof(path), "%s/plain-file", fx.d.dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a regular file");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: not a "
		 "socket\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	unlink(path);
	stop();
}

/*
 * A socket of type at path, bound and listening if listen_too: its fd.
 * Closed without listening, it is what a stopped daemon leaves behind.
 */
static int
bound_socket(const char *path, int type, bool listen_too)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	assert_true((fd = socket(AF_UNIX, type, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/*
 * A socket no daemon listens on, and a socket of another type: each said
 * as what it is, not as the C library's "Connection refused" or
 * "Protocol wrong type for socket"; exit 69.
 */
static void
socket_without_daemon_says_so(void **state)
{
	char path[300], want[400];
	int fd;

	(void)state;
	start(TWO_POOLS);
	snprintf(path, sizeof(path), "%s/stale.sock", fx.d.dir);
	close(bound_socket(path, SOCK_SEQPACKET, false));
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a socket nobody listens on");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: no "
		 "poolmgrd listens on it (a socket left by a daemon that "
		 "stopped?)\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	unlink(path);

	snprintf(path, sizeof(path), "%s/stream.sock", fx.d.dir);
	fd = bound_socket(path, SOCK_STREAM, true);
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a stream socket");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: a "
		 "socket of another type, not poolmgrd's\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	close(fd);
	unlink(path);
	stop();
}

/* ---- usage errors of help, names, wait and unpublish ----------------------- */

/*
 * What poolctl refuses before it asks the daemon (exit 2, why, nothing
 * on stdout): help with two commands or one it does not know, an empty
 * --socket, a names prefix past 255 bytes, an empty block name for wait
 * and unpublish, a mode with bits past 0777 or none at all.  What the
 * daemon answers: names and unpublish of no pool, unpublish of no name
 * (exit 1, each in its words).  Nothing is made or changed.
 */
static void
refused_before_and_after_asking(void **state)
{
	char prefix[POOL_BLOCK_NAME_MAX + 2];

	(void)state;
	start(TWO_POOLS);
	expect_usage_error("help create list", "poolctl: help: too many "
			   "arguments\n");
	expect_usage_error("help frobnicate", "poolctl: unknown command "
			   "'frobnicate'\n");
	expect_usage_error("--socket '' list", "poolctl: --socket: empty "
			   "path\n");
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	expect_exit(ctl("names alpha %s", prefix), EXIT_USAGE,
		    "names with a prefix of 256 bytes");
	expect(strstr(fx.err, "poolctl: names: prefix longer than 255 "
		      "bytes\n") && fx.out[0] == '\0',
	       "names: a long prefix not said");
	prefix[sizeof(prefix) - 2] = '\0';
	expect_exit(ctl("names alpha %s", prefix), 0,
		    "names with a prefix of 255 bytes");
	expect_usage_error("wait alpha ''", "poolctl: wait: empty block "
			   "name\n");
	expect_usage_error("unpublish alpha ''", "poolctl: unpublish: empty "
			   "block name\n");
	expect_usage_error("create x --size 1M --mode 1777", "poolctl: "
			   "create: bad mode '1777' (octal, 0001 to 0777)\n");
	expect_usage_error("create x --size 1M --mode ''", "poolctl: create: "
			   "bad mode '' (octal, 0001 to 0777)\n");
	expect_usage_error("set alpha --mode 01777", "poolctl: set: bad mode "
			   "'01777' (octal, 0001 to 0777)\n");
	assert_false(pool_exists("x"));
	assert_int_equal(stats_of("alpha").mode, 0600);

	expect_exit(ctl("names nosuch"), EXIT_FAILED, "names of no pool");
	assert_string_equal(fx.err, "poolctl: no such pool: nosuch\n");
	expect_exit(ctl("unpublish nosuch n"), EXIT_FAILED,
		    "unpublish in no pool");
	assert_string_equal(fx.err, "poolctl: no such pool: nosuch\n");
	expect_exit(ctl("unpublish alpha nosuchname"), EXIT_FAILED,
		    "unpublish of no name");
	assert_string_equal(fx.err, "poolctl: unpublish alpha: no such name: "
			    "nosuchname\n");
	expect(fx.out[0] == '\0', "a failed unpublish printed something");
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			size_with_byte_unit_says_what_to_write,
			poolctl_teardown),
		cmocka_unit_test_teardown(size_past_64_bits_says_too_large,
					  poolctl_teardown),
		cmocka_unit_test_teardown(
			size_past_its_bound_refused_before_asking,
			poolctl_teardown),
		cmocka_unit_test_teardown(
			size_too_large_with_byte_unit_says_too_large,
			poolctl_teardown),
		cmocka_unit_test_teardown(help_version_and_usage_errors,
					  poolctl_teardown),
		cmocka_unit_test_teardown(
			bad_pool_names_exit_2_before_connecting,
			poolctl_teardown),
		cmocka_unit_test_teardown(create_refused_by_daemon_says_why,
					  poolctl_teardown),
		cmocka_unit_test_teardown(no_such_pool_says_its_name,
					  poolctl_teardown),
		cmocka_unit_test_teardown(busy_destroy_says_why,
					  poolctl_teardown),
		cmocka_unit_test_teardown(unreachable_daemon_exits_69,
					  poolctl_teardown),
		cmocka_unit_test_teardown(refused_connection_says_which_limit,
					  poolctl_teardown),
		cmocka_unit_test_teardown(other_uid_refused_exits_77,
					  poolctl_teardown),
		cmocka_unit_test_teardown(
			socket_mode_refuses_other_uid_exits_77,
			poolctl_teardown),
		cmocka_unit_test_teardown(wait_says_what_happened,
					  poolctl_teardown),
		cmocka_unit_test_teardown(daemon_words_only_when_they_add,
					  poolctl_teardown),
		cmocka_unit_test_teardown(option_given_twice_is_refused,
					  poolctl_teardown),
		cmocka_unit_test_teardown(refused_before_and_after_asking,
					  poolctl_teardown),
		cmocka_unit_test_teardown(socket_path_not_a_socket_says_so,
					  poolctl_teardown),
		cmocka_unit_test_teardown(socket_without_daemon_says_so,
					  poolctl_teardown),
	};

	return cmocka_run_group_tests_name("integration: poolctl errors", tests,
					   NULL, NULL);
}

/*
 * itest_restart_guard.c - a restart in place (SIGUSR2) where it could go
 * wrong: a daemon that always has work, a binary at its path that cannot
 * take the state over, a configuration file that changes under it.
 *
 *   busy_freer_not_dropped        a client allocating, writing and freeing
 *       1 MiB blocks (each free released in 4 KiB steps, so there is
 *       always work queued) from two threads on one connection: the
 *       restart happens with no client dropped, and the client's loop
 *       goes on across it without an error.
 *   foreign_binary_refused        the binary at the daemon's path replaced
 *       by one that cannot take the state over (an older poolmgrd that
 *       knows no --restart-probe, one that answers nothing, other
 *       state versions, only the version before names and unsent
 *       replies, only those before the descriptors of unsent replies,
 *       only those before access control lists while a pool has one,
 *       only those before user quotas of uids while a pool has some,
 *       or nothing in time, its limit set to 1 s so that the test does
 *       not wait for the default's 10): each restart is refused and
 *       logged, the daemon keeps serving the same client and its block;
 *       the real binary put back (and the default limit by a reload),
 *       the next SIGUSR2 restarts.
 *   newer_reader_restarts         a binary that reads only versions 4
 *       and 5 (a later image that no longer reads 3), while no pool has
 *       an access control list: the state is written as version 4, which
 *       carries all that 3 would, and the restart happens.
 *   probe_signalled_too           SIGUSR2 and SIGHUP sent to the probe as
 *       well, while it answers, as `systemctl kill -s USR2` signals every
 *       process of the unit: the probe answers all the same and the
 *       restart goes on.
 *   checked_text_applied          the configuration file changed after
 *       the restart checked it (by the binary at the path, when it is
 *       probed: between the check and the exec): the new image applies
 *       the text checked, a pool of it made, the later file's pool not;
 *       a SIGHUP then reads the file as it is.
 *   many_clients_restart          16,000 connections (their names once
 *       took more than the 128 KiB the kernel allows one environment
 *       string, from about 12,900 on), or as many as the descriptor
 *       limit lets the daemon hand over (two descriptors each) where it
 *       cannot be raised so far: the restart happens and keeps them all;
 *       the last one is served after it.  (test_restart_names checks
 *       the naming of 30,000 and 10^6 on its own.)
 *   probe_keeps_serving           a binary that answers the probe only
 *       after 1 s: meanwhile the daemon serves as usual (a client's
 *       round trips go on, a new client connects and is served), a
 *       second SIGUSR2 is told the restart is on its way; then the
 *       restart happens, and the daemon has no child left behind.
 *   slow_probe_within_limit       a binary that answers the probe after
 *       2.5 s, more than the 2 s the limit once was, under the default
 *       limit (10 s): the restart happens.
 *   slow_probe_over_limit         the same binary under
 *       restart_probe_timeout = 1: refused, the log saying "within 1 s";
 *       the limit raised to 5 by a reload, the next SIGUSR2 restarts.
 *   stop_during_probe             SIGTERM while that probe runs: the
 *       daemon stops at once, exit 0, without restarting, and the probe
 *       is gone with it.
 *   stop_during_probe_on_a_long_log  the same with more than 256 KiB of
 *       log before SIGUSR2: what it logs past the mark is read.
 *   config_memfd_refused          the configuration's text cannot be put
 *       in a memfd for the new image (memfd_create refused with EPERM, by
 *       a library preloaded into the daemon): the restart is refused
 *       with that reason in its own words, the daemon serves on.
 *   unread_replies_carried        a client with 5,000 replies unread
 *       (its socket full, the rest queued in the daemon): SIGUSR2
 *       restarts at once, nobody dropped; another client is served;
 *       then the slow client reads every reply it was owed, in order,
 *       whole, and its connection serves on.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"

#define MiB (1024ull * 1024)

struct fixture {
	struct daemon_proc d;
	pid_t child;
	char bindir[64];		/* a copy of the daemon's binary */
};

static struct fixture fx;

static int
teardown(void **state)
{
	(void)state;
	if (fx.child > 0) {
		kill(fx.child, SIGKILL);
		harness_wait(fx.child);
	}
	harness_remove_binary(fx.bindir);
	assert_int_equal(harness_finish(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* The daemon's log from byte at on, printed. */
static void
print_log_since(size_t at, const char *when)
{
	char *log = harness_log_since(&fx.d, at);

	printf("the log %s:\n%s", when, log);
	free(log);
}

static bool
log_since_has(size_t at, const char *what)
{
	char *log = harness_log_since(&fx.d, at);
	bool found = strcasestr(log, what) != NULL;

	free(log);
	return found;
}

/* One thread of the freeing client: alloc, write, free, all along. */
static void *
freer_thread(void *arg)
{
	struct harness_busy *f = arg;
	pool_off_t off;
	uint8_t *b;
	int rc;

	while (!__atomic_load_n(f->stop, __ATOMIC_RELAXED)) {
		if ((rc = pool_alloc(f->p, MiB, &off)) != 0) {
			harness_busy_error(f, "alloc", rc);
			continue;
		}
		b = (uint8_t *)pool_ptr(f->p, 0) + off;
		memset(b, f->id + 1, MiB);
		if (b[MiB - 1] != f->id + 1)
			harness_busy_error(f, "read back", -EILSEQ);
		if ((rc = pool_free(f->p, off)) != 0)
			harness_busy_error(f, "free", rc);
		f->rounds++;
	}
	return NULL;
}

struct freer_child {
	int stop[2];		/* a byte: stop */
	int out[2];		/* a byte once busy; then rounds, errors */
};

#define FREERS 2

static int
freer_main(void *arg)
{
	struct freer_child *k = arg;
	struct harness_busy f[FREERS];
	uint64_t sum[2] = {0, 0};
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	int rc;

	close(k->stop[1]);
	close(k->out[0]);
	CHECK_RC(pool_connect(fx.d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "p", &p), 0, 3);
	/* Every free goes to the daemon, to be released in steps. */
	CHECK_RC(pool_set_cache(p, 0), 0, 4);
	if ((rc = harness_busy_run(f, FREERS, p, freer_thread, k->out[1],
				   k->stop[0], sum, 5)) != 0)
		return rc;
	/* The connection still serves after the loop. */
	if (pool_stats(p, &st) != 0)
		sum[1]++;
	CHECK(harness_write_full(k->out[1], sum, sizeof(sum)) == 0, 8);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
busy_freer_not_dropped(void **state)
{
	struct freer_child k;
	uint64_t res[2];
	size_t at;
	char go;

	(void)state;
	assert_int_equal(harness_start(&fx.d, "release_step = 4K\n"
				       "[pool p]\nsize = 64M\n"), 0);
	assert_int_equal(pipe(k.stop), 0);
	assert_int_equal(pipe(k.out), 0);
	fx.child = harness_spawn(freer_main, &k);
	assert_true(fx.child > 0);
	close(k.stop[0]);
	close(k.out[1]);
	assert_int_equal(harness_read_full(k.out[0], &go, 1), 0);
	harness_sleep_ms(50);

	at = harness_log_mark(&fx.d);
	if (harness_restart_in_place(&fx.d) != 0) {
		print_log_since(at, "since SIGUSR2");
		fail_msg("SIGUSR2: no restart");
	}
	print_log_since(at, "of the restart");
	if (log_since_has(at, "dropped") || log_since_has(at, "dropping"))
		fail_msg("a client was dropped to make the daemon quiet");
	/* It carries on: a few more rounds after the restart. */
	harness_sleep_ms(100);
	assert_int_equal(harness_write_full(k.stop[1], "s", 1), 0);
	if (harness_read_full(k.out[0], res, sizeof(res)))
		fail_msg("the freeing client failed: exit %d",
			 harness_wait(fx.child));
	assert_int_equal(harness_wait(fx.child), 0);
	fx.child = 0;
	close(k.stop[1]);
	close(k.out[0]);
	printf("freeing client: %" PRIu64 " rounds, %" PRIu64 " errors\n",
	       res[0], res[1]);
	assert_int_equal(res[1], 0);
}

#define POOL_P "[pool p]\nsize = 16M\n"

/*
 * A daemon started from a copy of the binary in fx.bindir with the
 * [daemon] lines conf (and pool p), a connection to its pool p, with no
 * cache, and a block of 4 KiB at *off filled from seed on; its bytes.
 */
static uint8_t *
start_copied_with(const char *conf, char *bin, size_t len,
		  struct pool_conn **c, struct pool **p, pool_off_t *off,
		  uint8_t seed)
{
	char text[256];
	uint8_t *b;

	snprintf(text, sizeof(text), "%s%s", conf, POOL_P);
	harness_copy_binary(fx.bindir, sizeof(fx.bindir), bin, len);
	assert_int_equal(harness_start_from(&fx.d, bin, text), 0);
	assert_int_equal(pool_connect(fx.d.sock, c), 0);
	assert_int_equal(pool_open(*c, "p", p), 0);
	assert_int_equal(pool_set_cache(*p, 0), 0);
	assert_int_equal(pool_alloc(*p, 4096, off), 0);
	b = (uint8_t *)pool_ptr(*p, 0) + *off;
	for (size_t i = 0; i < 4096; i++)
		b[i] = (uint8_t)(seed + i);
	return b;
}

/* The same under the default configuration. */
static uint8_t *
start_copied(char *bin, size_t len, struct pool_conn **c, struct pool **p,
	     pool_off_t *off, uint8_t seed)
{
	return start_copied_with("", bin, len, c, p, off, seed);
}

/* A new file at path (the old one unlinked: it is running), executable. */
static void
put_script(const char *path, const char *text)
{
	FILE *f;

	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s", text);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

/*
 * SIGUSR2 with what is at the path now: the restart must be refused and
 * logged, the daemon alive and serving.  The block at off, filled with
 * seed, reads back; the connection allocates and frees.
 */
static void
refused(const char *what, struct pool *p, pool_off_t off, uint8_t seed)
{
	int before = harness_log_count(&fx.d, "going on as before");
	int restarted = harness_log_count(&fx.d, HARNESS_RESTARTED);
	size_t at = harness_log_mark(&fx.d);
	uint8_t *b;
	pool_off_t x;

	printf("the binary at the path: %s\n", what);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	if (harness_log_wait(&fx.d, "going on as before", before,
			     HARNESS_RESTART_WAIT_MS) != 0) {
		print_log_since(at, "since SIGUSR2");
		if (fx.d.pid == 0)
			fail_msg("%s: the daemon is gone", what);
		fail_msg("%s: no refused restart logged", what);
	}
	print_log_since(at, "since SIGUSR2");
	assert_true(harness_alive(&fx.d));
	assert_int_equal(harness_log_count(&fx.d, HARNESS_RESTARTED),
			 restarted);
	b = (uint8_t *)pool_ptr(p, 0) + off;
	for (size_t i = 0; i < 4096; i++)
		if (b[i] != (uint8_t)(seed + i))
			fail_msg("%s: the block changed at byte %zu", what, i);
	assert_int_equal(pool_alloc(p, 5000, &x), 0);
	assert_int_equal(pool_free(p, x), 0);
}

/*
 * An image from before access control lists (it reads versions 1 to 3)
 * may take over a daemon whose pools have none; with a pool that has one
 * it would drop the list and let in whom an entry keeps out: refused,
 * saying so.
 */
static void
acl_pool_refused(struct pool_conn *c, const char *bin, struct pool *p,
		 pool_off_t off)
{
	struct pool_acl_entry e = {
		.kind = POOL_ACL_USER, .id = 4242, .rights = 0,
	};
	struct pool_create_opts co = {.max_size = 1 << 20, .mode = 0644};
	struct pool_set_opts so = {.which = POOL_SET_ACL, .acl = &e,
				   .nacl = 1};

	assert_int_equal(pool_create_set(c, "kept-out", &co, &so), 0);
	put_script(bin, "echo \"poolmgrd state versions: 1 2 3\"\n");
	refused("one from before access control lists, a pool having one",
		p, off, 7);
	assert_int_equal(harness_log_count(&fx.d, "it reads no state version "
					   "4, which carries the access "
					   "control lists (pool kept-out has "
					   "one): it would drop them"), 1);
	assert_int_equal(pool_destroy(c, "kept-out"), 0);
}

/*
 * An image from before user quotas of uids (it reads versions 1 to 4)
 * may take over a daemon whose pools have none, or lists only; with a
 * pool that has one it would bind that uid by the pool's user quota
 * instead: refused, naming the pool.
 */
static void
uquota_pool_refused(const char *bin, struct pool *p, pool_off_t off)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__DestroyPool gone = POOLMGR__DESTROY_POOL__INIT;
	Poolmgr__UserQuota e = POOLMGR__USER_QUOTA__INIT, *ep = &e;
	int fd = harness_raw_greeted(fx.d.sock, "admin");

	assert_true(fd >= 0);
	e.uid = 4242;
	e.bytes = 1 << 16;
	m.name = "bound";
	m.max_size = 1 << 20;
	m.n_user_quotas = 1;
	m.user_quotas = &ep;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	put_script(bin, "echo \"poolmgrd state versions: 1 2 3 4\"\n");
	refused("one from before user quotas of uids, a pool having one", p,
		off, 7);
	assert_int_equal(harness_log_count(&fx.d, "it reads no state version "
					   "5, which carries the user quotas "
					   "of uids (pool bound has some): it "
					   "would drop them"), 1);
	gone.name = "bound";
	req.body_case = POOLMGR__REQUEST__BODY_DESTROY;
	req.destroy = &gone;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
}

static void
foreign_binary_refused(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	char bin[128], cmd[512];
	pool_off_t off;
	uint8_t *b;

	(void)state;
	/* A second, not the default's ten, for the one that never answers. */
	b = start_copied_with("restart_probe_timeout = 1\n", bin, sizeof(bin),
			      &c, &p, &off, 7);

	put_script(bin, "echo \"usage: poolmgrd [--socket PATH]\" >&2\n"
		   "exit 2\n");
	refused("an older poolmgrd, no --restart-probe", p, off, 7);
	put_script(bin, "exit 0\n");
	refused("a program that answers nothing", p, off, 7);
	put_script(bin, "echo \"poolmgrd state versions: 6 11\"\n");
	refused("one that reads other state versions", p, off, 7);
	put_script(bin, "echo \"poolmgrd state versions: 1\"\n");
	refused("one that reads only version 1 (no names, no unsent "
		"replies)", p, off, 7);
	put_script(bin, "echo \"poolmgrd state versions: 1 2\"\n");
	refused("one that reads only versions 1 and 2 (no descriptors of "
		"unsent replies)", p, off, 7);
	acl_pool_refused(c, bin, p, off);
	uquota_pool_refused(bin, p, off);
	put_script(bin, "echo \"poolmgrd state versions: 1x\"\n");
	refused("one whose version is not a number", p, off, 7);
	put_script(bin, "echo \"poolmgrd state versions: 1.5\"\n");
	refused("one whose version is not a whole number", p, off, 7);
	put_script(bin, "exec sleep 60\n");
	refused("one that never answers", p, off, 7);
	assert_int_equal(harness_log_count(&fx.d, "did not answer "
					   "--restart-probe within 1 s"), 1);

	/*
	 * The real one back, with the default limit (a loaded machine may
	 * take more than a second to start it): it answers, and takes over.
	 */
	assert_int_equal(harness_reload_with(&fx.d, POOL_P), 0);
	unlink(bin);
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	assert_int_equal(harness_restart_in_place(&fx.d), 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(b[i], (uint8_t)(7 + i));
	assert_int_equal(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* The first child of the daemon's, within 2 s, or 0. */
static pid_t
daemon_child(pid_t pid)
{
	char path[64], text[64];
	long child;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	for (i = 0; i < 400; i++) {
		harness_read_text(path, text, sizeof(text));
		if ((child = strtol(text, NULL, 10)) > 0)
			return (pid_t)child;
		harness_sleep_ms(5);
	}
	return 0;
}

/*
 * At bin: a probe that takes secs seconds, then the real binary.  bash,
 * which keeps the signal mask it was started with (dash clears it).
 */
static void
put_slow_probe(const char *bin, const char *secs)
{
	char text[600];
	FILE *f;

	snprintf(text, sizeof(text), "#!/bin/bash\n"
		 "if [ \"$1\" = --restart-probe ]; then sleep %s; fi\n"
		 "exec %s/poolmgrd \"$@\"\n", secs, harness_build());
	unlink(bin);
	assert_non_null(f = fopen(bin, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(bin, 0755), 0);
}

static bool restarted_or_refused(void);

/*
 * At bin: a binary whose probe answers versions, and which is otherwise
 * the real one.
 */
static void
put_probe_answer(const char *bin, const char *versions)
{
	char text[600];
	FILE *f;

	snprintf(text, sizeof(text), "#!/bin/bash\n"
		 "if [ \"$1\" = --restart-probe ]; then\n"
		 "\techo \"poolmgrd state versions: %s\"\n"
		 "\texit 0\n"
		 "fi\n"
		 "exec %s/poolmgrd \"$@\"\n", versions, harness_build());
	unlink(bin);
	assert_non_null(f = fopen(bin, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(bin, 0755), 0);
}

static void
newer_reader_restarts(void **state)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint8_t *b;
	int restarted;

	(void)state;
	b = start_copied(bin, sizeof(bin), &c, &p, &off, 5);
	put_probe_answer(bin, "4 5");
	restarted = harness_log_count(&fx.d, HARNESS_RESTARTED);
	if (!restarted_or_refused())
		fail_msg("an image reading versions 4 and 5 was refused");
	assert_int_equal(harness_log_count(&fx.d, HARNESS_RESTARTED),
			 restarted + 1);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(b[i], (uint8_t)(5 + i));
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
probe_signalled_too(void **state)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint8_t *b;
	pid_t probe;
	int restarted;

	(void)state;
	b = start_copied(bin, sizeof(bin), &c, &p, &off, 3);
	put_slow_probe(bin, "1");

	restarted = harness_log_count(&fx.d, HARNESS_RESTARTED);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	probe = daemon_child(fx.d.pid);
	assert_true(probe > 0);
	assert_int_equal(kill(probe, SIGUSR2), 0);
	assert_int_equal(kill(probe, SIGHUP), 0);
	if (harness_log_wait(&fx.d, HARNESS_RESTARTED, restarted,
			     HARNESS_RESTART_WAIT_MS) != 0) {
		print_log_since(0, "the daemon's log");
		fail_msg("a signal to the probe refused the restart");
	}
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(b[i], (uint8_t)(3 + i));
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* d's configuration file: the [daemon] part harness_start writes, text. */
static void
write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	assert_int_equal(fclose(f), 0);
}

static void
checked_text_applied(void **state)
{
	char bin[128], late[128], script[1024], cmd[512];
	struct pool_conn *c;
	struct pool *p;

	(void)state;
	harness_copy_binary(fx.bindir, sizeof(fx.bindir), bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "cp %s %s.real", bin, bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	assert_int_equal(harness_start_from(&fx.d, bin, "[pool p]\n"
					    "size = 16M\n"), 0);
	assert_int_equal(pool_connect(fx.d.sock, &c), 0);

	/*
	 * The binary at the path changes the file when it is probed, after
	 * the check, and is the daemon's otherwise.
	 */
	snprintf(late, sizeof(late), "%s/late.conf", fx.bindir);
	write_conf(late, "[pool p]\nsize = 16M\n[pool late]\nsize = 1M\n");
	snprintf(script, sizeof(script),
		 "[ \"$1\" = --restart-probe ] && cp %s %s\n"
		 "exec %s.real \"$@\"\n", late, fx.d.conf, bin);
	put_script(bin, script);
	write_conf(fx.d.conf, "[pool p]\nsize = 16M\n[pool checked]\n"
		   "size = 1M\n");

	assert_int_equal(harness_restart_in_place(&fx.d), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", late, fx.d.conf);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);	/* it changed */
	print_log_since(0, "of the daemon");
	assert_int_equal(pool_open(c, "checked", &p), 0);
	pool_close(p);
	assert_int_equal(pool_open(c, "late", &p), -ENOENT);

	/* A reload reads the file, as it is now. */
	harness_reload(&fx.d);
	assert_int_equal(pool_open(c, "late", &p), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * SIGUSR2: true once the daemon restarted, false if it logged that it
 * goes on as before; the test fails if it died or said neither.
 */
static bool
restarted_or_refused(void)
{
	int before = harness_log_count(&fx.d, HARNESS_RESTARTED);
	int refused = harness_log_count(&fx.d, "going on as before");
	size_t at = harness_log_mark(&fx.d);

	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	for (int ms = 0; ms < HARNESS_RESTART_WAIT_MS; ms += 10) {
		if (harness_log_wait(&fx.d, HARNESS_RESTARTED, before, 0) == 0)
			return true;
		if (harness_log_count(&fx.d, "going on as before") > refused) {
			print_log_since(at, "since SIGUSR2");
			return false;
		}
		if (!harness_alive(&fx.d))
			fail_msg("SIGUSR2: poolmgrd died");
		harness_sleep_ms(10);
	}
	fail_msg("SIGUSR2: neither a restart nor a refusal logged");
	return false;
}

#define MANY_CONNS 16000

static void
many_clients_restart(void **state)
{
	static int fd[MANY_CONNS];
	struct rlimit rl = {65536, 65536};
	char line[128];
	int last, n, many = MANY_CONNS;
	uint32_t h;

	(void)state;
	/* The daemon inherits it: each connection and its copy to pass. */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
		rl.rlim_cur = rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
		if ((rlim_t)many > (rl.rlim_max - 512) / 2)
			many = (int)((rl.rlim_max - 512) / 2);
		printf("descriptors: at most %llu here, so %d clients\n",
		       (unsigned long long)rl.rlim_max, many);
	}
	assert_int_equal(harness_start(&fx.d, "hello_timeout = 0\n"
				       "max_connections = 20000\n"
				       "max_connections_per_uid = 20000\n"
				       "[pool p]\nsize = 1M\n"), 0);
	for (n = 0; n < many; n++)
		if ((fd[n] = harness_raw_connect(fx.d.sock)) == -1)
			fail_msg("connection %d: %s", n, strerror(errno));
	/* Accepted in order: once this one is answered, all are in. */
	last = harness_raw_client(fx.d.sock, "last");
	h = harness_raw_handle(last, "p");

	if (!restarted_or_refused())
		fail_msg("the restart with %d clients failed", many + 1);
	snprintf(line, sizeof(line), "%d clients", many + 1);
	assert_int_equal(harness_log_count(&fx.d, line), 1);
	EXPECT_RAW(harness_raw_close(last, h), 0);
	h = harness_raw_handle(last, "p");
	EXPECT_RAW(harness_raw_close(last, h), 0);
	close(last);
	for (n = 0; n < many; n++)
		close(fd[n]);
}

/* Is pid a process that has not exited (a zombie has)? */
static bool
running(pid_t pid)
{
	char path[64], text[256], *state;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	harness_read_text(path, text, sizeof(text));
	/* "pid (comm) S ...": the state after the last parenthesis. */
	if (!(state = strrchr(text, ')')))
		return false;
	return state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

/* The daemon's children now: none once every probe is reaped. */
static bool
daemon_has_child(pid_t pid)
{
	char path[64], text[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	harness_read_text(path, text, sizeof(text));
	return strtol(text, NULL, 10) > 0;
}

static void
probe_keeps_serving(void **state)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	uint64_t usable;
	pool_off_t off, x;
	int fd, late = -1, restarted, rc, served = 0;
	uint32_t h;
	pid_t probe;

	(void)state;
	start_copied(bin, sizeof(bin), &c, &p, &off, 5);
	fd = harness_raw_client(fx.d.sock, "counter");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 100, &x, &usable), 0);
	/*
	 * Half a second leaves the probe most of the daemon's 10 s limit to
	 * start the real binary and answer on a loaded machine.
	 */
	put_slow_probe(bin, "0.5");

	restarted = harness_log_count(&fx.d, HARNESS_RESTARTED);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	assert_true((probe = daemon_child(fx.d.pid)) > 0);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	/*
	 * Round trips while the probe runs: each counts if the probe was
	 * still running once it was answered.  A loop that waits for the
	 * probe answers none of them until the new image does.  A pause
	 * between them leaves the CPUs to the probe, which must answer in
	 * time for the restart to happen at all.
	 */
	while (running(probe)) {
		if (served)
			harness_sleep_ms(1);
		if ((rc = harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE,
					    h, x)) != 0)
			fail_msg("a round trip during the probe: %d", rc);
		if (late < 0 && running(probe))
			late = harness_raw_greeted(fx.d.sock, "late");
		if (running(probe))
			served++;
	}
	printf("%d round trips answered while the probe ran; a client "
	       "connected meanwhile: %s\n", served, late >= 0 ? "yes" : "no");
	if (harness_log_wait(&fx.d, HARNESS_RESTARTED, restarted,
			     HARNESS_RESTART_WAIT_MS) != 0) {
		print_log_since(0, "the daemon's log");
		fail_msg("no restart after the slow probe");
	}
	print_log_since(0, "the daemon's log");
	assert_true(served >= 5);
	assert_true(late >= 0);
	assert_int_equal(harness_log_count(&fx.d, "already on its way"), 1);
	assert_false(daemon_has_child(fx.d.pid));
	/* Everyone carries on with the new image. */
	EXPECT_RAW(harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE,
				     h, x), 0);
	EXPECT_RAW(harness_raw_free(fd, h, x), 0);
	assert_true(harness_raw_handle(late, "p") > 0);
	assert_int_equal(pool_free(p, off), 0);
	close(late);
	close(fd);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * SIGUSR2 with a probe of 2.5 s at the path: true if the daemon restarted,
 * false if it refused (its log since then printed either way).
 */
static bool
slow_probe_restarts(const char *bin)
{
	int restarted = harness_log_count(&fx.d, HARNESS_RESTARTED);
	size_t at = harness_log_mark(&fx.d);
	bool ok;

	put_slow_probe(bin, "2.5");
	if ((ok = restarted_or_refused()))
		print_log_since(at, "since SIGUSR2");
	assert_int_equal(harness_log_count(&fx.d, HARNESS_RESTARTED),
			 restarted + ok);
	return ok;
}

static void
slow_probe_within_limit(void **state)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint8_t *b;

	(void)state;
	b = start_copied(bin, sizeof(bin), &c, &p, &off, 13);
	if (!slow_probe_restarts(bin))
		fail_msg("a probe of 2.5 s refused under the default limit");
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(b[i], (uint8_t)(13 + i));
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
slow_probe_over_limit(void **state)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off, x;
	uint8_t *b;

	(void)state;
	b = start_copied_with("restart_probe_timeout = 1\n", bin, sizeof(bin),
			      &c, &p, &off, 15);
	if (slow_probe_restarts(bin))
		fail_msg("a probe of 2.5 s taken under a limit of 1 s");
	assert_int_equal(harness_log_count(&fx.d, "did not answer "
					   "--restart-probe within 1 s "
					   "(restart_probe_timeout); going on "
					   "as before"), 1);
	assert_int_equal(pool_alloc(p, 100, &x), 0);
	assert_int_equal(pool_free(p, x), 0);

	/* A reload sets the limit of the next probe. */
	assert_int_equal(harness_reload_with(&fx.d, "restart_probe_timeout = "
					     "5\n" POOL_P), 0);
	if (!slow_probe_restarts(bin))
		fail_msg("a probe of 2.5 s refused under a limit of 5 s");
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(b[i], (uint8_t)(15 + i));
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* With the log grown past log_len bytes first, if not 0. */
static void
stop_during_probe_after(size_t log_len)
{
	char bin[128];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	size_t at;
	pid_t probe;
	int rc;

	start_copied(bin, sizeof(bin), &c, &p, &off, 9);
	if (log_len)
		harness_log_grow(&fx.d, log_len);
	put_slow_probe(bin, "1");
	at = harness_log_mark(&fx.d);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	assert_true((probe = daemon_child(fx.d.pid)) > 0);
	harness_sleep_ms(200);
	assert_int_equal(kill(fx.d.pid, SIGTERM), 0);
	rc = harness_exit_status(&fx.d, 10000);
	print_log_since(at, "since SIGUSR2");
	if (log_since_has(at, HARNESS_RESTARTED))
		fail_msg("the daemon restarted instead of stopping");
	assert_int_equal(rc, 0);
	assert_true(log_since_has(at, "given up"));
	assert_false(running(probe));
	pool_disconnect(c);
}

static void
stop_during_probe(void **state)
{
	(void)state;
	stop_during_probe_after(0);
}

#define LONG_LOG	(320 * 1024)	/* past what a reader once read */

/*
 * The log read from the mark on, however long: past 256 KiB, lines after
 * the mark were never read (the whole log was, into a buffer that size),
 * and "given up" went unseen.
 */
static void
stop_during_probe_on_a_long_log(void **state)
{
	(void)state;
	stop_during_probe_after(LONG_LOG);
}

static void
config_memfd_refused(void **state)
{
	char bin[128], *saved;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)state;
	saved = harness_preload("fail_memfd.so");
	setenv("POOLMGR_FAIL_MEMFD", "poolmgrd-config", 1);
	start_copied(bin, sizeof(bin), &c, &p, &off, 11);
	unsetenv("POOLMGR_FAIL_MEMFD");
	harness_preload_off(saved);

	refused("the same, but no memfd for the configuration's text", p, off,
		11);
	assert_int_equal(harness_log_count(&fx.d, "restart: cannot put the "
					   "configuration's text in a memfd "
					   "for the new image: Operation not "
					   "permitted; going on as before"), 1);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

#define UNREAD 5000
#define UNREAD_ID 1000000

static void
unread_replies_carried(void **state)
{
	struct timespec t0, t1;
	uint64_t off, usable, x;
	int slow, other, got;
	uint32_t h, h2;
	size_t at;

	(void)state;
	assert_int_equal(harness_start(&fx.d, "[pool p]\nsize = 16M\n"), 0);
	slow = harness_raw_client(fx.d.sock, "slow");
	h = harness_raw_handle(slow, "p");
	EXPECT_RAW(harness_raw_alloc(slow, h, 1000, &off, &usable), 0);
	other = harness_raw_client(fx.d.sock, "other");
	h2 = harness_raw_handle(other, "p");
	assert_int_equal(harness_raw_flood(slow, h, off, UNREAD, UNREAD_ID),
			 UNREAD);
	harness_sleep_ms(200);	/* the daemon answers what it read */

	at = harness_log_mark(&fx.d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (harness_restart_in_place(&fx.d) != 0) {
		print_log_since(at, "since SIGUSR2");
		fail_msg("SIGUSR2: no restart");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_log_since(at, "of the restart");
	printf("restarted %.3f s after SIGUSR2\n",
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (log_since_has(at, "dropped") || log_since_has(at, "dropping"))
		fail_msg("the client that does not read was dropped");
	/* Its socket holds a few hundred: the rest went over in the state. */
	assert_true(log_since_has(at, "carried over"));
	/* Served before the slow one reads a thing. */
	EXPECT_RAW(harness_raw_alloc(other, h2, 300, &x, NULL), 0);
	EXPECT_RAW(harness_raw_free(other, h2, x), 0);

	got = harness_raw_flood_replies(slow, UNREAD, UNREAD_ID, usable);
	printf("%d of %d replies owed read, in order\n", got, UNREAD);
	assert_int_equal(got, UNREAD);
	/* And it carries on. */
	EXPECT_RAW(harness_raw_block(slow, POOLMGR__REQUEST__BODY_USABLE_SIZE,
				     h, off), 0);
	EXPECT_RAW(harness_raw_free(slow, h, off), 0);
	close(slow);
	close(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(busy_freer_not_dropped, teardown),
		cmocka_unit_test_teardown(foreign_binary_refused, teardown),
		cmocka_unit_test_teardown(newer_reader_restarts, teardown),
		cmocka_unit_test_teardown(probe_signalled_too, teardown),
		cmocka_unit_test_teardown(checked_text_applied, teardown),
		cmocka_unit_test_teardown(many_clients_restart, teardown),
		cmocka_unit_test_teardown(probe_keeps_serving, teardown),
		cmocka_unit_test_teardown(slow_probe_within_limit, teardown),
		cmocka_unit_test_teardown(slow_probe_over_limit, teardown),
		cmocka_unit_test_teardown(stop_during_probe, teardown),
		cmocka_unit_test_teardown(stop_during_probe_on_a_long_log,
					  teardown),
		cmocka_unit_test_teardown(config_memfd_refused, teardown),
		cmocka_unit_test_teardown(unread_replies_carried, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

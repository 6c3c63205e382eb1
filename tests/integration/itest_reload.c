/*
 * itest_reload.c - a SIGHUP gives a live pool the owner, group, mode,
 * access control list, quota and retain its section in the file now says
 * (poolmgrd.conf(5), RELOADING):
 *
 *   quota_follows_a_reload  lowered below what a client holds, nothing is
 *       taken back: its blocks stay readable and freeable, and the next
 *       allocation or retain past it is -EDQUOT until it has freed
 *       enough, while another client within it goes on; raised, then
 *       removed, the next allocation sees it; the log names the change,
 *       old -> new; a persist that would take the uid's persistent
 *       blocks past a lowered quota is -EDQUOT, and goes once they are
 *       under it;
 *   mode_holds_for_new_opens  a client of another uid opened the pool
 *       read-write under 0666; after a reload to 0600 its open handles
 *       keep their access (they are like open files), while a new open,
 *       read-write or read-only, and stats by name are -EACCES; 0644 lets
 *       it open read-only again; owner = its uid lets it open read-write;
 *   acl_follows_a_reload  a reload that adds user:65534:rw lets a client
 *       of that uid open a 0600 pool it could not; r lets it open
 *       read-only only; a group entry for its group lets it in unless a
 *       user entry of its own refuses; a reload that drops the list
 *       leaves the handles opened under it their access and refuses the
 *       next open (-EACCES); each change logged, old -> new;
 *   retain_lowered_gives_pages_back  4 MiB of free pages kept under
 *       retain = 8M go back down to a lowered retain, with no request
 *       freeing anything; retain = 0 gives back the rest;
 *   size_and_granularity_stay  a changed size and granularity are logged
 *       as not applied and the pool keeps them, while the quota changed
 *       in the same reload applies;
 *   pool_of_poolctl_follows_the_file  a pool poolctl created, whose name
 *       the file now has, takes the file's settings;
 *   invalid_file_changes_nothing  after a good reload, one with a bad line
 *       leaves the settings it applied as they are;
 *   destroyed_file_pool_comes_back  a pool of the file destroyed by force
 *       is logged as one a reload makes again, and the reload does, empty
 *       and with the file's settings; a pool poolctl made is not;
 *   daemon_settings_logged  the daemon's own settings a reload changes are
 *       logged on one line, old -> new, and a changed socket_mode is
 *       logged as not applied, at each reload, the socket keeping its
 *       mode.
 *
 * A reload is waited for as harness_reload does: in the daemon's log.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define OTHER_UID 65534
#define OTHER_GID 65534

static struct daemon_proc d;

static void
start(const char *pools)
{
	harness_fixture_start(&d, pools);
}

static int
teardown(void **state)
{
	(void)state;
	harness_fixture_stop(&d);
	return 0;
}

/* How often the daemon's log says s. */
static unsigned
log_count(const char *s)
{
	FILE *f = fopen(d.log, "r");
	struct stat sb;
	unsigned n = 0;
	char *text, *at;
	size_t len;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	assert_non_null(text = malloc((size_t)sb.st_size + 1));
	len = fread(text, 1, (size_t)sb.st_size, f);
	text[len] = '\0';
	fclose(f);
	for (at = text; (at = strstr(at, s)); at += strlen(s))
		n++;
	free(text);
	return n;
}

/*
 * s is in the daemon's log, or comes within 10 s: the reload's "SIGHUP: "
 * line, which harness_reload waits for, comes before the pools' lines.
 */
static void
expect_logged(const char *s)
{
	harness_expect_logged(&d, s);
}

/*
 * Write the file with pools after the [daemon] section and reload it;
 * return once the daemon has begun the reload (see the top).
 */
static void
reload(const char *pools)
{
	FILE *f = fopen(d.conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s%s", HARNESS_FIXTURE_CONF,
		pools);
	assert_int_equal(fclose(f), 0);
	harness_reload(&d);
	if (!harness_alive(&d))
		fail_msg("the daemon died at the SIGHUP");
}

static struct pool_stats
stats_of(struct pool_conn *c, const char *name)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats_by_name(c, name, &st), 0);
	return st;
}

/* A block of size bytes, every byte fill. */
static pool_off_t
block_of(struct pool *p, size_t size, int fill)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, size, &off), 0);
	memset(pool_ptr(p, off), fill, size);
	return off;
}

static bool
holds_fill(struct pool *p, pool_off_t off, size_t size, int fill)
{
	const uint8_t *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != fill)
			return false;
	return true;
}

/* ---- quota -------------------------------------------------------------- */

static void
quota_follows_a_reload(void **state)
{
	struct pool_conn *c, *c2;
	struct pool *p, *p2;
	pool_off_t b[3], other, off;
	int i;

	(void)state;
	start("[pool q]\nsize = 8M\nquota = 1M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	EXPECT_RC(pool_open(c, "q", &p), 0);
	EXPECT_RC(pool_open(c2, "q", &p2), 0);
	/* Counted exactly: no block kept back in a client-side cache. */
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_set_cache(p2, 0), 0);
	for (i = 0; i < 3; i++)
		b[i] = block_of(p, 256 * KiB, 0x51 + i);	/* 768 KiB */
	other = block_of(p2, 4 * KiB, 0x77);

	reload("[pool q]\nsize = 8M\nquota = 512K\n");
	/* Over it: nothing more, but what it holds stays its own. */
	EXPECT_RC(pool_alloc(p, 4 * KiB, &off), -EDQUOT);
	EXPECT_RC(pool_retain(p, other), -EDQUOT);
	assert_int_equal(stats_of(c, "q").quota, 512 * KiB);
	expect_logged("pool q: quota 1048576 -> 524288");
	for (i = 0; i < 3; i++)
		assert_true(holds_fill(p, b[i], 256 * KiB, 0x51 + i));
	/* Another client, within it, goes on. */
	EXPECT_RC(pool_alloc(p2, 4 * KiB, &off), 0);
	EXPECT_RC(pool_free(p2, off), 0);
	EXPECT_RC(pool_free(p, b[2]), 0);	/* 512 KiB: still no room */
	EXPECT_RC(pool_alloc(p, 4 * KiB, &off), -EDQUOT);
	EXPECT_RC(pool_free(p, b[1]), 0);	/* 256 KiB */
	EXPECT_RC(pool_alloc(p, 4 * KiB, &off), 0);
	EXPECT_RC(pool_free(p, off), 0);
	assert_true(holds_fill(p, b[0], 256 * KiB, 0x51));

	/* Raised, the next allocation has the room; then none at all. */
	reload("[pool q]\nsize = 8M\nquota = 2M\n");
	assert_int_equal(stats_of(c, "q").quota, 2 * MiB);
	EXPECT_RC(pool_alloc(p, 1536 * KiB, &off), 0);
	EXPECT_RC(pool_alloc(p, 512 * KiB, &b[1]), -EDQUOT);
	reload("[pool q]\nsize = 8M\n");
	assert_int_equal(stats_of(c, "q").quota, 0);
	EXPECT_RC(pool_alloc(p, 512 * KiB, &b[1]), 0);
	expect_logged("pool q: quota 2097152 -> 0");

	/* Persisted blocks count against their uid's quota, lowered too. */
	EXPECT_RC(pool_persist(p, b[0]), 0);			/* 256 KiB */
	EXPECT_RC(pool_alloc(p2, 4 * KiB, &off), 0);
	reload("[pool q]\nsize = 8M\nquota = 128K\n");
	EXPECT_RC(pool_persist(p2, off), -EDQUOT);
	assert_int_equal(stats_of(c, "q").persistent_blocks, 1);
	assert_true(holds_fill(p, b[0], 256 * KiB, 0x51));
	EXPECT_RC(pool_free(p, b[0]), 0);	/* its own reference */
	EXPECT_RC(pool_free(p, b[0]), 0);	/* then the pool's */
	assert_int_equal(stats_of(c, "q").persistent_blocks, 0);
	EXPECT_RC(pool_persist(p2, off), 0);

	pool_close(p);
	pool_close(p2);
	pool_disconnect(c);
	pool_disconnect(c2);
}

/* ---- mode, owner -------------------------------------------------------- */

struct pipes {
	int ready[2];	/* child -> parent: its handles are open */
	int go[2];	/* parent -> child: the reload is done */
};

/*
 * As uid OTHER_UID: open the pool read-write and read-only under 0666,
 * wait for the reload to 0600, then use the open handles and try new
 * opens.
 */
static int
opened_before_child(void *arg)
{
	struct pipes *pp = arg;
	struct pool_conn *c;
	struct pool *rw, *ro, *again;
	struct pool_stats st;
	pool_off_t a, b;
	char byte = 0;

	/* The parent's ends: a parent gone must be an end of file here. */
	close(pp->ready[0]);
	close(pp->go[1]);
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, "m", &rw), 0, 11);
	CHECK_RC(pool_open_readonly(c, "m", &ro), 0, 12);
	CHECK_RC(pool_alloc(rw, 4096, &a), 0, 13);
	memset(pool_ptr(rw, a), 0x3c, 4096);
	CHECK(harness_write_full(pp->ready[1], &byte, 1) == 0, 14);
	CHECK(harness_read_full(pp->go[0], &byte, 1) == 0, 15);

	/* Its handles keep the access they were opened with ... */
	CHECK_RC(pool_alloc(rw, 4096, &b), 0, 20);
	CHECK(((uint8_t *)pool_ptr(ro, a))[4095] == 0x3c, 21);
	CHECK_RC(pool_free(rw, a), 0, 22);
	CHECK_RC(pool_free(rw, b), 0, 23);
	CHECK_RC(pool_stats(ro, &st), 0, 24);
	CHECK(st.mode == 0600, 25);
	/* ... while a new open, or a request by name, sees the new mode. */
	CHECK_RC(pool_open(c, "m", &again), -EACCES, 30);
	CHECK_RC(pool_open_readonly(c, "m", &again), -EACCES, 31);
	CHECK_RC(pool_stats_by_name(c, "m", &st), -EACCES, 32);
	pool_close(rw);
	pool_close(ro);
	pool_disconnect(c);
	return 0;
}

/* As OTHER_UID: opening read-only is want_ro, read-write want_rw. */
struct open_want {
	int want_rw, want_ro;
};

static int
opens_child(void *arg)
{
	const struct open_want *w = arg;
	struct pool_conn *c;
	struct pool *p;
	int rc;

	CHECK_RC(pool_connect(NULL, &c), 0, 40);
	rc = pool_open(c, "m", &p);
	CHECK_RC(rc, w->want_rw, 41);
	if (rc == 0)
		pool_close(p);
	rc = pool_open_readonly(c, "m", &p);
	CHECK_RC(rc, w->want_ro, 42);
	if (rc == 0)
		pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
expect_opens(int want_rw, int want_ro)
{
	struct open_want w = {want_rw, want_ro};
	pid_t pid = harness_spawn_as(OTHER_UID, OTHER_GID, opens_child, &w);

	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
}

static void
mode_holds_for_new_opens(void **state)
{
	struct pipes pp;
	struct pool_conn *c;
	char byte;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start("[pool m]\nsize = 1M\nmode = 0666\n");
	assert_int_equal(pipe(pp.ready), 0);
	assert_int_equal(pipe(pp.go), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, opened_before_child, &pp);
	assert_true(pid > 0);
	close(pp.ready[1]);
	close(pp.go[0]);
	if (harness_read_full(pp.ready[0], &byte, 1) != 0)
		fail_msg("the child did not open the pool: exit %d",
			 harness_wait(pid));
	reload("[pool m]\nsize = 1M\nmode = 0600\n");
	assert_int_equal(harness_write_full(pp.go[1], &byte, 1), 0);
	close(pp.ready[0]);
	close(pp.go[1]);
	assert_int_equal(harness_wait(pid), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(stats_of(c, "m").mode, 0600);
	expect_logged("pool m: mode 0666 -> 0600");

	reload("[pool m]\nsize = 1M\nmode = 0644\n");
	expect_opens(-EACCES, 0);
	/* The owner now: 0600 is its own rights. */
	reload("[pool m]\nsize = 1M\nmode = 0600\nowner = 65534\n");
	assert_int_equal(stats_of(c, "m").uid, OTHER_UID);
	expect_opens(0, 0);
	reload("[pool m]\nsize = 1M\nmode = 0600\n");
	assert_int_equal(stats_of(c, "m").uid, geteuid());
	expect_opens(-EACCES, -EACCES);
	pool_disconnect(c);
}

/* ---- access control list ------------------------------------------------ */

/*
 * The file's acl is the pool's: a reload that names OTHER_UID lets it
 * open a 0600 pool it could not, with the rights its entry gives; a group
 * entry for its group does too, unless a user entry of its own refuses;
 * each change is logged, old -> new.  Dropped from the file, the list
 * goes: a handle opened under it keeps its access (rights are checked at
 * open), while a new open and stats by name are -EACCES.
 */
static void
acl_follows_a_reload(void **state)
{
	struct pipes pp;
	struct pool_conn *c;
	char byte;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	start("[pool m]\nsize = 1M\n");
	expect_opens(-EACCES, -EACCES);

	reload("[pool m]\nsize = 1M\nacl = user:65534:rw\n");
	expect_logged("pool m: acl none -> user:65534:rw");
	expect_opens(0, 0);
	reload("[pool m]\nsize = 1M\nacl = u:65534:r--\n");
	expect_logged("pool m: acl user:65534:rw -> user:65534:r");
	expect_opens(-EACCES, 0);
	/* The group class: its group's entry, then its own refusing. */
	reload("[pool m]\nsize = 1M\nacl = group:65534:rw\n");
	expect_opens(0, 0);
	reload("[pool m]\nsize = 1M\nacl = group:65534:rw, user:65534:-\n");
	expect_logged("pool m: acl group:65534:rw -> "
		      "user:65534:-,group:65534:rw");
	expect_opens(-EACCES, -EACCES);

	/* Opened under the list, kept after it goes. */
	reload("[pool m]\nsize = 1M\nacl = user:65534:rw\n");
	assert_int_equal(pipe(pp.ready), 0);
	assert_int_equal(pipe(pp.go), 0);
	pid = harness_spawn_as(OTHER_UID, OTHER_GID, opened_before_child, &pp);
	assert_true(pid > 0);
	close(pp.ready[1]);
	close(pp.go[0]);
	if (harness_read_full(pp.ready[0], &byte, 1) != 0)
		fail_msg("the child did not open the pool: exit %d",
			 harness_wait(pid));
	reload("[pool m]\nsize = 1M\n");
	expect_logged("pool m: acl user:65534:rw -> none");
	assert_int_equal(harness_write_full(pp.go[1], &byte, 1), 0);
	close(pp.ready[0]);
	close(pp.go[1]);
	assert_int_equal(harness_wait(pid), 0);
	expect_opens(-EACCES, -EACCES);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(stats_of(c, "m").mode, 0600);
	pool_disconnect(c);
}

/* ---- retain ------------------------------------------------------------- */

static void
retain_lowered_gives_pages_back(void **state)
{
	enum { NBLOCKS = 1024 };
	static pool_off_t offs[NBLOCKS];
	static size_t sizes[NBLOCKS];
	struct pool_stats before, after;
	struct pool_conn *c;
	char msg[256];
	struct pool *p;
	unsigned i;

	(void)state;
	/* A small step: the pages go back over many loop turns. */
	start("release_step = 64K\n[pool r]\nsize = 64M\nretain = 8M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "r", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	for (i = 0; i < NBLOCKS; i++)
		sizes[i] = 4 * KiB;
	EXPECT_RC(pool_alloc_batch(p, NBLOCKS, sizes, offs), 0);
	for (i = 0; i < NBLOCKS; i++)
		memset(pool_ptr(p, offs[i]), 0xa5, 4 * KiB);
	EXPECT_RC(pool_free_batch(p, NBLOCKS, offs), 0);
	before = stats_of(c, "r");
	assert_int_equal(before.retain_bytes, 8 * MiB);
	assert_true(before.free_resident_bytes >= 3 * MiB);	/* all kept */

	reload("release_step = 64K\n[pool r]\nsize = 64M\nretain = 64K\n");
	after = stats_of(c, "r");
	printf("retain 8M -> 64K: %llu free resident bytes -> %llu, "
	       "committed %llu -> %llu\n",
	       (unsigned long long)before.free_resident_bytes,
	       (unsigned long long)after.free_resident_bytes,
	       (unsigned long long)before.committed_bytes,
	       (unsigned long long)after.committed_bytes);
	assert_true(after.free_resident_bytes <= 64 * KiB);
	assert_true(after.committed_bytes + 3 * MiB <= before.committed_bytes);
	assert_int_equal(after.retain_bytes, 64 * KiB);
	expect_logged("pool r: retain 8388608 -> 65536");

	reload("release_step = 64K\n[pool r]\nsize = 64M\nretain = 0\n");
	after = stats_of(c, "r");
	assert_int_equal(after.retain_bytes, 0);
	assert_int_equal(after.free_resident_bytes, 0);
	expect_logged("pool r: retain 65536 -> none");
	EXPECT_RC(pool_check_by_name(c, "r", msg, sizeof(msg)), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- what cannot change, and who -------------------------------------- */

static void
size_and_granularity_stay(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	start("[pool s]\nsize = 2M\nquota = 1M\n");
	reload("[pool s]\nsize = 4M\ngranularity = 64\nquota = 2M\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	st = stats_of(c, "s");
	assert_int_equal(st.max_size, 2 * MiB);
	assert_int_equal(st.granularity, 16);
	assert_int_equal(st.quota, 2 * MiB);	/* the rest applies */
	expect_logged("pool s: size 2097152 -> 4194304, granularity 16 -> 64 "
		      "in the file, not applied");
	expect_logged("pool s: quota 1048576 -> 2097152");
	pool_disconnect(c);
}

static void
pool_of_poolctl_follows_the_file(void **state)
{
	struct pool_create_opts o = {.max_size = MiB, .mode = 0666};
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	start("");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create(c, "made", &o), 0);
	reload("[pool made]\nsize = 1M\nmode = 0640\nquota = 64K\n");
	st = stats_of(c, "made");
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.quota, 64 * KiB);
	assert_int_equal(log_count("not applied"), 0);	/* same size */
	pool_disconnect(c);
}

static void
invalid_file_changes_nothing(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	pool_off_t off;

	(void)state;
	start("[pool v]\nsize = 1M\nmode = 0640\nquota = 1M\n");
	reload("[pool v]\nsize = 1M\nmode = 0660\nquota = 256K\nretain = 8K\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	st = stats_of(c, "v");
	assert_int_equal(st.mode, 0660);
	assert_int_equal(st.quota, 256 * KiB);
	assert_int_equal(st.retain_bytes, 8 * KiB);

	reload("[pool v]\nsize = 1M\nmode = 0600\nquota = 64K\nretain = 0\n"
	       "colour = blue\n");
	expect_logged("keeping the running configuration");
	st = stats_of(c, "v");
	assert_int_equal(st.mode, 0660);
	assert_int_equal(st.quota, 256 * KiB);
	assert_int_equal(st.retain_bytes, 8 * KiB);
	EXPECT_RC(pool_open(c, "v", &p), 0);
	EXPECT_RC(pool_alloc(p, 128 * KiB, &off), 0);	/* over 64K */
	pool_close(p);
	pool_disconnect(c);
}

static void
destroyed_file_pool_comes_back(void **state)
{
	const char *again = "(the configuration file defines it: a reload "
			    "or start makes it again, empty)";
	struct pool_create_opts o = {.max_size = MiB, .mode = 0666};
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;

	(void)state;
	start("[pool f]\nsize = 1M\nmode = 0660\nquota = 512K\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "f", &p), 0);
	block_of(p, 4 * KiB, 0x5a);
	EXPECT_RC(pool_destroy_force(c, "f"), 0);
	pool_close(p);
	expect_logged("pool f destroyed by uid ");
	assert_int_equal(log_count(again), 1);
	EXPECT_RC(pool_stats_by_name(c, "f", &st), -ENOENT);

	EXPECT_RC(pool_create(c, "made", &o), 0);
	EXPECT_RC(pool_destroy(c, "made"), 0);
	expect_logged("pool made destroyed by uid ");
	assert_int_equal(log_count(again), 1);	/* not for this one */

	reload("[pool f]\nsize = 1M\nmode = 0660\nquota = 512K\n");
	st = stats_of(c, "f");
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.mode, 0660);
	assert_int_equal(st.quota, 512 * KiB);
	EXPECT_RC(pool_stats_by_name(c, "made", &st), -ENOENT);
	pool_disconnect(c);
}

/*
 * A pool of the file destroyed and made again by an admin, who may not be
 * able to reload the daemon: made with the request's settings, which the
 * file owns (SetPool: -EROFS) and its next reload gives back, as the log
 * says at the create.
 */
static void
file_pool_made_again_follows_the_file(void **state)
{
	struct pool_create_opts o = {.max_size = MiB, .mode = 0666};
	struct pool_set_opts mode = {.which = POOL_SET_MODE, .mode = 0644};
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	start("[pool f]\nsize = 1M\nmode = 0660\nquota = 512K\n");
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_destroy(c, "f"), 0);
	EXPECT_RC(pool_create(c, "f", &o), 0);
	expect_logged("pool f: the configuration file defines it: its "
		      "settings are the file's again from the next reload");
	st = stats_of(c, "f");
	assert_int_equal(st.mode, 0666);
	assert_int_equal(st.quota, 0);
	EXPECT_RC(pool_set(c, "f", &mode), -EROFS);
	reload("[pool f]\nsize = 1M\nmode = 0660\nquota = 512K\n");
	expect_logged("pool f: mode 0666 -> 0660");
	st = stats_of(c, "f");
	assert_int_equal(st.mode, 0660);
	assert_int_equal(st.quota, 512 * KiB);
	pool_disconnect(c);
}

/*
 * The daemon's own settings a reload changes are said on one line, old ->
 * new, as a pool's are; a reload that changes none says nothing of them.
 * socket_mode changed in the file is not applied (the socket keeps its
 * mode until a start with nothing to restore): a warning says so, at
 * each reload while the file and the socket differ.
 */
static void
daemon_settings_logged(void **state)
{
	const char *changes = "daemon: max_connections 1024 -> 64, "
			      "max_alloc_waits 256 -> 8\n";
	const char *kept = "daemon: socket_mode 0666 -> 0640 in the file, "
			   "not applied: the socket and its mode change only "
			   "at a start with nothing to restore\n";
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	struct stat sb;

	(void)state;
	start("");
	reload("max_connections = 64\nmax_alloc_waits = 8\n"
	       "socket_mode = 0640\n");
	harness_expect_logged(&d, changes);
	harness_expect_logged(&d, kept);
	assert_int_equal(stat(d.sock, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0666);
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	assert_int_equal(ds.max_connections, 64);
	pool_disconnect(c);

	/* The same file again: nothing changes, the socket still differs. */
	reload("max_connections = 64\nmax_alloc_waits = 8\n"
	       "socket_mode = 0640\n");
	for (int i = 0; i < 2000 && log_count(kept) < 2; i++)
		harness_sleep_ms(5);
	assert_int_equal(log_count(kept), 2);
	assert_int_equal(log_count(changes), 1);
	assert_int_equal(log_count("daemon: max_connections"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(quota_follows_a_reload, teardown),
		cmocka_unit_test_teardown(mode_holds_for_new_opens, teardown),
		cmocka_unit_test_teardown(acl_follows_a_reload, teardown),
		cmocka_unit_test_teardown(retain_lowered_gives_pages_back,
					  teardown),
		cmocka_unit_test_teardown(size_and_granularity_stay, teardown),
		cmocka_unit_test_teardown(pool_of_poolctl_follows_the_file,
					  teardown),
		cmocka_unit_test_teardown(invalid_file_changes_nothing,
					  teardown),
		cmocka_unit_test_teardown(destroyed_file_pool_comes_back,
					  teardown),
		cmocka_unit_test_teardown(daemon_settings_logged, teardown),
		cmocka_unit_test_teardown(file_pool_made_again_follows_the_file,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * itest_destroy_fork.c - a destroyed pool's memory is taken from nobody
 * who still maps it, and still goes back once nobody does
 * (daemon/closer.c).
 *
 *   forked_child_keeps_destroyed_pool   a client writes a persisted
 *       16 MiB block (16 release steps), forks, and closes its handle;
 *       another connection force-destroys the pool, which the daemon
 *       takes for mapped by nobody.  Once the daemon has let go of the
 *       memfd, the child, which maps it still, finds every byte of its
 *       block as written.  The daemon that punched such a memfd out a
 *       step per loop turn before closing it left the child zeros.
 *   destroyed_pool_frees_its_memory   a pool nobody maps, holding a
 *       written 256 MiB block, is destroyed: the system's shared memory
 *       (Shmem in /proc/meminfo) falls by at least 192 MiB of it, with
 *       the default release step and with release_step = 0 (closed at
 *       once on the daemon's thread).
 *   destroy_then_stop   a pool of 256 MiB written is destroyed and the
 *       daemon stopped at once: it exits cleanly (under ASan, nothing
 *       leaked), its memfd's close queued or done.
 *   destroy_then_restart_in_place   the same, but a restart in place
 *       follows the destroy: another pool's bytes, its memfd passed to
 *       the new image, are all there after it.
 */
#include <errno.h>
#include <fcntl.h>
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

#define MiB		(1024ull * 1024)
#define CHILD_ALARM	60
#define FORK_BLOCK	(16 * MiB)
#define BIG_BLOCK	(256 * MiB)
/* What a forked child waits for the daemon (and its closer) to be done. */
#define WAIT_TRIES	3000

static struct daemon_proc d;

static int
teardown(void **state)
{
	int rc = 0;

	(void)state;
	if (d.pid > 0)
		rc = harness_stop(&d);
	memset(&d, 0, sizeof(d));
	assert_int_equal(rc, 0);
	return 0;
}

/* Byte i of a block this test wrote: never 0, which a punch leaves. */
static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i % 251 + 1);
}

/* The inode of the daemon's memfd of pool name; fails the test if none. */
static ino_t
daemon_inode(const char *name)
{
	char path[64], link[128], want[96];
	struct stat sb;
	ssize_t n;

	snprintf(want, sizeof(want), "/memfd:poolmgr:%s (deleted)", name);
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)d.pid, fd);
		if ((n = readlink(path, link, sizeof(link) - 1)) < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0 && stat(path, &sb) == 0)
			return sb.st_ino;
	}
	fail_msg("the daemon has no memfd of pool %s", name);
	return 0;
}

/* A pool of size bytes holding one persisted block of len written bytes. */
static void
pool_with_block(struct pool_conn *c, const char *name, uint64_t size,
		size_t len, struct pool **p, unsigned char **block)
{
	struct pool_create_opts o = {.max_size = size};
	pool_off_t off;
	size_t i;

	EXPECT_RC(pool_create(c, name, &o), 0);
	EXPECT_RC(pool_open(c, name, p), 0);
	EXPECT_RC(pool_alloc(*p, len, &off), 0);
	*block = pool_ptr(*p, off);
	for (i = 0; i < len; i++)
		(*block)[i] = pattern(i);
	EXPECT_RC(pool_persist(*p, off), 0);
}

/* Shmem of /proc/meminfo, in bytes. */
static uint64_t
shmem_bytes(void)
{
	char line[128];
	unsigned long long kb = 0;
	bool found = false;
	FILE *f = fopen("/proc/meminfo", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Shmem: %llu kB", &kb) == 1;
	fclose(f);
	assert_true(found);
	return kb * 1024;
}

/* -------------------------------------------------------------------------- */

/* The forked child: its inherited mapping of the block, and a pipe. */
struct keeper {
	const unsigned char *block;
	size_t len;
	int go[2];		/* a byte (or its end): look now */
};

static int
keeper(void *arg)
{
	struct keeper *k = arg;
	char byte;
	size_t i;

	alarm(CHILD_ALARM);
	/* cmocka's handler, inherited, would run the next tests here. */
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	close(k->go[1]);
	CHECK(harness_read_full(k->go[0], &byte, 1) == 0, 10);
	for (i = 0; i < k->len; i++)
		if (k->block[i] != pattern(i)) {
			fprintf(stderr, "child: byte %zu of the destroyed "
				"pool's block is %#x, written %#x\n", i,
				k->block[i], pattern(i));
			return 11;
		}
	return 0;
}

static void
forked_child_keeps_destroyed_pool(void **state)
{
	struct keeper k = {.len = FORK_BLOCK};
	struct pool_conn *c, *admin;
	struct pool *p;
	unsigned char *block;
	ino_t ino;
	pid_t pid;

	(void)state;
	assert_int_equal(harness_start(&d, "release_step = 1M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	pool_with_block(c, "kept", 64 * MiB, FORK_BLOCK, &p, &block);
	ino = daemon_inode("kept");
	k.block = block;
	assert_int_equal(pipe(k.go), 0);
	pid = harness_spawn(keeper, &k);
	assert_true(pid > 0);
	close(k.go[0]);

	/* The parent lets go: the daemon knows of no mapping left. */
	pool_close(p);
	pool_disconnect(c);
	EXPECT_RC(pool_connect(d.sock, &admin), 0);
	EXPECT_RC(pool_destroy_force(admin, "kept"), 0);
	harness_wait_let_go(&d, ino);
	assert_int_equal(harness_write_full(k.go[1], "x", 1), 0);
	close(k.go[1]);
	assert_int_equal(harness_wait(pid), 0);
	pool_disconnect(admin);
}

/* -------------------------------------------------------------------------- */

static void
frees_its_memory(const char *config)
{
	struct pool_conn *c;
	struct pool *p;
	unsigned char *block;
	uint64_t before, now = 0;
	ino_t ino;
	int i;

	assert_int_equal(harness_start(&d, config), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	pool_with_block(c, "freed", BIG_BLOCK + 64 * MiB, BIG_BLOCK, &p,
			&block);
	ino = daemon_inode("freed");
	pool_close(p);
	before = shmem_bytes();
	EXPECT_RC(pool_destroy_force(c, "freed"), 0);
	harness_wait_let_go(&d, ino);
	/*
	 * The close frees the pages after the descriptor is gone; others
	 * on the machine may add shared memory meanwhile, so a margin.
	 */
	for (i = 0; i < WAIT_TRIES; i++) {
		now = shmem_bytes();
		if (now + BIG_BLOCK / 4 * 3 <= before)
			break;
		harness_sleep_ms(10);
	}
	printf("Shmem %llu MiB before the destroy, %llu MiB after\n",
	       (unsigned long long)(before / MiB),
	       (unsigned long long)(now / MiB));
	assert_true(now + BIG_BLOCK / 4 * 3 <= before);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	memset(&d, 0, sizeof(d));
}

static void
destroyed_pool_frees_its_memory(void **state)
{
	(void)state;
	frees_its_memory(NULL);
	frees_its_memory("release_step = 0\n");
}

/* -------------------------------------------------------------------------- */

static void
destroy_then_stop(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	unsigned char *block;

	(void)state;
	assert_int_equal(harness_start(&d, NULL), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	pool_with_block(c, "gone", BIG_BLOCK + 64 * MiB, BIG_BLOCK, &p,
			&block);
	pool_close(p);
	EXPECT_RC(pool_destroy_force(c, "gone"), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	memset(&d, 0, sizeof(d));
}

/* -------------------------------------------------------------------------- */

static void
destroy_then_restart_in_place(void **state)
{
	struct pool_conn *c;
	struct pool *gone, *kept;
	unsigned char *block, *kept_block;
	pool_off_t off;
	size_t i;

	(void)state;
	assert_int_equal(harness_start(&d, NULL), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	pool_with_block(c, "kept", 64 * MiB, 4 * MiB, &kept, &kept_block);
	off = pool_offset_of(kept, kept_block);
	pool_close(kept);
	pool_with_block(c, "gone", BIG_BLOCK + 64 * MiB, BIG_BLOCK, &gone,
			&block);
	pool_close(gone);
	EXPECT_RC(pool_destroy_force(c, "gone"), 0);
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);

	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "kept", &kept), 0);
	kept_block = pool_ptr(kept, off);
	for (i = 0; i < 4 * MiB; i++)
		if (kept_block[i] != pattern(i))
			fail_msg("byte %zu of the kept pool is %#x, written "
				 "%#x", i, kept_block[i], pattern(i));
	harness_expect_checked(c, "kept");
	pool_close(kept);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(forked_child_keeps_destroyed_pool,
					  teardown),
		cmocka_unit_test_teardown(destroyed_pool_frees_its_memory,
					  teardown),
		cmocka_unit_test_teardown(destroy_then_stop, teardown),
		cmocka_unit_test_teardown(destroy_then_restart_in_place,
					  teardown),
	};

	return cmocka_run_group_tests_name("integration: destroyed pools",
					   tests, NULL, NULL);
}

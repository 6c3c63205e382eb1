/*
 * itest_numa.c - a pool's NUMA policy (CreatePool's numa_node and
 * numa_policy): the daemon sets it on the pool's memfd, so the kernel
 * places every page by it, whichever process faults the page in; it comes
 * back in the pool's statistics and survives the restarts that keep the
 * memfd.  The pools here use the first node with memory (has_memory, the
 * kernel's N_MEMORY: node 0 need not have any); where no node has memory,
 * each test says "SKIP:" and passes.  The node that does not exist is the
 * count of possible nodes.
 *
 *   placed_in_every_process  pools with the node preferred, the node bound
 *       and no policy: a client process maps each, writes a block, and
 *       its /proc/self/numa_maps line for the mapping says "prefer:N",
 *       "bind:N" and "default" (the bound pool's pages all on node N); the
 *       statistics say the same;
 *   bad_requests_refused     a node past the possible ones: -ENODEV, the
 *       text names NUMA, no pool made; a policy the library does not know,
 *       a node without a policy: -EINVAL from the library; on the wire a
 *       policy without a node and an unknown policy: -EINVAL, no pool
 *       made; the daemon goes on serving;
 *   mbind_refused            a daemon denied mbind (EPERM, as a system-call
 *       filter does; fail_mbind.so): -EOPNOTSUPP, not the -EPERM of
 *       admin rights, no pool made; a pool without a policy is made; the
 *       file's pool with a node is not made, and the log says why;
 *   cache_refusal_has_no_policy_words  pool_set_cache on a read-only
 *       handle right after such a refusal: -EOPNOTSUPP from the library,
 *       without the policy's words;
 *   kept_across_restart      SIGUSR2: the statistics still say it, and a
 *       client process that maps the pool after the restart gets the
 *       policy; the one that mapped it before still has it;
 *   kept_across_crash        SIGKILL under the fd store (the crash
 *       journal): the recovered pool reads back the policy from its memfd;
 *   from_the_file            [pool NAME] numa_node and numa_policy (the
 *       log's line of each pool made says its policy); a reload that
 *       changes them says they are not applied; a numa_policy
 *       without a numa_node refuses the file;
 *   huge_pages_refused       a policy with huge pages (hugetlbfs keeps no
 *       shared policy): -EINVAL from the daemon, a usage error in poolctl,
 *       a refused file; nothing made; with the system page named: made;
 *   poolctl_numa             poolctl create --numa-node (--numa-policy),
 *       stats in text (its values in one column, "preferred:N" too), kv,
 *       json and prometheus, the usage errors (exit 2), the missing node
 *       (exit 1, its text).
 */
#include <errno.h>
#include <inttypes.h>
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
#include "harness_store.h"
#include "poolclient.h"

#define BLOCK		(256u << 10)	/* written by each client */
#define STORE_FDS	"1796"		/* the unit's FileDescriptorStoreMax= */

static struct daemon_proc d;
static char out[32768], err[2048];

/* The node the pools use: the first with memory; -1: none has any. */
static int node = -1;

/* What a client process looks for in its numa_maps. */
struct look {
	const char *pool;
	char policy[32];	/* numa_maps' word: "prefer:N", ... */
	bool on_node;		/* some page it wrote on the node */
	bool only_node;		/* every page it wrote on the node */
};

/*
 * The first node in has_memory ("0", "1-3", "0,2"): -1 where none has
 * memory, or the kernel has no NUMA (no such file).
 */
static int
first_memory_node(void)
{
	char text[256] = "";

	harness_read_text("/sys/devices/system/node/has_memory", text,
			  sizeof(text));
	if (text[0] < '0' || text[0] > '9')
		return -1;
	return (int)strtol(text, NULL, 10);
}

static int
group_setup(void **state)
{
	(void)state;
	node = first_memory_node();
	return 0;
}

/* Pass, saying why, where no node has memory to place a pool on. */
static void
skip_without_node(void)
{
	if (node < 0) {
		printf("SKIP: no NUMA node has memory "
		       "(/sys/devices/system/node/has_memory)\n");
		fflush(stdout);
		skip();
	}
}

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, "admin_group = 0\n") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

/* The count of possible NUMA nodes: one past the last in "0" or "0-3". */
static unsigned
possible_nodes(void)
{
	char text[256] = "", *last;

	harness_read_text("/sys/devices/system/node/possible", text,
			  sizeof(text));
	if (*text == '\0')
		return 1;	/* a kernel without NUMA: node 0 only */
	last = text + strcspn(text, "\n");
	while (last > text && last[-1] != '-' && last[-1] != ',')
		last--;
	return (unsigned)strtoul(last, NULL, 10) + 1;
}

static void
create(struct pool_conn *c, const char *name, uint32_t policy, int n)
{
	struct pool_create_opts o = {.max_size = 4 << 20,
				     .numa_policy = policy,
				     .numa_node = (uint32_t)n};

	EXPECT_RC(pool_create(c, name, &o), 0);
}

static void
expect_policy(struct pool_conn *c, const char *name, uint32_t policy,
	      int n)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats_by_name(c, name, &st), 0);
	if (st.numa_policy != policy || st.numa_node != (uint32_t)n)
		fail_msg("pool %s: stats say NUMA policy %u node %u, expected "
			 "%u node %d", name, st.numa_policy, st.numa_node,
			 policy, n);
}

/*
 * The numa_maps line of this process's mapping that starts at base, in
 * line; 0, or -1 if there is none.
 */
static int
numa_maps_line(const void *base, char *line, size_t len)
{
	char want[32];
	FILE *f;
	int rc = -1;

	snprintf(want, sizeof(want), "%lx ", (unsigned long)base);
	if (!(f = fopen("/proc/self/numa_maps", "r")))
		return -1;
	while (fgets(line, (int)len, f))
		if (strncmp(line, want, strlen(want)) == 0) {
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* Does the numa_maps line count pages on node n? */
static bool
pages_on_node(const char *line, int n)
{
	char want[32];

	snprintf(want, sizeof(want), " N%d=", n);
	return strstr(line, want) != NULL;
}

/* Does the numa_maps line count pages on a node other than n? */
static bool
pages_off_node(const char *line, int n)
{
	const char *s;

	for (s = line; (s = strstr(s, " N")); s++)
		if (s[2] >= '0' && s[2] <= '9' && atoi(s + 2) != n)
			return true;
	return false;
}

/*
 * In a client process: open the pool, write a block, and find the policy
 * of the mapping in numa_maps.  Exit codes name what went wrong.
 */
static int
touch_and_look(void *arg)
{
	const struct look *lk = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char line[4096], word[64];

	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, lk->pool, &p), 0, 11);
	CHECK_RC(pool_alloc(p, BLOCK, &off), 0, 12);
	memset(pool_ptr(p, off), 0x5a, BLOCK);
	CHECK(numa_maps_line(pool_ptr(p, 0), line, sizeof(line)) == 0, 13);
	fprintf(stderr, "child %d: pool %s: %s", (int)getpid(), lk->pool,
		line);
	CHECK(sscanf(line, "%*s %63s", word) == 1, 14);
	CHECK(strcmp(word, lk->policy) == 0, 15);
	CHECK(strstr(line, "file=/memfd:poolmgr:") != NULL, 16);
	CHECK(strstr(line, " N") != NULL, 17);
	CHECK(!lk->on_node || pages_on_node(line, node), 20);
	CHECK(!lk->only_node || !pages_off_node(line, node), 18);
	CHECK_RC(pool_free(p, off), 0, 19);
	pool_disconnect(c);
	return 0;
}

/*
 * A client of pool finds policy (numa_maps' word, "default" or "bind"...)
 * on its mapping: with the node, ":N" after it and some page there.
 */
static void
look_in_child(const char *pool, const char *policy, bool only_node)
{
	struct look lk = {.pool = pool, .only_node = only_node};
	int rc;

	lk.on_node = strcmp(policy, "default") != 0;
	if (lk.on_node)
		snprintf(lk.policy, sizeof(lk.policy), "%s:%d", policy, node);
	else
		snprintf(lk.policy, sizeof(lk.policy), "%s", policy);
	rc = harness_wait(harness_spawn(touch_and_look, &lk));
	if (rc != 0)
		fail_msg("a client of pool %s does not see NUMA policy %s in "
			 "its numa_maps (child exit %d)", pool, lk.policy, rc);
}

static void
placed_in_every_process(void **state)
{
	struct pool_conn *c;

	char line[64];

	(void)state;
	skip_without_node();
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	create(c, "pref", POOL_NUMA_PREFERRED, node);
	create(c, "bound", POOL_NUMA_BIND, node);
	create(c, "plain", POOL_NUMA_NONE, 0);
	look_in_child("pref", "prefer", false);
	look_in_child("bound", "bind", true);
	look_in_child("plain", "default", false);
	expect_policy(c, "pref", POOL_NUMA_PREFERRED, node);
	expect_policy(c, "bound", POOL_NUMA_BIND, node);
	expect_policy(c, "plain", POOL_NUMA_NONE, 0);
	snprintf(line, sizeof(line), "NUMA bind:%d", node);
	assert_int_equal(harness_log_count(&d, line), 1);
	pool_disconnect(c);
}

/* A CreatePool on the wire, numa_node set to n if n >= 0: its error. */
static int
raw_create(int fd, const char *name, int64_t n, uint32_t policy)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__Reply *rep = NULL;
	int rc;

	cp.name = (char *)name;
	cp.max_size = 1 << 20;
	if (n >= 0) {
		cp.numa_case = POOLMGR__CREATE_POOL__NUMA_NUMA_NODE;
		cp.numa_node = (uint32_t)n;
	}
	cp.numa_policy = policy;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	rc = harness_raw_error(fd, &req, &rep);
	if (rep)
		poolmgr__reply__free_unpacked(rep, NULL);
	return rc;
}

static void
bad_requests_refused(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;
	struct pool_stats st;
	unsigned nodes = possible_nodes();
	int fd;

	(void)state;
	skip_without_node();
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	o.numa_policy = POOL_NUMA_PREFERRED;
	o.numa_node = nodes;
	EXPECT_RC(pool_create(c, "nonode", &o), -ENODEV);
	assert_non_null(strstr(pool_strerror(-ENODEV), "NUMA node"));
	o.numa_policy = POOL_NUMA_BIND;
	EXPECT_RC(pool_create(c, "nonode", &o), -ENODEV);
	EXPECT_RC(pool_stats_by_name(c, "nonode", &st), -ENOENT);
	o.numa_policy = POOL_NUMA_OTHER;	/* stats only */
	o.numa_node = (uint32_t)node;
	EXPECT_RC(pool_create(c, "badpolicy", &o), -EINVAL);
	o.numa_policy = POOL_NUMA_NONE;
	o.numa_node = 1;
	EXPECT_RC(pool_create(c, "badpolicy", &o), -EINVAL);
	EXPECT_RC(pool_stats_by_name(c, "badpolicy", &st), -ENOENT);

	fd = harness_raw_greeted(d.sock, "raw");
	assert_true(fd >= 0);
	EXPECT_RAW(raw_create(fd, "raw", -1, POOL_NUMA_BIND), -EINVAL);
	EXPECT_RAW(raw_create(fd, "raw", node, POOL_NUMA_OTHER), -EINVAL);
	EXPECT_RAW(raw_create(fd, "raw", node, 77), -EINVAL);
	EXPECT_RAW(raw_create(fd, "raw", 1u << 20, POOL_NUMA_BIND), -ENODEV);
	EXPECT_RC(pool_stats_by_name(c, "raw", &st), -ENOENT);
	/* Still serving, this connection too: 0 on the wire is preferred. */
	EXPECT_RAW(raw_create(fd, "raw", node, 0), 0);
	expect_policy(c, "raw", POOL_NUMA_PREFERRED, node);
	close(fd);
	pool_disconnect(c);
}

static void
mbind_refused(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20,
				     .numa_policy = POOL_NUMA_PREFERRED};
	struct pool_conn *c;
	struct pool_stats st;
	char *saved, conf[128];
	int rc;

	(void)state;
	skip_without_node();
	o.numa_node = (uint32_t)node;
	snprintf(conf, sizeof(conf), "admin_group = 0\n"
		 "[pool cfg]\nsize = 1M\nnuma_node = %d\n", node);
	saved = harness_preload("fail_mbind.so");
	setenv("POOLMGR_FAIL_MBIND", "1", 1);
	rc = harness_start(&d, conf);
	unsetenv("POOLMGR_FAIL_MBIND");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_create(c, "filtered", &o), -EOPNOTSUPP);
	EXPECT_RC(pool_stats_by_name(c, "filtered", &st), -ENOENT);
	o.numa_policy = POOL_NUMA_NONE;
	EXPECT_RC(pool_create(c, "filtered", &o), 0);
	expect_policy(c, "filtered", POOL_NUMA_NONE, 0);
	EXPECT_RC(pool_stats_by_name(c, "cfg", &st), -ENOENT);
	assert_int_equal(harness_log_count(&d, "pool cfg: cannot create: no "
					   "NUMA policies (the kernel has "
					   "none, or a system-call filter "
					   "refuses mbind)"), 1);
	pool_disconnect(c);
}

/*
 * pool_set_cache of a budget on a handle that cannot cache (read-only) is
 * the library's own -EOPNOTSUPP, asked of no daemon: it has no words, not
 * those of the thread's refusal just before it, the daemon's -EOPNOTSUPP
 * for a policy it could not set, which would say the cache was refused
 * for NUMA.
 */
static void
cache_refusal_has_no_policy_words(void **state)
{
	struct pool_create_opts plain = {.max_size = 1 << 20};
	struct pool_create_opts o = {.max_size = 1 << 20,
				     .numa_policy = POOL_NUMA_PREFERRED};
	struct pool_conn *c;
	struct pool *r;
	char *saved;
	int rc;

	(void)state;
	skip_without_node();
	o.numa_node = (uint32_t)node;
	saved = harness_preload("fail_mbind.so");
	setenv("POOLMGR_FAIL_MBIND", "1", 1);
	rc = harness_start(&d, "admin_group = 0\n");
	unsetenv("POOLMGR_FAIL_MBIND");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_create(c, "plain", &plain), 0);
	EXPECT_RC(pool_open_readonly(c, "plain", &r), 0);
	EXPECT_RC(pool_create(c, "filtered", &o), -EOPNOTSUPP);
	if (!strstr(pool_last_message(-EOPNOTSUPP), "no NUMA policies"))
		fail_msg("the refused policy's words: \"%s\"",
			 pool_last_message(-EOPNOTSUPP));
	EXPECT_RC(pool_set_cache(r, 4096), -EOPNOTSUPP);
	if (*pool_last_message(-EOPNOTSUPP) != '\0')
		fail_msg("pool_set_cache on a read-only handle, refused "
			 "without asking poolmgrd, has an earlier refusal's "
			 "words: \"%s\"", pool_last_message(-EOPNOTSUPP));
	EXPECT_RC(pool_set_cache(r, 0), 0);
	pool_close(r);
	pool_disconnect(c);
}

static void
kept_across_restart(void **state)
{
	struct pool_conn *c;

	(void)state;
	skip_without_node();
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	create(c, "pref", POOL_NUMA_PREFERRED, node);
	create(c, "bound", POOL_NUMA_BIND, node);
	look_in_child("bound", "bind", true);
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	expect_policy(c, "pref", POOL_NUMA_PREFERRED, node);
	expect_policy(c, "bound", POOL_NUMA_BIND, node);
	look_in_child("pref", "prefer", false);
	look_in_child("bound", "bind", true);
	assert_int_equal(harness_restart_in_place(&d), 0);
	expect_policy(c, "bound", POOL_NUMA_BIND, node);
	pool_disconnect(c);
}

static int
store_setup(void **state)
{
	struct harness_store *st = calloc(1, sizeof(*st));

	if (!st || harness_store_open(st, "[daemon]\nsocket_mode = 0666\n"
				      "admin_group = 0\n") != 0) {
		if (st)
			harness_store_close(st);
		free(st);
		return -1;
	}
	snprintf(st->fdstore, sizeof(st->fdstore), "%s", STORE_FDS);
	*state = st;
	return 0;
}

static int
store_teardown(void **state)
{
	harness_store_close(*state);
	free(*state);
	return 0;
}

static void
kept_across_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	skip_without_node();
	assert_int_equal(harness_store_start(st), 0);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	create(c, "bound", POOL_NUMA_BIND, node);
	EXPECT_RC(pool_open(c, "bound", &p), 0);
	EXPECT_RC(pool_alloc(p, BLOCK, &off), 0);
	EXPECT_RC(pool_persist(p, off), 0);
	pool_disconnect(c);
	assert_int_equal(harness_store_crash(st), 0);
	assert_int_equal(harness_store_start(st), 0);
	if (!harness_store_logged(st, "after a crash: 1 pool and 1 "
				  "persistent block recovered")) {
		harness_store_print_log(st);
		fail_msg("no recovery");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	expect_policy(c, "bound", POOL_NUMA_BIND, node);
	pool_disconnect(c);
}

static void
from_the_file(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	char conf[256];
	int rc;

	(void)state;
	skip_without_node();
	snprintf(conf, sizeof(conf), "admin_group = 0\n"
		 "[pool f]\nsize = 1M\nnuma_node = %d\nnuma_policy = bind\n"
		 "[pool g]\nsize = 1M\nnuma_node = %d\n", node, node);
	assert_int_equal(harness_reload_with(&d, conf), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	expect_policy(c, "f", POOL_NUMA_BIND, node);
	expect_policy(c, "g", POOL_NUMA_PREFERRED, node);
	/* Their lines in the log say so, as a CreatePool's does. */
	snprintf(conf, sizeof(conf), ", NUMA bind:%d\n", node);
	assert_int_equal(harness_log_count(&d, conf), 1);
	snprintf(conf, sizeof(conf), ", NUMA preferred:%d\n", node);
	assert_int_equal(harness_log_count(&d, conf), 1);
	/* A live pool keeps the policy its pages were placed by. */
	snprintf(conf, sizeof(conf), "admin_group = 0\n"
		 "[pool f]\nsize = 1M\n"
		 "[pool g]\nsize = 1M\nnuma_node = %d\n", node);
	assert_int_equal(harness_reload_with(&d, conf), 0);
	expect_policy(c, "f", POOL_NUMA_BIND, node);
	snprintf(conf, sizeof(conf), "NUMA bind:%d -> default in the file, "
		 "not applied", node);
	assert_int_equal(harness_log_count(&d, conf), 1);
	/* A policy needs its node: the file is refused, the pools kept. */
	assert_int_equal(harness_reload_with(&d, "admin_group = 0\n"
					     "[pool h]\nsize = 1M\n"
					     "numa_policy = bind\n"), 0);
	assert_int_equal(harness_log_count(&d, "[pool h] has a numa_policy "
					   "but no numa_node"), 1);
	EXPECT_RC(pool_stats_by_name(c, "h", &st), -ENOENT);
	pool_disconnect(c);
	rc = harness_reload_with(&d, "admin_group = 0\n[pool h]\nsize = 1M\n"
				 "numa_node = 1024\n");
	assert_int_equal(rc, 0);
	assert_int_equal(harness_log_count(&d, "bad numa_node '1024' in "
					   "[pool h]"), 1);
}

static void expect_usage(const char *args, const char *what);

static void
huge_pages_refused(void **state)
{
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_conn *c;
	struct pool_stats st;
	char conf[128];

	(void)state;
	skip_without_node();
	o.numa_node = (uint32_t)node;
	if (access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) != 0) {
		printf("SKIP: the kernel offers no 2 MiB pages\n");
		return;
	}
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	o.page_size = 2 << 20;
	o.numa_policy = POOL_NUMA_PREFERRED;
	EXPECT_RC(pool_create(c, "hn", &o), -EINVAL);
	o.numa_policy = POOL_NUMA_BIND;
	EXPECT_RC(pool_create(c, "hn", &o), -EINVAL);
	EXPECT_RC(pool_stats_by_name(c, "hn", &st), -ENOENT);
	assert_int_equal(harness_log_count(&d, "a NUMA policy needs system "
					   "pages"), 2);
	o.page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	EXPECT_RC(pool_create(c, "hn", &o), 0);
	expect_policy(c, "hn", POOL_NUMA_BIND, node);

	snprintf(conf, sizeof(conf), "create x --size 2M --page-size 2M "
		 "--numa-node %d", node);
	expect_usage(conf, "--numa-node needs system pages");
	snprintf(conf, sizeof(conf), "admin_group = 0\n[pool hf]\n"
		 "size = 2M\npage_size = 2M\nnuma_node = %d\n", node);
	assert_int_equal(harness_reload_with(&d, conf), 0);
	assert_int_equal(harness_log_count(&d, "[pool hf] has a numa_node on "
					   "huge pages"), 1);
	EXPECT_RC(pool_stats_by_name(c, "hf", &st), -ENOENT);
	pool_disconnect(c);
}

/* Run poolctl ARGS: its exit code, output in out and err. */
#define ctl(...) harness_poolctl(&d, NULL, out, sizeof(out), err, sizeof(err), \
				 __VA_ARGS__)

static void
expect_out(const char *what)
{
	if (!strstr(out, what))
		fail_msg("poolctl printed no \"%s\":\n%s", what, out);
}

static void
expect_usage(const char *args, const char *what)
{
	int rc = ctl("%s", args);

	if (rc != 2 || !strstr(err, what))
		fail_msg("poolctl %s: exit %d, \"%s\"; expected 2 and \"%s\"",
			 args, rc, err, what);
}

/*
 * The text statistics' values end in one column: each line's value, up to
 * a size's exact count "  (N)", ends where the first line's does.
 */
static void
expect_one_column(void)
{
	const char *l, *e, *x;
	long end = -1, at;

	for (l = out; *l; l = *e ? e + 1 : e) {
		e = l + strcspn(l, "\n");
		if (strncmp(l, "  ", 2) != 0)
			continue;
		x = strstr(l, "  (");
		at = (x && x < e ? x : e) - l;
		if (end == -1)
			end = at;
		if (at != end)
			fail_msg("a value of poolctl stats ends at column %ld, "
				 "not %ld: \"%.*s\"\n%s", at, end, (int)(e - l),
				 l, out);
	}
	if (end == -1)
		fail_msg("poolctl stats printed no values:\n%s", out);
}

static void
poolctl_numa(void **state)
{
	char args[128];

	(void)state;
	skip_without_node();
	assert_int_equal(ctl("create nb --size 1M --numa-node %d "
			     "--numa-policy bind", node), 0);
	assert_int_equal(ctl("create np --size 1M --numa-node %d", node), 0);
	assert_int_equal(ctl("create nn --size 1M"), 0);
	assert_int_equal(ctl("stats nb"), 0);
	expect_out("NUMA policy");
	snprintf(args, sizeof(args), " bind:%d\n", node);
	expect_out(args);
	expect_one_column();
	/* "preferred:N", the longest word: still in the column. */
	assert_int_equal(ctl("stats np"), 0);
	snprintf(args, sizeof(args), " preferred:%d\n", node);
	expect_out(args);
	expect_one_column();
	/* Every pool in one column, however wide its own values. */
	assert_int_equal(ctl("stats"), 0);
	expect_one_column();
	assert_int_equal(ctl("stats np --format=kv"), 0);
	snprintf(args, sizeof(args), "np numa_policy preferred\n"
		 "np numa_node %d\n", node);
	expect_out(args);
	assert_int_equal(ctl("stats nn --format=kv"), 0);
	expect_out("nn numa_policy default\n");
	assert_null(strstr(out, "numa_node"));
	assert_int_equal(ctl("--json=short stats nb"), 0);
	expect_out("\"numa_policy\":\"bind\"");
	snprintf(args, sizeof(args), "\"numa_node\":%d", node);
	expect_out(args);
	assert_int_equal(ctl("stats --format=prometheus"), 0);
	snprintf(args, sizeof(args), "pool=\"nb\",mode=\"0600\",uid=\"0\","
		 "gid=\"0\",numa_policy=\"bind\",numa_node=\"%d\"} 1",
		 node);
	expect_out(args);
	expect_out("numa_policy=\"default\",numa_node=\"\"} 1");
	assert_int_equal(ctl("--json=short create nj --size 1M --numa-node %d",
			     node), 0);
	expect_out("\"numa_policy\":\"preferred\"");

	expect_usage("create x --size 1M --numa-policy bind",
		     "--numa-policy needs --numa-node");
	expect_usage("create x --size 1M --numa-node zero",
		     "bad NUMA node 'zero'");
	expect_usage("create x --size 1M --numa-node 1024",
		     "bad NUMA node '1024'");
	expect_usage("create x --size 1M --numa-node -1",
		     "bad NUMA node '-1'");
	expect_usage("create x --size 1M --numa-node 0 --numa-policy near",
		     "bad NUMA policy 'near'");
	expect_usage("stats nb --numa-node 0", "does not apply");
	snprintf(args, sizeof(args), "create x --size 1M --numa-node %u",
		 possible_nodes());
	assert_int_equal(ctl("%s", args), 1);
	if (!strstr(err, "cannot create pool x: no such NUMA node"))
		fail_msg("poolctl %s said \"%s\"", args, err);
	assert_int_equal(ctl("stats x"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(placed_in_every_process,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_requests_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(mbind_refused, NULL,
						teardown),
		cmocka_unit_test_setup_teardown(
			cache_refusal_has_no_policy_words, NULL, teardown),
		cmocka_unit_test_setup_teardown(kept_across_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(kept_across_crash,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(huge_pages_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(from_the_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(poolctl_numa, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}

/*
 * itest_dlclose.c - libpoolclient loaded by dlopen, as a plugin or a
 * language binding loads it, and unloaded again by dlclose.
 *
 *   unloaded_library_leaves_no_callback   in a child: the build's
 *       libpoolclient.so.1, loaded by dlopen, connects and opens a pool;
 *       a thread allocates and frees a small block, which gives it a
 *       slot of the client cache (a thread-specific value whose key has
 *       a destructor), and waits.  Everything closed, the library is
 *       unloaded; then the thread exits, and the process forks.  Both
 *       must find nothing of the library's left to call: the thread's
 *       exit called the key's destructor in the unmapped library before
 *       (SIGSEGV).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define CONFIG		"[pool t]\nsize = 16M\n"
#define SMALL		256

static struct daemon_proc d;

/* The entry points the child takes from the library it loaded. */
struct loaded {
	void	*so;
	int	(*connect)(const char *, struct pool_conn **);
	int	(*open)(struct pool_conn *, const char *, struct pool **);
	int	(*alloc)(struct pool *, size_t, pool_off_t *);
	int	(*free)(struct pool *, pool_off_t);
	void	(*close)(struct pool *);
	void	(*disconnect)(struct pool_conn *);
	struct pool *p;
	sem_t	 used;		/* the thread has used the cache */
	sem_t	 go;		/* the library is unloaded: exit */
	int	 rc;		/* the thread's alloc's, then free's */
};

static int
teardown(void **state)
{
	int rc = 0;

	(void)state;
	if (d.pid > 0)
		rc = harness_stop(&d);
	memset(&d, 0, sizeof(d));
	return rc;
}

/* Look name up in l's library; NULL if it has none. */
static void *
loaded_sym(struct loaded *l, const char *name)
{
	void *f = dlsym(l->so, name);

	if (f == NULL)
		fprintf(stderr, "child: no %s in the library: %s\n", name,
			dlerror());
	return f;
}

/* A thread of the program: a block through the cache, then it waits. */
static void *
cache_user(void *arg)
{
	struct loaded *l = arg;
	pool_off_t off;

	l->rc = l->alloc(l->p, SMALL, &off);
	if (l->rc == 0)
		l->rc = l->free(l->p, off);
	sem_post(&l->used);
	while (sem_wait(&l->go) != 0 && errno == EINTR)
		;
	return NULL;
}

static int
unload_child(void *arg)
{
	char path[256];
	struct loaded l;
	struct pool_conn *c;
	pthread_t t;
	pid_t pid;
	int status;

	(void)arg;
	memset(&l, 0, sizeof(l));
	snprintf(path, sizeof(path), "%s/libpoolclient.so.1", harness_build());
	l.so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (l.so == NULL)
		fprintf(stderr, "child: dlopen %s: %s\n", path, dlerror());
	CHECK(l.so != NULL, 10);
	CHECK((*(void **)&l.connect = loaded_sym(&l, "pool_connect")), 11);
	CHECK((*(void **)&l.open = loaded_sym(&l, "pool_open")), 11);
	CHECK((*(void **)&l.alloc = loaded_sym(&l, "pool_alloc")), 11);
	CHECK((*(void **)&l.free = loaded_sym(&l, "pool_free")), 11);
	CHECK((*(void **)&l.close = loaded_sym(&l, "pool_close")), 11);
	CHECK((*(void **)&l.disconnect = loaded_sym(&l, "pool_disconnect")),
	      11);
	/* The cache on, in the suite's run without it too. */
	CHECK(setenv("POOLMGR_CLIENT_CACHE", "1M", 1) == 0, 12);
	CHECK_RC(l.connect(NULL, &c), 0, 12);
	CHECK_RC(l.open(c, "t", &l.p), 0, 13);
	CHECK(sem_init(&l.used, 0, 0) == 0 && sem_init(&l.go, 0, 0) == 0, 14);
	CHECK(pthread_create(&t, NULL, cache_user, &l) == 0, 15);
	while (sem_wait(&l.used) != 0 && errno == EINTR)
		;
	CHECK_RC(l.rc, 0, 16);

	l.close(l.p);
	l.disconnect(c);
	CHECK(dlclose(l.so) == 0, 17);
	/* Unloaded: nothing else here holds it. */
	CHECK(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL, 18);

	sem_post(&l.go);
	CHECK(pthread_join(t, NULL) == 0, 19);
	pid = fork();
	if (pid == 0)
		_exit(0);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, 20);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, 21);
	return 0;
}

static void
unloaded_library_leaves_no_callback(void **state)
{
	pid_t pid;

	(void)state;
	if (harness_start(&d, CONFIG) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
	pid = harness_spawn(unload_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(unloaded_library_leaves_no_callback,
					  teardown),
	};

	return cmocka_run_group_tests_name("integration: dlclose", tests,
					   NULL, NULL);
}

/*
 * itest_names_pages.c - every name of a pool, a page at a time
 * (pool_names_after, ListNames.after, `poolctl names`).
 *
 * A pool holds NAMES names of LONG bytes each, in three families
 * ("page/a/", "page/b/", "page/c/"), so that one reply holds a small part
 * of them.
 *
 *   pages_list_every_name    paged from the last name of each page, the
 *       whole pool comes in byte order, each name once, over several
 *       pages, each saying how many are left after it; so does one
 *       family by its prefix; an after before the prefix starts at its
 *       first name, one inside it (a name, or not one) strictly after it
 *       with only those after it counted, one at or past the end lists
 *       none and counts none; and the daemon says it pages (HelloReply
 *       features bit 12);
 *   changes_between_pages    between two pages the last name listed and
 *       the five after it are unpublished, and names published before
 *       it and after it: the walk goes on from the removed name, lists
 *       none twice and none before it, not the removed five, and the new
 *       ones after it; each page counts what is left as it is then;
 *   bad_after                an after longer than a name is -ENAMETOOLONG
 *       from the library (nothing sent) and from the daemon, in its
 *       words; one holding a NUL is -EINVAL from the daemon; 255 bytes
 *       go; a prefix too long is still -ENAMETOOLONG, and the daemon
 *       refuses a prefix as an after, in words that say "a prefix"; a
 *       pool name no pool can have ("", ".hidden") is -ENOENT, none
 *       (NULL) -EINVAL;
 *   poolctl_lists_every_name `poolctl names` lists all of them, as a
 *       table and as JSON, with nothing on stderr, and a family by its
 *       prefix.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOL		"pages"
#define CONF		"[pool pages]\nsize = 16M\n"
#define NAMES		3000
#define LONG		200	/* bytes of each name */
#define FAMILIES	3
#define FEATURE_NAMES_AFTER	((uint64_t)1 << 12)

typedef char name_t[POOL_BLOCK_NAME_MAX + 1];

static struct daemon_proc d;

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, CONF) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

/* Name i: its family by i, then i, padded to LONG bytes. */
static void
name_of(size_t i, name_t out)
{
	int len = snprintf(out, sizeof(name_t), "page/%c/%05zu/",
			   'a' + (int)(i % FAMILIES), i);

	memset(out + len, 'x', LONG - (size_t)len);
	out[LONG] = '\0';
}

/*
 * The k-th name in byte order of family f alone (f < 0: of them all,
 * family by family, each in the order of i).
 */
static void
sorted_name(int f, size_t k, name_t out)
{
	size_t per = NAMES / FAMILIES;

	if (f < 0) {
		f = (int)(k / per);
		k %= per;
	}
	name_of(k * FAMILIES + (size_t)f, out);
}

/* NAMES blocks, each published under its name, from the last. */
static void
publish_all(struct pool_conn **c, struct pool **p)
{
	name_t name;
	pool_off_t off;
	size_t i;

	EXPECT_RC(pool_connect(d.sock, c), 0);
	EXPECT_RC(pool_open(*c, POOL, p), 0);
	for (i = NAMES; i-- > 0;) {
		name_of(i, name);
		EXPECT_RC(pool_alloc(*p, 16, &off), 0);
		EXPECT_RC(pool_publish(*p, off, name), 0);
	}
}

/* What a walk saw: the names, and how many pages they came in. */
struct walk {
	name_t *names;
	size_t n;
	size_t pages;
	size_t first_total;	/* the first page's *total */
};

/*
 * One page from after, appended to w: each name after the one before and
 * after after, and *total at least the page.  Returns whether more are
 * left.
 */
static int
walk_page(struct pool_conn *c, const char *prefix, const char *after,
	  struct walk *w)
{
	struct pool_named *pn;
	size_t n, total, i;

	EXPECT_RC(pool_names_after(c, POOL, prefix, after, &pn, &n, &total),
		  0);
	assert_true(total >= n);
	assert_true(n > 0 || total == 0);
	if (w->pages++ == 0)
		w->first_total = total;
	assert_non_null(w->names = realloc(w->names,
					   (w->n + n + 1) * sizeof(name_t)));
	for (i = 0; i < n; i++) {
		if (after != NULL)
			assert_true(strcmp(pn[i].name, after) > 0);
		if (prefix != NULL)
			assert_memory_equal(pn[i].name, prefix,
					    strlen(prefix));
		memcpy(w->names[w->n], pn[i].name, sizeof(name_t));
		after = w->names[w->n++];
	}
	free(pn);
	return total > n;
}

/* Every page from after on (NULL: from the first). */
static void
walk_all(struct pool_conn *c, const char *prefix, const char *after,
	 struct walk *w)
{
	name_t from;

	memset(w, 0, sizeof(*w));
	if (!walk_page(c, prefix, after, w))
		return;
	/* A copy: the page's realloc may move the names. */
	do
		memcpy(from, w->names[w->n - 1], sizeof(from));
	while (walk_page(c, prefix, from, w));
}

/* The walk saw family f's names from its k-th on (f < 0: all of them). */
static void
expect_sorted_from(const struct walk *w, int f, size_t k)
{
	name_t want;
	size_t i;

	for (i = 0; i < w->n; i++) {
		sorted_name(f, k + i, want);
		assert_string_equal(w->names[i], want);
	}
}

static uint64_t
raw_features(void)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;
	Poolmgr__Reply *r;
	uint64_t features;
	int fd = harness_raw_connect(d.sock);

	assert_true(fd >= 0);
	hello.version = 1;
	hello.client_name = (char *)"pages";
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	r = harness_raw_expect(fd, &req, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_HELLO);
	features = r->hello->features;
	poolmgr__reply__free_unpacked(r, NULL);
	close(fd);
	return features;
}

/* ---- pages_list_every_name ----------------------------------------- */

static void
pages_list_every_name(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct walk w;
	name_t after, last;
	size_t per = NAMES / FAMILIES;

	(void)state;
	assert_true((raw_features() & FEATURE_NAMES_AFTER) != 0);
	publish_all(&c, &p);

	walk_all(c, NULL, NULL, &w);
	printf("pages: %zu names of %d bytes in %zu pages\n", w.n, LONG,
	       w.pages);
	assert_int_equal(w.n, NAMES);
	assert_int_equal(w.first_total, NAMES);
	assert_true(w.pages >= 3);
	expect_sorted_from(&w, -1, 0);
	memcpy(last, w.names[NAMES - 1], sizeof(last));
	free(w.names);
	/* "" is from the first, as NULL. */
	walk_all(c, NULL, "", &w);
	assert_int_equal(w.n, NAMES);
	free(w.names);

	walk_all(c, "page/b/", NULL, &w);
	assert_int_equal(w.n, per);
	assert_int_equal(w.first_total, per);
	assert_true(w.pages >= 2);
	expect_sorted_from(&w, 1, 0);
	free(w.names);

	/* After, before the prefix: from the prefix's first. */
	walk_all(c, "page/b/", "page/a/zzz", &w);
	assert_int_equal(w.n, per);
	expect_sorted_from(&w, 1, 0);
	free(w.names);

	/* After, a name of the prefix: strictly after it, counted so. */
	sorted_name(1, 500, after);
	walk_all(c, "page/b/", after, &w);
	assert_int_equal(w.first_total, per - 501);
	assert_int_equal(w.n, per - 501);
	expect_sorted_from(&w, 1, 501);
	free(w.names);

	/* After, no name: the first name after it is the first listed. */
	sorted_name(1, 500, after);
	after[strlen("page/b/00000")] = '\0';
	walk_all(c, "page/b/", after, &w);
	assert_int_equal(w.first_total, per - 500);
	assert_int_equal(w.n, per - 500);
	expect_sorted_from(&w, 1, 500);
	free(w.names);

	/* And without a prefix, from inside the second family. */
	walk_all(c, NULL, after, &w);
	assert_int_equal(w.n, NAMES - per - 500);
	expect_sorted_from(&w, -1, per + 500);
	free(w.names);

	/* At or past the end: nothing listed, nothing left. */
	walk_all(c, NULL, last, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.first_total, 0);
	free(w.names);
	walk_all(c, NULL, "page/d", &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.first_total, 0);
	free(w.names);
	walk_all(c, "page/b/", "page/c/", &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.first_total, 0);
	free(w.names);
	walk_all(c, NULL, "\xff", &w);
	assert_int_equal(w.n, 0);
	free(w.names);

	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- changes_between_pages ----------------------------------------- */

static void
changes_between_pages(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_named *pn;
	struct walk w;
	name_t last, gone[5], before[2], later[2];
	pool_off_t off;
	size_t n, total, k, i, j, left;

	(void)state;
	publish_all(&c, &p);
	EXPECT_RC(pool_names_after(c, POOL, NULL, NULL, &pn, &n, &total), 0);
	assert_true(n < NAMES && n > 0);
	assert_int_equal(total, NAMES);
	k = n;
	memcpy(last, pn[n - 1].name, sizeof(last));
	free(pn);

	/* The page's last name and the five after it go. */
	EXPECT_RC(pool_unpublish(p, last), 0);
	for (i = 0; i < 5; i++) {
		sorted_name(-1, k + i, gone[i]);
		EXPECT_RC(pool_unpublish(p, gone[i]), 0);
	}
	/* New ones: two before the last listed, two after it. */
	strcpy(before[0], "page/0");
	memcpy(before[1], last, LONG - 1);
	before[1][LONG - 1] = '\0';
	memcpy(later[0], last, LONG);
	strcpy(later[0] + LONG, "~");
	strcpy(later[1], "page/zz");
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_alloc(p, 16, &off), 0);
		EXPECT_RC(pool_publish(p, off, before[i]), 0);
		EXPECT_RC(pool_alloc(p, 16, &off), 0);
		EXPECT_RC(pool_publish(p, off, later[i]), 0);
	}

	walk_all(c, NULL, last, &w);
	left = NAMES - k - 5 + 2;
	assert_int_equal(w.first_total, left);
	assert_int_equal(w.n, left);
	/* walk_page saw them in order, each after last: none twice. */
	assert_string_equal(w.names[0], later[0]);
	assert_string_equal(w.names[left - 1], later[1]);
	for (i = 0; i < w.n; i++) {
		for (j = 0; j < 5; j++)
			assert_true(strcmp(w.names[i], gone[j]) != 0);
		assert_true(strcmp(w.names[i], before[0]) != 0);
		assert_true(strcmp(w.names[i], before[1]) != 0);
	}
	free(w.names);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- bad_after ------------------------------------------------------ */

/* A ListNames of len bytes as its after, or as its prefix. */
static void
raw_list_refused(int fd, bool prefix, const void *bytes, size_t len,
		 int want, const char *words)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames ln = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	ProtobufCBinaryData *b = prefix ? &ln.prefix : &ln.after;
	Poolmgr__Reply *r;

	ref.name = (char *)POOL;
	ln.pool = &ref;
	b->data = (uint8_t *)bytes;
	b->len = len;
	req.body_case = POOLMGR__REQUEST__BODY_NAMES;
	req.names = &ln;
	r = harness_raw_expect(fd, &req, want);
	if (words != NULL) {
		assert_non_null(r->message);
		assert_string_equal(r->message, words);
	} else {
		assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_NAMES);
	}
	poolmgr__reply__free_unpacked(r, NULL);
}

static void
bad_after(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_named *pn = NULL;
	char too_long[POOL_BLOCK_NAME_MAX + 2];
	size_t n = 1, total = 1;
	int fd;

	(void)state;
	publish_all(&c, &p);
	memset(too_long, 'z', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	EXPECT_RC(pool_names_after(c, POOL, NULL, too_long, &pn, &n, &total),
		  -ENAMETOOLONG);
	assert_null(pn);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	EXPECT_RC(pool_names_after(c, POOL, too_long, NULL, &pn, &n, &total),
		  -ENAMETOOLONG);
	EXPECT_RC(pool_names_after(c, POOL, NULL, NULL, NULL, &n, &total),
		  -EINVAL);
	EXPECT_RC(pool_names_after(c, "nosuchpool", NULL, "page/b", &pn, &n,
				   &total), -ENOENT);
	/* A name no pool can have is no such pool; none at all, -EINVAL. */
	EXPECT_RC(pool_names_after(c, "", NULL, NULL, &pn, &n, &total),
		  -ENOENT);
	EXPECT_RC(pool_names_after(c, ".hidden", NULL, NULL, &pn, &n, &total),
		  -ENOENT);
	EXPECT_RC(pool_names_after(c, NULL, NULL, NULL, &pn, &n, &total),
		  -EINVAL);
	/* 255 bytes: a name's most, past every name here. */
	too_long[POOL_BLOCK_NAME_MAX] = '\0';
	EXPECT_RC(pool_names_after(c, POOL, NULL, too_long, &pn, &n, &total),
		  0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	free(pn);

	fd = harness_raw_client(d.sock, "bad_after");
	too_long[POOL_BLOCK_NAME_MAX] = 'z';
	raw_list_refused(fd, false, too_long, POOL_BLOCK_NAME_MAX + 1,
			 -ENAMETOOLONG, "an after name of 256 bytes: at most 255");
	raw_list_refused(fd, false, "page\0b", 6, -EINVAL,
			 "an after name is 0 to 255 bytes, no NUL");
	raw_list_refused(fd, false, too_long, POOL_BLOCK_NAME_MAX, 0, NULL);
	/* A prefix likewise, in words that name it. */
	raw_list_refused(fd, true, too_long, POOL_BLOCK_NAME_MAX + 1,
			 -ENAMETOOLONG, "a prefix of 256 bytes: at most 255");
	raw_list_refused(fd, true, "page\0b", 6, -EINVAL,
			 "a prefix is 0 to 255 bytes, no NUL");
	raw_list_refused(fd, true, too_long, POOL_BLOCK_NAME_MAX, 0, NULL);
	close(fd);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- poolctl_lists_every_name ------------------------------------- */

/* Lines of a table (after its header): the first word of each, in order. */
static size_t
table_names_in_order(const char *out, int f)
{
	const char *line = strchr(out, '\n');
	name_t want;
	size_t k = 0;

	assert_non_null(line);
	for (line++; *line != '\0'; k++) {
		sorted_name(f, k, want);
		assert_memory_equal(line, want, LONG);
		assert_true(line[LONG] == ' ');
		if ((line = strchr(line, '\n')) == NULL)
			break;
		line++;
	}
	return k;
}

static size_t
count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

static void
poolctl_lists_every_name(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	size_t cap = 4 << 20;
	char *out, err[1024];

	(void)state;
	publish_all(&c, &p);
	assert_non_null(out = malloc(cap));
	assert_int_equal(harness_poolctl(&d, NULL, out, cap, err, sizeof(err),
					 "names %s", POOL), 0);
	assert_string_equal(err, "");
	assert_int_equal(table_names_in_order(out, -1), NAMES);

	assert_int_equal(harness_poolctl(&d, NULL, out, cap, err, sizeof(err),
					 "--json names %s", POOL), 0);
	assert_string_equal(err, "");
	assert_int_equal(count_of(out, "\"generation\""), NAMES);
	/* Each name ends in x: json-c may escape its slashes. */
	assert_int_equal(count_of(out, "xxxx\""), NAMES);

	assert_int_equal(harness_poolctl(&d, NULL, out, cap, err, sizeof(err),
					 "names %s page/c/", POOL), 0);
	assert_string_equal(err, "");
	assert_int_equal(table_names_in_order(out, 2), NAMES / FAMILIES);
	free(out);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pages_list_every_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(changes_between_pages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_after, setup, teardown),
		cmocka_unit_test_setup_teardown(poolctl_lists_every_name,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

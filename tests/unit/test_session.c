/*
 * test_session.c - a session's handles by id (session.c), on the daemon's
 * own session and pool code: a real session over a socketpair, a real
 * pool.  What a client cannot reach in a test's time is set up directly:
 * a connection that has used up nearly all 2^32 - 1 ids.
 *
 *   ids_run_out_rather_than_wrap   with 3 ids left, three opens get them
 *       (the last UINT32_MAX), the next is refused, and so is one after a
 *       close: the ids do not wrap to 0 (which means "by name") or to 1
 *       (which could have named a handle still open); the handles keep
 *       their ids and the closed one is gone.
 *   table_agrees_with_the_list   200,000 random opens and closes of up to
 *       1024 handles, with runs of ids skipped (so that the ids that stay
 *       open are far apart, and fall on the same slots of the table): each
 *       open handle is found by its id and each closed id is not, checked
 *       for the handle touched at every step and for all of them every
 *       1000 steps.
 *   uid_accounts_found_by_uid   512 connections of 512 uids (set on
 *       the sessions directly) open and close handles on one pool in a
 *       random order, 20,000 steps: each open handle counts on its own
 *       uid's account and none other, every uid with a handle has one
 *       account and every other uid none, and the pool's own check of
 *       the accounts passes every 500 steps (the accounts are a tree by
 *       uid, so that a refusal or an open finds one without a walk of
 *       the pool's uids).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_fixture.h"
#include "pool.h"
#include "session.h"

#define STEPS 200000
#define CHECK_ALL_EVERY 1000
#define UIDS 512
#define UID_STEPS 20000
#define UID_CHECK_EVERY 500

static void
ids_run_out_rather_than_wrap(void **state)
{
	struct daemon_fixture *fx = *state;
	struct session *s = fx->s;
	struct handle *h[3];
	int i;

	s->next_handle = UINT32_MAX - 2;
	for (i = 0; i < 3; i++) {
		assert_non_null(h[i] = session_open(s, fx->p, false));
		assert_int_equal(h[i]->id, UINT32_MAX - 2 + (uint32_t)i);
	}
	assert_null(session_open(s, fx->p, false));
	session_close(s, h[1]);
	assert_null(session_open(s, fx->p, false));
	assert_int_equal(s->nhandles, 2);
	assert_ptr_equal(session_handle(s, UINT32_MAX - 2), h[0]);
	assert_null(session_handle(s, UINT32_MAX - 1));
	assert_ptr_equal(session_handle(s, UINT32_MAX), h[2]);
	assert_null(session_handle(s, 0));
	assert_null(session_handle(s, 1));
}

/* Every open handle is found by its id. */
static void
all_found(struct session *s, struct handle **open, unsigned nopen)
{
	for (unsigned i = 0; i < nopen; i++)
		if (session_handle(s, open[i]->id) != open[i])
			fail_msg("open handle %u (of %u) not found",
				 open[i]->id, nopen);
}

static void
table_agrees_with_the_list(void **state)
{
	static struct handle *open[SESSION_MAX_HANDLES];
	struct daemon_fixture *fx = *state;
	struct session *s = fx->s;
	unsigned nopen = 0, i;
	uint32_t id;

	srand(7);
	for (int step = 0; step < STEPS; step++) {
		/* Now fill up, now empty out: the table grows and shrinks. */
		bool filling = (step / 5000) % 2 == 0;
		bool open_one = nopen == 0 ||
		    (nopen < SESSION_MAX_HANDLES &&
		     rand() % 4 < (filling ? 3 : 1));

		if (rand() % 64 == 0)
			s->next_handle += (uint32_t)rand() % 4096;
		if (open_one) {
			assert_non_null(open[nopen] = session_open(s, fx->p,
								   false));
			id = open[nopen++]->id;
			assert_ptr_equal(session_handle(s, id),
					 open[nopen - 1]);
		} else {
			i = (unsigned)rand() % nopen;
			id = open[i]->id;
			session_close(s, open[i]);
			open[i] = open[--nopen];
			assert_null(session_handle(s, id));
		}
		assert_int_equal(s->nhandles, nopen);
		if (step % CHECK_ALL_EVERY == 0)
			all_found(s, open, nopen);
	}
	all_found(s, open, nopen);
}

/* Each uid's account: there for the uids with handles, and theirs. */
static void
uid_accounts_agree(struct dpool *p, struct handle **h)
{
	const struct user_account *u;
	char problem[256] = "";
	unsigned i, n = 0, found = 0;

	for (i = 0; i < UIDS; i++) {
		if (!h[i])
			continue;
		n++;
		assert_int_equal(h[i]->account->user->uid, 1000 + i);
		assert_ptr_equal(h[i]->user, h[i]->account->user);
		assert_int_equal(h[i]->account->user->nhandles, 1);
	}
	USER_ACCOUNT_FOREACH(u, p) {
		assert_true(u->uid >= 1000 && u->uid < 1000 + UIDS);
		assert_non_null(h[u->uid - 1000]);
		found++;
	}
	assert_int_equal(found, n);
	if (session_check_pool(p, problem, sizeof(problem)))
		fail_msg("%s", problem);
}

static void
uid_accounts_found_by_uid(void **state)
{
	struct daemon_fixture *fx = *state;
	static struct session *s[UIDS];
	static struct handle *h[UIDS];
	int sv[UIDS][2];
	unsigned i;

	for (i = 0; i < UIDS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv[i]),
				 0);
		assert_non_null(s[i] = session_new(sv[i][0]));
		s[i]->uid = 1000 + i;
		h[i] = NULL;
	}
	srand(11);
	for (int step = 0; step < UID_STEPS; step++) {
		i = (unsigned)rand() % UIDS;
		if (h[i]) {
			session_close(s[i], h[i]);
			h[i] = NULL;
		} else {
			assert_non_null(h[i] = session_open(s[i], fx->p,
							    false));
		}
		if (step % UID_CHECK_EVERY == 0)
			uid_accounts_agree(fx->p, h);
	}
	uid_accounts_agree(fx->p, h);
	for (i = 0; i < UIDS; i++) {
		session_free(s[i]);
		close(sv[i][1]);
	}
	assert_null(RB_ROOT(&fx->p->users));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ids_run_out_rather_than_wrap,
			daemon_fixture_setup, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(table_agrees_with_the_list,
			daemon_fixture_setup, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(uid_accounts_found_by_uid,
			daemon_fixture_setup, daemon_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fail_malloc_beside.h - for unit tests that run their own binary again
 * with tests/integration/fail_malloc.c's library preloaded, to make
 * allocations fail in a child.  Include after <cmocka.h>.
 */
#ifndef POOLMGR_TEST_FAIL_MALLOC_BESIDE_H
#define POOLMGR_TEST_FAIL_MALLOC_BESIDE_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ASan's allocator comes before any preloaded one: no failures there. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/*
 * This test binary's path into self, and fail_malloc.so's, which the
 * build puts beside it, into so (which must be there to be read).
 */
static inline void
fail_malloc_beside(char *self, size_t self_len, char *so, size_t so_len)
{
	ssize_t n = readlink("/proc/self/exe", self, self_len - 1);
	const char *slash;

	assert_true(n > 0);
	self[n] = '\0';
	assert_non_null(slash = strrchr(self, '/'));
	snprintf(so, so_len, "%.*s/fail_malloc.so", (int)(slash - self), self);
	assert_int_equal(access(so, R_OK), 0);
}

#endif

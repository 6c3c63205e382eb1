/*
 * why.h - why a list's build, change or check was refused, in words, for
 * the plain-data lists that answer with an errno and say why into the
 * caller's buffer: a pool's access control list (pool_acl.c) and its
 * user quota entries (pool_uquota.c).  A caller that wants the errno
 * alone passes no buffer (NULL, or a length of 0).
 *
 * Here rather than in a file of its own: each list is linked alone into
 * its unit test, and both must stay plain data with nothing else to link.
 */
#ifndef POOLMGRD_WHY_H
#define POOLMGRD_WHY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Say why into why (if any) and return rc. */
static inline int
say(char *why, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int
say(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif /* POOLMGRD_WHY_H */

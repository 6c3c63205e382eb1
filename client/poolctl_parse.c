/*
 * poolctl_parse.c - how poolctl reads the values its arguments give:
 * sizes, counts, NUMA nodes, seconds, modes, users and groups, process
 * and handle numbers, and pool names.
 *
 * One kind of value is read one way wherever it is given (create and set
 * both take a mode, a user, a group and sizes), so the readers are apart
 * from the commands.  A reader returns 0, or -1 for a malformed word, and
 * leaves the wording of the usage error to its caller, which knows the
 * option the word came with.  check_pool_name words its own: a pool name
 * is an argument in its own right, checked by one rule for every command.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "poolctl.h"

/*
 * SIZE: decimal bytes, optionally followed by K, M, G, T or KiB, MiB, GiB,
 * TiB (any case), all powers of 1024.  "KB" and friends are refused rather
 * than guessed at, since they usually mean powers of 1000.  A refused word
 * leaves errno ERANGE if it is of those forms but above max (by its
 * digits, its unit or its value), EINVAL otherwise: "too large" is worth
 * saying, as the bound is then what the user needs, not the forms.  max
 * is the most the option takes where poolctl knows it, so that a word
 * past it is refused here like one past 64 bits, UINT64_MAX where only
 * the daemon knows.
 */
int
parse_size(const char *s, uint64_t max, uint64_t *out)
{
	return parse_size_prefix(s, strlen(s), max, out);
}

/*
 * As parse_size, of the first n bytes of s: a word without the B of a
 * byte unit, say, however long it is.  The digits are read here, not by
 * strtoull, which would read past n.
 */
int
parse_size_prefix(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	static const char	*units = "KMGT";
	const char		*u;
	size_t			 i;
	uint64_t		 v = 0, mult = 1, digit;
	bool			 too_large = false;

	/* A size is digits: no sign and no blank, as strtoull would take. */
	if (n == 0 || s[0] < '0' || s[0] > '9')
		return errno = EINVAL, -1;
	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		digit = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			too_large = true;
		else
			v = v * 10 + digit;
	}
	if (i < n) {
		u = strchr(units, toupper((unsigned char)s[i]));
		if (u == NULL || (n - i - 1 != 0 && (n - i - 1 != 2 ||
		    strncasecmp(s + i + 1, "iB", 2) != 0)))
			return errno = EINVAL, -1;
		mult = (uint64_t)1 << (10 * (u - units + 1));
	}
	/* Only now: "99999999999999999999x" is no size, not a large one. */
	if (too_large || v > max / mult)
		return errno = ERANGE, -1;
	*out = v * mult;
	return 0;
}

/* A decimal number of digits only, at most max. */
static int
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char		*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

/*
 * NODE: a NUMA node's number, decimal, below the kernel's bound (1024);
 * whether the daemon's machine has it, with memory, the daemon says.
 */
int
parse_numa_node(const char *s, uint32_t *out)
{
	unsigned long	 v;

	if (parse_count(s, 1023, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * SECONDS: a whole number of them, as wait's --timeout takes it, in ms
 * (the library's int).
 */
int
parse_timeout(const char *s, int *ms)
{
	unsigned long	 v;

	if (parse_count(s, INT_MAX / 1000, &v) != 0)
		return -1;
	*ms = (int)v * 1000;
	return 0;
}

/* MODE: octal permission bits, as chmod takes them, 1 to 0777. */
int
parse_mode(const char *s, uint32_t *out)
{
	unsigned long	v = 0;
	const char	*p;

	if (*s == '\0' || strlen(s) > 4)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 0777)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * USER and GROUP: a name the system knows, or a number.  The daemon takes
 * numbers only: it need not know our names, nor we its users by name.
 * (uint32_t)-1 is "no change" to chown, never an owner.
 */
int
parse_uid(const char *s, uint32_t *out)
{
	struct passwd	*pw;
	unsigned long	 v;

	if (parse_count(s, UINT32_MAX - 1, &v) == 0) {
		*out = (uint32_t)v;
		return 0;
	}
	if ((pw = getpwnam(s)) == NULL)
		return -1;
	*out = (uint32_t)pw->pw_uid;
	return 0;
}

int
parse_gid(const char *s, uint32_t *out)
{
	struct group	*gr;
	unsigned long	 v;

	if (parse_count(s, UINT32_MAX - 1, &v) == 0) {
		*out = (uint32_t)v;
		return 0;
	}
	if ((gr = getgrnam(s)) == NULL)
		return -1;
	*out = (uint32_t)gr->gr_gid;
	return 0;
}

/*
 * PID and HANDLE: a process or a handle number as the daemon lists them
 * (`poolctl clients`), 1 to 2^32 - 1: 0 would mean "any" to the library,
 * which the option left out says already.
 */
int
parse_id(const char *s, uint32_t *out)
{
	unsigned long	 v;

	if (parse_count(s, UINT32_MAX, &v) != 0 || v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * A pool name, by the daemon's rule (config_valid_pool_name): 1 to
 * POOL_NAME_MAX bytes of [A-Za-z0-9._-], not starting with '.'.  No pool
 * can have another name, so refusing one here loses nothing and keeps the
 * promise that every argument is checked before we connect.  Spelled out
 * rather than isalnum, which a locale could widen.
 */
int
check_pool_name(const char *cmd, const char *name)
{
	const char	*p;
	size_t		 n = strlen(name);

	if (n == 0)
		return usage_error("%s: empty pool name", cmd);
	if (n > POOL_NAME_MAX)
		return usage_error("%s: pool name longer than %d bytes", cmd,
		    POOL_NAME_MAX);
	if (*name == '.')
		return usage_error("%s: pool name '%s' starts with '.'", cmd,
		    safe(name).s);
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._-", *p) != NULL)
			continue;
		return usage_error("%s: pool name '%s' has a character "
		    "other than A-Z, a-z, 0-9, '.', '_' and '-'", cmd,
		    safe(name).s);
	}
	return 0;
}

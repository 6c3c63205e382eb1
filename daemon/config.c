/*
 * config.c - the keys and values of poolmgrd.conf: each [daemon] and
 * [pool NAME] key read into struct config, each value checked as it is
 * read and a bad one's problem worded (which key, in which section, what
 * it takes), and the defaults the file starts from.
 *
 * The file reaches here through config_read.c (inih, and a reader of
 * ours that sees every line first), which calls config_on_section for
 * each section header and config_on_key for each key; a pool's acl and
 * user_quotas lists are config_lists.c's.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "hugepage.h"
#include "pool_numa.h"


void
config_defaults(struct config *cf)
{
	memset(cf, 0, sizeof(*cf));
	snprintf(cf->socket, sizeof(cf->socket), "%s",
		 "/run/poolmgrd/poolmgrd.sock");
	cf->socket_mode = 0660;
	cf->max_connections = 1024;
	cf->admin_connections = CONFIG_ADMIN_CONNECTIONS;
	cf->max_connections_per_uid = 256;
	cf->max_blocks_per_session = 4194304;
	cf->max_persistent_blocks_per_uid = 4194304;
	cf->hello_timeout = 10;
	cf->idle_trim = 10;
	cf->release_step = 1ull << 20;
	cf->drop_step = 4096;
	cf->settle_wait_ms = 2000;
	cf->max_name_waits = 256;
	cf->max_alloc_waits = 256;
	cf->restart_probe_timeout = CONFIG_PROBE_DEFAULT;
}

/* The power of 2 that c (K, M, G or T, either case) multiplies by; else 0. */
static unsigned
multiplier_shift(char c)
{
	static const char multipliers[] = "KMGT";
	const char *at;

	if (c == '\0' || !(at = strchr(multipliers, toupper((unsigned char)c))))
		return 0;
	return 10 * (unsigned)(at - multipliers + 1);
}

int
config_read_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift;
	int too_large;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	too_large = errno == ERANGE;
	if ((shift = multiplier_shift(*end)) != 0)
		end++;
	if (shift && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0')
		return -1;
	if (too_large || (shift && v > (UINT64_MAX >> shift)))
		return SIZE_TOO_LARGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *out)
{
	return config_read_size(s, out) == 0 ? 0 : -1;
}

int
config_valid_pool_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

/* What parse_octal takes, for the words of a refusal. */
#define MODE_RANGE	"(octal, at most 0777)"
/* What a time in seconds (parse_uint) takes, for the words of a refusal. */
#define SECONDS_RANGE	"(whole seconds, 0 to 4294967295)"
/* What a size may be written as, for a word that is none. */
#define SIZE_FORMS	"(a number of bytes, optionally followed by K, M, " \
			"G or T: 64M)"

static int
parse_octal(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))	/* as parse_uint */
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *s == '\0' || *end != '\0' || v > 0777)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * Digits alone: strtoul would also take blanks and a sign before them,
 * and wrap a minus around 2^64 ("-18446744073709551615" is 1).
 */
static int
parse_uint(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * 0 (the default, 16) or a power of two from 8 to the largest page a
 * pool may have; whether it passes the pool's own page is seen once the
 * section is read, page_size being perhaps after it (granularity_fits).
 */
static int
good_granularity(uint32_t g)
{
	return g == 0 || (g >= 8 && (g & (g - 1)) == 0 && g <= HUGEPAGE_MAX);
}

/*
 * A warning for the caller to log; past the room for them, counted (the
 * room after them says how many, at the end of the load, and the last is
 * the admin_group's: config_read.c's note_admin_group).
 */
void
config_warn(struct load_state *ls, const char *fmt, ...)
{
	struct config *cf = ls->cf;
	va_list ap;

	if (cf->nwarnings < CONFIG_MAX_WARNINGS - 2) {
		va_start(ap, fmt);
		vsnprintf(cf->warnings[cf->nwarnings++], CONFIG_WARNING_LEN,
			  fmt, ap);
		va_end(ap);
	} else {
		ls->warnings_left_out++;
	}
}

/*
 * "256MB" has always been read here as 256 MiB, and existing files must
 * keep loading; but poolctl refuses it, "MB" usually meaning powers of
 * 1000, so the file's reader is told how it was read, once per value.
 */
void
config_note_decimal_unit(struct load_state *ls, const char *key, const char *value)
{
	size_t n = strlen(value);
	char unit;

	if (n < 3 || toupper((unsigned char)value[n - 1]) != 'B' ||
	    !isdigit((unsigned char)value[n - 3]))
		return;
	unit = (char)toupper((unsigned char)value[n - 2]);
	config_warn(ls, "%s:%d: %s '%s' in [%s] read as %.*s %ciB (powers "
		    "of 1024); write %.*s%c or %.*s%ciB", ls->name, ls->line,
		    key, value, ls->section, (int)(n - 2), value, unit,
		    (int)(n - 2), value, unit, (int)(n - 2), value, unit);
}

/*
 * A size in bytes for key: as config_parse_size, noting "MB" and such.
 * 0; -1 for a word of another form, whose problem the caller words; or
 * SIZE_TOO_LARGE, the problem written: a size past 64 bits says the most
 * there is, as a count past its bound does, since "bad size" alone does
 * not tell a digit too many from a typo.  (size itself says its own
 * bound, the largest pool: its caller words that.)
 */
static int
parse_size_key(struct load_state *ls, const char *key, const char *value,
	       uint64_t *out)
{
	bool in_pool = strcmp(ls->section, "daemon") != 0;
	int rc = config_read_size(value, out);

	if (rc == SIZE_TOO_LARGE) {
		snprintf(ls->problem, sizeof(ls->problem),
			 "bad %s '%s'%s%s%s (at most %llu)", key, value,
			 in_pool ? " in [" : "", in_pool ? ls->section : "",
			 in_pool ? "]" : "", (unsigned long long)UINT64_MAX);
		return SIZE_TOO_LARGE;
	}
	if (rc != 0)
		return -1;
	config_note_decimal_unit(ls, key, value);
	return 0;
}

/*
 * A bound (quota, user_quota, limit, retain): a size as parse_size_key
 * reads one, or "none", 0, as poolctl takes it and its stats show it.
 */
static int
parse_bound_key(struct load_state *ls, const char *key, const char *value,
		uint64_t *out)
{
	if (strcmp(value, "none") == 0) {
		*out = 0;
		return 0;
	}
	return parse_size_key(ls, key, value, out);
}

/* The length of s[0..n) without the blanks that end it, leaving s[0]. */
static size_t
trim_blanks(const char *s, size_t n)
{
	while (n > 1 && isspace((unsigned char)s[n - 1]))
		n--;
	return n;
}

/*
 * Whether s is a number with a byte unit, as one may end a size ("64KB",
 * "1MiB", "4 B", "4 KB"): 1, and what it would be as a count, the
 * multiplier kept and the blanks before it and the unit dropped ("64K",
 * "1M", "4", "4K"): s[0..*digits) then *multiplier ('\0' for none); else
 * 0.  It stays in s, however long: a value is as long as its line may be.
 * Whether s[0..*digits) is a number, the caller sees: "1 2KB" gives "1 2".
 */
static int
byte_unit_count(const char *s, size_t *digits, char *multiplier)
{
	size_t n = strlen(s);

	if (n < 2 || !isdigit((unsigned char)s[0]) ||
	    toupper((unsigned char)s[n - 1]) != 'B')
		return 0;
	n--;
	if (toupper((unsigned char)s[n - 1]) == 'I')
		n--;
	n = trim_blanks(s, n);
	*multiplier = '\0';
	if (multiplier_shift(s[n - 1])) {
		*multiplier = s[n - 1];
		n = trim_blanks(s, n - 1);
	}
	if (!isdigit((unsigned char)s[n - 1]))
		return 0;
	*digits = n;
	return 1;
}

/*
 * The count s[0..digits) times multiplier, as read_size reads "4K": 0,
 * -1 if s[0..digits) is not all digits ("1 2"), or SIZE_TOO_LARGE.
 */
static int
read_count_in(const char *s, size_t digits, char multiplier, uint64_t *out)
{
	unsigned shift = multiplier_shift(multiplier);
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end != s + digits)
		return -1;
	if (errno == ERANGE || (shift && v > (UINT64_MAX >> shift)))
		return SIZE_TOO_LARGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/*
 * Whether count n (SIZE_TOO_LARGE in rc: past 64 bits) is out of least to
 * most: 1, with the problem saying the bound it passes; else 0.
 */
static int
count_out_of_range(struct load_state *ls, const char *key, const char *value,
		   int rc, uint64_t n, uint64_t least, uint64_t most)
{
	if (rc == SIZE_TOO_LARGE)
		n = UINT64_MAX;	/* past 64 bits: past most */
	if (rc != SIZE_TOO_LARGE && n >= least && n <= most)
		return 0;
	snprintf(ls->problem, sizeof(ls->problem), "bad %s '%s' (%s %llu)",
		 key, value, n < least ? "at least" : "at most",
		 (unsigned long long)(n < least ? least : most));
	return 1;
}

/*
 * A count of what (blocks, say), from least to most: a whole number,
 * optionally times K, M, G or T.  These are powers of 1024, as in sizes:
 * "4M" has always been read so, and files must keep their meaning.  A byte
 * unit is refused rather than read as a multiplier: "64KB" of blocks is no
 * amount of anything, most likely a size written where a count belongs, so
 * the problem says so and what to write; unless what it says to write
 * would be out of range too ("99999999999999999999KB", past 64 bits), for
 * then the unit is not what to fix, and the problem says the bound, as
 * for the count written without the unit.  Every count of the file goes
 * through here, so each takes the same forms and is refused in the same
 * words.  0, or -1 with the problem and *out untouched.
 */
static int
parse_count_key(struct load_state *ls, const char *key, const char *what,
		const char *value, uint64_t least, uint64_t most,
		uint64_t *out)
{
	size_t digits, room;
	uint64_t n = 0;
	char multiplier;
	int at, rc, hint;

	if (!byte_unit_count(value, &digits, &multiplier)) {
		rc = config_read_size(value, &n);
		if (rc != 0 && rc != SIZE_TOO_LARGE) {
			snprintf(ls->problem, sizeof(ls->problem),
				 "bad %s '%s'", key, value);
			return -1;
		}
		if (count_out_of_range(ls, key, value, rc, n, least, most))
			return -1;
		*out = n;
		return 0;
	}
	at = snprintf(ls->problem, sizeof(ls->problem), "%s '%s' is a count "
		      "of %s, not a size", key, value, what);
	rc = read_count_in(value, digits, multiplier, &n);
	if (at < 0 || (size_t)at >= sizeof(ls->problem) ||
	    (rc != 0 && rc != SIZE_TOO_LARGE) ||
	    count_out_of_range(ls, key, value, rc, n, least, most))
		return -1;
	room = sizeof(ls->problem) - (size_t)at;
	if (multiplier == '\0')
		hint = snprintf(ls->problem + at, room, ": write %.*s",
				(int)digits, value);
	else
		hint = snprintf(ls->problem + at, room,
				": write %.*s%c or %llu", (int)digits, value,
				multiplier, (unsigned long long)n);
	/* A hint cut short would say to write another number: none then. */
	if (hint < 0 || (size_t)hint >= room)
		ls->problem[at] = '\0';
	return -1;
}

/* A count kept in 32 bits: as parse_count_key, at most UINT32_MAX. */
static int
parse_count32_key(struct load_state *ls, const char *key, const char *what,
		  const char *value, uint32_t least, uint32_t *out)
{
	uint64_t n;

	if (parse_count_key(ls, key, what, value, least, UINT32_MAX, &n))
		return -1;
	assert(n >= least && n <= UINT32_MAX);
	*out = (uint32_t)n;
	return 0;
}

/*
 * A retain size; 0 (keep none) is stored as CONFIG_RETAIN_NONE.  As
 * parse_size_key.
 */
static int
parse_retain(struct load_state *ls, const char *s, uint64_t *out)
{
	uint64_t v;
	int rc = parse_bound_key(ls, "retain", s, &v);

	if (rc)
		return rc;
	*out = v ? v : CONFIG_RETAIN_NONE;
	return 0;
}

/* DPOOL_NUMA_NODES in words, for a refusal's: its digits. */
#define TEXT_OF_(n)	#n
#define TEXT_OF(n)	TEXT_OF_(n)
#define NUMA_NODES_TEXT	TEXT_OF(DPOOL_NUMA_NODES)

/* A NUMA node: below the kernel's bound; whether it has memory is seen
 * when the pool is made. */
static int
parse_numa_node(const char *s, uint32_t *out)
{
	return parse_uint(s, out) || *out >= DPOOL_NUMA_NODES ? -1 : 0;
}

static int
parse_numa_policy(const char *s, uint32_t *out)
{
	if (strcmp(s, "preferred") == 0)
		*out = DPOOL_NUMA_PREFERRED;
	else if (strcmp(s, "bind") == 0)
		*out = DPOOL_NUMA_BIND;
	else
		return -1;
	return 0;
}

/*
 * A user name or a uid.  4294967295 is (uid_t)-1, the id chown(2) reads
 * as "no change" and no process has: CreatePool and SetPool refuse it as
 * nobody's, and so does the file.
 */
int
config_parse_user(const char *s, uid_t *out)
{
	struct passwd *pw;
	uint32_t v;

	if (parse_uint(s, &v) == 0) {
		if (v == (uint32_t)-1)
			return -2;	/* nobody's: not "no such user" */
		*out = v;
		return 0;
	}
	if (!(pw = getpwnam(s)))
		return -1;
	*out = pw->pw_uid;
	return 0;
}

/* A group name or a gid, not 4294967295 (as parse_user). */
int
config_parse_group(const char *s, gid_t *out)
{
	struct group *gr;
	uint32_t v;

	if (parse_uint(s, &v) == 0) {
		if (v == (uint32_t)-1)
			return -2;
		*out = v;
		return 0;
	}
	if (!(gr = getgrnam(s)))
		return -1;
	*out = gr->gr_gid;
	return 0;
}

static int
daemon_key(struct load_state *ls, const char *key, const char *value)
{
	struct config *cf = ls->cf;
	int rc;

	if (strcmp(key, "socket") == 0) {
		/*
		 * Refused here, at its line, as a path too long is: the
		 * start's own check would not say where it came from, and a
		 * reload would take a file that no start can.
		 */
		if (*value == '\0')
			return snprintf(ls->problem, sizeof(ls->problem),
					"the socket path is empty"), 0;
		if (strlen(value) >= sizeof(cf->socket))
			return snprintf(ls->problem, sizeof(ls->problem),
					"socket path too long (%zu bytes, at "
					"most %zu)", strlen(value),
					sizeof(cf->socket) - 1), 0;
		snprintf(cf->socket, sizeof(cf->socket), "%s", value);
	} else if (strcmp(key, "socket_mode") == 0) {
		if (parse_octal(value, &cf->socket_mode))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad socket_mode '%s' " MODE_RANGE,
					value), 0;
	} else if (strcmp(key, "max_connections") == 0) {
		if (parse_count32_key(ls, key, "connections", value, 1,
				      &cf->max_connections))
			return 0;
	} else if (strcmp(key, "admin_connections") == 0) {
		if (parse_count32_key(ls, key, "connections", value, 0,
				      &cf->admin_connections))
			return 0;
		/* Checked against max_connections once both are read. */
		ls->admin_conns_line = ls->line;
		snprintf(ls->admin_conns_value, sizeof(ls->admin_conns_value),
			 "%s", value);
	} else if (strcmp(key, "max_connections_per_uid") == 0) {
		if (parse_count32_key(ls, key, "connections", value, 1,
				      &cf->max_connections_per_uid))
			return 0;
	} else if (strcmp(key, "max_blocks_per_session") == 0) {
		if (parse_count_key(ls, key, "blocks", value, 1, UINT64_MAX,
				    &cf->max_blocks_per_session))
			return 0;
	} else if (strcmp(key, "max_persistent_blocks_per_uid") == 0) {
		if (parse_count_key(ls, key, "blocks", value, 1, UINT64_MAX,
				    &cf->max_persistent_blocks_per_uid))
			return 0;
	} else if (strcmp(key, "hello_timeout") == 0) {
		if (parse_uint(value, &cf->hello_timeout))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad hello_timeout '%s' " SECONDS_RANGE,
					value), 0;
	} else if (strcmp(key, "idle_trim") == 0) {
		if (parse_uint(value, &cf->idle_trim))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad idle_trim '%s' " SECONDS_RANGE,
					value), 0;
	} else if (strcmp(key, "release_step") == 0) {
		rc = parse_size_key(ls, key, value, &cf->release_step);
		if (rc == SIZE_TOO_LARGE)
			return 0;
		if (rc)
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad release_step '%s' " SIZE_FORMS,
					value), 0;
	} else if (strcmp(key, "drop_step") == 0) {
		if (parse_count32_key(ls, key, "references", value, 0,
				      &cf->drop_step))
			return 0;
	} else if (strcmp(key, "settle_wait_ms") == 0) {
		if (parse_uint(value, &cf->settle_wait_ms))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad settle_wait_ms '%s' (whole "
					"milliseconds, 0 to 4294967295)",
					value), 0;
	} else if (strcmp(key, "max_name_waits") == 0) {
		if (parse_count32_key(ls, key, "lookups", value, 0,
				      &cf->max_name_waits))
			return 0;
	} else if (strcmp(key, "max_alloc_waits") == 0) {
		if (parse_count32_key(ls, key, "allocations", value, 0,
				      &cf->max_alloc_waits))
			return 0;
	} else if (strcmp(key, "restart_probe_timeout") == 0) {
		if (parse_uint(value, &cf->restart_probe_timeout) ||
		    cf->restart_probe_timeout < CONFIG_PROBE_MIN ||
		    cf->restart_probe_timeout > CONFIG_PROBE_MAX)
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad restart_probe_timeout '%s' (%d to "
					"%d seconds)", value, CONFIG_PROBE_MIN,
					CONFIG_PROBE_MAX), 0;
	} else if (strcmp(key, "admin_group") == 0) {
		if (config_parse_group(value, &cf->admin_gid))
			return snprintf(ls->problem, sizeof(ls->problem),
					"unknown admin_group '%s'", value), 0;
		cf->has_admin_gid = 1;
		ls->admin_line = ls->line;
	} else {
		return snprintf(ls->problem, sizeof(ls->problem),
				"unknown key '%s' in [daemon]", key), 0;
	}
	return 1;
}

/* The pool entry for a section, made on first sight. */
static struct config_pool *
pool_entry(struct load_state *ls, const char *name)
{
	struct config *cf = ls->cf;
	struct config_pool *p;
	unsigned i;

	for (i = 0; i < cf->npools; i++)
		if (strcmp(cf->pools[i].name, name) == 0)
			return &cf->pools[i];
	if (!config_valid_pool_name(name)) {
		snprintf(ls->problem, sizeof(ls->problem),
			 "bad pool name '%s'", name);
		return NULL;
	}
	if (cf->npools == CONFIG_MAX_POOLS) {
		snprintf(ls->problem, sizeof(ls->problem), "too many pools (at "
			 "most %d [pool NAME] sections)", CONFIG_MAX_POOLS);
		return NULL;
	}
	ls->pool_line[cf->npools] = ls->line;
	p = &cf->pools[cf->npools++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->uid = geteuid();
	p->gid = getegid();
	p->mode = 0600;
	return p;
}

static int
pool_key(struct load_state *ls, struct config_pool *p, const char *key,
	 const char *value)
{
	const char *bad = NULL, *why = "";
	char page[16];
	int rc = 0;

	if (strcmp(key, "size") == 0) {
		rc = parse_size_key(ls, key, value, &p->size);
		bad = rc == -1 ? "size" : NULL;
		why = " " SIZE_FORMS;
		if (rc == SIZE_TOO_LARGE || (!bad && p->size >
					     CONFIG_MAX_POOL_SIZE))
			return snprintf(ls->problem, sizeof(ls->problem),
					"size '%s' in [pool %s] is above the "
					"largest pool, 64 TiB", value,
					p->name), 0;
	} else if (strcmp(key, "granularity") == 0) {
		bad = parse_uint(value, &p->granularity) ? "granularity" : NULL;
		why = " (bytes, a power of two from 8 to the page size)";
		if (!bad && !good_granularity(p->granularity))
			return snprintf(ls->problem, sizeof(ls->problem),
					"granularity %s in [pool %s] is not a "
					"power of two from 8 to the page size",
					value, p->name), 0;
	}
	else if (strcmp(key, "owner") == 0) {
		int id_rc = config_parse_user(value, &p->uid);

		bad = id_rc ? "owner" : NULL;
		why = id_rc == -2 ? " (4294967295 is no uid: it means none)" :
		      " (no such user)";
	} else if (strcmp(key, "group") == 0) {
		int id_rc = config_parse_group(value, &p->gid);

		bad = id_rc ? "group" : NULL;
		why = id_rc == -2 ? " (4294967295 is no gid: it means none)" :
		      " (no such group)";
	} else if (strcmp(key, "mode") == 0) {
		bad = parse_octal(value, &p->mode) ? "mode" : NULL;
		why = " " MODE_RANGE;
	} else if (strcmp(key, "acl") == 0) {
		if (config_acl_key(ls, p, value))
			return 0;
	}
	else if (strcmp(key, "quota") == 0) {
		rc = parse_bound_key(ls, key, value, &p->quota);
		bad = rc ? "quota" : NULL;
		why = " " SIZE_FORMS;
	} else if (strcmp(key, "user_quota") == 0) {
		rc = parse_bound_key(ls, key, value, &p->user_quota);
		bad = rc ? "user_quota" : NULL;
		why = " " SIZE_FORMS;
	} else if (strcmp(key, "user_quotas") == 0) {
		if (config_uquotas_key(ls, p, value))
			return 0;
	} else if (strcmp(key, "limit") == 0) {
		rc = parse_bound_key(ls, key, value, &p->limit);
		bad = rc == -1 ? "limit" : NULL;
		why = " " SIZE_FORMS;
		/*
		 * Past 64 bits, or past the largest pool, it is past any
		 * pool's size: the bound to say, not 2^64 - 1.
		 */
		if (rc == SIZE_TOO_LARGE || (!bad && p->limit >
					     CONFIG_MAX_POOL_SIZE))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad limit '%s' in [pool %s] (at most "
					"the pool's size)", value, p->name), 0;
	} else if (strcmp(key, "retain") == 0) {
		rc = parse_retain(ls, value, &p->retain);
		bad = rc ? "retain" : NULL;
		why = " " SIZE_FORMS;
	} else if (strcmp(key, "page_size") == 0) {
		rc = parse_size_key(ls, key, value, &p->page_size);
		bad = rc == -1 ? "page_size" : NULL;
		/*
		 * Past 64 bits, or past the largest page the daemon takes, it
		 * is past that page: the bound to say, not 2^64 - 1, nor the
		 * kernel's sizes (some offer larger pages, 16 GiB on ppc64).
		 */
		if (rc == SIZE_TOO_LARGE || (!bad && p->page_size >
					     HUGEPAGE_MAX))
			return snprintf(ls->problem, sizeof(ls->problem),
					"bad page_size '%s' in [pool %s] (at "
					"most %s)", value, p->name,
					hugepage_text(HUGEPAGE_MAX, page,
						      sizeof(page))), 0;
		if (!bad && !hugepage_valid(p->page_size))
			return snprintf(ls->problem, sizeof(ls->problem),
					"page_size %s in [pool %s] is neither "
					"the system page nor a huge page size "
					"the kernel offers (%s)", value,
					p->name, HUGEPAGE_SYSFS), 0;
	} else if (strcmp(key, "numa_node") == 0) {
		bad = parse_numa_node(value, &p->numa_node) ? "numa_node" : NULL;
		p->has_numa_node = !bad;
		why = " (a node number below " NUMA_NODES_TEXT ")";
	} else if (strcmp(key, "numa_policy") == 0)
		bad = parse_numa_policy(value, &p->numa_policy) ?
		      "numa_policy (preferred or bind)" : NULL;
	else
		return snprintf(ls->problem, sizeof(ls->problem),
				"unknown key '%s' in [pool %s]", key, p->name), 0;
	if (rc == SIZE_TOO_LARGE)
		return 0;	/* parse_size_key said it */
	if (bad)
		return snprintf(ls->problem, sizeof(ls->problem),
				"bad %s '%s' in [pool %s]%s", bad, value,
				p->name, why), 0;
	return 1;
}

/* A key of the file. */
int
config_on_key(struct load_state *ls, const char *section, const char *key,
       const char *value)
{
	struct config_pool *p;

	if (strcmp(section, "daemon") == 0)
		return daemon_key(ls, key, value);
	if (strncmp(section, "pool ", 5) == 0) {
		if (!(p = pool_entry(ls, section + 5)))
			return 0;
		return pool_key(ls, p, key, value);
	}
	/* A header "[]" is refused where it stands: no header came yet. */
	if (section[0] == '\0')
		return snprintf(ls->problem, sizeof(ls->problem),
				"key '%s' before any section: the daemon's "
				"keys go under [daemon], a pool's under "
				"[pool NAME]", key), 0;
	snprintf(ls->problem, sizeof(ls->problem), "unknown section [%s]",
		 section);
	return 0;
}

/* A section header, checked when it is read, whether or not keys follow. */
int
config_on_section(struct load_state *ls, const char *section)
{
	if (strcmp(section, "daemon") == 0)
		return 1;
	if (strncmp(section, "pool ", 5) == 0)
		return pool_entry(ls, section + 5) != NULL;
	snprintf(ls->problem, sizeof(ls->problem), "unknown section [%s]",
		 section);
	return 0;
}

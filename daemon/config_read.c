/*
 * config_read.c - read poolmgrd.conf with inih (Debian's libinih), so the
 * INI syntax, comments and line numbers are handled by a maintained
 * parser.
 *
 * inih calls its handler only for keys (Debian 12's libinih 55 is built
 * without INI_CALL_HANDLER_ON_NEW_SECTION), so a section with no keys -
 * [bogus], [pool .bad], [pool a] without a size - would go unseen; it cuts
 * section names to 49 bytes, shorter than a pool name may be; and a line
 * longer than its buffer is cut, its rest read as the next line.  So the
 * file reaches inih through a reader of ours (read_line), which sees every
 * line first: it checks each section header as it passes, keeps the whole
 * section name for the keys that follow, and stops at a line too long.
 * inih still does the rest: keys, values, comments, continuation lines.
 *
 * Apart from config.c, which knows what each key means and takes
 * (config_on_key, config_on_section) and nothing of inih: here are the
 * file, its lines and sections, and the checks that need it read whole
 * (a pool's size, its granularity and limit against its page, the
 * admins' places against max_connections).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "hugepage.h"

/* The granularity at most the pool's page, a huge one too, as the engine
 * takes it: the system page's bound refused 2 MiB on 2 MiB pages. */
static bool
granularity_fits(const struct config_pool *p)
{
	return p->granularity <= hugepage_valid(p->page_size);
}

/*
 * As dpool_limit_valid: 0, or a granule (16 if not given) to the size
 * rounded up to the pool's pages, as the pool has it (and CreatePool and
 * poolctl compare): the size as written refused a limit of all of a
 * pool of 3M on pages of 2M, which is 4M.
 */
static bool
limit_fits(const struct config_pool *p)
{
	uint64_t g = p->granularity ? p->granularity : 16;
	uint64_t page = hugepage_valid(p->page_size);
	uint64_t size = page ? (p->size + page - 1) / page * page : p->size;

	return p->limit == 0 || (p->limit >= g && p->limit <= size);
}

/*
 * inih's handler, for keys.  The section is the reader's, not inih's,
 * which may be cut short.  (A key of NULL, the start of a section from an
 * inih built with INI_CALL_HANDLER_ON_NEW_SECTION, was seen by the reader.)
 */
static int
on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct load_state *ls = user;

	(void)section;
	if (!key)
		return 1;
	ls->has_key = 1;
	if (!config_on_key(ls, ls->section, key, value)) {
		ls->problem_line = ls->line;
		return 0;
	}
	return 1;
}

/*
 * Is line a section header, as inih reads it?  Then its name, whole, in
 * ls->section.  As in inih: a UTF-8 byte order mark may start the file;
 * an indented line after a key continues that key's value; otherwise,
 * after blanks, '[' starts a header that ']' ends (without ']' inih
 * reports the syntax error).
 */
static int
section_header(struct load_state *ls, const char *line)
{
	const char *s = line, *end;
	size_t n;

	if (ls->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (*s && isspace((unsigned char)*s))
		s++;
	if (*s != '[' || (s > line && ls->has_key) || !(end = strchr(s, ']')))
		return 0;
	n = (size_t)(end - (s + 1));
	if (n >= sizeof(ls->section)) {
		snprintf(ls->problem, sizeof(ls->problem),
			 "section name longer than %zu bytes",
			 sizeof(ls->section) - 1);
		ls->problem_line = ls->line;
		return 0;
	}
	memcpy(ls->section, s + 1, n);
	ls->section[n] = '\0';
	ls->has_key = 0;
	return 1;
}

/*
 * inih's reader (fgets-like).  Stops, as at the end of the file, at the
 * first problem (inih would carry on, and a later problem would replace its
 * message) and at a line longer than inih's buffer, which inih would cut
 * and read the rest of as a line of its own: a syntax error on the next
 * line, a value cut short, a key out of a comment.  A line that fills the
 * buffer but for its newline is whole: the newline is read here.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct load_state *ls = stream;
	size_t n;
	int c;

	if (ls->problem_line || ls->long_line)
		return NULL;
	if (!fgets(str, num, ls->f)) {
		if (ferror(ls->f))
			ls->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ls->line++;
	/* As inih tells a continuation: a blank first, after a key. */
	ls->continues = ls->has_key && isspace((unsigned char)str[0]);
	n = strlen(str);
	if (n > 0 && n + 1 == (size_t)num && str[n - 1] != '\n' &&
	    (c = getc(ls->f)) != '\n' && c != EOF) {
		ls->long_line = ls->line;
		ls->max_line = num - 1;
		return NULL;
	}
	if (section_header(ls, str) && !config_on_section(ls, ls->section))
		ls->problem_line = ls->line;
	return ls->problem_line ? NULL : str;
}

/*
 * The daemon's own group is its socket's (the one it binds is, and the
 * shipped units give both poolmgr): as admin_group, every client that
 * connects through the group may destroy, recreate and re-own any pool.
 * A warning, not an error: a host whose every client is trusted may mean
 * it, and the file has always loaded.  Said in the room kept for it, not
 * through config_warn: a file with many sizes written "1MB" must not fold
 * it into their count, "N more warnings like these", which it is not.
 */
static void
note_admin_group(struct load_state *ls)
{
	struct config *cf = ls->cf;

	if (!cf->has_admin_gid || cf->admin_gid != getegid())
		return;
	assert(cf->nwarnings < CONFIG_MAX_WARNINGS);
	snprintf(cf->warnings[cf->nwarnings++], CONFIG_WARNING_LEN,
		 "%s:%d: admin_group %u is the daemon's own group, the "
		 "socket's: every client that connects through it may create, "
		 "destroy and set any pool; name a group of admins only",
		 ls->name, ls->admin_line, (unsigned)cf->admin_gid);
}

/*
 * The admins' places are of max_connections, so that it stays the most
 * connections, and descriptors for them, the daemon has: they must
 * leave others one at least.  Not set, the default yields to a small
 * max_connections (CONFIG_ADMIN_CONNECTIONS).  0, or -1 with why in err.
 */
static int
fit_admin_connections(struct load_state *ls, const char *name, char *err,
		      size_t errlen)
{
	struct config *cf = ls->cf;

	if (!ls->admin_conns_line) {
		if (cf->admin_connections > cf->max_connections / 2)
			cf->admin_connections = cf->max_connections / 2;
		return 0;
	}
	if (cf->admin_connections < cf->max_connections)
		return 0;
	snprintf(err, errlen, "%s:%d: bad admin_connections '%s' (at most %u, "
		 "below max_connections)", name, ls->admin_conns_line,
		 ls->admin_conns_value, cf->max_connections - 1);
	return -1;
}

/* Parse what ls->f holds, named name in messages, into ls->cf. */
static int
load_stream(struct load_state *ls, const char *name, char *err,
	    size_t errlen)
{
	struct config *cf = ls->cf;
	unsigned i;
	int rc;

	errno = 0;
	rc = ini_parse_stream(read_line, ls, on_entry, ls);
	if (ls->read_errno) {
		snprintf(err, errlen, "%s: cannot read: %s", name,
			 strerror(ls->read_errno));
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot parse: out of memory", name);
		return -1;
	}
	/* The first problem: one of ours, or before it one of syntax. */
	if (ls->problem_line && (rc == 0 || rc == ls->problem_line)) {
		snprintf(err, errlen, "%s:%d: %s", name, ls->problem_line,
			 ls->problem);
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error", name, rc);
		return -1;
	}
	if (ls->long_line) {
		snprintf(err, errlen, "%s:%d: line too long (at most %d bytes)",
			 name, ls->long_line, ls->max_line);
		return -1;
	}
	if (fit_admin_connections(ls, name, err, errlen))
		return -1;
	for (i = 0; i < cf->npools; i++) {
		if (cf->pools[i].size == 0) {
			snprintf(err, errlen, "%s:%d: [pool %s] needs a size",
				 name, ls->pool_line[i], cf->pools[i].name);
			return -1;
		}
		if (!granularity_fits(&cf->pools[i])) {
			snprintf(err, errlen, "%s:%d: [pool %s] has a "
				 "granularity above its page size (%u above "
				 "%llu)", name, ls->pool_line[i],
				 cf->pools[i].name, cf->pools[i].granularity,
				 (unsigned long long)hugepage_valid(
					 cf->pools[i].page_size));
			return -1;
		}
		if (!limit_fits(&cf->pools[i])) {
			snprintf(err, errlen, "%s:%d: [pool %s] has a limit "
				 "below a granule or above its size", name,
				 ls->pool_line[i], cf->pools[i].name);
			return -1;
		}
		if (cf->pools[i].numa_policy && !cf->pools[i].has_numa_node) {
			snprintf(err, errlen, "%s:%d: [pool %s] has a "
				 "numa_policy but no numa_node", name,
				 ls->pool_line[i], cf->pools[i].name);
			return -1;
		}
		if (cf->pools[i].has_numa_node &&
		    hugepage_is_huge(hugepage_valid(cf->pools[i].page_size))) {
			snprintf(err, errlen, "%s:%d: [pool %s] has a "
				 "numa_node on huge pages (a NUMA policy needs "
				 "system pages)", name, ls->pool_line[i],
				 cf->pools[i].name);
			return -1;
		}
	}
	if (ls->warnings_left_out)
		snprintf(cf->warnings[cf->nwarnings++], CONFIG_WARNING_LEN,
			 "%s: %u more warning%s like these", name,
			 ls->warnings_left_out,
			 ls->warnings_left_out == 1 ? "" : "s");
	note_admin_group(ls);
	return 0;
}

/*
 * Through config_read_text, as a restart in place reads it: a start, -t,
 * SIGHUP and a restart take or refuse the same files (CONFIG_MAX_TEXT).
 */
int
config_load(struct config *cf, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text;
	int rc;

	if (config_read_text(path, &text, &len, err, errlen) != 0)
		return -1;
	rc = config_load_text(cf, path, text, len, err, errlen);
	free(text);
	return rc;
}

int
config_load_text(struct config *cf, const char *name, const char *text,
		 size_t len, char *err, size_t errlen)
{
	struct load_state ls = {.cf = cf, .name = name};
	int rc;

	/* An empty file is a configuration too: fmemopen wants a byte. */
	if (!(ls.f = fmemopen((void *)(len ? text : "\n"), len ? len : 1,
			      "r"))) {
		snprintf(err, errlen, "%s: cannot read: %s", name,
			 strerror(errno));
		return -1;
	}
	rc = load_stream(&ls, name, err, errlen);
	fclose(ls.f);
	return rc;
}

int
config_read_text(const char *path, char **text, size_t *len, char *err,
		 size_t errlen)
{
	char buf[65536], *t = NULL, *more;
	size_t n, got = 0, cap = 0;
	FILE *f;

	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(errno));
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		/*
		 * Room doubled, not grown by each read: a file near the
		 * bound was copied 256 times over (quadratic where realloc
		 * cannot grow in place, as under a sanitizer's allocator).
		 */
		if (got + n > CONFIG_MAX_TEXT) {
			snprintf(err, errlen, "%s: larger than 16 MiB, the "
				 "most a configuration file may hold", path);
			goto fail;
		}
		if (got + n + 1 > cap) {
			cap = cap ? 2 * cap : sizeof(buf) + 1;
			if (cap > CONFIG_MAX_TEXT + 1)
				cap = CONFIG_MAX_TEXT + 1;
			assert(cap >= got + n + 1);
			if (!(more = realloc(t, cap))) {
				snprintf(err, errlen, "%s: out of memory",
					 path);
				goto fail;
			}
			t = more;
		}
		memcpy(t + got, buf, n);
		got += n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(errno ? errno : EIO));
		goto fail;
	}
	fclose(f);
	if (!t && !(t = malloc(1))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	t[got] = '\0';
	*text = t;
	*len = got;
	return 0;
fail:
	free(t);
	fclose(f);
	return -1;
}

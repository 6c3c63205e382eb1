/*
 * poolctl.c - the command-line tool of poolmgr.
 *
 *	poolctl [--socket PATH] [--json[=pretty|short]] COMMAND [ARGS]
 *
 * Every command is one function that validates its arguments first, then
 * connects (so a usage error is exit 2 even when no daemon runs), asks the
 * daemon through libpoolclient and prints.  The statistics of a pool are
 * described once, in stat_fields[]; the text table, JSON and Prometheus
 * output are all generated from that one table so the three cannot drift.
 *
 * Data goes to stdout, diagnostics to stderr as "poolctl: WHAT: WHY".
 * Exit status: 0 success, 1 the operation failed, 2 usage error, 69
 * (EX_UNAVAILABLE) the daemon is unreachable, 77 (EX_NOPERM) permission
 * denied.  See docs/poolctl.md.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "poolclient.h"

#ifndef POOLCTL_VERSION
#define POOLCTL_VERSION "0.1.0"
#endif

/* EX_USAGE (64) would also do, but 2 is what getopt-style tools use. */
#define EXIT_USAGE	2
#define EXIT_FAILED	1

/* Per-command options, as bits: a command lists the ones it accepts. */
#define O_SIZE		0x01
#define O_GRANULARITY	0x02
#define O_MODE		0x04
#define O_QUOTA		0x08
#define O_FORCE		0x10
#define O_FORMAT	0x20
#define O_RETAIN	0x40

/* getopt_long values of the long-only options. */
enum {
	OPT_SIZE = 256,
	OPT_GRANULARITY,
	OPT_MODE,
	OPT_QUOTA,
	OPT_FORMAT,
	OPT_RETAIN,
};

enum format {
	FMT_TEXT,
	FMT_JSON,
	FMT_PROMETHEUS,
	FMT_KV,
};

struct ctl {
	const char		*socket;	/* resolved path */
	int			 json;		/* print JSON */
	int			 json_flags;	/* JSON_C_TO_STRING_* */
	bool			 help;
	bool			 version;

	unsigned		 opts;		/* O_* bits seen */
	const char		*size_arg;
	const char		*granularity_arg;
	const char		*mode_arg;
	const char		*quota_arg;
	const char		*format_arg;
	const char		*retain_arg;
	bool			 force;

	struct pool_conn	*conn;
};

struct cmd {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	int		 minargs, maxargs;
	unsigned	 opts;		/* O_* accepted */
	const char	*synopsis;	/* after "poolctl [GLOBAL] NAME " */
	const char	*summary;	/* one line for the global help */
	const char	*help;		/* details for "poolctl help NAME" */
};

/* ---------------------------------------------------------------------- */
/* Diagnostics and exit codes. */

__attribute__((format(printf, 1, 2))) static void
ctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("poolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: say what is wrong and where help is, then exit 2. */
__attribute__((format(printf, 1, 2))) static int
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fputs("poolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'poolctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/*
 * The exit status for a library error.  A daemon that went away mid-way is
 * as unreachable as one that never answered, so it gets EX_UNAVAILABLE too.
 */
static int
exit_code(int error)
{
	switch (error) {
	case -EPERM:
	case -EACCES:
		return EX_NOPERM;
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -ENOTCONN:
	case -EPIPE:
		return EX_UNAVAILABLE;
	default:
		return EXIT_FAILED;
	}
}

/* Report a failed library call on stderr and return its exit status. */
__attribute__((format(printf, 2, 3))) static int
fail(int error, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("poolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", pool_strerror(error));
	return exit_code(error);
}

/*
 * Report a failed request about the pool name and return its exit status:
 * "poolctl: WHAT NAME: WHY", where why (if not NULL) says what error means
 * for this command.  pool_strerror's texts cover the whole library, so
 * some of them name cases that cannot be meant here: we are connected, so
 * -ENOENT is the pool and not a missing socket.
 */
static int
fail_pool(int error, const char *what, const char *name, const char *why)
{
	if (error == -ENOENT)
		ctl_warnx("no such pool: %s", name);
	else
		ctl_warnx("%s %s: %s", what, name,
		    why != NULL ? why : pool_strerror(error));
	return exit_code(error);
}

/*
 * Connect lazily, once the arguments are known to be good.  Any failure to
 * reach the daemon is EX_UNAVAILABLE, except that a socket we may not open
 * is a permission problem.  Here strerror speaks better than pool_strerror:
 * -ENOENT from connect means "no socket file", not "no such pool".
 */
static int
ctl_connect(struct ctl *ctl)
{
	int	error;

	error = pool_connect(ctl->socket, &ctl->conn);
	if (error == 0)
		return 0;
	ctl->conn = NULL;
	/*
	 * The socket's errors read best as the C library words them; the
	 * daemon's own refusals (too many clients, a reply that makes no
	 * sense) as the client library does.
	 */
	ctl_warnx("cannot connect to %s: %s", ctl->socket,
	    error == -EUSERS || error == -EPROTO ? pool_strerror(error) :
	    error < 0 ? strerror(-error) : "unknown error");
	if (error == -EACCES || error == -EPERM)
		return EX_NOPERM;
	return EX_UNAVAILABLE;
}

/* ---------------------------------------------------------------------- */
/* Parsing and formatting values. */

/*
 * SIZE: decimal bytes, optionally followed by K, M, G, T or KiB, MiB, GiB,
 * TiB (any case), all powers of 1024.  "KB" and friends are refused rather
 * than guessed at, since they usually mean powers of 1000.
 */
static int
parse_size(const char *s, uint64_t *out)
{
	static const char	*units = "KMGT";
	const char		*u;
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	/* strtoull would accept "-1", " 1" and "+1"; a size is digits. */
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		u = strchr(units, toupper((unsigned char)*end));
		if (u == NULL ||
		    (end[1] != '\0' && strcasecmp(end + 1, "iB") != 0))
			return -1;
		mult = (uint64_t)1 << (10 * (u - units + 1));
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

/* MODE: octal permission bits, as chmod takes them, 1 to 0777. */
static int
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
 * A human size, "256.0 MiB".  Returned by value so that several can appear
 * in one printf.  Values under 1 KiB are exact ("512 B").
 */
struct hsize {
	char	s[32];
};

static struct hsize
human(uint64_t n)
{
	static const char	*unit[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	struct hsize		 h;
	double			 v;
	size_t			 i = 0;

	if (n < 1024) {
		snprintf(h.s, sizeof h.s, "%" PRIu64 " B", n);
		return h;
	}
	/* Move up a unit when "%.1f" would round to 1024.0. */
	v = (double)n / 1024.0;
	while (v >= 1023.95 && i + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024.0;
		i++;
	}
	snprintf(h.s, sizeof h.s, "%.1f %s", v, unit[i]);
	return h;
}

/*
 * Client names come from whatever program connected, and a hostile one
 * could embed terminal escape sequences for the admin running `poolctl
 * clients`; print only printable ASCII, '?' for the rest.
 */
struct safe {
	char	s[256];
};

static struct safe
safe(const char *in)
{
	struct safe	 o;
	size_t		 i;

	for (i = 0; i < sizeof o.s - 1 && in[i] != '\0'; i++)
		o.s[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	o.s[i] = '\0';
	return o;
}

/*
 * A pool name, by the daemon's rule (config_valid_pool_name): 1 to
 * POOL_NAME_MAX bytes of [A-Za-z0-9._-], not starting with '.'.  No pool
 * can have another name, so refusing one here loses nothing and keeps the
 * promise that every argument is checked before we connect.  Spelled out
 * rather than isalnum, which a locale could widen.
 */
static int
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

/* Permission bits as chmod writes them, "0660". */
struct omode {
	char	s[8];
};

static struct omode
octal_mode(uint32_t mode)
{
	struct omode	m;

	snprintf(m.s, sizeof m.s, "%04" PRIo32, mode & 07777);
	return m;
}

static double
percent(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return 0.0;
	return 100.0 * (double)part / (double)whole;
}

/* External fragmentation: 1 - largest_free / free_bytes, 0 if none free. */
static double
fragmentation(const struct pool_stats *ps)
{
	if (ps->free_bytes == 0)
		return 0.0;
	return 100.0 - percent(ps->largest_free, ps->free_bytes);
}

/* ---------------------------------------------------------------------- */
/* The statistics of a pool, described once for every output format. */

enum field_kind {
	K_BYTES,	/* a byte count: human size */
	K_NUM,		/* a plain number */
	K_MODE,		/* permission bits: octal */
	K_BYTES_OR_NONE, /* bytes, 0 meaning none (quota, retain) */
};

struct stat_field {
	const char	*key;		/* pool_stats member, JSON key */
	const char	*label;		/* text table */
	size_t		 off, size;
	enum field_kind	 kind;
	bool		 counter;	/* only grows (Prometheus counter) */
	const char	*metric;	/* Prometheus name; NULL: none */
	const char	*mhelp;		/* Prometheus HELP */
};

#define SF(f, label, kind, counter, metric, mhelp)			\
	{ #f, label, offsetof(struct pool_stats, f),			\
	  sizeof(((struct pool_stats *)0)->f), kind, counter, metric, mhelp }

static const struct stat_field stat_fields[] = {
	SF(max_size, "size", K_BYTES, false, "poolmgr_pool_size_bytes",
	    "Size of the pool."),
	SF(committed_bytes, "committed", K_BYTES, false,
	    "poolmgr_pool_committed_bytes",
	    "Bytes resident in the pool's memfd."),
	SF(allocated_bytes, "allocated", K_BYTES, false,
	    "poolmgr_pool_allocated_bytes",
	    "Bytes in live blocks, at their rounded sizes."),
	SF(requested_bytes, "requested", K_BYTES, false,
	    "poolmgr_pool_requested_bytes",
	    "Bytes the callers asked for in live blocks."),
	SF(free_bytes, "free", K_BYTES, false, "poolmgr_pool_free_bytes",
	    "Free bytes in the pool."),
	SF(largest_free, "largest free run", K_BYTES, false,
	    "poolmgr_pool_largest_free_bytes",
	    "Length of the longest free run."),
	SF(live_blocks, "live blocks", K_NUM, false,
	    "poolmgr_pool_live_blocks", "Live blocks."),
	SF(clients, "open handles", K_NUM, false, "poolmgr_pool_clients",
	    "Open handles of the pool."),
	SF(allocs, "allocations", K_NUM, true, "poolmgr_pool_allocs_total",
	    "Successful allocations."),
	SF(frees, "frees", K_NUM, true, "poolmgr_pool_frees_total",
	    "Blocks freed."),
	SF(failed_allocs, "failed allocations", K_NUM, true,
	    "poolmgr_pool_failed_allocs_total", "Allocations that failed."),
	SF(invalid_frees, "invalid frees", K_NUM, true,
	    "poolmgr_pool_invalid_frees_total",
	    "Frees of offsets that were not live blocks."),
	SF(cached_bytes, "in reuse caches", K_BYTES, false,
	    "poolmgr_pool_cached_bytes",
	    "Bytes held in the daemon's reuse caches."),
	SF(client_cached_bytes, "in client caches", K_BYTES, false,
	    "poolmgr_pool_client_cached_bytes",
	    "Bytes of live blocks freed by programs and kept in their "
	    "handles' caches."),
	SF(metadata_bytes, "allocator metadata", K_BYTES, false,
	    "poolmgr_pool_metadata_bytes",
	    "Daemon memory used by the pool's allocator metadata."),
	SF(free_resident_bytes, "free, still resident", K_BYTES, false,
	    "poolmgr_pool_free_resident_bytes",
	    "Bytes of wholly free pages kept resident for reuse; a trim "
	    "gives them back."),
	SF(released_bytes, "released to the OS", K_BYTES, true,
	    "poolmgr_pool_released_bytes_total",
	    "Bytes given back to the OS so far."),
	SF(persistent_blocks, "persistent blocks", K_NUM, false,
	    "poolmgr_pool_persistent_blocks",
	    "Blocks the pool itself holds a reference to."),
	SF(granularity, "granularity", K_NUM, false,
	    "poolmgr_pool_granularity_bytes", "Allocation granularity."),
	SF(page_size, "page size", K_NUM, false,
	    "poolmgr_pool_page_size_bytes", "Page size of the pool."),
	SF(mode, "mode", K_MODE, false, NULL, NULL),
	SF(uid, "owner uid", K_NUM, false, NULL, NULL),
	SF(gid, "owner gid", K_NUM, false, NULL, NULL),
	SF(quota, "quota per connection", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_quota_bytes", "Per-connection quota; 0 means none."),
	SF(retain_bytes, "retain", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_retain_bytes",
	    "Free memory of small blocks kept for reuse before it goes back "
	    "to the OS; 0 means none."),
};
#define NFIELDS (sizeof stat_fields / sizeof stat_fields[0])

static uint64_t
field_value(const struct pool_stats *ps, const struct stat_field *f)
{
	const char	*p = (const char *)ps + f->off;
	uint32_t	 v32;
	uint64_t	 v64;

	if (f->size == sizeof v32) {
		memcpy(&v32, p, sizeof v32);
		return v32;
	}
	memcpy(&v64, p, sizeof v64);
	return v64;
}

static void
print_stats_text(const struct pool_stats *ps)
{
	const struct stat_field	*f;
	uint64_t		 v;
	size_t			 i;

	printf("pool %s\n", safe(ps->name).s);
	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		v = field_value(ps, f);
		printf("  %-20s ", f->label);
		switch (f->kind) {
		case K_BYTES_OR_NONE:
			if (v == 0) {
				printf("%10s\n", "none");
				break;
			}
			/* FALLTHROUGH */
		case K_BYTES:
			printf("%10s", human(v).s);
			if (v >= 1024)
				printf("  (%" PRIu64 ")", v);
			putchar('\n');
			break;
		case K_MODE:
			printf("%10s\n", octal_mode((uint32_t)v).s);
			break;
		case K_NUM:
			printf("%10" PRIu64 "\n", v);
			break;
		}
	}
	printf("  %-20s %9.1f%%\n", "used", percent(ps->allocated_bytes,
	    ps->max_size));
	printf("  %-20s %9.1f%%\n", "fragmentation", fragmentation(ps));
}

static struct json_object *
json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* A percentage as a JSON number with two decimals, not %.17g noise. */
static struct json_object *
json_pct(double v)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%.2f", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *
json_stats(const struct pool_stats *ps)
{
	const struct stat_field	*f;
	struct json_object	*o;
	struct omode		 mode;
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(ps->name));
	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		if (f->kind == K_MODE) {
			/* JSON has no octal; "0660" reads as a mode. */
			mode = octal_mode((uint32_t)field_value(ps, f));
			json_object_object_add(o, f->key,
			    json_object_new_string(mode.s));
		} else
			json_object_object_add(o, f->key,
			    json_u64(field_value(ps, f)));
	}
	json_object_object_add(o, "used_percent",
	    json_pct(percent(ps->allocated_bytes, ps->max_size)));
	json_object_object_add(o, "fragmentation_percent",
	    json_pct(fragmentation(ps)));
	return o;
}

/*
 * One "POOL KEY VALUE" line per statistic, as memcached's stats: the JSON
 * key, a plain number (a mode in octal), so that
 * `poolctl stats --format=kv | awk '$2 == "free_bytes"'` needs no parsing.
 * Pool names hold no blanks (the daemon's rule).
 */
static void
print_stats_kv(const struct pool_stats *ps)
{
	const struct stat_field	*f;
	uint64_t		 v;
	size_t			 i;

	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		v = field_value(ps, f);
		if (f->kind == K_MODE)
			printf("%s %s %s\n", ps->name, f->key,
			    octal_mode((uint32_t)v).s);
		else
			printf("%s %s %" PRIu64 "\n", ps->name, f->key, v);
	}
}

/* A Prometheus label value: escape backslash, quote and newline. */
static void
prom_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void
prom_family(const char *name, const char *type, const char *mhelp)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, mhelp, name, type);
}

/*
 * The Prometheus text exposition format: each family's HELP and TYPE once,
 * then one sample per pool.  Mode and owner are not quantities, so they go
 * into the labels of a constant poolmgr_pool_info, as node_exporter does.
 */
static void
print_stats_prometheus(const struct pool_stats *ps, size_t n)
{
	const struct stat_field	*f;
	size_t			 i, j;

	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		if (f->metric == NULL)
			continue;
		prom_family(f->metric, f->counter ? "counter" : "gauge",
		    f->mhelp);
		for (j = 0; j < n; j++) {
			printf("%s{pool=\"", f->metric);
			prom_label(ps[j].name);
			printf("\"} %" PRIu64 "\n", field_value(&ps[j], f));
		}
	}
	prom_family("poolmgr_pool_used_ratio", "gauge",
	    "allocated_bytes / size.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_used_ratio{pool=\"");
		prom_label(ps[j].name);
		printf("\"} %.6f\n",
		    percent(ps[j].allocated_bytes, ps[j].max_size) / 100.0);
	}
	prom_family("poolmgr_pool_fragmentation_ratio", "gauge",
	    "1 - largest_free / free_bytes; 0 when nothing is free.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_fragmentation_ratio{pool=\"");
		prom_label(ps[j].name);
		printf("\"} %.6f\n", fragmentation(&ps[j]) / 100.0);
	}
	prom_family("poolmgr_pool_info", "gauge",
	    "Mode and owner of the pool; the value is always 1.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_info{pool=\"");
		prom_label(ps[j].name);
		printf("\",mode=\"%s\",uid=\"%" PRIu32 "\",gid=\"%" PRIu32
		    "\"} 1\n", octal_mode(ps[j].mode).s, ps[j].uid, ps[j].gid);
	}
}

/* ---------------------------------------------------------------------- */
/* Output helpers. */

/* Print a JSON document (consuming it) on stdout. */
static void
json_print(struct ctl *ctl, struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, ctl->json_flags));
	json_object_put(o);
}

static int
cmp_stats(const void *a, const void *b)
{
	const struct pool_stats	*x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
cmp_clients(const void *a, const void *b)
{
	const struct pool_client_info	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->pool, y->pool)) != 0)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return 0;
}

/* The pools, sorted by name so the output is stable. */
static int
get_pools(struct ctl *ctl, struct pool_stats **ps, size_t *n)
{
	int	error;

	error = pool_list(ctl->conn, ps, n);
	if (error != 0)
		return fail(error, "list pools");
	if (*n > 0)
		qsort(*ps, *n, sizeof **ps, cmp_stats);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The commands. */

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	*ps = NULL;
	struct json_object	*a;
	size_t			 n, i, w = 4;
	int			 rc;

	(void)argc;
	(void)argv;
	if ((rc = ctl_connect(ctl)) != 0 || (rc = get_pools(ctl, &ps, &n)) != 0)
		return rc;

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_stats(&ps[i]));
		json_print(ctl, a);
		free(ps);
		return 0;
	}

	for (i = 0; i < n; i++) {
		if (strlen(ps[i].name) > w)
			w = strlen(ps[i].name);
	}
	printf("%-*s %10s %10s %6s %8s %7s\n", (int)w, "NAME", "SIZE",
	    "USED", "USE%", "BLOCKS", "CLIENTS");
	for (i = 0; i < n; i++) {
		printf("%-*s %10s %10s %5.1f%% %8" PRIu64 " %7" PRIu64 "\n",
		    (int)w, safe(ps[i].name).s, human(ps[i].max_size).s,
		    human(ps[i].allocated_bytes).s,
		    percent(ps[i].allocated_bytes, ps[i].max_size),
		    ps[i].live_blocks, ps[i].clients);
	}
	free(ps);
	return 0;
}

static int
cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	 one, *ps = NULL;
	struct json_object	*a;
	enum format		 fmt = ctl->json ? FMT_JSON : FMT_TEXT;
	size_t			 n, i;
	int			 rc, error;

	if (ctl->format_arg != NULL) {
		if (strcmp(ctl->format_arg, "text") == 0)
			fmt = FMT_TEXT;
		else if (strcmp(ctl->format_arg, "json") == 0)
			fmt = FMT_JSON;
		else if (strcmp(ctl->format_arg, "prometheus") == 0)
			fmt = FMT_PROMETHEUS;
		else if (strcmp(ctl->format_arg, "kv") == 0)
			fmt = FMT_KV;
		else
			return usage_error("unknown format '%s' "
			    "(text, json, prometheus or kv)", ctl->format_arg);
		if (ctl->json && fmt != FMT_JSON)
			return usage_error("--json conflicts with --format=%s",
			    ctl->format_arg);
	}
	if (argc == 1 && (rc = check_pool_name("stats", argv[0])) != 0)
		return rc;

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (argc == 1) {
		error = pool_stats_by_name(ctl->conn, argv[0], &one);
		if (error != 0)
			return fail_pool(error, "stats", argv[0], NULL);
		ps = &one;
		n = 1;
	} else if ((rc = get_pools(ctl, &ps, &n)) != 0)
		return rc;

	switch (fmt) {
	case FMT_JSON:
		/* Always an array: scripts need not care if POOL was given. */
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_stats(&ps[i]));
		json_print(ctl, a);
		break;
	case FMT_PROMETHEUS:
		print_stats_prometheus(ps, n);
		break;
	case FMT_KV:
		for (i = 0; i < n; i++)
			print_stats_kv(&ps[i]);
		break;
	case FMT_TEXT:
		for (i = 0; i < n; i++) {
			if (i > 0)
				putchar('\n');
			print_stats_text(&ps[i]);
		}
		break;
	}
	if (ps != &one)
		free(ps);
	return 0;
}

/*
 * What the daemon's refusal of a create means.  The name, mode, granularity
 * and a size of 0 were checked here, so -EINVAL is what only the daemon
 * knows: a size above its largest pool (or a granularity above its page
 * size).  pool_strerror's texts would speak of blocks and runs.
 */
static const char *
create_strerror(int error)
{
	switch (error) {
	case -EINVAL:
		return "invalid size or option (a pool is at most 64 TiB, "
		    "its granularity at most the page size)";
	case -ENOMEM:
		return "out of memory";
	case -EPERM:
		return "not permitted (only the daemon's uid, root and its "
		    "admin group may create pools)";
	default:
		return NULL;
	}
}

static int
cmd_create(struct ctl *ctl, int argc, char **argv)
{
	struct pool_create_opts	 o;
	struct json_object	*j;
	const char		*name = argv[0];
	uint64_t		 v;
	long			 pagesize;
	int			 rc, error;

	(void)argc;
	memset(&o, 0, sizeof o);
	if ((rc = check_pool_name("create", name)) != 0)
		return rc;
	if (ctl->size_arg == NULL)
		return usage_error("create: --size is required");
	if (parse_size(ctl->size_arg, &o.max_size) != 0 || o.max_size == 0)
		return usage_error("create: bad size '%s'", ctl->size_arg);
	if (ctl->granularity_arg != NULL) {
		/* The daemon checks too; refusing here makes it exit 2. */
		pagesize = sysconf(_SC_PAGESIZE);
		if (parse_size(ctl->granularity_arg, &v) != 0 || v < 8 ||
		    (v & (v - 1)) != 0 || (pagesize > 0 &&
		    v > (uint64_t)pagesize))
			return usage_error("create: bad granularity '%s' "
			    "(a power of two from 8 to the page size)",
			    ctl->granularity_arg);
		o.granularity = (uint32_t)v;
	}
	if (ctl->mode_arg != NULL) {
		/* The protocol reads mode 0 as "default 0600": refuse it. */
		if (parse_mode(ctl->mode_arg, &o.mode) != 0 || o.mode == 0)
			return usage_error("create: bad mode '%s' (octal, "
			    "0001 to 0777)", ctl->mode_arg);
	}
	if (ctl->quota_arg != NULL &&
	    parse_size(ctl->quota_arg, &o.quota) != 0)
		return usage_error("create: bad quota '%s'", ctl->quota_arg);
	if (ctl->retain_arg != NULL) {
		if (parse_size(ctl->retain_arg, &o.retain) != 0)
			return usage_error("create: bad retain '%s'",
			    ctl->retain_arg);
		if (o.retain == 0)
			o.retain = POOL_RETAIN_NONE;
	}

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_create(ctl->conn, name, &o)) != 0)
		return fail_pool(error, "cannot create pool", name,
		    create_strerror(error));

	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "created",
		    json_object_new_boolean(1));
		json_object_object_add(j, "max_size", json_u64(o.max_size));
		json_object_object_add(j, "granularity",
		    json_u64(o.granularity != 0 ? o.granularity : 16));
		json_object_object_add(j, "mode", json_object_new_string(
		    octal_mode(o.mode != 0 ? o.mode : 0600).s));
		json_object_object_add(j, "quota", json_u64(o.quota));
		if (o.retain != 0)
			json_object_object_add(j, "retain", json_u64(
			    o.retain == POOL_RETAIN_NONE ? 0 : o.retain));
		json_print(ctl, j);
	}
	return 0;
}

static int
cmd_destroy(struct ctl *ctl, int argc, char **argv)
{
	struct json_object	*j;
	const char		*name = argv[0];
	const char		*why = NULL;
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("destroy", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (ctl->force)
		error = pool_destroy_force(ctl->conn, name);
	else
		error = pool_destroy(ctl->conn, name);
	/* pool_strerror's -EBUSY also speaks of blocks that cannot move. */
	if (error == -EBUSY)
		why = "it has live blocks or open handles (use --force to "
		    "destroy it anyway)";
	else if (error == -EPERM)
		why = "not permitted (only the daemon's uid, root and its "
		    "admin group may destroy pools)";
	if (error != 0)
		return fail_pool(error, "cannot destroy pool", name, why);

	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "destroyed",
		    json_object_new_boolean(1));
		json_object_object_add(j, "force",
		    json_object_new_boolean(ctl->force));
		json_print(ctl, j);
	}
	return 0;
}

static struct json_object *
json_client(const struct pool_client_info *ci)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "pid", json_u64(ci->pid));
	json_object_object_add(o, "uid", json_u64(ci->uid));
	json_object_object_add(o, "gid", json_u64(ci->gid));
	json_object_object_add(o, "name", json_object_new_string(ci->name));
	json_object_object_add(o, "pool", json_object_new_string(ci->pool));
	json_object_object_add(o, "handle", json_u64(ci->handle));
	json_object_object_add(o, "read_only",
	    json_object_new_boolean(ci->read_only != 0));
	json_object_object_add(o, "blocks", json_u64(ci->blocks));
	json_object_object_add(o, "bytes", json_u64(ci->bytes));
	json_object_object_add(o, "cached_bytes", json_u64(ci->cached_bytes));
	return o;
}

static int
cmd_clients(struct ctl *ctl, int argc, char **argv)
{
	struct pool_client_info	*ci = NULL;
	struct json_object	*a;
	const char		*pool = argc > 0 ? argv[0] : NULL;
	size_t			 n = 0, i, wn = 4, wp = 4;
	int			 rc, error;

	if (pool != NULL && (rc = check_pool_name("clients", pool)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	error = pool_clients(ctl->conn, pool, &ci, &n);
	if (error != 0 && pool != NULL)
		return fail_pool(error, "clients", pool, NULL);
	if (error != 0)
		return fail(error, "clients");
	if (n > 0)
		qsort(ci, n, sizeof *ci, cmp_clients);

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_client(&ci[i]));
		json_print(ctl, a);
		free(ci);
		return 0;
	}

	for (i = 0; i < n; i++) {
		if (strlen(safe(ci[i].name).s) > wn)
			wn = strlen(safe(ci[i].name).s);
		if (strlen(ci[i].pool) > wp)
			wp = strlen(ci[i].pool);
	}
	printf("%7s %6s %6s  %-*s  %-*s %6s %-6s %8s %10s %10s\n", "PID",
	    "UID", "GID", (int)wn, "NAME", (int)wp, "POOL", "HANDLE", "ACCESS",
	    "BLOCKS", "BYTES", "CACHED");
	for (i = 0; i < n; i++) {
		printf("%7" PRIu32 " %6" PRIu32 " %6" PRIu32 "  %-*s  %-*s "
		    "%6" PRIu32 " %-6s %8" PRIu64 " %10s %10s\n", ci[i].pid,
		    ci[i].uid, ci[i].gid, (int)wn, safe(ci[i].name).s,
		    (int)wp, safe(ci[i].pool).s, ci[i].handle,
		    ci[i].read_only ? "ro" : "rw", ci[i].blocks,
		    human(ci[i].bytes).s, human(ci[i].cached_bytes).s);
	}
	free(ci);
	return 0;
}

static int
cmd_trim(struct ctl *ctl, int argc, char **argv)
{
	struct json_object	*j;
	const char		*name = argv[0];
	uint64_t		 released = 0;
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("trim", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_trim_by_name(ctl->conn, name, &released)) != 0)
		return fail_pool(error, "trim", name, NULL);

	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "released_bytes", json_u64(released));
		json_print(ctl, j);
	} else if (released >= 1024)
		printf("released %s (%" PRIu64 " bytes)\n", human(released).s,
		    released);
	else
		printf("released %" PRIu64 " bytes\n", released);
	return 0;
}

static int
cmd_check(struct ctl *ctl, int argc, char **argv)
{
	struct json_object	*j;
	const char		*name = argv[0];
	char			 msg[1024];
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("check", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	msg[0] = '\0';
	error = pool_check_by_name(ctl->conn, name, msg, sizeof msg);
	if (error != 0 && error != -EFAULT)
		return fail_pool(error, "check", name, NULL);
	if (error == -EFAULT && msg[0] == '\0')
		strcpy(msg, "invariant check failed");

	/* The verdict is data, so a failed check goes to stdout too. */
	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "ok",
		    json_object_new_boolean(error == 0));
		json_object_object_add(j, "problem", error == 0 ? NULL :
		    json_object_new_string(msg));
		json_print(ctl, j);
	} else if (error == 0)
		puts("ok");
	else
		printf("%s\n", safe(msg).s);
	return error == 0 ? 0 : EXIT_FAILED;
}

/* ---------------------------------------------------------------------- */
/* Help. */

static const struct cmd cmds[] = {
	{ "list", cmd_list, 0, 0, 0, "",
	  "one line per pool: size, use, blocks, clients",
	  "List every pool the caller may read, one line each: name, size,\n"
	  "bytes in live blocks, percent used, live blocks and open\n"
	  "handles.\n" },
	{ "stats", cmd_stats, 0, 1, O_FORMAT,
	  "[POOL] [--format=text|json|prometheus|kv]",
	  "every statistic of one pool, or of all",
	  "Print every statistic of POOL (of every pool if none is given),\n"
	  "with sizes in KiB/MiB/GiB, plus two derived figures:\n"
	  "  used           allocated_bytes / size\n"
	  "  fragmentation  1 - largest_free / free_bytes (0 if none free)\n"
	  "\n"
	  "  --format=FMT   text (default), json (as --json), prometheus\n"
	  "                 (the text exposition format, for node_exporter's\n"
	  "                 textfile collector) or kv (one 'POOL KEY VALUE'\n"
	  "                 line per statistic: the JSON keys, plain numbers)\n" },
	{ "create", cmd_create, 1, 1,
	  O_SIZE | O_GRANULARITY | O_MODE | O_QUOTA | O_RETAIN,
	  "NAME --size SIZE [--granularity N] [--mode MODE] [--quota SIZE]"
	  " [--retain SIZE]",
	  "create a pool",
	  "Create the pool NAME (1-64 of [A-Za-z0-9._-], not starting with\n"
	  "'.').  Needs the daemon's uid, root or the admin group.\n"
	  "\n"
	  "  --size SIZE      size of the pool, rounded up to pages\n"
	  "                   (required)\n"
	  "  --granularity N  allocation granularity: a power of two from 8\n"
	  "                   to the page size (default 16)\n"
	  "  --mode MODE      octal permission bits (default 0600)\n"
	  "  --quota SIZE     bytes each connection may hold (default: no quota)\n"
	  "  --retain SIZE    free memory of small blocks kept for reuse\n"
	  "                   before it goes back to the OS (default 1M, or\n"
	  "                   a quarter of the live pages if more); 0: none\n"
	  "\n"
	  "SIZE is a number of bytes, optionally followed by K, M, G or T\n"
	  "(or KiB, MiB, GiB, TiB): powers of 1024.\n" },
	{ "destroy", cmd_destroy, 1, 1, O_FORCE, "NAME [--force]",
	  "destroy a pool",
	  "Destroy the pool NAME.  A pool with live blocks or open handles is\n"
	  "busy (exit 1) unless --force is given.\n"
	  "\n"
	  "  -f, --force  destroy even a pool that is in use\n" },
	{ "clients", cmd_clients, 0, 1, 0, "[POOL]",
	  "open handles: who holds what",
	  "List the open handles of POOL (of every pool if none is given):\n"
	  "pid, uid and gid of the process, the name it gave, the pool, the\n"
	  "handle, read-only or read-write, the blocks and bytes it holds\n"
	  "references to, and the bytes of those its client cache keeps.\n" },
	{ "trim", cmd_trim, 1, 1, 0, "POOL",
	  "give a pool's free pages back to the OS",
	  "Give every free page of POOL back to the OS now and print how many\n"
	  "bytes were released.  Needs write permission on the pool.\n" },
	{ "check", cmd_check, 1, 1, 0, "POOL",
	  "run the daemon's invariant check on a pool",
	  "Run the daemon's invariant check on POOL.  Prints \"ok\", or the\n"
	  "problem found and exits 1.\n" },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static const char exit_status_help[] =
    "Exit status:\n"
    "  0   success\n"
    "  1   the operation failed (no such pool, pool busy, check failed...)\n"
    "  2   usage error\n"
    "  69  the daemon is unreachable (no socket, connection refused or\n"
    "      lost)\n"
    "  77  permission denied (by the daemon, or on the socket)\n";

static void
usage(void)
{
	size_t	i;

	printf("usage: poolctl [--socket PATH] [--json[=pretty|short]] "
	    "COMMAND [ARGS]\n"
	    "\n"
	    "Manage the pools of poolmgrd.\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %-9s %s\n", cmds[i].name, cmds[i].summary);
	printf("  %-9s %s\n", "help", "this text, or a command's");
	printf("\n"
	    "Options (anywhere on the line):\n"
	    "  -s, --socket PATH   the daemon's socket (default: "
	    "$POOLMGRD_SOCKET,\n"
	    "                      else " POOL_DEFAULT_SOCKET ")\n"
	    "  -j, --json[=FMT]    print the data as JSON, pretty (default) "
	    "or short\n"
	    "  -h, --help          show help; after a command, that "
	    "command's\n"
	    "  -V, --version       show the version\n"
	    "\n"
	    "Run 'poolctl help COMMAND' for a command's arguments.\n"
	    "\n%s", exit_status_help);
}

static void
cmd_usage(const struct cmd *cmd)
{
	printf("usage: poolctl [--socket PATH] [--json] %s%s%s\n\n%s\n%s",
	    cmd->name, cmd->synopsis[0] != '\0' ? " " : "", cmd->synopsis,
	    cmd->help, exit_status_help);
}

static const struct cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Command line. */

static const struct option longopts[] = {
	{ "socket",	 required_argument,	NULL, 's' },
	{ "json",	 optional_argument,	NULL, 'j' },
	{ "help",	 no_argument,		NULL, 'h' },
	{ "version",	 no_argument,		NULL, 'V' },
	{ "force",	 no_argument,		NULL, 'f' },
	{ "size",	 required_argument,	NULL, OPT_SIZE },
	{ "granularity", required_argument,	NULL, OPT_GRANULARITY },
	{ "mode",	 required_argument,	NULL, OPT_MODE },
	{ "quota",	 required_argument,	NULL, OPT_QUOTA },
	{ "retain",	 required_argument,	NULL, OPT_RETAIN },
	{ "format",	 required_argument,	NULL, OPT_FORMAT },
	{ NULL,		 0,			NULL, 0 }
};

static const char *
opt_name(unsigned bit)
{
	switch (bit) {
	case O_SIZE:
		return "--size";
	case O_GRANULARITY:
		return "--granularity";
	case O_MODE:
		return "--mode";
	case O_QUOTA:
		return "--quota";
	case O_FORCE:
		return "--force";
	case O_RETAIN:
		return "--retain";
	default:
		return "--format";
	}
}

/*
 * One getopt_long pass over the whole line.  The leading '-' in optstring
 * hands back the words that are not options in order (as code 1), so the
 * options may come before or after the command without depending on
 * POSIXLY_CORRECT; words after "--" are never options (a pool name may
 * begin with '-').  The leading ':' lets us word the errors ourselves.
 */
static int
parse_args(struct ctl *ctl, int argc, char **argv, char **pos, int *npos)
{
	const char	*json_arg = NULL;
	int		 ch;

	opterr = 0;
	*npos = 0;
	while ((ch = getopt_long(argc, argv, "-:s:j::hVf", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 1:
			pos[(*npos)++] = optarg;
			break;
		case 's':
			if (*optarg == '\0')
				return usage_error("--socket: empty path");
			ctl->socket = optarg;
			break;
		case 'j':
			ctl->json = 1;
			json_arg = optarg;
			break;
		case 'h':
			ctl->help = true;
			break;
		case 'V':
			ctl->version = true;
			break;
		case 'f':
			ctl->force = true;
			ctl->opts |= O_FORCE;
			break;
		case OPT_SIZE:
			ctl->size_arg = optarg;
			ctl->opts |= O_SIZE;
			break;
		case OPT_GRANULARITY:
			ctl->granularity_arg = optarg;
			ctl->opts |= O_GRANULARITY;
			break;
		case OPT_MODE:
			ctl->mode_arg = optarg;
			ctl->opts |= O_MODE;
			break;
		case OPT_QUOTA:
			ctl->quota_arg = optarg;
			ctl->opts |= O_QUOTA;
			break;
		case OPT_RETAIN:
			ctl->retain_arg = optarg;
			ctl->opts |= O_RETAIN;
			break;
		case OPT_FORMAT:
			ctl->format_arg = optarg;
			ctl->opts |= O_FORMAT;
			break;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0 && optopt < 256)
				return usage_error("unknown option '-%c'",
				    optopt);
			return usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	while (optind < argc)
		pos[(*npos)++] = argv[optind++];

	ctl->json_flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE;
	if (json_arg != NULL) {
		if (strcmp(json_arg, "short") == 0)
			ctl->json_flags = JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE;
		else if (strcmp(json_arg, "pretty") != 0)
			return usage_error("--json=%s: expected pretty or "
			    "short", json_arg);
	}
	return 0;
}

/* Flush stdout and turn a failed write (a full disk, a closed pipe) into
 * exit 1 rather than a silent success. */
static int
finish(struct ctl *ctl, int rc)
{
	if (ctl->conn != NULL)
		pool_disconnect(ctl->conn);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "poolctl: write error on stdout: %s\n",
		    strerror(errno));
		if (rc == 0)
			rc = EXIT_FAILED;
	}
	return rc;
}

/*
 * Pick the command and check its arguments; rc is the exit status.  Help
 * wins over every other complaint, so "poolctl create --size x --help"
 * shows the help.
 */
static int
run(struct ctl *ctl, int npos, char **pos)
{
	const struct cmd	*cmd;
	unsigned		 bad;

	if (ctl->version) {
		printf("poolctl %s\n", POOLCTL_VERSION);
		return 0;
	}
	if (npos == 0) {
		if (!ctl->help)
			return usage_error("no command given");
		usage();
		return 0;
	}

	if (strcmp(pos[0], "help") == 0) {
		if (npos > 2)
			return usage_error("help: too many arguments");
		if (npos == 1 || strcmp(pos[1], "help") == 0) {
			usage();
			return 0;
		}
		if ((cmd = find_cmd(pos[1])) == NULL)
			return usage_error("unknown command '%s'", pos[1]);
		cmd_usage(cmd);
		return 0;
	}
	if ((cmd = find_cmd(pos[0])) == NULL)
		return usage_error("unknown command '%s'", pos[0]);
	if (ctl->help) {
		cmd_usage(cmd);
		return 0;
	}

	if ((bad = ctl->opts & ~cmd->opts) != 0)
		return usage_error("%s: option %s does not apply",
		    cmd->name, opt_name(bad & -bad));
	/* The missing argument is named by the synopsis' first word. */
	if (npos - 1 < cmd->minargs)
		return usage_error("%s: missing %.*s", cmd->name,
		    (int)strcspn(cmd->synopsis, " "), cmd->synopsis);
	if (npos - 1 > cmd->maxargs)
		return usage_error("%s: unexpected argument '%s'", cmd->name,
		    pos[1 + cmd->maxargs]);

	return cmd->fn(ctl, npos - 1, pos + 1);
}

int
main(int argc, char **argv)
{
	struct ctl	  ctl;
	char		**pos;
	const char	 *env;
	int		  npos, rc;

	memset(&ctl, 0, sizeof ctl);
	/* Room for every word: the positional arguments are at most argc. */
	if ((pos = calloc((size_t)argc + 1, sizeof *pos)) == NULL) {
		ctl_warnx("out of memory");
		return EXIT_FAILED;
	}
	rc = parse_args(&ctl, argc, argv, pos, &npos);
	if (rc == 0) {
		if (ctl.socket == NULL) {
			env = getenv("POOLMGRD_SOCKET");
			ctl.socket = (env != NULL && *env != '\0') ? env :
			    POOL_DEFAULT_SOCKET;
		}
		rc = run(&ctl, npos, pos);
	}
	rc = finish(&ctl, rc);
	free(pos);
	return rc;
}

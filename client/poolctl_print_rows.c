/*
 * poolctl_print_rows.c - what the commands that list rows print: clients
 * (a handle a row), persisted (a pool's uid a row, as text, JSON, kv or
 * Prometheus), names (a named block a row) and wait (the block it found,
 * as names shows one).
 *
 * The names in these rows come from other programs: a block's name may
 * be any bytes but NUL, a client's whatever the program called itself.
 * In text each is one field that no byte can split or end (field); in
 * JSON, which must be UTF-8, a block's name keeps its bytes beside the
 * text (json_add_name).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* ---------------------------------------------------------------------- */
/* Formatting values. */

/*
 * A name as one field of a line of data, for block names (any bytes but
 * NUL) and client names: printable ASCII as it is, but the blank, the
 * backslash and every other byte as \xHH, so that no name splits its
 * field or starts a line of its own (a newline), the line keeps its
 * number of fields for awk, and the bytes come back whole (printf '%b'
 * of bash or coreutils reads \xHH).  A block name (255 bytes) fits.
 */
struct field {
	char	s[4 * POOL_BLOCK_NAME_MAX + 1];
};

static struct field
field(const char *in)
{
	static const char	 hex[] = "0123456789abcdef";
	struct field		 o;
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0;

	for (; *p != '\0' && n + 4 < sizeof o.s; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\') {
			o.s[n++] = (char)*p;
			continue;
		}
		o.s[n++] = '\\';
		o.s[n++] = 'x';
		o.s[n++] = hex[*p >> 4];
		o.s[n++] = hex[*p & 0xf];
	}
	o.s[n] = '\0';
	return o;
}

/* ---------------------------------------------------------------------- */
/* Names and clients in JSON. */

/*
 * The length of the valid UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF) at p, or 0 if the byte there starts
 * none.
 */
static size_t
utf8_len(const unsigned char *p)
{
	size_t		i, n;
	uint32_t	c, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/*
 * A block name, which may be any bytes, in JSON, which must be UTF-8
 * (RFC 8259; json-c copies bytes as they are): "name" as it is when it is
 * UTF-8, else with U+FFFD for each byte that is not, and then "name_hex",
 * its bytes in hexadecimal, so that a program still has the name whole.
 */
static void
json_add_name(struct json_object *o, const char *name)
{
	static const char	 hex_digits[] = "0123456789abcdef";
	static const char	 fffd[] = "\xef\xbf\xbd";
	const unsigned char	*p = (const unsigned char *)name;
	/* At most 3 bytes out for each in; room for a last 4-byte one. */
	char			 text[3 * POOL_BLOCK_NAME_MAX + 4 + 1];
	char			 hex[2 * POOL_BLOCK_NAME_MAX + 1];
	size_t			 k, n = 0, h = 0;
	bool			 bad = false;

	for (; *p != '\0' && n + 4 < sizeof text; p += k) {
		if ((k = utf8_len(p)) == 0) {
			memcpy(text + n, fffd, 3);
			n += 3;
			bad = true;
			k = 1;
			continue;
		}
		memcpy(text + n, p, k);
		n += k;
	}
	text[n] = '\0';
	json_object_object_add(o, "name", json_object_new_string(text));
	if (!bad)
		return;
	for (p = (const unsigned char *)name; *p != '\0' &&
	    h + 2 < sizeof hex; p++) {
		hex[h++] = hex_digits[*p >> 4];
		hex[h++] = hex_digits[*p & 0xf];
	}
	hex[h] = '\0';
	json_object_object_add(o, "name_hex", json_object_new_string(hex));
}

static struct json_object *
json_client(const struct pool_client_info *ci)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "pid", json_u64(ci->pid));
	json_object_object_add(o, "uid", json_u64(ci->uid));
	json_object_object_add(o, "user", id_json(POOL_ACL_USER, ci->uid));
	json_object_object_add(o, "gid", json_u64(ci->gid));
	json_object_object_add(o, "group", id_json(POOL_ACL_GROUP, ci->gid));
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

/* ---------------------------------------------------------------------- */
/* Each command's result. */

/* Of the quota, as text: "-" for no quota. */
struct quota_share {
	char	s[16];
};

static struct quota_share
quota_share(uint64_t bytes, uint64_t quota)
{
	struct quota_share	q;

	if (quota == 0)
		snprintf(q.s, sizeof q.s, "-");
	else
		snprintf(q.s, sizeof q.s, "%.1f%%", percent(bytes, quota));
	return q;
}

/* A uid column as wide as its widest name or number, 10 at least. */
static void
print_persisted_text(const struct ctl *ctl, const struct persisted_row *r,
    size_t n)
{
	size_t	i, w = 4, wu = 10;

	for (i = 0; i < n; i++) {
		if (strlen(r[i].pool) > w)
			w = strlen(r[i].pool);
		if (strlen(id_who(ctl, POOL_ACL_USER, r[i].by.uid).s) > wu)
			wu = strlen(id_who(ctl, POOL_ACL_USER, r[i].by.uid).s);
	}
	printf("%-*s %*s %8s %10s %9s %14s\n", (int)w, "POOL", (int)wu, "UID",
	    "BLOCKS", "BYTES", "OF QUOTA", "OF USER QUOTA");
	for (i = 0; i < n; i++)
		printf("%-*s %*s %8" PRIu64 " %10s %9s %14s\n",
		    (int)w, safe(r[i].pool).s, (int)wu,
		    id_who(ctl, POOL_ACL_USER, r[i].by.uid).s, r[i].by.blocks,
		    human(r[i].by.bytes).s,
		    quota_share(r[i].by.bytes, r[i].quota).s,
		    quota_share(r[i].by.bytes, r[i].user_quota_bound).s);
}

static struct json_object *
json_persisted(const struct persisted_row *r)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "pool", json_object_new_string(r->pool));
	json_object_object_add(o, "uid", json_u64(r->by.uid));
	json_object_object_add(o, "user", id_json(POOL_ACL_USER, r->by.uid));
	json_object_object_add(o, "blocks", json_u64(r->by.blocks));
	json_object_object_add(o, "bytes", json_u64(r->by.bytes));
	json_object_object_add(o, "quota", json_u64(r->quota));
	json_object_object_add(o, "user_quota", json_u64(r->user_quota));
	json_object_object_add(o, "user_quota_bound",
	    json_u64(r->user_quota_bound));
	return o;
}

/* One Prometheus family of the rows, labelled by pool and uid. */
static void
prom_persisted(const struct persisted_row *r, size_t n, const char *name,
    const char *mhelp, bool bytes)
{
	size_t	i;

	prom_family(name, "gauge", mhelp);
	for (i = 0; i < n; i++) {
		printf("%s{pool=\"", name);
		prom_label(r[i].pool);
		printf("\",uid=\"%" PRIu32 "\"} %" PRIu64 "\n", r[i].by.uid,
		    bytes ? r[i].by.bytes : r[i].by.blocks);
	}
}

/*
 * Who persisted what: a table, a JSON array, "POOL persisted_bytes.UID N"
 * lines (and persisted_blocks.UID) or Prometheus gauges labelled by pool
 * and uid.
 */
void
print_persisted(const struct ctl *ctl, enum format fmt,
    const struct persisted_row *r, size_t n)
{
	struct json_object	*a;
	size_t			 i;

	switch (fmt) {
	case FMT_JSON:
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_persisted(&r[i]));
		json_print(ctl, a);
		break;
	case FMT_PROMETHEUS:
		prom_persisted(r, n, "poolmgr_pool_persisted_bytes",
		    "Bytes of persistent blocks a uid made so: they count "
		    "against the quota of each of its sessions, and its user "
		    "quota.", true);
		prom_persisted(r, n, "poolmgr_pool_persisted_blocks",
		    "Persistent blocks a uid made so.", false);
		break;
	case FMT_KV:
		for (i = 0; i < n; i++) {
			printf("%s persisted_blocks.%" PRIu32 " %" PRIu64 "\n",
			    r[i].pool, r[i].by.uid, r[i].by.blocks);
			printf("%s persisted_bytes.%" PRIu32 " %" PRIu64 "\n",
			    r[i].pool, r[i].by.uid, r[i].by.bytes);
		}
		break;
	case FMT_TEXT:
		print_persisted_text(ctl, r, n);
		break;
	}
}

void
print_clients(const struct ctl *ctl, const struct pool_client_info *ci,
    size_t n)
{
	struct json_object	*a;
	size_t			 i, wn = 4, wp = 4, wu = 6, wg = 6;

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_client(&ci[i]));
		json_print(ctl, a);
		return;
	}

	for (i = 0; i < n; i++) {
		if (strlen(field(ci[i].name).s) > wn)
			wn = strlen(field(ci[i].name).s);
		if (strlen(ci[i].pool) > wp)
			wp = strlen(ci[i].pool);
		if (strlen(id_who(ctl, POOL_ACL_USER, ci[i].uid).s) > wu)
			wu = strlen(id_who(ctl, POOL_ACL_USER, ci[i].uid).s);
		if (strlen(id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s) > wg)
			wg = strlen(id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s);
	}
	printf("%7s %*s %*s  %-*s  %-*s %6s %-6s %8s %10s %10s\n", "PID",
	    (int)wu, "UID", (int)wg, "GID", (int)wn, "NAME", (int)wp, "POOL",
	    "HANDLE", "ACCESS", "BLOCKS", "BYTES", "CACHED");
	for (i = 0; i < n; i++) {
		printf("%7" PRIu32 " %*s %*s  %-*s  %-*s "
		    "%6" PRIu32 " %-6s %8" PRIu64 " %10s %10s\n", ci[i].pid,
		    (int)wu, id_who(ctl, POOL_ACL_USER, ci[i].uid).s, (int)wg,
		    id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s, (int)wn,
		    field(ci[i].name).s,
		    (int)wp, safe(ci[i].pool).s, ci[i].handle,
		    ci[i].read_only ? "ro" : "rw", ci[i].blocks,
		    human(ci[i].bytes).s, human(ci[i].cached_bytes).s);
	}
}

void
print_names(const struct ctl *ctl, const char *pool,
    const struct pool_named *pn, size_t n)
{
	struct json_object	*a, *o;
	size_t			 i, w = 4, pw = 10;
	int			 gw = 12, len;
	char			 gen[24];

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "pool",
			    json_object_new_string(pool));
			json_add_name(o, pn[i].name);
			json_object_object_add(o, "offset",
			    json_u64(pn[i].offset));
			json_object_object_add(o, "usable_size",
			    json_u64(pn[i].usable_size));
			json_object_object_add(o, "publisher",
			    json_u64(pn[i].publisher));
			json_object_object_add(o, "publisher_user",
			    id_json(POOL_ACL_USER, pn[i].publisher));
			json_object_object_add(o, "evictable",
			    json_object_new_boolean(pn[i].evictable != 0));
			json_object_object_add(o, "generation",
			    json_u64(pn[i].generation));
			json_object_array_add(a, o);
		}
		json_print(ctl, a);
		return;
	}
	/* Generations only grow: widen their column rather than misalign. */
	for (i = 0; i < n; i++) {
		if (strlen(field(pn[i].name).s) > w)
			w = strlen(field(pn[i].name).s);
		len = snprintf(gen, sizeof gen, "%" PRIu64, pn[i].generation);
		if (len > gw)
			gw = len;
		if (strlen(id_who(ctl, POOL_ACL_USER, pn[i].publisher).s) > pw)
			pw = strlen(id_who(ctl, POOL_ACL_USER,
			    pn[i].publisher).s);
	}
	printf("%-*s %18s %10s %*s %*s %s\n", (int)w, "NAME", "OFFSET",
	    "SIZE", (int)pw, "PUBLISHER", gw, "GENERATION", "EVICT");
	for (i = 0; i < n; i++)
		printf("%-*s %18s %10s %*s %*" PRIu64
		    " %s\n", (int)w, field(pn[i].name).s,
		    offset_text(pn[i].offset).s,
		    human(pn[i].usable_size).s, (int)pw,
		    id_who(ctl, POOL_ACL_USER, pn[i].publisher).s, gw,
		    pn[i].generation, pn[i].evictable ? "yes" : "no");
}

/*
 * The block `wait` found, or one object.  The line is for a script, as
 * --format=kv's are: one field each, the size a plain count of bytes
 * (names' "1.0 KiB" would split it in two), as --json's usable_size.
 */
void
print_wait(const struct ctl *ctl, const char *pool, const char *name,
    uint64_t off, uint64_t usable, uint64_t gen)
{
	struct json_object	*o;

	if (ctl->json) {
		o = json_object_new_object();
		json_object_object_add(o, "pool", json_object_new_string(pool));
		json_add_name(o, name);
		json_object_object_add(o, "offset", json_u64(off));
		json_object_object_add(o, "usable_size", json_u64(usable));
		json_object_object_add(o, "generation", json_u64(gen));
		json_print(ctl, o);
		return;
	}
	printf("%s %s %" PRIu64 " %" PRIu64 "\n", field(name).s,
	    offset_text(off).s, usable, gen);
}

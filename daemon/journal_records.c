/*
 * journal_records.c - what the crash journal's records say of the state
 * (journal_internal.h; journal_rec.h lays them out): a pool, the last
 * generation it gave, its bounds, access control list and user quotas, a
 * persistent block, a name and its generation, the daemon's own socket;
 * and a pool whole, as a snapshot has it.  Each goes through journal.c's
 * journal_append, which says where: into the journal a snapshot writes, or, for
 * a change, the stored journal or the spill.  The daemon's socket is kept
 * here from journal_socket, for the last record of every snapshot.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "journal_internal.h"
#include "journal_rec.h"
#include "pool.h"

static char sock_path[JREC_SOCKET_MAX + 1];	/* "": systemd's socket */
static unsigned sock_mode;

int
rec_pool(struct jfile *f, const struct dpool *p)
{
	uint64_t w[JREC_MAX_WORDS] = {
		0, p->keep_id, p->size, 1u << p->granule_shift,
		p->page_size, p->uid, p->gid, p->mode,
		p->quota, p->retain,
	};

	memcpy(&w[10], p->name, strnlen(p->name, JREC_NAME_MAX * 8));
	return journal_append(f, JREC_POOL, w, 10 + JREC_NAME_MAX);
}

int
rec_block(struct jfile *f, enum jrec_type type, const struct dpool *p,
	  const struct block *b)
{
	struct heap_block_info bi = {0};
	uint64_t w[8] = {0, p->keep_id, b->off, b->size};

	(void)heap_block_info(p->heap, b->off, &bi);
	w[4] = bi.requested;
	w[5] = (uint64_t)bi.span;
	w[6] = b->persister;
	if (type == JREC_RESIZE)
		return journal_append(f, type, w, 5);
	return journal_append(f, type, w, 7);
}

/* Name n's generation, after its record or a publish in place. */
int
rec_generation(struct jfile *f, const struct dpool *p,
	       const struct block_name *n)
{
	uint64_t w[5] = {0, p->keep_id, n->block->off, n->generation};

	return journal_append(f, JREC_GENERATION, w, 4);
}

/* The last generation p gave, before its names in a snapshot. */
static int
rec_generations(struct jfile *f, const struct dpool *p)
{
	uint64_t w[4] = {0, p->keep_id, p->name_generation};

	if (!p->name_generation)
		return 0;
	return journal_append(f, JREC_GENERATIONS, w, 3);
}

int
rec_name(struct jfile *f, const struct dpool *p, const struct block_name *n)
{
	uint64_t w[JREC_MAX_WORDS] = {0, p->keep_id, n->block->off,
				      n->publisher, n->len};
	unsigned words = (n->len + 7) / 8;

	int rc;

	memcpy(&w[5], n->name, n->len);
	if ((rc = journal_append(f, n->evict ? JREC_NAME_EVICTABLE :
				 JREC_NAME, w, 5 + words)))
		return rc;
	return rec_generation(f, p, n);
}

/*
 * p's limit and user quota after its record (none while both are 0,
 * unless changed); the user quota's word only when it is not 0.
 */
int
rec_bounds(struct jfile *f, const struct dpool *p, bool changed)
{
	uint64_t w[5] = {0, p->keep_id, p->limit, p->user_quota};

	if (!p->limit && !p->user_quota && !changed)
		return 0;
	return journal_append(f, JREC_BOUNDS, w, p->user_quota ? 4 : 3);
}

_Static_assert(JREC_ACL_MAX == ACL_MAX, "a JREC_ACL holds every list");

/*
 * p's access control list after its record and bounds (none while it is
 * empty, unless changed: then a record of no entry says it was emptied).
 */
int
rec_acl(struct jfile *f, const struct dpool *p, bool changed)
{
	uint64_t w[JREC_MAX_WORDS] = {0, p->keep_id};
	uint32_t i;

	if (!p->acl.n && !changed)
		return 0;
	for (i = 0; i < p->acl.n; i++)
		w[2 + i] = acl_word(&p->acl.e[i]);
	return journal_append(f, JREC_ACL, w, 2 + p->acl.n);
}

_Static_assert(JREC_UQ_MAX == UQUOTA_MAX,
	       "a JREC_USER_QUOTAS holds every list");

/*
 * p's own user quotas of uids after its record, bounds and list (none
 * while there is none, unless changed: then a record of no entry says
 * the change emptied them).
 */
int
rec_user_quotas(struct jfile *f, const struct dpool *p, bool changed)
{
	uint64_t w[JREC_MAX_WORDS] = {0, p->keep_id};
	uint32_t i;

	if (!p->uquotas.n && !changed)
		return 0;
	for (i = 0; i < p->uquotas.n; i++) {
		w[2 + 2 * i] = p->uquotas.e[i].uid;
		w[3 + 2 * i] = p->uquotas.e[i].bytes;
	}
	return journal_append(f, JREC_USER_QUOTAS, w, 2 + 2 * p->uquotas.n);
}

/* The daemon's own socket, last in every snapshot (none: systemd's). */
int
rec_socket(struct jfile *f)
{
	uint64_t w[JREC_MAX_WORDS] = {0, sock_mode, strlen(sock_path)};

	if (w[2] == 0)
		return 0;
	memcpy(&w[3], sock_path, w[2]);
	return jfile_append(f, JREC_SOCKET, w, 3 + (unsigned)(w[2] + 7) / 8);
}

/*
 * Pool p as a snapshot has it: the pool, its settings, its persistent
 * blocks and their names; *walked counts the blocks looked at.
 */
int
rec_pool_whole(struct jfile *f, struct dpool *p, uint64_t *walked)
{
	struct block_index_iter it;
	struct block_name *n;
	struct block *b;
	int rc;

	if ((rc = rec_pool(f, p)) || (rc = rec_generations(f, p)) ||
	    (rc = rec_bounds(f, p, false)) ||
	    (rc = rec_acl(f, p, false)) ||
	    (rc = rec_user_quotas(f, p, false)))
		return rc;
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		(*walked)++;
		if (block_persistent(b) &&
		    (rc = rec_block(f, JREC_PERSIST, p, b)))
			return rc;
	}
	for (n = block_names_from(&p->names, "", 0); n;
	     n = block_names_next(&p->names, n))
		if ((rc = rec_name(f, p, n)))
			return rc;
	return 0;
}

void
journal_socket(const char *path, unsigned mode)
{
	if (strlen(path) > JREC_SOCKET_MAX)
		return;
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	sock_mode = mode;
}

/*
 * liar_lists.c - the fake daemon's listings and statistics (liar_fake.h):
 * pools, names and blocks in pages, a pool's user quota entries, the
 * daemon's figures; each the truth, or the lie it was started to tell.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "liar_fake.h"
#include "poolclient.h"

const uint32_t uquota_told_uid[UQUOTA_TOLD] = {7, 1000, 1001};
const uint64_t uquota_told_bytes[UQUOTA_TOLD] = {0, 1 << 20, 1 << 16};

int
fake_list(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static const char order_made[LIST_POOLS + 1] = "5183092746";
	static char names[64][8];
	static Poolmgr__PoolStats st[64];
	static Poolmgr__PoolStats *ptrs[64];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListPoolsReply lr = POOLMGR__LIST_POOLS_REPLY__INIT;
	const char *after = req->list->after ? req->list->after : "";
	unsigned i, n = 0, most = req->list->paged ? LIST_PAGE : LIST_POOLS;

	fprintf(fs->log, "list after=%s paged=%d\n", after,
		(int)req->list->paged);
	for (i = 0; i < LIST_POOLS; i++) {
		snprintf(names[n], sizeof(names[n]), "l%c",
			 fs->lie == LIST_OLD ? order_made[i] : (char)('0' + i));
		if (fs->lie == LIST_OLD || strcmp(names[n], after) > 0)
			n++;
	}
	lr.unlisted = n > most && fs->lie != LIST_OLD ? n - most : 0;
	n = n - lr.unlisted;
	switch (fs->lie) {
	case LIE_LIST_STUCK:		/* the first page, again and again */
		for (i = 0; i < LIST_PAGE; i++)
			snprintf(names[i], sizeof(names[i]), "l%u", i);
		n = LIST_PAGE;
		lr.unlisted = LIST_POOLS - LIST_PAGE;
		break;
	case LIE_LIST_UNSORTED:
		snprintf(names[0], sizeof(names[0]), "l9");
		break;
	case LIE_LIST_EMPTY_MORE:
		n = 0;
		break;
	case LIE_LIST_ENDLESS:		/* 64 more after each, always */
		for (n = 0; n < 64; n++)
			snprintf(names[n], sizeof(names[n]), "e%06u",
				 fs->endless++);
		lr.unlisted = 1;
		break;
	default:
		break;
	}
	for (i = 0; i < n; i++) {
		poolmgr__pool_stats__init(&st[i]);
		st[i].name = names[i];
		st[i].max_size = FAKE_SIZE;
		st[i].granularity = FAKE_G;
		ptrs[i] = &st[i];
	}
	lr.n_pools = n;
	lr.pools = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_LIST;
	rep.list = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

/* NAMES_OLD's names, in byte order, and the most its one reply lists. */
static const char *const old_names[] = {"a/0", "a/1", "b/0", "b/1", "b/2"};
#define NAMES_OLD_REPLY	3

int
fake_names(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__NamedBlock nb[NAMES_OLD_REPLY];
	static Poolmgr__NamedBlock *ptrs[NAMES_OLD_REPLY];
	const Poolmgr__ListNames *m = req->names;
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListNamesReply lr = POOLMGR__LIST_NAMES_REPLY__INIT;
	size_t i, k = 0;

	fprintf(fs->log, "names pool=%s prefix=%.*s after=%zu\n",
		m->pool && m->pool->name ? m->pool->name : "",
		(int)m->prefix.len, m->prefix.len ? (char *)m->prefix.data : "",
		m->after.len);
	for (i = 0; i < sizeof(old_names) / sizeof(old_names[0]); i++) {
		if (m->prefix.len && strncmp(old_names[i],
		    (const char *)m->prefix.data, m->prefix.len) != 0)
			continue;
		if (k == NAMES_OLD_REPLY) {
			lr.unlisted++;
			continue;
		}
		poolmgr__named_block__init(&nb[k]);
		nb[k].name.data = (uint8_t *)old_names[i];
		nb[k].name.len = strlen(old_names[i]);
		nb[k].offset = (i + 1) * BLOCKS_STEP;
		nb[k].usable_size = 64;
		nb[k].generation = i + 1;
		ptrs[k] = &nb[k];
		k++;
	}
	lr.n_names = k;
	lr.names = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_NAMES;
	rep.names = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

int
fake_blocks(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__BlockInfo bi[BLOCKS_PAGE + 129];
	static Poolmgr__BlockInfo *ptrs[BLOCKS_PAGE + 129];
	static Poolmgr__BlockHolder bh[5];
	static Poolmgr__BlockHolder *hptrs[5];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListBlocksReply lr = POOLMGR__LIST_BLOCKS_REPLY__INIT;
	uint64_t from = req->list_blocks->from;
	unsigned i, k, n = 0;

	fprintf(fs->log, "blocks from=%llu pid=%u handle=%u\n",
		(unsigned long long)from, req->list_blocks->pid,
		req->list_blocks->handle);
	k = (unsigned)((from + BLOCKS_STEP - 1) / BLOCKS_STEP);
	for (; k < BLOCKS_TOTAL && n < BLOCKS_PAGE; k++, n++) {
		poolmgr__block_info__init(&bi[n]);
		bi[n].offset = (uint64_t)k * BLOCKS_STEP;
		bi[n].usable_size = bi[n].requested = 64;
		bi[n].holders = 1;
		bi[n].n_first_holders = 1;
		bi[n].first_holders = hptrs;
		ptrs[n] = &bi[n];
	}
	for (i = 0; i < 5; i++) {
		poolmgr__block_holder__init(&bh[i]);
		bh[i].pid = 4242;
		bh[i].handle = i + 1;
		hptrs[i] = &bh[i];
	}
	lr.done = k >= BLOCKS_TOTAL;
	lr.next = (uint64_t)k * BLOCKS_STEP;
	switch (fs->lie) {
	case LIE_BLOCKS_STUCK:		/* nothing, and no further on */
		n = 0;
		lr.next = from;
		lr.done = false;
		break;
	case LIE_BLOCKS_DOWN:
		bi[2].offset = bi[1].offset - 16;
		break;
	case LIE_BLOCKS_129:
		for (n = 0; n < 129; n++) {
			poolmgr__block_info__init(&bi[n]);
			bi[n].offset = (uint64_t)n * 64;
			bi[n].usable_size = 64;
			ptrs[n] = &bi[n];
		}
		lr.next = 129 * 64;
		break;
	case LIE_BLOCKS_BEHIND:		/* asked from 4096 */
		bi[0].offset = 0;
		break;
	case LIE_BLOCKS_NEXT_BACK:
		lr.next = bi[n - 1].offset;
		break;
	case LIE_BLOCKS_5_HOLDERS:
		bi[1].holders = 5;
		bi[1].n_first_holders = 5;
		break;
	case LIE_BLOCKS_HOLDERS_OVER:
		bi[1].n_first_holders = 2;
		break;
	default:
		break;
	}
	lr.n_blocks = n;
	lr.blocks = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_BLOCKS;
	rep.blocks = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

int
fake_stats(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__UserQuota e[POOL_USER_QUOTA_MAX + 1];
	static Poolmgr__UserQuota *ptrs[POOL_USER_QUOTA_MAX + 1];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__PoolStats st = POOLMGR__POOL_STATS__INIT;
	unsigned i, n = UQUOTA_TOLD;

	fprintf(fs->log, "stats %s\n", req->stats->name ? req->stats->name :
		"(by handle)");
	if (fs->lie == LIE_UQUOTA_33)
		n = POOL_USER_QUOTA_MAX + 1;
	for (i = 0; i < n; i++) {
		poolmgr__user_quota__init(&e[i]);
		e[i].uid = i < UQUOTA_TOLD ? uquota_told_uid[i] : 2000 + i;
		e[i].bytes = i < UQUOTA_TOLD ? uquota_told_bytes[i] : 4096;
		ptrs[i] = &e[i];
	}
	if (fs->lie == LIE_UQUOTA_UNSORTED)
		e[0].uid = 5000;
	else if (fs->lie == LIE_UQUOTA_TWICE)
		e[2].uid = e[1].uid;
	else if (fs->lie == LIE_UQUOTA_NOBODY)
		e[2].uid = UINT32_MAX;
	if (fs->lie == LIE_UQUOTA_COUNT_33)
		st.user_quota_entries = POOL_USER_QUOTA_MAX + 1;
	else if (fs->lie == LIE_UQUOTA_COUNT_BELIED)
		st.user_quota_entries = n - 1;
	st.name = FAKE_POOL;
	st.max_size = FAKE_SIZE;
	st.granularity = FAKE_G;
	st.n_user_quotas = n;
	st.user_quotas = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_STATS;
	rep.stats = &st;
	return fake_send(cfd, &rep, NULL, 0);
}

int
fake_daemon_stats(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__DaemonStatsReply r = POOLMGR__DAEMON_STATS_REPLY__INIT;

	fprintf(fs->log, "daemon stats\n");
	r.server = "a liar";
	r.pid = 4242;
	r.max_connections = 1024;
	r.connections = 1;
	r.requests_total = 7;
	r.features = FEATURE_DAEMON_STATS;
	rep.body_case = POOLMGR__REPLY__BODY_DAEMON_STATS;
	rep.daemon_stats = &r;
	return fake_send(cfd, &rep, NULL, 0);
}

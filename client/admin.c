/*
 * admin.c - libpoolclient's admin requests: creating a pool, changing its
 * settings, destroying it; and the check of a pool name that every request
 * naming a pool makes first (client_check_name).
 *
 * These requests change what the daemon keeps and nothing the library
 * holds, so they are apart from open pools (open.c) and from the questions
 * about pools (stats.c, lists.c).  As everywhere in the library, the
 * daemon is the authority on every rule: arguments are checked here only
 * where a bad one could not be sent (a NULL pointer, a name too long for
 * the message), where the daemon could not tell (a limit an older daemon
 * would skip unread), or where the header defines the answer (a flag or a
 * reserved word a later library may give a meaning).
 *
 * The sizes of the public structures are asserted here, once for the
 * library; the Python binding's mirror of them asserts the same sizes.
 */
#include <errno.h>
#include <string.h>

#include "client_internal.h"

/*
 * The public structures are part of libpoolclient.so.1's ABI (pool_list and
 * pool_clients return arrays of them): a new field takes the place of a
 * reserved one, and these sizes do not change within the soname.  Once
 * they did: struct pool_stats had no reserved room, and user_quota made it
 * grow from 320 bytes to 384, 7 words of them reserved so that it need
 * not grow again.  That was safe because each function that takes or
 * gives one has two versions (stats.c, lists.c): programs linked before
 * bind to the LIBPOOLCLIENT_1 ones, which fill the 320-byte layout
 * (struct pool_stats_1, the new one's start), and programs built since to
 * the LIBPOOLCLIENT_1.13 ones, the default.  No other function takes the
 * structure.
 */
_Static_assert(sizeof(struct pool_create_opts) == 64, "ABI: create opts");
_Static_assert(sizeof(struct pool_set_opts) == 64, "ABI: set opts");
_Static_assert(sizeof(struct pool_stats) == 384, "ABI: pool_stats");
_Static_assert(sizeof(struct pool_client_info) == 208, "ABI: client info");
_Static_assert(sizeof(struct pool_persisted) == 40, "ABI: persisted");
_Static_assert(sizeof(struct pool_user) == 72, "ABI: user");
_Static_assert(sizeof(struct pool_user_quota) == 16, "ABI: user quota");
_Static_assert(sizeof(struct pool_named) == 296, "ABI: named");
_Static_assert((int)POOL_NUMA_NONE == POOLMGR__NUMA_POLICY__NUMA_NONE &&
    (int)POOL_NUMA_PREFERRED == POOLMGR__NUMA_POLICY__NUMA_PREFERRED &&
    (int)POOL_NUMA_BIND == POOLMGR__NUMA_POLICY__NUMA_BIND &&
    (int)POOL_NUMA_OTHER == POOLMGR__NUMA_POLICY__NUMA_OTHER,
    "the library's NUMA policies are the wire's");

static int	client_destroy(struct pool_conn *, const char *, int);

/*
 * A pool name must be given and fit the protocol.  The daemon checks the
 * characters; the length is checked here too so that a huge string never
 * makes a message the daemon would drop the connection for.
 */
int
client_check_name(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	if (strnlen(name, POOL_NAME_MAX + 1) > POOL_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int
client_destroy(struct pool_conn *c, const char *name, int force)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__DestroyPool	dp = POOLMGR__DESTROY_POOL__INIT;
	int			error;

	conn_forget_refusal();
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	dp.name = (char *)name;
	dp.force = force;
	req.body_case = POOLMGR__REQUEST__BODY_DESTROY;
	req.destroy = &dp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

#define CLIENT_CREATE_ALL	(POOL_CREATE_OWNER | POOL_CREATE_GROUP)

/*
 * o's checks that need no daemon.  A uid or gid not given must be zero,
 * as a reserved word: a later library may give them a meaning alone.
 */
static int
client_check_create(const struct pool_create_opts *o)
{
	if (o->max_size == 0 || (o->flags & ~CLIENT_CREATE_ALL) != 0)
		return -EINVAL;
	if ((!(o->flags & POOL_CREATE_OWNER) && o->uid != 0) ||
	    (!(o->flags & POOL_CREATE_GROUP) && o->gid != 0))
		return -EINVAL;
	for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
		if (o->reserved[i] != 0)
			return -EINVAL;
	if (o->numa_policy > POOL_NUMA_BIND || (o->numa_policy ==
	    POOL_NUMA_NONE && o->numa_node != 0))
		return -EINVAL;
	return 0;
}

#define CLIENT_SET_ALL	(POOL_SET_MODE | POOL_SET_OWNER | POOL_SET_GROUP | \
			 POOL_SET_QUOTA | POOL_SET_RETAIN | POOL_SET_LIMIT | \
			 POOL_SET_USER_QUOTA | POOL_SET_ACL)

/*
 * The list took the room of the reserved words programs built before it
 * zeroed: the structure is the size it was wherever a pointer is 8 bytes.
 */
_Static_assert(sizeof(void *) != 8 || sizeof(struct pool_set_opts) == 64,
    "struct pool_set_opts changed size");

/* o's checks that need no daemon: those a later library may relax. */
static int
client_check_set(const struct pool_set_opts *o)
{
	if ((o->which & ~CLIENT_SET_ALL) != 0 || o->reserved != 0)
		return -EINVAL;
	if (o->which & POOL_SET_ACL)
		return client_acl_check(o->acl, o->nacl, 1);
	return 0;
}

/*
 * A daemon without the feature ignores a limit or a user quota (protobuf
 * skips fields it does not know): a pool it made or set would have none,
 * silently.
 */
static int
client_check_bounds(struct pool_conn *c, int limit, int user_quota, int acl)
{
	if (limit && (c->features & CONN_FEATURE_POOL_LIMIT) == 0)
		return -EOPNOTSUPP;
	if (user_quota && (c->features & CONN_FEATURE_USER_QUOTA) == 0)
		return -EOPNOTSUPP;
	if (acl && (c->features & CONN_FEATURE_ACL) == 0)
		return -EOPNOTSUPP;
	return 0;
}

/*
 * The settings s gives, in SetPool's fields: the one encoding of what
 * they mean, which CreatePool takes too (client_create_take).  Each
 * overwrites what an earlier encoding into sp said of the same setting.
 * A list goes into am, which must outlive the request.
 */
static void
client_encode_settings(Poolmgr__SetPool *sp, const struct pool_set_opts *s,
    struct client_acl_msg *am)
{
	if (s->which & POOL_SET_ACL)
		sp->acl = client_acl_encode(am, s->acl, s->nacl);
	if (s->which & POOL_SET_MODE) {
		sp->set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
		sp->mode = s->mode;
	}
	if (s->which & POOL_SET_OWNER) {
		sp->set_uid_case = POOLMGR__SET_POOL__SET_UID_UID;
		sp->uid = s->uid;
	}
	if (s->which & POOL_SET_GROUP) {
		sp->set_gid_case = POOLMGR__SET_POOL__SET_GID_GID;
		sp->gid = s->gid;
	}
	if (s->which & POOL_SET_QUOTA) {
		sp->set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
		sp->quota = s->quota;
	}
	/* The wire's retain 0 is "none": the default is said apart. */
	if ((s->which & POOL_SET_RETAIN) && s->retain == 0) {
		sp->set_retain_case =
		    POOLMGR__SET_POOL__SET_RETAIN_RETAIN_DEFAULT;
		sp->retain_default = 1;
	} else if (s->which & POOL_SET_RETAIN) {
		sp->set_retain_case = POOLMGR__SET_POOL__SET_RETAIN_RETAIN;
		sp->retain = s->retain == POOL_RETAIN_NONE ? 0 : s->retain;
	}
	if (s->which & POOL_SET_LIMIT) {
		sp->set_limit_case = POOLMGR__SET_POOL__SET_LIMIT_LIMIT;
		sp->limit = s->limit;
	}
	if (s->which & POOL_SET_USER_QUOTA) {
		sp->set_user_quota_case =
		    POOLMGR__SET_POOL__SET_USER_QUOTA_USER_QUOTA;
		sp->user_quota = s->user_quota;
	}
}

/*
 * The settings of o that pool_set could change later, as pool_set_opts:
 * mode, quota and retain always (their 0 means the daemon's default
 * there too), the owner and group when given.
 */
static struct pool_set_opts
client_create_given(const struct pool_create_opts *o)
{
	struct pool_set_opts g = {
		.which = POOL_SET_MODE | POOL_SET_QUOTA | POOL_SET_RETAIN,
		.mode = o->mode, .uid = o->uid, .gid = o->gid,
		.quota = o->quota, .retain = o->retain,
	};

	if (o->flags & POOL_CREATE_OWNER)
		g.which |= POOL_SET_OWNER;
	if (o->flags & POOL_CREATE_GROUP)
		g.which |= POOL_SET_GROUP;
	return g;
}

/*
 * What sp sets, moved into CreatePool's fields, where mode, the quotas and
 * limit are plain numbers and an absent retain is the default.
 */
static void
client_create_take(Poolmgr__CreatePool *cp, const Poolmgr__SetPool *sp)
{
	if (sp->set_mode_case == POOLMGR__SET_POOL__SET_MODE_MODE)
		cp->mode = sp->mode;
	if (sp->set_uid_case == POOLMGR__SET_POOL__SET_UID_UID) {
		cp->owner_uid_case = POOLMGR__CREATE_POOL__OWNER_UID_UID;
		cp->uid = sp->uid;
	}
	if (sp->set_gid_case == POOLMGR__SET_POOL__SET_GID_GID) {
		cp->owner_gid_case = POOLMGR__CREATE_POOL__OWNER_GID_GID;
		cp->gid = sp->gid;
	}
	if (sp->set_quota_case == POOLMGR__SET_POOL__SET_QUOTA_QUOTA)
		cp->quota = sp->quota;
	if (sp->set_retain_case == POOLMGR__SET_POOL__SET_RETAIN_RETAIN) {
		cp->retention_case = POOLMGR__CREATE_POOL__RETENTION_RETAIN;
		cp->retain = sp->retain;
	}
	if (sp->set_limit_case == POOLMGR__SET_POOL__SET_LIMIT_LIMIT)
		cp->limit = sp->limit;
	if (sp->set_user_quota_case ==
	    POOLMGR__SET_POOL__SET_USER_QUOTA_USER_QUOTA)
		cp->user_quota = sp->user_quota;
	cp->acl = sp->acl;
}

/* A mode of 0 would read as 0600 in CreatePool: pool_set refuses it too. */
static int
client_check_create_mode(const struct pool_set_opts *s)
{
	if ((s->which & POOL_SET_MODE) &&
	    (s->mode == 0 || (s->mode & ~0777u) != 0))
		return -EINVAL;
	return 0;
}

POOL_API int
pool_create(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o)
{
	return pool_create_set(c, name, o, NULL);
}

POOL_API int
pool_create_set(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o, const struct pool_set_opts *s)
{
	return client_create(c, name, o, s, NULL, 0);
}

/*
 * pool_create_set with the uids' own user quotas uq (nuq of them): the
 * one making of a CreatePool, which pool_create_user_quotas (uquota.c)
 * shares.
 */
int
client_create(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o, const struct pool_set_opts *s,
    const struct pool_user_quota *uq, size_t nuq)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool	cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__SetPool	settings = POOLMGR__SET_POOL__INIT;
	struct pool_set_opts	given;
	struct client_acl_msg	am;
	struct client_uquota_msg um;
	int			error;

	conn_forget_refusal();
	if (c == NULL || o == NULL)
		return -EINVAL;
	if ((error = client_check_create(o)) != 0)
		return error;
	if (s != NULL && (error = client_check_set(s)) != 0)
		return error;
	if ((error = client_uquota_check(uq, nuq, NULL, 0)) != 0)
		return error;
	if ((error = client_check_name(name)) != 0)
		return error;
	if (s != NULL && (error = client_check_create_mode(s)) != 0)
		return error;

	cp.name = (char *)name;
	cp.max_size = o->max_size;
	cp.granularity = o->granularity;
	cp.page_size = o->page_size;
	if (o->numa_policy != POOL_NUMA_NONE) {
		cp.numa_case = POOLMGR__CREATE_POOL__NUMA_NUMA_NODE;
		cp.numa_node = o->numa_node;
		cp.numa_policy = o->numa_policy;
	}
	given = client_create_given(o);
	client_encode_settings(&settings, &given, &am);
	if (s != NULL)
		client_encode_settings(&settings, s, &am);
	client_create_take(&cp, &settings);
	if ((error = client_check_bounds(c, cp.limit != 0,
	    cp.user_quota != 0, cp.acl != NULL && cp.acl->n_entries != 0)) != 0)
		return error;
	/* An older daemon would make the pool without them, silently. */
	if (nuq > 0 && (c->features & CONN_FEATURE_USER_QUOTAS) == 0)
		return -EOPNOTSUPP;
	cp.user_quotas = client_uquota_encode(&um, uq, nuq);
	cp.n_user_quotas = nuq;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

POOL_API int
pool_set(struct pool_conn *c, const char *name, const struct pool_set_opts *o)
{
	if (o == NULL) {
		conn_forget_refusal();
		return -EINVAL;
	}
	return client_set(c, name, o, NULL, 0, NULL, 0, 0);
}

/*
 * pool_set with changes to the uids' own user quotas (o NULL: those
 * alone), in one SetPool: the one making of it, which
 * pool_set_user_quotas and pool_user_quota_modify (uquota.c) share.
 * uquota_feature: the entries need features bit 11 even when none are
 * given (pool_user_quota_modify's rule, as pool_acl_modify's).
 */
int
client_set(struct pool_conn *c, const char *name,
    const struct pool_set_opts *o, const struct pool_user_quota *set,
    size_t nset, const uint32_t *rm, size_t nrm, int uquota_feature)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool	sp = POOLMGR__SET_POOL__INIT;
	struct client_acl_msg	am;
	struct client_uquota_msg um;
	int			error;

	conn_forget_refusal();
	if (c == NULL)
		return -EINVAL;
	if (o != NULL && (error = client_check_set(o)) != 0)
		return error;
	if ((error = client_uquota_check(set, nset, rm, nrm)) != 0)
		return error;
	if ((error = client_check_name(name)) != 0)
		return error;
	/* Emptying the list of a daemon without lists changes nothing. */
	if (o != NULL && (error = client_check_bounds(c,
	    o->which & POOL_SET_LIMIT, o->which & POOL_SET_USER_QUOTA,
	    (o->which & POOL_SET_ACL) && o->nacl != 0)) != 0)
		return error;
	/* An older daemon would skip them unread and answer 0. */
	if ((uquota_feature || nset > 0 || nrm > 0) &&
	    (c->features & CONN_FEATURE_USER_QUOTAS) == 0)
		return -EOPNOTSUPP;

	sp.name = (char *)name;
	if (o != NULL)
		client_encode_settings(&sp, o, &am);
	sp.user_quota_modify = client_uquota_encode(&um, set, nset);
	sp.n_user_quota_modify = nset;
	/* Read only, though the generated field is not const. */
	sp.user_quota_remove = (uint32_t *)rm;
	sp.n_user_quota_remove = nrm;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &sp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

POOL_API int
pool_destroy(struct pool_conn *c, const char *name)
{
	return client_destroy(c, name, 0);
}

POOL_API int
pool_destroy_force(struct pool_conn *c, const char *name)
{
	return client_destroy(c, name, 1);
}

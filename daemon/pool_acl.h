/*
 * pool_acl.h - a pool's access control list: read and write rights for
 * named users and groups beyond the owner, group and other classes of the
 * pool's mode, so that a pool can be shared by several services and
 * groups of users at once, each with its own rights.
 *
 * The rules are POSIX.1e's for a file's ACL, without the mask entry (a
 * pool's mode is never changed behind its ACL's back by a chmod, which is
 * what the mask exists for): the first of these that applies decides.
 *
 *   1. The pool's owner: the owner bits of the mode.
 *   2. A user entry naming the caller's uid: that entry's rights.
 *   3. The group class: the pool's group (the group bits of the mode) and
 *      each group entry, those the caller is in (its primary or any
 *      supplementary group).  If one of them grants all that is asked,
 *      granted; if the caller is in any of them and none grants it,
 *      refused.
 *   4. Everyone else: the other bits of the mode.
 *
 * So an entry may refuse as well as grant: "user:guest:-" keeps guest out
 * of a pool whose group it is in.  Root and the daemon's uid have every
 * right whatever the list says (session_may_access).
 *
 * A list holds at most ACL_MAX entries, kept sorted (users, then groups,
 * each by id) with no kind and id twice, so that two lists are equal when
 * they grant the same, a reload can compare the file's with the pool's,
 * and the log and the statistics show entries in one order.  The rights
 * of an entry are ACL_READ and ACL_WRITE (execute means nothing for a
 * pool); none at all is an entry that refuses.
 *
 * Everything here is plain data, no I/O and no session: the caller passes
 * the caller's credentials in, so the rules are testable alone.
 */
#ifndef POOLMGRD_POOL_ACL_H
#define POOLMGRD_POOL_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ACL_MAX		32	/* entries a pool's list may hold */

enum acl_kind {
	ACL_USER = 1,		/* id is a uid */
	ACL_GROUP = 2,		/* id is a gid */
};

#define ACL_READ	4u
#define ACL_WRITE	2u
#define ACL_RIGHTS	(ACL_READ | ACL_WRITE)

struct acl_entry {
	uint32_t id;
	uint8_t kind;		/* enum acl_kind */
	uint8_t rights;		/* ACL_READ | ACL_WRITE, or 0: refused */
};

struct acl {
	uint32_t n;
	struct acl_entry e[ACL_MAX];
};

/*
 * Who asks: its uid, primary gid and supplementary groups.  groups_unknown:
 * the kernel would not say its supplementary groups (SO_PEERGROUPS
 * failed), so it may be in any group: in the group class, a group it is
 * not known to be in that would not grant what is asked refuses it, as it
 * would a member, rather than leave it to the other bits (fail closed: a
 * refusing group entry must not be passed over for want of knowing).
 */
struct acl_caller {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	bool groups_unknown;
};

/* Is gid the caller's primary group or one of its supplementary ones? */
bool acl_caller_in_group(const struct acl_caller *who, gid_t gid);

/*
 * Does the list, with the pool's owner, group and mode, give the caller
 * every right of want (ACL_READ, ACL_WRITE or both)?  The rules above;
 * O(entries + entries x groups).
 */
bool acl_grants(const struct acl *acl, uid_t owner, gid_t group,
		uint32_t mode, const struct acl_caller *who, unsigned want);

/*
 * Which rule decided acl_grants' answer for who, in words for a refusal:
 * "uid 1000 owns it (mode 0400)", "its entry user:1000:r", "the group
 * class: group 20 (mode 0640), group:27:-", "the other bits (mode
 * 0640)".  Into buf (len bytes), which it returns.  Where the group
 * class's pieces do not all fit, those that fit whole are said and the
 * rest counted ("... and 12 more"): none is cut into another's words.
 */
const char *acl_decider(const struct acl *acl, uid_t owner, gid_t group,
			uint32_t mode, const struct acl_caller *who,
			char *buf, size_t len);

/*
 * Make *out the list of the n entries given, checked and sorted: 0, or
 * -EINVAL (a kind that is neither, an id of 4294967295, rights beyond
 * ACL_RIGHTS, a kind and id given twice) or -ENOSPC (more than ACL_MAX),
 * with why said in words into why (len bytes); *out unchanged then.
 */
int acl_build(struct acl *out, const struct acl_entry *e, size_t n,
	      char *why, size_t len);

/*
 * *out = cur less the entries of the kinds and ids of rm (rights not
 * looked at; one not in cur is no error), then with each of add set (in
 * place of the entry of its kind and id, or added); add and rm may be
 * NULL when their counts are 0.  Errors as acl_build, -ENOSPC when the
 * result passes ACL_MAX; *out unchanged then.
 */
int acl_modify(struct acl *out, const struct acl *cur,
	       const struct acl_entry *add, size_t nadd,
	       const struct acl_entry *rm, size_t nrm, char *why, size_t len);

bool acl_equal(const struct acl *a, const struct acl *b);

/* Room for the words of the longest list, "group:4294967294:rw" each. */
#define ACL_TEXT_MAX	(ACL_MAX * 20 + 8)

/*
 * The list in words, "user:7:-,user:1000:rw,group:20:r" order kept
 * (sorted), or "none" for an empty one; cut at len if it must be.
 * Returns buf.
 */
const char *acl_text(const struct acl *acl, char *buf, size_t len);

/*
 * An entry as one 64-bit word, as the crash journal and the state of a
 * restart in place keep it: the id in the low 32 bits, the rights in the
 * next 8, the kind in the 8 above.  acl_unword refuses (false) a word no
 * acl_word could have made; a list of words goes through acl_build then.
 */
uint64_t acl_word(const struct acl_entry *e);
bool acl_unword(uint64_t w, struct acl_entry *e);

/*
 * Is the list well formed: at most ACL_MAX entries, each valid, sorted
 * with no kind and id twice?  The pool's check calls it; 0 or -EFAULT
 * with the first fault in words.
 */
int acl_check(const struct acl *acl, char *why, size_t len);

#endif

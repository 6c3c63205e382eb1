/*
 * harness_ids.h - users and groups of a test's own, seen by one child
 * process alone: /etc/passwd and /etc/group as they are, plus the lines
 * the test gives, bound over the files in a mount namespace of the
 * child's own (so nothing outside sees them, and nothing is left behind
 * when the child ends).  For names the system's databases may hold but
 * this machine's do not: names with commas and blanks (as LDAP, sssd and
 * /etc/group may give), names of digits, one name on two ids.  It needs
 * root and "files" first for passwd and group in nsswitch.conf.  No
 * cmocka here: the caller checks what each call returns.
 */
#ifndef POOLMGR_HARNESS_IDS_H
#define POOLMGR_HARNESS_IDS_H

/*
 * In a child process (it changes the child's mounts): passwd_lines
 * appended to /etc/passwd and group_lines to /etc/group (either NULL:
 * that file as it is), each whole lines ending in '\n'.  0 when the
 * databases then answer for check_user (a name passwd_lines gives; NULL:
 * nothing checked), else 99: no mount namespace, or the names are not
 * seen (an NSS source before "files").
 */
int harness_ids_bind(const char *passwd_lines, const char *group_lines,
		     const char *check_user);

#endif /* POOLMGR_HARNESS_IDS_H */

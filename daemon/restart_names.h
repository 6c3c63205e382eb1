/*
 * restart_names.h - the names of the descriptors an exec passes, in a
 * LISTEN_FDNAMES of bounded length (restart_names.c).
 */
#ifndef POOLMGRD_RESTART_NAMES_H
#define POOLMGRD_RESTART_NAMES_H

/* The longest name, with its NUL: "conn.16777215". */
#define RESTART_NAME_MAX 24

/*
 * The n names joined by ':', each run "pool.a" ... "pool.b" (or conn)
 * written "pool.a-b".  malloc'ed; NULL if out of memory.
 */
char *restart_names_join(unsigned n, char *const *name);

/*
 * The other way: split list (in place) into exactly n names, runs made
 * whole again, their names in *made (malloc'ed, or NULL; freed by the
 * caller once the names are no longer used).  0, or -EINVAL if the list
 * does not hold n names, -ENOMEM.
 */
int restart_names_split(char *list, unsigned n, char **name, char **made);

#endif /* POOLMGRD_RESTART_NAMES_H */

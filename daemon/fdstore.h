/*
 * fdstore.h - systemd's file descriptor store (sd_notify(3) FDSTORE=1):
 * where a stop under systemd leaves what a restart in place would hand
 * over, so that `systemctl restart` keeps every pool, block and client.
 *
 * Used only when NOTIFY_SOCKET is set and FDSTORE is a positive number
 * (systemd 254 exports it from FileDescriptorStoreMax=; the unit sets it
 * for older ones).  Built without libsystemd, the store is never usable.
 */
#ifndef POOLMGRD_FDSTORE_H
#define POOLMGRD_FDSTORE_H

/* How many descriptors the store takes; 0: it is not to be used. */
unsigned fdstore_max(void);

/*
 * Push the n descriptors, each under its name: 0, all of them stored, or
 * -errno with none left in the store (those pushed are removed again).
 */
int fdstore_push(unsigned n, const int *fd, char *const *name);

/*
 * Take every name of list (':'-separated) out of the store: 0, or the
 * first refusal's -errno (each is logged; the others are still asked).
 */
int fdstore_remove(const char *list);

#endif /* POOLMGRD_FDSTORE_H */

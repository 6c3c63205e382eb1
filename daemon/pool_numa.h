/*
 * pool_numa.h - a pool's NUMA policy, which the kernel keeps with its memfd.
 */
#ifndef POOLMGRD_POOL_NUMA_H
#define POOLMGRD_POOL_NUMA_H

#include <stdint.h>

/* The policies (poolmgr.proto's NumaPolicy, whose values these are). */
#define DPOOL_NUMA_NONE		0	/* the kernel's default: local */
#define DPOOL_NUMA_PREFERRED	1
#define DPOOL_NUMA_BIND		2
#define DPOOL_NUMA_OTHER	3	/* read back only: not one of ours */

/* Nodes are 0 .. DPOOL_NUMA_NODES - 1 at most (the kernel's own bound). */
#define DPOOL_NUMA_NODES	1024

/*
 * Give the shmem file that map (size bytes from its offset 0, a shared
 * mapping) maps the policy for node: every process that maps the file
 * gets its pages placed so from then on.  0, -EINVAL for a policy not
 * DPOOL_NUMA_PREFERRED or DPOOL_NUMA_BIND, -ENODEV for a node that does
 * not exist, has no memory or is outside the daemon's cpuset,
 * -EOPNOTSUPP on a kernel without NUMA or where a system-call filter
 * refuses mbind, or another -errno of mbind.
 */
int dpool_numa_set(void *map, uint64_t size, uint32_t policy, uint32_t node);

/*
 * The policy of the file's first page, read back from the kernel through
 * map, and its node (0 with none, the lowest with DPOOL_NUMA_OTHER).
 */
void dpool_numa_get(const void *map, uint32_t *policy, uint32_t *node);

/*
 * Does node have memory, as sysfs lists the nodes that have (the file
 * path, normally DPOOL_NUMA_HAS_MEMORY)?  1, 0, or -1 when the list cannot
 * be read (no NUMA in the kernel, no sysfs): a look for poolmgrd -t,
 * which does not map a pool to ask mbind.  The cpuset is not looked at.
 */
#define DPOOL_NUMA_HAS_MEMORY	"/sys/devices/system/node/has_memory"
int dpool_numa_has_memory(const char *path, uint32_t node);

/* "default", "preferred", "bind" or "other", for the log. */
const char *dpool_numa_name(uint32_t policy);

#endif /* POOLMGRD_POOL_NUMA_H */

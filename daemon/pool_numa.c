/*
 * pool_numa.c - a pool's NUMA policy, which the kernel keeps with its memfd.
 *
 * mbind() on a shared mapping of a shmem file does not give the mapping a
 * policy: shmem keeps it in the file's inode, by page offset, and places
 * every page of the file by it, whichever process faults the page in
 * (through its own mapping, however made), and the daemon's zeroing and
 * copying too.  So the daemon sets it once, on its own mapping of a new
 * pool, and no client does anything.  Because the policy lives with the
 * memfd, a pool adopted from a restart in place, the systemd fd store or
 * a crash recovery has it still: the daemon reads it back from the kernel
 * (get_mempolicy with MPOL_F_ADDR on its mapping) instead of keeping it in
 * its state or journal, and the stats say what the kernel will do, even if
 * a process mapping the pool changed it with an mbind of its own.
 *
 * The raw system calls: libnuma would add a library for two calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool_numa.h"

#define MASK_BITS	(8 * sizeof(unsigned long))
#define MASK_WORDS	(DPOOL_NUMA_NODES / MASK_BITS)

_Static_assert(DPOOL_NUMA_NODES % (8 * sizeof(unsigned long)) == 0,
	       "the node mask is whole words");

int
dpool_numa_set(void *map, uint64_t size, uint32_t policy, uint32_t node)
{
	unsigned long mask[MASK_WORDS] = {0};
	int mode;

	if (policy == DPOOL_NUMA_PREFERRED)
		mode = MPOL_PREFERRED;
	else if (policy == DPOOL_NUMA_BIND)
		mode = MPOL_BIND;
	else
		return -EINVAL;
	if (node >= DPOOL_NUMA_NODES)
		return -ENODEV;
	mask[node / MASK_BITS] = 1ul << (node % MASK_BITS);
	/*
	 * maxnode is one more than the bits (the kernel drops the last, as
	 * it always has).  With our mode and no flags, EINVAL can only be
	 * the node: not online, without memory, or not in our cpuset.
	 */
	if (syscall(SYS_mbind, map, (unsigned long)size, mode, mask,
		    (unsigned long)DPOOL_NUMA_NODES + 1, 0ul) == 0)
		return 0;
	if (errno == EINVAL)
		return -ENODEV;
	/* No NUMA in the kernel, or a system-call filter (not the caller's
	 * rights: EPERM would say so). */
	if (errno == ENOSYS || errno == EPERM)
		return -EOPNOTSUPP;
	return -errno;
}

void
dpool_numa_get(const void *map, uint32_t *policy, uint32_t *node)
{
	unsigned long mask[MASK_WORDS] = {0};
	unsigned i, nodes = 0;
	int mode = MPOL_DEFAULT;

	*policy = DPOOL_NUMA_NONE;
	*node = 0;
	if (syscall(SYS_get_mempolicy, &mode, mask,
		    (unsigned long)DPOOL_NUMA_NODES, map, MPOL_F_ADDR) != 0)
		return;
	mode &= ~MPOL_MODE_FLAGS;
	if (mode == MPOL_DEFAULT)
		return;
	for (i = MASK_WORDS; i-- > 0;) {
		if (mask[i] == 0)
			continue;
		nodes += (unsigned)__builtin_popcountl(mask[i]);
		*node = i * MASK_BITS + (unsigned)__builtin_ctzl(mask[i]);
	}
	/* One node, as dpool_numa_set gives; else (local, a set) not ours. */
	if (nodes == 1 && mode == MPOL_PREFERRED)
		*policy = DPOOL_NUMA_PREFERRED;
	else if (nodes == 1 && mode == MPOL_BIND)
		*policy = DPOOL_NUMA_BIND;
	else
		*policy = DPOOL_NUMA_OTHER;
}

/* sysfs's node lists are ranges: "0", "0-3", "0,2-5". */
int
dpool_numa_has_memory(const char *path, uint32_t node)
{
	char list[4096], *s, *end;
	unsigned long lo, hi;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, list, sizeof(list) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	list[n] = '\0';
	for (s = list; *s >= '0' && *s <= '9'; s = end + 1) {
		lo = hi = strtoul(s, &end, 10);
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (node >= lo && node <= hi)
			return 1;
		if (*end != ',')
			break;
	}
	return 0;
}

const char *
dpool_numa_name(uint32_t policy)
{
	switch (policy) {
	case DPOOL_NUMA_NONE:
		return "default";
	case DPOOL_NUMA_PREFERRED:
		return "preferred";
	case DPOOL_NUMA_BIND:
		return "bind";
	default:
		return "other";
	}
}

/*
 * hugepage.h - the page a pool's memory comes in: the system page, or a
 * huge page size the kernel offers (hugetlbfs, docs/design.md).
 */
#ifndef POOLMGRD_HUGEPAGE_H
#define POOLMGRD_HUGEPAGE_H

#include <stdbool.h>
#include <stdint.h>

/* Where the kernel lists the huge page sizes it offers. */
#define HUGEPAGE_SYSFS "/sys/kernel/mm/hugepages"

/*
 * The largest page a pool may have: memfd_create encodes the size as its
 * log2 in 6 bits; the protocol carries a page size in 32 (OpenReply,
 * PoolStats).
 */
#define HUGEPAGE_MAX (1ull << 31)

/* The system page, in bytes. */
uint64_t hugepage_system(void);
/*
 * The page size a request for size gets: the system page for 0 or the
 * system page itself, size for a huge page size this kernel offers (one
 * under /sys/kernel/mm/hugepages), or 0: no such page.
 */
uint64_t hugepage_valid(uint64_t size);
/* Is page (as hugepage_valid gave it) a huge page? */
bool hugepage_is_huge(uint64_t page);
/* memfd_create's flags asking for pages of page bytes: 0 for the system's. */
unsigned hugepage_memfd_flags(uint64_t page);
/*
 * The page of the file fd: its hugetlbfs block size, or the system page
 * for any other file; 0 if fstatfs fails.
 */
uint64_t hugepage_of_fd(int fd);
/* Huge pages of page bytes free and not reserved now (for messages). */
uint64_t hugepage_available(uint64_t page);
/*
 * Where an operator sets how many huge pages of page bytes the kernel
 * keeps, for a message, in buf: "vm.nr_hugepages" for the default huge
 * page, which that sysctl counts, else the size's own nr_hugepages file.
 */
const char *hugepage_knob(uint64_t page, char *buf, unsigned len);
/* "2 MiB", "1 GiB", "4 KiB": page for a message, in buf. */
const char *hugepage_text(uint64_t page, char *buf, unsigned len);

#endif /* POOLMGRD_HUGEPAGE_H */

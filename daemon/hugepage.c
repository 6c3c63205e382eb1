/*
 * hugepage.c - the page a pool's memory comes in.
 *
 * A pool is on system pages, or on huge pages of one size the kernel
 * offers: its memfd is then made with MFD_HUGETLB and lives on the
 * kernel's internal hugetlbfs, whose block size is the page size.  So a
 * memfd tells its own page size (fstatfs), and a restart or a crash
 * recovery takes it from the memfd rather than trusting a record.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/memfd.h>

#include "hugepage.h"

uint64_t
hugepage_system(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The directory of huge pages of page bytes, as the kernel names it. */
static void
sysfs_dir(uint64_t page, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, HUGEPAGE_SYSFS "/hugepages-%llukB/%s",
		 (unsigned long long)(page >> 10), file);
}

uint64_t
hugepage_valid(uint64_t size)
{
	char path[128];
	struct stat sb;

	if (size == 0 || size == hugepage_system())
		return hugepage_system();
	if ((size & (size - 1)) || size < hugepage_system() ||
	    size > HUGEPAGE_MAX)
		return 0;
	sysfs_dir(size, "", path, sizeof(path));
	if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return 0;
	return size;
}

bool
hugepage_is_huge(uint64_t page)
{
	return page > hugepage_system();
}

unsigned
hugepage_memfd_flags(uint64_t page)
{
	if (!hugepage_is_huge(page))
		return 0;
	return MFD_HUGETLB |
	       ((unsigned)__builtin_ctzll(page) << MFD_HUGE_SHIFT);
}

uint64_t
hugepage_of_fd(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == -1)
		return 0;
	if (sf.f_type == (typeof(sf.f_type))HUGETLBFS_MAGIC)
		return (uint64_t)sf.f_bsize;
	return hugepage_system();
}

/* A count the kernel keeps for huge pages of page bytes, or 0. */
static uint64_t
sysfs_count(uint64_t page, const char *file)
{
	unsigned long long n = 0;
	char path[128];
	FILE *f;

	sysfs_dir(page, file, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

uint64_t
hugepage_available(uint64_t page)
{
	uint64_t free = sysfs_count(page, "free_hugepages");
	uint64_t resv = sysfs_count(page, "resv_hugepages");

	return free > resv ? free - resv : 0;
}

/* The kernel's default huge page (Hugepagesize in /proc/meminfo), or 0. */
static uint64_t
default_huge(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

const char *
hugepage_knob(uint64_t page, char *buf, unsigned len)
{
	if (page == default_huge())
		snprintf(buf, len, "vm.nr_hugepages");
	else
		sysfs_dir(page, "nr_hugepages", buf, len);
	return buf;
}

const char *
hugepage_text(uint64_t page, char *buf, unsigned len)
{
	if (page >= (1ull << 30) && page % (1ull << 30) == 0)
		snprintf(buf, len, "%llu GiB", (unsigned long long)(page >> 30));
	else if (page >= (1ull << 20) && page % (1ull << 20) == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(page >> 20));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(page >> 10));
	return buf;
}

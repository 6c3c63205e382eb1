/*
 * journal_file.c - the crash journal's files (journal_internal.h): a
 * journal's memfd made, mapped, grown and appended to, and the spill, the
 * same records in memory (malloc'd) for the changes a journal out of the
 * store could not take.  A record put is read only once the header's end
 * is published over it; which file a record goes to, and when its change
 * is whole and may be published, are journal.c's.
 *
 * A file grows by doubling, at most GROW_MAX at a time (fallocate,
 * mremap): an append is a copy of a few words.  The spill itself is
 * journal.c's, one only, and told from a journal by its address.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_internal.h"
#include "journal_rec.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define JOURNAL_START	(64 * 1024)	/* bytes, allocated at once */
#define GROW_MAX	(4 * 1024 * 1024)	/* bytes a grow adds at most */

int
jfile_open(struct jfile *f, uint64_t id)
{
	int fd;

	fd = memfd_create("poolmgr:journal", MFD_CLOEXEC | MFD_NOEXEC_SEAL);
	if (fd == -1 && errno == EINVAL)	/* kernels before 6.3 */
		fd = memfd_create("poolmgr:journal", MFD_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fchmod(fd, 0600) == -1 || fallocate(fd, 0, 0, JOURNAL_START) == -1)
		goto fail;
	f->map = mmap(NULL, JOURNAL_START, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	if (f->map == MAP_FAILED)
		goto fail;
	f->fd = fd;
	f->id = id;
	f->cap = JOURNAL_START;
	f->end = JREC_HEADER;
	f->map[JH_MAGIC] = JREC_MAGIC;
	f->map[JH_ID] = id;
	f->map[JH_SUM] = jrec_sum(f->map, 2);
	__atomic_store_n(&f->map[JH_END], f->end, __ATOMIC_RELEASE);
	return 0;
fail:
	{
		int err = -errno;

		close(fd);
		return err;
	}
}

/* A spill: the records only, from JREC_HEADER as in a journal. */
int
spill_open(void)
{
	if (!(journal_spill.map = malloc(JOURNAL_START)))
		return -ENOMEM;
	journal_spill.cap = JOURNAL_START;
	journal_spill.end = JREC_HEADER;
	return 0;
}

void
jfile_close(struct jfile *f)
{
	if (f == &journal_spill) {
		free(f->map);
		f->map = NULL;
		f->cap = 0;
		return;
	}
	if (f->fd < 0)
		return;
	munmap(f->map, f->cap);
	close(f->fd);
	f->fd = -1;
}

int
jfile_grow(struct jfile *f, size_t need)
{
	size_t cap = f->cap;
	void *m;

	/* Doubling, but a few MiB at a time: each grow is one request's. */
	while (cap < need)
		cap += cap < GROW_MAX ? cap : GROW_MAX;
	if (f == &journal_spill) {
		if (!(m = realloc(f->map, cap)))
			return -ENOMEM;
		f->map = m;
		f->cap = cap;
		return 0;
	}
	/*
	 * Every page now, not at the append that first writes it: memory
	 * short (a cgroup's limit) is then this call's error, which takes
	 * the journal out cleanly, rather than a fault in the middle of a
	 * record.  A failed fallocate changes neither the size nor the pages.
	 */
	if (fallocate(f->fd, 0, (off_t)f->cap, (off_t)(cap - f->cap)) == -1)
		return -errno;
	m = mremap(f->map, f->cap, cap, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return -errno;
	f->map = m;
	f->cap = cap;
	return 0;
}

/* w[0] is left for the head, w[n] for the sum. */
int
jfile_put(struct jfile *f, enum jrec_type type, uint64_t *w, unsigned n)
{
	size_t len = (size_t)(n + 1) * 8;
	int rc;

	if (f->end + len > f->cap && (rc = jfile_grow(f, f->end + len)))
		return rc;
	w[0] = jrec_head(n + 1, type);
	w[n] = jrec_sum(w, n);
	memcpy((char *)f->map + f->end, w, len);
	f->end += len;
	return 0;
}

/* The records put so far are the journal's: the header's end over them. */
void
jfile_publish(struct jfile *f)
{
	__atomic_store_n(&f->map[JH_END], f->end, __ATOMIC_RELEASE);
}

int
jfile_append(struct jfile *f, enum jrec_type type, uint64_t *w, unsigned n)
{
	int rc = jfile_put(f, type, w, n);

	if (rc == 0)
		jfile_publish(f);
	return rc;
}

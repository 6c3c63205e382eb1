/*
 * bench_boost.cpp - the shared-heap window workload on Boost.Interprocess:
 * one managed_shared_memory segment, PROCS processes that each open it by
 * name and run the same window loop as poolmgr's clients (bench_window.c),
 * allocating and deallocating through the segment manager, which takes
 * the segment's interprocess mutex for every call.
 *
 * Usage: bench_boost MIX PROCS SECONDS SEED   (MIX: 0 small, 1 large)
 * Prints one line:
 *   rate=PAIRS_PER_SEC live=BYTES freed=BYTES size=BYTES boost=VERSION
 * where live and freed are the segment's resident bytes (the blocks of its
 * file in /dev/shm) with every window live and after all was freed.
 */
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/version.hpp>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_procs.h"
#include "bench_window.h"

namespace bip = boost::interprocess;

static const std::size_t segment_size = std::size_t(1) << 30;
static char seg_name[64];
static enum mix g_mix;
static double g_secs;
static uint64_t g_seed;
static uint64_t live_bytes;

/* The worker's own: each worker is a process. */
static bip::managed_shared_memory *seg;
static struct window win;

static int
seg_alloc(void *ctx, std::size_t size, uint64_t *h, void **ptr)
{
	(void)ctx;
	*ptr = seg->allocate(size, std::nothrow);
	if (*ptr == nullptr)
		return -ENOMEM;
	*h = (uintptr_t)*ptr;
	return 0;
}

static int
seg_free(void *ctx, uint64_t h)
{
	(void)ctx;
	seg->deallocate((void *)(uintptr_t)h);
	return 0;
}

static int
worker_setup(struct job *j, int idx)
{
	struct heap_ops ops = { nullptr, seg_alloc, seg_free };

	(void)j;
	try {
		seg = new bip::managed_shared_memory(bip::open_only, seg_name);
	} catch (const std::exception &) {
		return -ENOENT;
	}
	window_init(&win, &ops, g_mix, g_seed, (uint64_t)idx);
	return window_fill(&win);
}

static int
worker_run(struct job *j, int idx, uint64_t *count)
{
	(void)j, (void)idx;
	return window_run(&win, g_secs, count);
}

static int
worker_teardown(struct job *j, int idx)
{
	int rc;

	(void)j, (void)idx;
	if (seg == nullptr)
		return 0;
	rc = window_drain(&win);
	delete seg;
	seg = nullptr;
	return rc;
}

/* What the segment's file holds in memory. */
static uint64_t
resident(void)
{
	char path[128];
	struct stat st;

	std::snprintf(path, sizeof path, "/dev/shm/%s", seg_name);
	if (stat(path, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static void
on_live(struct job *j)
{
	(void)j;
	live_bytes = resident();
}

int
main(int argc, char **argv)
{
	struct job j = {};
	struct job_total t;
	uint64_t freed;
	int procs, rc;

	if (argc != 5) {
		std::fprintf(stderr, "usage: bench_boost MIX PROCS SECONDS "
			     "SEED\n");
		return 2;
	}
	g_mix = std::atoi(argv[1]) ? MIX_LARGE : MIX_SMALL;
	procs = std::atoi(argv[2]);
	g_secs = std::atof(argv[3]);
	g_seed = std::strtoull(argv[4], nullptr, 10);
	std::snprintf(seg_name, sizeof seg_name, "poolmgr-bench-boost-%d",
		      (int)getpid());

	bip::shared_memory_object::remove(seg_name);
	try {
		bip::managed_shared_memory owner(bip::create_only, seg_name,
						 segment_size);

		j.setup = worker_setup;
		j.run = worker_run;
		j.teardown = worker_teardown;
		j.live = on_live;
		rc = procs_run(&j, procs, &t);
		freed = resident();
	} catch (const std::exception &ex) {
		std::fprintf(stderr, "bench_boost: %s\n", ex.what());
		bip::shared_memory_object::remove(seg_name);
		return 1;
	}
	bip::shared_memory_object::remove(seg_name);
	if (rc != 0) {
		std::fprintf(stderr, "bench_boost: a worker failed (%d)\n",
			     t.err);
		return 1;
	}
	std::printf("rate=%.1f live=%" PRIu64 " freed=%" PRIu64 " size=%zu "
		    "boost=%d.%d.%d\n", t.rate, live_bytes, freed,
		    segment_size, BOOST_VERSION / 100000,
		    BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
	return 0;
}

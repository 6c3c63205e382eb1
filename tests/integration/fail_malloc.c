/*
 * fail_malloc.c - preloaded into a daemon under test (LD_PRELOAD): while
 * switched on, malloc, calloc and realloc fail with ENOMEM by the rule in
 * $POOLMGR_FAIL_MALLOC, "every=N,after=M": of the calls counted since
 * failures were last switched on, the first M succeed and then every Nth
 * fails (N = 1: all of them); with ",times=K", only the first K of those
 * (",times=1,after=M": the call after the Mth, alone).  The count is all
 * there is to it, so that a
 * run fails the same calls each time the daemon makes the same ones.
 * strdup, fopen and the like reach these through the C library's own
 * calls of malloc.  The daemon uses no posix_memalign, aligned_alloc or
 * memalign; they are left to the C library.
 *
 * Failures start switched off, so that the daemon starts as it always
 * does.  FAIL_MALLOC_ON_SIG (SIGRTMIN + 5) switches them on and restarts
 * the count; FAIL_MALLOC_OFF_SIG (SIGRTMIN + 6) switches them off.  The
 * daemon handles neither.  A signal sent before a request is taken
 * before the daemon reads that request: it is pending from the kill on,
 * and the thread that wakes to read takes it on its way out of the
 * kernel.
 *
 * The engine's metadata allocations (heap_meta_alloc, heap_meta_realloc
 * in heap.c) abort on failure by design, so they never fail here.  A
 * return address alone cannot tell them: the compiler inlines them into
 * other functions of heap.c (heap_node_alloc), and no list of names
 * would keep up with its choices.  Inlining stays within heap.c, though
 * (no link-time optimization), and every function of the engine's that
 * calls them from another file does so through heap_node_alloc or by a
 * real call.  So a malloc or realloc is spared when it is called from
 * code of heap.c: the functions the executable's symbol table lists
 * under heap.c's file symbol (the static ones, and the parts and clones
 * the compiler split off them), and its global functions, which are all
 * named heap_* (those of the engine's other files named so are spared
 * too: of them only heap_check allocates, checked, a list it sorts).  A
 * function's place and size are in the table, so the compiler's moving
 * unlikely ones away from the rest does not matter.  calloc is never
 * spared: no metadata is allocated with it, and heap_create checks its
 * own.  Failures switched on in a daemon whose symbol table has no
 * heap_meta_alloc and heap_meta_realloc (stripped) end it, loudly: a
 * process the daemon starts inherits the preload, and a shell is no
 * daemon.
 *
 * With ",mmap" in the rule, private anonymous mmaps are counted and
 * failed the same way: the daemon takes its records (records.c) and its
 * large block index tables that way, and under strict overcommit such a
 * mapping fails as a malloc does.  Shared and file mappings (pools, the
 * journal, states) are left alone.  The mappings that pass are made by
 * the system call itself, so nothing needs resolving for them.
 * ",only=mmap" fails mappings alone, every allocation passing.
 *
 * dlsym may call calloc before the real one is known: such calls are
 * served from a small static arena, whose blocks free ignores.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL_MALLOC_ON_SIG	(SIGRTMIN + 5)
#define FAIL_MALLOC_OFF_SIG	(SIGRTMIN + 6)

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static free_fn real_free;

static volatile sig_atomic_t failing;
static unsigned long every = 1, after;
static bool mmap_too;			/* ",mmap" in the rule */
static bool malloc_too = true;		/* not ",only=mmap" */
static unsigned long counted;		/* calls since switched on */
static unsigned long times;		/* ",times=K": failures, at most */
/* The code of heap.c, sorted by address. */
#define SPARED_MAX 1024
static struct spared {
	uintptr_t lo, hi;
} spared[SPARED_MAX];
static size_t nspared;
static bool engine_found;

/* The arena of the calls made while dlsym finds the real functions. */
static _Alignas(16) char boot[4096];
static size_t boot_used;
static int resolving;

static void
say_fatal(const char *what)
{
	static const char pre[] = "fail_malloc.so: ";
	ssize_t rc;

	rc = write(2, pre, sizeof(pre) - 1);
	rc = write(2, what, strlen(what));
	rc = write(2, "\n", 1);
	(void)rc;
	_exit(127);
}

static void *
boot_alloc(size_t size)
{
	size_t len = (size + 15) & ~(size_t)15;
	void *p;

	if (len > sizeof(boot) - boot_used)
		return NULL;
	p = boot + boot_used;
	boot_used += len;
	return p;	/* zeroed: the arena is static and never reused */
}

static bool
is_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static void
resolve(void)
{
	if (real_free)
		return;
	resolving = 1;
	real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
	real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
	real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
	real_free = (free_fn)dlsym(RTLD_NEXT, "free");
	resolving = 0;
	if (!real_malloc || !real_calloc || !real_realloc || !real_free)
		say_fatal("dlsym found no C library allocator");
}

/* Does this call fail?  Counts it while failures are on. */
static bool
fail_now(void)
{
	unsigned long n;

	if (!failing)
		return false;
	n = __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
	if (n <= after || (n - after) % every != 0)
		return false;
	return times == 0 || (n - after) / every <= times;
}

static bool
from_engine(const void *ret)
{
	uintptr_t a = (uintptr_t)ret;
	size_t lo = 0, hi = nspared, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a < spared[mid].lo)
			hi = mid;
		else if (a >= spared[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

__attribute__((noinline)) void *
malloc(size_t size)
{
	const void *ret = __builtin_return_address(0);

	if (resolving)
		return boot_alloc(size);
	resolve();
	if (malloc_too && !from_engine(ret) && fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return real_malloc(size);
}

__attribute__((noinline)) void *
calloc(size_t nmemb, size_t size)
{
	if (resolving)
		return size && nmemb > SIZE_MAX / size ? NULL :
		    boot_alloc(nmemb * size);
	resolve();
	if (malloc_too && fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return real_calloc(nmemb, size);
}

__attribute__((noinline)) void *
realloc(void *p, size_t size)
{
	const void *ret = __builtin_return_address(0);
	void *q;

	if (resolving)
		return NULL;
	resolve();
	if (is_boot(p)) {
		/* Its size is not kept: copy what the arena can hold. */
		size_t have = (size_t)(boot + sizeof(boot) - (char *)p);

		if (!(q = real_malloc(size)))
			return NULL;
		memcpy(q, p, have < size ? have : size);
		return q;
	}
	if (malloc_too && !from_engine(ret) && fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, size);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r;

	if (mmap_too && (flags & MAP_ANONYMOUS) && !(flags & MAP_SHARED) &&
	    fail_now()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return r == -1 ? MAP_FAILED : (void *)r;
}

void
free(void *p)
{
	if (!p || is_boot(p))
		return;
	resolve();
	real_free(p);
}

static void
on_signal(int sig)
{
	if (sig == FAIL_MALLOC_ON_SIG) {
		if (!engine_found)
			say_fatal("no heap_meta_alloc/heap_meta_realloc in "
				  "the executable's symbol table (stripped?)");
		__atomic_store_n(&counted, 0, __ATOMIC_RELAXED);
		failing = 1;
	} else {
		failing = 0;
	}
}

/* "every=N,after=M[,times=K][,mmap|,only=mmap]", each part optional. */
static void
read_rule(void)
{
	const char *s = getenv("POOLMGR_FAIL_MALLOC");
	char *end;

	while (s && *s) {
		if (strncmp(s, "every=", 6) == 0) {
			every = strtoul(s + 6, &end, 10);
			if (every == 0)
				say_fatal("POOLMGR_FAIL_MALLOC: every=0");
		} else if (strncmp(s, "after=", 6) == 0) {
			after = strtoul(s + 6, &end, 10);
		} else if (strncmp(s, "times=", 6) == 0) {
			times = strtoul(s + 6, &end, 10);
		} else if (strncmp(s, "only=mmap", 9) == 0) {
			mmap_too = true;
			malloc_too = false;
			end = (char *)s + 9;
		} else if (strncmp(s, "mmap", 4) == 0) {
			mmap_too = true;
			end = (char *)s + 4;
		} else {
			say_fatal("POOLMGR_FAIL_MALLOC: every=N,after=M,times=K,mmap|only=mmap");
		}
		if (*end != ',' && *end != '\0')
			say_fatal("POOLMGR_FAIL_MALLOC: every=N,after=M,times=K,mmap|only=mmap");
		s = *end ? end + 1 : end;
	}
}

/* The load address of the executable (a PIE): its first object. */
static int
first_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uintptr_t *)data = (uintptr_t)info->dlpi_addr;
	return 1;
}

/* Is sym code of heap.c?  in_heap_c: it follows heap.c's file symbol. */
static bool
heap_c_function(const Elf64_Sym *sym, const char *name, bool in_heap_c)
{
	if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC ||
	    sym->st_shndx == SHN_UNDEF || sym->st_size == 0)
		return false;
	if (ELF64_ST_BIND(sym->st_info) == STB_LOCAL)
		return in_heap_c;
	return strncmp(name, "heap_", 5) == 0;
}

/* Keep [lo, hi) in the sorted table (a few hundred at most). */
static void
spare(uintptr_t lo, uintptr_t hi)
{
	size_t i = nspared;

	if (nspared == SPARED_MAX)
		say_fatal("more functions in heap.c than SPARED_MAX");
	while (i > 0 && spared[i - 1].lo > lo) {
		spared[i] = spared[i - 1];
		i--;
	}
	spared[i].lo = lo;
	spared[i].hi = hi;
	nspared++;
}

/* Is name, a file symbol, heap.c (with or without a directory)? */
static bool
is_heap_c(const char *name)
{
	const char *base = strrchr(name, '/');

	return strcmp(base ? base + 1 : name, "heap.c") == 0;
}

/* The table of heap.c's code, and whether the two functions are in it. */
static void
find_engine(void)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const Elf64_Sym *sym;
	uintptr_t base = 0, meta[2] = { 0, 0 };
	const char *str;
	bool in_heap_c = false;
	struct stat sb;
	size_t i, j, n;
	void *map;
	int fd;

	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	map = fstat(fd, &sb) < 0 ? MAP_FAILED : mmap(NULL,
	    (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	dl_iterate_phdr(first_object, &base);
	eh = map;
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		sym = (const Elf64_Sym *)((const char *)map + sh[i].sh_offset);
		str = (const char *)map + sh[sh[i].sh_link].sh_offset;
		n = sh[i].sh_size / sizeof(*sym);
		for (j = 0; j < n; j++) {
			const char *name = str + sym[j].st_name;
			uintptr_t at = base + sym[j].st_value;

			if (ELF64_ST_TYPE(sym[j].st_info) == STT_FILE)
				in_heap_c = is_heap_c(name);
			if (!heap_c_function(&sym[j], name, in_heap_c))
				continue;
			spare(at, at + sym[j].st_size);
			if (strcmp(name, "heap_meta_alloc") == 0)
				meta[0] = at;
			if (strcmp(name, "heap_meta_realloc") == 0)
				meta[1] = at;
		}
	}
	munmap(map, (size_t)sb.st_size);
	engine_found = meta[0] && meta[1];
}

__attribute__((constructor)) static void
fail_malloc_start(void)
{
	struct sigaction sa;

	resolve();
	read_rule();
	find_engine();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(FAIL_MALLOC_ON_SIG, &sa, NULL) < 0 ||
	    sigaction(FAIL_MALLOC_OFF_SIG, &sa, NULL) < 0)
		say_fatal("sigaction failed");
}

/*
 * bench_inproc.c - glibc malloc and mimalloc behind the window callbacks.
 * A block's handle is its address.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_inproc.h"

/* glibc's own malloc and free: exported, declared by no header. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

static void *(*mi_malloc_p)(size_t);
static void (*mi_free_p)(void *);

static int
glibc_alloc(void *ctx, size_t size, uint64_t *h, void **ptr)
{
	(void)ctx;
	if ((*ptr = __libc_malloc(size)) == NULL)
		return -ENOMEM;
	*h = (uintptr_t)*ptr;
	return 0;
}

static int
glibc_free(void *ctx, uint64_t h)
{
	(void)ctx;
	__libc_free((void *)(uintptr_t)h);
	return 0;
}

void
glibc_heap_ops(struct heap_ops *ops)
{
	*ops = (struct heap_ops){ .alloc = glibc_alloc, .free = glibc_free };
}

static int
mi_alloc(void *ctx, size_t size, uint64_t *h, void **ptr)
{
	(void)ctx;
	if ((*ptr = mi_malloc_p(size)) == NULL)
		return -ENOMEM;
	*h = (uintptr_t)*ptr;
	return 0;
}

static int
mi_free(void *ctx, uint64_t h)
{
	(void)ctx;
	mi_free_p((void *)(uintptr_t)h);
	return 0;
}

bool
mimalloc_load(char *note, size_t len)
{
	void *lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
	int (*version)(void);
	int v;

	if (lib == NULL)
		lib = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(note, len, "mimalloc n/a (%s)", dlerror());
		return false;
	}
	*(void **)&mi_malloc_p = dlsym(lib, "mi_malloc");
	*(void **)&mi_free_p = dlsym(lib, "mi_free");
	*(void **)&version = dlsym(lib, "mi_version");
	if (mi_malloc_p == NULL || mi_free_p == NULL) {
		snprintf(note, len, "mimalloc n/a (no mi_malloc)");
		return false;
	}
	v = version ? version() : 0;
	snprintf(note, len, "mimalloc %d.%d.%d", v / 100, v / 10 % 10,
		 v % 10);
	return true;
}

void
mimalloc_heap_ops(struct heap_ops *ops)
{
	*ops = (struct heap_ops){ .alloc = mi_alloc, .free = mi_free };
}

/*
 * fuzz_client.h - the input format of fuzz_client.c (described at its
 * top), shared with make_client_corpus.c, which writes its seeds.
 */
#ifndef POOLMGR_FUZZ_CLIENT_H
#define POOLMGR_FUZZ_CLIENT_H

#include <stdint.h>

/* Byte 1: the script's length, and two threads (see the top). */
#define SCRIPT_LENGTH	0x3f
#define SCRIPT_PAIRED	0x40

/* Record control byte (see the top). */
#define REC_KIND	0x03
#define REC_TRUTH	0
#define REC_TWEAK	1
#define REC_RAW		2
#define REC_SPECIAL	3
#define REC_FDS		0x0c
#define REC_FDS_WANTED	0x00
#define REC_FDS_NONE	0x04
#define REC_FDS_LIE	0x08
#define REC_FDS_EXTRA	0x0c
#define REC_SHARE_BYTES	0x10
#define REC_KEEP_ID	0x20
#define REC_HANG_UP	0x40

/* A TWEAK's selector: bit 7 the body (else the Reply), bit 6 another. */
#define TWEAK_BODY	0x80
#define TWEAK_MORE	0x40
#define TWEAK_FIELD	0x3f

/* The lies a descriptor can tell (REC_FDS_LIE). */
enum fd_lie {
	FD_LIE_UNSEALED,
	FD_LIE_NO_GROW,
	FD_LIE_NO_SHRINK,	/* the map: no F_SEAL_FUTURE_WRITE either */
	FD_LIE_LARGER,
	FD_LIE_SMALLER,
	FD_LIE_READ_ONLY,
	FD_LIE_PIPE,
	FD_LIE_WRITE_ONLY,	/* the map: writable (no FUTURE_WRITE) */
};
#define FD_LIE_MAP	0x08

/* SPECIAL records: something that is not one answer. */
enum special {
	SPECIAL_HANG_UP,	/* close, no answer */
	SPECIAL_STRAY,		/* a reply to an id nobody asked, then the
				 * answer */
	SPECIAL_EMPTY,		/* a zero-length datagram (with a pipe) */
	SPECIAL_REFUSAL,	/* id 0: the connection refused (error from
				 * the next byte, negated) */
	SPECIAL_TWICE,		/* the answer, and again */
	SPECIAL_OVERSIZE,	/* a datagram longer than the protocol's */
	SPECIAL_MANY_FDS,	/* the answer with more descriptors than a
				 * reply may carry */
	SPECIAL_SHARE_WRITE,	/* the last share map sent written first, as
				 * the daemon writes its own (3 bytes: every
				 * bits' byte, the state, the replaced word),
				 * then the answer */
	SPECIAL_COUNT
};

/* The script's calls. */
enum op {
	OP_OPEN, OP_OPEN_RO, OP_ALLOC, OP_ALIGNED, OP_CALLOC, OP_REALLOC,
	OP_FREE, OP_ALLOC_BATCH, OP_FREE_BATCH, OP_USABLE, OP_PUBLISH,
	OP_LOOKUP, OP_LOOKUP_RETAIN, OP_LOOKUP_WAIT, OP_UNPUBLISH, OP_STATS,
	OP_STATS_NAME, OP_TRIM, OP_FLUSH, OP_SET_CACHE, OP_RETAIN, OP_PERSIST,
	OP_CLOSE, OP_CLOSE_RO, OP_LIST, OP_NAMES, OP_CLIENTS, OP_CHECK,
	OP_PERSISTED, OP_PUBLISH_FLAGS, OP_DISCONNECT, OP_CREATE,
	OP_COUNT
};
#define OP(op, arg)	((uint8_t)((op) | (arg) << 5))

#endif /* POOLMGR_FUZZ_CLIENT_H */

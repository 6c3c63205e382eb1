/*
 * frames - a video-frame pipeline: one producer, any number of consumers,
 * every frame a block of its own, published under one name.
 *
 *	frames produce [-s BYTES] [-n FRAMES] [-d MS] [-w SECONDS] POOL NAME
 *	frames consume [-k HELD] [-n FRAMES] [-d MS] [-w SECONDS] POOL NAME
 *
 * The producer writes FRAMES frames (10; 0: until it is killed) of BYTES
 * bytes (4 MiB) each: a header with the frame's number, then bytes made
 * from that number.  It
 * publishes each under NAME with pool_publish_replace, which moves the
 * name to the new frame: the frame before loses the name's reference and
 * is freed at once, unless a consumer still holds it.  When consumers lag
 * and hold old frames the pool fills, and pool_alloc_wait holds the
 * producer until one of them frees a frame (up to -w SECONDS, 10).  So
 * the pool needs room for two frames at the least, the published one and
 * the next, and one more for each frame its consumers hold.  The
 * producer's last frame says it is the last, and stays published when it
 * exits.
 *
 * A consumer opens the pool read-only and waits for each newer
 * generation of NAME (pool_lookup_wait with POOL_LOOKUP_RETAIN: the frame
 * is the consumer's before the answer comes, so it cannot be freed and
 * reused under it), checks every byte, and keeps the last HELD frames it
 * read (1; a filter over time keeps more) before it frees the oldest.  One that falls behind skips frames:
 * it is given the newest.  It ends after the producer's last frame, or
 * after FRAMES frames of its own, if -n says so, where it stops and
 * holds its frames until a signal ends it: a consumer stuck in the middle
 * of a frame.  However a consumer dies, the daemon drops what it held,
 * the frames no one else holds are freed, and a producer waiting for room
 * goes on.  -d MS makes either side spend that long on each frame.
 *
 *	frames consume cam video & frames consume -k 4 -d 100 cam video &
 *	frames produce -n 100 -d 33 cam video
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poolclient.h"

#define FRAME_MAGIC	UINT64_C(0x656d617266)	/* "frame" */
#define HELD_MAX	64

/* The first bytes of every frame; its pixels follow. */
struct frame_head {
	uint64_t	magic;
	uint64_t	seq;		/* 1, 2, ... */
	uint64_t	last;		/* 1 on the producer's last frame */
};

struct opts {
	unsigned long	size;		/* -s: a frame's bytes */
	unsigned long	frames;		/* -n: how many; 0: no end */
	unsigned long	delay_ms;	/* -d: time spent on each frame */
	unsigned long	wait_s;		/* -w */
	unsigned long	held;		/* -k: frames a consumer keeps */
};

/* Byte i of frame seq's pixels: a frame torn or reused breaks it. */
static unsigned char
pixel(uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 31 + i / 4096);
}

/* Say what failed, with the daemon's words when they add to the code's. */
static void
failed(const char *what, int error)
{
	const char	*words = pool_last_message(error);

	fprintf(stderr, "frames: %s: %s", what, pool_strerror(error));
	if (*words != '\0' && pool_message_adds(error))
		fprintf(stderr, "; poolmgrd says: %s", words);
	fputc('\n', stderr);
}

static void
sleep_ms(unsigned long ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
produce(struct pool *p, const char *name, const struct opts *o)
{
	struct frame_head	*h;
	unsigned char		*px;
	pool_off_t		 off;
	uint64_t		 seq;
	size_t			 i;
	int			 error;

	for (seq = 1; o->frames == 0 || seq <= o->frames; seq++) {
		/* No room while consumers hold old frames: wait for some. */
		error = pool_alloc_wait(p, o->size, 0, 0,
		    (int)o->wait_s * 1000, &off);
		if (error != 0) {
			failed("allocate a frame", error);
			return 1;
		}
		h = pool_ptr(p, off);
		px = (unsigned char *)(h + 1);
		for (i = 0; i < o->size - sizeof *h; i++)
			px[i] = pixel(seq, i);
		h->magic = FRAME_MAGIC;
		h->seq = seq;
		h->last = seq == o->frames;	/* never, with no bound */
		if ((error = pool_publish_replace(p, off, name)) != 0) {
			failed("publish", error);
			pool_free(p, off);
			return 1;
		}
		/*
		 * The name holds the frame now.  Our handle's reference
		 * would keep every frame we made until we close the pool,
		 * and fill it with frames no consumer holds.
		 */
		if ((error = pool_free(p, off)) != 0) {
			failed("let go of a published frame", error);
			return 1;
		}
		printf("produced %" PRIu64 "\n", seq);
		fflush(stdout);
		if (o->delay_ms > 0)
			sleep_ms(o->delay_ms);
	}
	return 0;
}

/* 0 if the frame at off is whole; its header in *h. */
static int
check(struct pool *p, pool_off_t off, size_t usable, struct frame_head *h)
{
	const unsigned char	*px;
	size_t			 i;

	if (usable < sizeof *h)
		return -1;
	memcpy(h, pool_ptr(p, off), sizeof *h);
	if (h->magic != FRAME_MAGIC)
		return -1;
	px = (const unsigned char *)pool_ptr(p, off) + sizeof *h;
	for (i = 0; i < usable - sizeof *h; i++)
		if (px[i] != pixel(h->seq, i))
			return -1;
	return 0;
}

static int
consume(struct pool *p, const char *name, const struct opts *o)
{
	pool_off_t		 held[HELD_MAX];
	struct frame_head	 h;
	pool_off_t		 off;
	uint64_t		 gen = 0;
	unsigned long		 read = 0;
	size_t			 usable, n = 0;
	int			 error;

	for (;;) {
		/* The frame after ours; the newest, if several came. */
		error = pool_lookup_wait(p, name, gen, (int)o->wait_s * 1000,
		    POOL_LOOKUP_RETAIN, &off, &usable, &gen);
		if (error != 0) {
			failed("wait for a frame", error);
			break;
		}
		if (check(p, off, usable, &h) != 0) {
			fprintf(stderr, "frames: the frame at 0x%" PRIx64
			    " is torn\n", off);
			pool_free(p, off);
			error = -EIO;
			break;
		}
		printf("consumed %" PRIu64 "\n", h.seq);
		fflush(stdout);
		/* Keep the last o->held frames: give back the oldest. */
		if (n == o->held) {
			if ((error = pool_free(p, held[0])) != 0) {
				failed("free a frame", error);
				break;
			}
			memmove(held, held + 1, --n * sizeof *held);
		}
		held[n++] = off;
		if (h.last)
			break;
		if (++read == o->frames) {
			/* Stuck: what we hold comes back when we die. */
			for (;;)
				pause();
		}
		if (o->delay_ms > 0)
			sleep_ms(o->delay_ms);
	}
	while (n > 0)
		pool_free(p, held[--n]);
	return error != 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: frames produce [-s BYTES] [-n FRAMES] [-d MS] "
	    "[-w SECONDS] POOL NAME\n"
	    "       frames consume [-k HELD] [-n FRAMES] [-d MS] "
	    "[-w SECONDS] POOL NAME\n");
}

/* An option's number into *v, from min to max; 0 on success. */
static int
number(int ch, const char *s, unsigned long min, unsigned long max,
    unsigned long *v)
{
	char	*end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (end != s && *end == '\0' && errno == 0 && *s != '-' &&
	    *v >= min && *v <= max)
		return 0;
	fprintf(stderr, "frames: -%c: '%s' is not a number from %lu to %lu\n",
	    ch, s, min, max);
	return -1;
}

int
main(int argc, char **argv)
{
	struct opts		 o = { 4 << 20, 10, 0, 10, 1 };
	struct pool_conn	*c;
	struct pool		*p;
	unsigned long		*v;
	unsigned long		 min, max;
	int			 ch, producer, error, rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "produce") != 0 &&
	    strcmp(argv[1], "consume") != 0)) {
		usage(stderr);
		return 2;
	}
	producer = strcmp(argv[1], "produce") == 0;
	/* A consumer reads until the producer's last frame. */
	if (!producer)
		o.frames = 0;
	optind = 2;
	while ((ch = getopt(argc, argv, producer ? "s:n:d:w:" : "k:n:d:w:"))
	    != -1) {
		min = 0;
		max = INT_MAX / 1000;
		switch (ch) {
		case 's':
			v = &o.size;
			min = sizeof(struct frame_head);
			max = SIZE_MAX;
			break;
		case 'n':
			v = &o.frames;
			max = ULONG_MAX;
			break;
		case 'd':
			v = &o.delay_ms;
			max = ULONG_MAX;
			break;
		case 'w':
			/* 0 would not wait at all: no frame to come. */
			v = &o.wait_s;
			min = 1;
			break;
		case 'k':
			v = &o.held;
			min = 1;
			max = HELD_MAX;
			break;
		default:
			usage(stderr);
			return 2;
		}
		if (number(ch, optarg, min, max, v) != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}

	/* NULL: the socket named by $POOLMGRD_SOCKET, else the default. */
	if ((error = pool_connect(NULL, &c)) != 0) {
		/* The library's own words name the socket and what to check. */
		if (*pool_last_message(error) != '\0')
			fprintf(stderr, "frames: cannot connect: %s\n",
			    pool_last_message(error));
		else
			failed("connect", error);
		return 1;
	}
	/* A consumer maps the pool read-only: it cannot scribble on frames. */
	error = producer ? pool_open(c, argv[optind], &p) :
	    pool_open_readonly(c, argv[optind], &p);
	if (error != 0) {
		failed(argv[optind], error);
		pool_disconnect(c);
		return 1;
	}
	rc = producer ? produce(p, argv[optind + 1], &o) :
	    consume(p, argv[optind + 1], &o);
	pool_close(p);
	pool_disconnect(c);
	return rc;
}

/*
 * dispatch_strings.c - a request's strings as they were sent: none cut
 * short at a NUL.
 *
 * protobuf-c hands a string field to the daemon as a C string, so one
 * that holds a NUL byte (protobuf allows U+0000 in a string) would reach
 * the handlers cut at it: "cam\0x" would name pool cam, and a CreatePool
 * of it would make cam, where the protocol says a pool's name is 1 to 64
 * bytes of [A-Za-z0-9._-].  The decoder keeps no length of a string, so
 * the datagram itself is looked at: its fields walked once, with the
 * descriptors of the messages the decoder used, into every message field
 * and none of the rest.  The datagram has decoded already, so the walk
 * only reads what the decoder read; it stops, finding nothing, at
 * anything it does not know.  Only requests whose body may hold a string
 * are walked: not an Alloc, a Free or their batches.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dispatch_internal.h"

/* A varint at *p (before end), read into *v and passed; false if cut. */
static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/*
 * The first string field of a message of desc, encoded in [p, end), that
 * holds a NUL byte, in its messages too, with the message it is in
 * (*in); NULL for none.
 */
static const ProtobufCFieldDescriptor *
string_with_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
		const uint8_t *end, const ProtobufCMessageDescriptor **in)
{
	while (p < end) {
		const ProtobufCFieldDescriptor *f, *inner;
		uint64_t key, len;

		if (!read_varint(&p, end, &key))
			return NULL;
		switch (key & 7) {
		case PROTOBUF_C_WIRE_TYPE_VARINT:
			if (!read_varint(&p, end, &len))
				return NULL;
			continue;
		case PROTOBUF_C_WIRE_TYPE_64BIT:
			if (end - p < 8)
				return NULL;
			p += 8;
			continue;
		case PROTOBUF_C_WIRE_TYPE_32BIT:
			if (end - p < 4)
				return NULL;
			p += 4;
			continue;
		case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
			break;
		default:
			return NULL;
		}
		if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
			return NULL;
		f = key >> 3 <= UINT32_MAX ?
		    protobuf_c_message_descriptor_get_field(desc,
							    (unsigned)(key >> 3)) :
		    NULL;
		if (f && f->type == PROTOBUF_C_TYPE_STRING &&
		    memchr(p, 0, len)) {
			*in = desc;
			return f;
		}
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    (inner = string_with_nul(f->descriptor, p, p + len, in)))
			return inner;
		p += len;
	}
	return NULL;
}

/*
 * Does a message of desc hold a string field, in its messages too (to
 * depth levels down: the protocol nests three)?
 */
static bool
holds_strings(const ProtobufCMessageDescriptor *desc, unsigned depth)
{
	unsigned i;

	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];

		if (f->type == PROTOBUF_C_TYPE_STRING ||
		    (f->type == PROTOBUF_C_TYPE_MESSAGE && (!depth ||
		     holds_strings(f->descriptor, depth - 1))))
			return true;
	}
	return false;
}

/*
 * May a request of this body hold a string?  Asked once per body (the
 * Request's own fields are numbers): the allocations and frees, which
 * make most of the traffic, hold none, and their datagrams are not
 * walked again.
 */
static bool
body_may_hold_strings(Poolmgr__Request__BodyCase body)
{
	static uint8_t known[64];	/* 0: not asked yet, 1: no, 2: yes */
	const ProtobufCFieldDescriptor *f;

	if ((unsigned)body >= sizeof(known))
		return true;
	if (!known[body]) {
		f = protobuf_c_message_descriptor_get_field(
			&poolmgr__request__descriptor, (int)body);
		known[body] = !f || f->type != PROTOBUF_C_TYPE_MESSAGE ||
			      holds_strings(f->descriptor, 8) ? 2 : 1;
	}
	return known[body] == 2;
}

int
check_request_strings(struct call *c, const uint8_t *buf, size_t len)
{
	const ProtobufCMessageDescriptor *in = NULL;
	const ProtobufCFieldDescriptor *f;

	if (!body_may_hold_strings(c->req->body_case))
		return 0;
	f = string_with_nul(&poolmgr__request__descriptor, buf, buf + len,
			    &in);
	if (!f)
		return 0;
	return refuse(c, -EINVAL, "%s.%s holds a NUL byte, which no string "
		      "of the protocol may", in->short_name, f->name);
}

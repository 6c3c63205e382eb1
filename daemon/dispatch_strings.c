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
 * anything it does not know.
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

int
check_request_strings(struct call *c, const uint8_t *buf, size_t len)
{
	const ProtobufCMessageDescriptor *in = NULL;
	const ProtobufCFieldDescriptor *f =
	    string_with_nul(&poolmgr__request__descriptor, buf, buf + len,
			    &in);

	if (!f)
		return 0;
	return refuse(c, -EINVAL, "%s.%s holds a NUL byte, which no string "
		      "of the protocol may", in->short_name, f->name);
}

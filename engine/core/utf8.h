/* engine/core/utf8.h - strict UTF-8: decoding, and keeping every answer's strings valid.
 *
 * proto3 requires a string field to hold valid UTF-8, and strict decoders (Python, Go, Java)
 * refuse a whole message when one string does not. Whatever a sender's bytes were, every string
 * the engine packs into an answer goes through tpc_utf8_fix_message() first (the Result's packer,
 * pipeline/result.c, writes the same escaped form itself): a byte that is not
 * part of valid UTF-8 is written as the four ASCII characters \xHH (its value in upper-case
 * hex), everything else is kept as it is. Escaping rather than U+FFFD keeps what the sender
 * sent readable in the answer (a reason quoting a byte 0xFF shows "\xFF"); a backslash the
 * sender wrote is not escaped, so the escaped text is for reading, not for decoding back.
 *
 * Pure and reentrant; allocation only through the caller's function, and only for a string
 * that needs escaping (a valid answer costs a scan, no copy).
 */
#ifndef TPC_UTF8_H
#define TPC_UTF8_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/** Decode one UTF-8 character at @p s (at most @p n bytes readable).
 *  Strict RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
 *  no lone continuation byte, no sequence cut short.
 *  @param[out] cp  the code point, when valid (may be NULL)
 *  @return the sequence's length (1..4), or 0 when the byte at @p s does not start a valid
 *          sequence (@p n == 0 included). */
size_t tpc_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/** Is @p s (@p n bytes) valid UTF-8 throughout? @return 1 or 0. */
int tpc_utf8_valid(const char *s, size_t n);

/** Write @p s (@p n bytes) into @p out (@p cap bytes, NUL-terminated when cap > 0) with each
 *  byte that is not valid UTF-8 as \xHH. Stops before a character or an escape that would not
 *  fit, so what is written is valid UTF-8 whatever @p cap.
 *  @return the bytes written (without the NUL). */
size_t tpc_utf8_escape(const char *s, size_t n, char *out, size_t cap);

/** The length tpc_utf8_escape() needs for all of @p s (without the NUL). */
size_t tpc_utf8_escaped_len(const char *s, size_t n);

/** Allocator of tpc_utf8_fix_message(): tpc_host_t.alloc's shape (tpc_arena_host_alloc). */
typedef void *(*tpc_utf8_alloc_fn)(void *ctx, size_t size, size_t align);

/** Make every string field of @p m and of its sub-messages (repeated ones and the set member
 *  of a oneof included) valid UTF-8: a string that is not gets replaced by its escaped copy
 *  (tpc_utf8_escape), allocated with @p alloc(@p ctx); the original bytes are left alone, only
 *  the field's pointer changes, so static and borrowed strings are safe to pass.
 *  @return 0, or TPC_ENOMEM when @p alloc refused a copy (the fields fixed so far stay fixed). */
int tpc_utf8_fix_message(ProtobufCMessage *m, tpc_utf8_alloc_fn alloc, void *ctx);

#endif /* TPC_UTF8_H */

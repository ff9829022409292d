/* engine/refdata/text.h - free text of the reference data and the feeds: UTF-8 checks.
 *
 * The names, structures, prisons, categories, decision ids and references the institutions send
 * are stored and shown exactly as sent: UTF-8, up to TPC_REF_TEXT_MAX bytes, never cut. This
 * module says what such a value may hold and where it goes wrong, for the CSV reader
 * (engine/refdata/refdata.c), for the writers that put these values into documents with a
 * schema (the SPP IS statement, engine/ledger/statement.c) and for the CLI's JSON
 * (engine/cli/money.c). The SEPA files restrict text further (engine/payments/sepa.h,
 * tpc_sepa_text()).
 *
 * Every function is pure and reentrant: no allocation, no locale (isalpha() and friends answer
 * by the process's locale; a check must not).
 */
#ifndef TPC_REFDATA_TEXT_H
#define TPC_REFDATA_TEXT_H

#include <stddef.h>
#include <stdint.h>

/** The longest free-text value of the reference data, in bytes of UTF-8 (docs/formats/
 *  reference-data.md). At least 255 as the issue asks; 480 because a Mediprima decision id is
 *  part of its row's LMDB key, and LMDB keys hold 511 bytes: NISS (11) + date (4) + 480 fit,
 *  with room to spare. One bound for every free-text column, so no column is the odd one. */
#define TPC_REF_TEXT_MAX 480

/** Is @p cp a character free text may not hold: a C0 or C1 control (U+0000..U+001F,
 *  U+007F..U+009F) or one of the noncharacters XML 1.0 excludes (U+FFFE, U+FFFF)? Such a
 *  character cannot go into the XML statement, and no name or reference needs one. */
int tpc_text_forbidden(uint32_t cp);

/** Why @p s (@p n bytes) is not acceptable free text: not valid UTF-8, a forbidden character
 *  (tpc_text_forbidden), empty, or longer than @p max bytes.
 *  @param[out] at  on refusal: the 0-based byte offset of the offending byte or character (0
 *                  for an empty value, @p max for one too long); may be NULL
 *  @return NULL when acceptable, else a static reason ("not valid UTF-8", "a control
 *          character", "empty", "too long"). */
const char *tpc_text_check(const char *s, size_t n, size_t max, size_t *at);

/** The longest prefix of @p s (@p n bytes) of at most @p max bytes that is valid UTF-8 (it
 *  stops before a byte that is not, or a character cut short): what is left of a message or a
 *  quoted value once a buffer's end cut it, kept valid.
 *  @return its length in bytes. */
size_t tpc_text_prefix(const char *s, size_t n, size_t max);

/** Characters (code points; a byte that is not valid UTF-8 counts as one) in @p s, @p n
 *  bytes: what an editor's column shows. */
size_t tpc_text_chars(const char *s, size_t n);

#endif /* TPC_REFDATA_TEXT_H */

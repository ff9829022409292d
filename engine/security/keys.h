/* engine/security/keys.h - CURVE key pairs and their files (docs/security.md).
 *
 * A CURVE key is 32 bytes, written as 40 characters of Z85 text (ZeroMQ RFC 32). A key pair is
 * kept in two files named after one prefix:
 *
 *     PREFIX.key  the secret key, mode 0600: never leaves the machine that owns it
 *     PREFIX.pub  the public key, mode 0644: given to the other side (the engine's public key
 *                 to every sender; a sender's public key to the engine's registry)
 *
 * Each file holds comment lines starting with '#' and exactly one line with the 40-character
 * key. The public key is derived from the secret one, so a .key file alone is a whole pair.
 *
 * tpc_keypair_t is a plain value struct (like tpc_config_t): it holds two strings and is copied
 * freely; wipe it with tpc_keys_wipe() once the secret is no longer needed. Every function here
 * is thread-safe (no shared state) and does blocking file I/O: call them at startup, from the
 * CLI, or on the rare reload, never on the per-sending path.
 */
#ifndef TPC_KEYS_H
#define TPC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define TPC_KEY_BYTES 32 /* a CURVE key */
#define TPC_KEY_Z85   40 /* its Z85 text, without the NUL */

/** A CURVE key pair as Z85 text (NUL-terminated). */
typedef struct tpc_keypair {
	char public_z85[TPC_KEY_Z85 + 1];
	char secret_z85[TPC_KEY_Z85 + 1];
} tpc_keypair_t;

/** Make a new random key pair (libzmq's zmq_curve_keypair, libsodium underneath).
 *  @return 0, or TPC_ENOTSUP when libzmq was built without CURVE. */
int tpc_keys_generate(tpc_keypair_t *out);

/** Decode @p len characters of Z85 text into a 32-byte key.
 *  @return 0, or TPC_EINVAL unless @p z85 is exactly 40 characters of the Z85 alphabet. */
int tpc_keys_decode(const char *z85, size_t len, uint8_t out[TPC_KEY_BYTES]);

/** Encode a 32-byte key as Z85 text (41 bytes with the NUL). */
void tpc_keys_encode(const uint8_t key[TPC_KEY_BYTES], char out[TPC_KEY_Z85 + 1]);

/** Path of the public file that goes with the secret file @p secret_path: "X.key" gives
 *  "X.pub", any other name gets ".pub" appended. @return 0 or TPC_E2BIG when it does not fit. */
int tpc_keys_public_path(const char *secret_path, char *out, size_t cap);

/** Write @p kp as PREFIX.key (0600) and PREFIX.pub (0644). Refuses to replace an existing
 *  file: a key that is overwritten by mistake locks its owner out.
 *  @param[out] err  on failure, a message naming the file
 *  @return 0, TPC_EEXIST, or a negative errno code. */
int tpc_keys_write(const char *prefix, const tpc_keypair_t *kp, char *err, size_t errlen);

/** Read a public key file (for a secret file, tpc_keys_read_secret() derives the public key).
 *  @param[out] out  the 40-character Z85 text and its NUL
 *  @return 0, TPC_ENOENT, or TPC_EINVAL (with @p err naming the file and what is wrong). */
int tpc_keys_read_public(const char *path, char out[TPC_KEY_Z85 + 1], char *err, size_t errlen);

/** Read a secret key file and derive its public key.
 *  @param strict  refuse a file that the group or others may read (what the engine does for
 *                 its own key: a secret everyone can read is no secret)
 *  @return 0, TPC_ENOENT, TPC_EACCES (too open, @p strict), or TPC_EINVAL. */
int tpc_keys_read_secret(const char *path, int strict, tpc_keypair_t *out, char *err,
                         size_t errlen);

/** The engine's key pair: read @p path, or when it does not exist and @p create is set, make
 *  one and write it (the secret at @p path, mode 0600, the public key next to it). The public
 *  file is (re)written whenever it is missing or does not match the secret.
 *  @param[out] created  1 when a new pair was made
 *  @return 0 or a negative TPC_E* code with @p err set. */
int tpc_keys_server(const char *path, int create, tpc_keypair_t *out, int *created, char *err,
                    size_t errlen);

/** Make a DEALER (or any client socket) use CURVE towards a server: its public key
 *  @p server_public and the client pair @p client. Call before zmq_connect().
 *  @return 0 or TPC_EZMQ. */
int tpc_keys_client_socket(void *sock, const char *server_public, const tpc_keypair_t *client);

/** Overwrite the secret half of @p kp (sodium_memzero). */
void tpc_keys_wipe(tpc_keypair_t *kp);

#endif /* TPC_KEYS_H */

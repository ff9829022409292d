/* engine/cli/curve.h - the client side of CURVE for tpclear: key files, keygen, and telling a
 * refused key apart from an engine that does not answer (docs/security.md). */
#ifndef TPC_CLI_CURVE_H
#define TPC_CLI_CURVE_H

#include <stddef.h>

/** Make the DEALER @p sock (not yet connected) a CURVE client when @p server_key is set:
 *  @p server_key is the engine's public key file (DATA_DIR/server.pub), @p client_key this
 *  client's pair, PREFIX or PREFIX.key (its secret file must be mode 0600).
 *  @param[out] monitor  a PAIR socket receiving the DEALER's handshake failures (close it with
 *                       zmq_close), or NULL when @p server_key is NULL (plain)
 *  @return 0, or -1 with @p err saying what is wrong. */
int tpc_cli_curve_setup(void *ctx, void *sock, const char *server_key, const char *client_key,
                        void **monitor, char *err, size_t errlen);

/** Read the handshake events waiting on @p monitor (NULL-safe, never blocks).
 *  @return 1 when the engine refused this client's key (ZAP status 400), else 0; *@p failed
 *          is set when another handshake failure was seen (wrong server key, plain engine). */
int tpc_cli_curve_refused(void *monitor, int *failed);

/** tpclear keygen: write PREFIX.key (0600) and PREFIX.pub (0644) and print the public key.
 *  @return the exit status. */
int tpc_cli_keygen(const char *prefix);

#endif

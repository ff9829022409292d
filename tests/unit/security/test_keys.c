/* tests/unit/security/test_keys.c - CURVE key pairs and their files (engine/security/keys.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "core/error.h"
#include "security/keys.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	tpc_test_rmtree_free(&dir);
}

TestSuite(keys, .init = setup, .fini = teardown, .timeout = 30);

static const char *path_of(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_text(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(path_of(name), "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path_of(name), mode);
}

static mode_t mode_of(const char *name)
{
	struct stat st;

	cr_assert_eq(stat(path_of(name), &st), 0, "%s exists", name);
	return st.st_mode & 07777;
}

Test(keys, a_pair_is_written_with_modes_and_read_back)
{
	tpc_keypair_t kp, back;
	char pub[TPC_KEY_Z85 + 1], err[512], prefix[4096];

	cr_assert_eq(tpc_keys_generate(&kp), 0);
	cr_assert_eq(strlen(kp.public_z85), TPC_KEY_Z85);
	snprintf(prefix, sizeof(prefix), "%s/hosp", dir);
	cr_assert_eq(tpc_keys_write(prefix, &kp, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mode_of("hosp.key"), 0600, "the secret is private");
	cr_assert_eq(mode_of("hosp.pub"), 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("hosp.pub"), pub, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_str_eq(pub, kp.public_z85);
	cr_assert_eq(tpc_keys_read_secret(path_of("hosp.key"), 1, &back, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_str_eq(back.secret_z85, kp.secret_z85);
	cr_assert_str_eq(back.public_z85, kp.public_z85, "the public key is derived");
	/* never overwritten */
	cr_assert_eq(tpc_keys_write(prefix, &kp, err, sizeof(err)), TPC_EEXIST);
	cr_assert(strstr(err, "already exists"), "%s", err);
	tpc_keys_wipe(&back);
	cr_assert_eq(back.secret_z85[0], 0);
}

Test(keys, a_secret_readable_by_others_is_refused_when_strict)
{
	tpc_keypair_t kp, back;
	char text[128], err[512];

	cr_assert_eq(tpc_keys_generate(&kp), 0);
	snprintf(text, sizeof(text), "# a comment\n%s\n", kp.secret_z85);
	write_text("open.key", text, 0644);
	cr_assert_eq(tpc_keys_read_secret(path_of("open.key"), 1, &back, err, sizeof(err)),
	             TPC_EACCES);
	cr_assert(strstr(err, "chmod 600"), "%s", err);
	cr_assert_eq(tpc_keys_read_secret(path_of("open.key"), 0, &back, err, sizeof(err)), 0);
	cr_assert_str_eq(back.public_z85, kp.public_z85);
}

Test(keys, files_must_hold_exactly_one_key)
{
	tpc_keypair_t a, b;
	char text[256], pub[TPC_KEY_Z85 + 1], err[512];

	cr_assert_eq(tpc_keys_generate(&a), 0);
	cr_assert_eq(tpc_keys_generate(&b), 0);
	write_text("empty.pub", "# nothing here\n\n", 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("empty.pub"), pub, err, sizeof(err)), TPC_EINVAL);
	snprintf(text, sizeof(text), "%s\n%s\n", a.public_z85, b.public_z85);
	write_text("two.pub", text, 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("two.pub"), pub, err, sizeof(err)), TPC_EINVAL,
	             "two keys are ambiguous");
	snprintf(text, sizeof(text), "%.39s\n", a.public_z85);
	write_text("short.pub", text, 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("short.pub"), pub, err, sizeof(err)), TPC_EINVAL,
	             "a truncated key");
	write_text("bad.pub", "this is not a key at all, it has spaces!!\n", 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("bad.pub"), pub, err, sizeof(err)), TPC_EINVAL);
	/* CRLF, indentation and comments are fine */
	snprintf(text, sizeof(text), "# public\r\n   %s  \r\n# end\r\n", a.public_z85);
	write_text("crlf.pub", text, 0644);
	cr_assert_eq(tpc_keys_read_public(path_of("crlf.pub"), pub, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_str_eq(pub, a.public_z85);
	cr_assert_eq(tpc_keys_read_public(path_of("missing.pub"), pub, err, sizeof(err)),
	             TPC_ENOENT);
}

Test(keys, decode_wants_40_z85_characters)
{
	tpc_keypair_t kp;
	uint8_t raw[TPC_KEY_BYTES], again[TPC_KEY_BYTES];
	char z85[TPC_KEY_Z85 + 1];

	cr_assert_eq(tpc_keys_generate(&kp), 0);
	cr_assert_eq(tpc_keys_decode(kp.public_z85, TPC_KEY_Z85, raw), 0);
	tpc_keys_encode(raw, z85);
	cr_assert_str_eq(z85, kp.public_z85);
	cr_assert_eq(tpc_keys_decode(kp.public_z85, 39, again), TPC_EINVAL);
	cr_assert_eq(tpc_keys_decode("0000000000000000000000000000000000000 0\"", 40, again),
	             TPC_EINVAL);
}

Test(keys, the_server_pair_is_made_once_and_its_public_file_kept_in_step)
{
	tpc_keypair_t first, second;
	char err[512], pub[TPC_KEY_Z85 + 1];
	int created = 0;

	cr_assert_eq(tpc_keys_server(path_of("server.key"), 0, &first, &created, err, sizeof(err)),
	             TPC_ENOENT, "a configured key must exist");
	cr_assert(strstr(err, "tpclear keygen"), "%s", err);
	cr_assert_eq(tpc_keys_server(path_of("server.key"), 1, &first, &created, err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(created, 1);
	cr_assert_eq(mode_of("server.key"), 0600);
	cr_assert_eq(mode_of("server.pub"), 0644);
	/* the public file is derived: removed, it comes back; stale, it is rewritten */
	unlink(path_of("server.pub"));
	cr_assert_eq(tpc_keys_server(path_of("server.key"), 1, &second, &created, err, sizeof(err)),
	             0);
	cr_assert_eq(created, 0);
	cr_assert_str_eq(second.public_z85, first.public_z85, "the same pair");
	write_text("server.pub", "# stale\nrq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", 0644);
	cr_assert_eq(tpc_keys_server(path_of("server.key"), 1, &second, &created, err, sizeof(err)),
	             0);
	cr_assert_eq(tpc_keys_read_public(path_of("server.pub"), pub, err, sizeof(err)), 0);
	cr_assert_str_eq(pub, first.public_z85);
	/* a secret others can read stops the engine */
	chmod(path_of("server.key"), 0640);
	cr_assert_eq(tpc_keys_server(path_of("server.key"), 1, &second, &created, err, sizeof(err)),
	             TPC_EACCES);
	cr_assert_eq(tpc_keys_public_path("/a/b/server.key", pub, sizeof(pub)), 0);
	cr_assert_str_eq(pub, "/a/b/server.pub");
	cr_assert_eq(tpc_keys_public_path("/a/b/secret", pub, sizeof(pub)), 0);
	cr_assert_str_eq(pub, "/a/b/secret.pub");
}

Test(keys, a_client_socket_gets_its_curve_options)
{
	tpc_keypair_t server, client;
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
	char got[TPC_KEY_Z85 + 1];
	size_t len = sizeof(got);

	cr_assert_eq(tpc_keys_generate(&server), 0);
	cr_assert_eq(tpc_keys_generate(&client), 0);
	cr_assert_eq(tpc_keys_client_socket(s, server.public_z85, &client), 0);
	cr_assert_eq(zmq_getsockopt(s, ZMQ_CURVE_SERVERKEY, got, &len), 0);
	cr_assert_str_eq(got, server.public_z85);
	cr_assert_eq(tpc_keys_client_socket(s, "short", &client), TPC_EINVAL);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

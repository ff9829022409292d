/* engine/security/keys.c - CURVE key pairs and their files (see keys.h).
 *
 * DESIGN: keys are text so that an operator can read, mail and paste them (the registry names
 * each sender by its public key). A secret file is created with O_EXCL and mode 0600 from the
 * start, never chmod'ed down after being written, so there is no moment when it is readable by
 * others; it is fsync'ed before the call returns, so a key that was reported written survives a
 * crash. Reading is strict: exactly one 40-character Z85 line, comments allowed, nothing else,
 * so a truncated or pasted-twice file is refused rather than half-used.
 */
#include "security/keys.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEY_FILE_MAX 4096 /* a key file is one key and a few comment lines */

/* libzmq makes the pair; zmq_curve_keypair fails (ENOTSUP) only in a libzmq built without
 * CURVE, hence "not supported" rather than a transient error. */
int tpc_keys_generate(tpc_keypair_t *out)
{
	if (zmq_curve_keypair(out->public_z85, out->secret_z85) != 0)
		return TPC_ENOTSUP;
	return 0;
}

int tpc_keys_decode(const char *z85, size_t len, uint8_t out[TPC_KEY_BYTES])
{
	char buf[TPC_KEY_Z85 + 1];

	if (len != TPC_KEY_Z85)
		return TPC_EINVAL;
	memcpy(buf, z85, TPC_KEY_Z85);
	buf[TPC_KEY_Z85] = 0;
	/* zmq_z85_decode checks the alphabet (and wants a NUL-terminated string); strlen catches
	 * a NUL inside the 40 bytes, which would otherwise decode a shorter string */
	if (strlen(buf) != TPC_KEY_Z85 || !zmq_z85_decode(out, buf))
		return TPC_EINVAL;
	return 0;
}

void tpc_keys_encode(const uint8_t key[TPC_KEY_BYTES], char out[TPC_KEY_Z85 + 1])
{
	zmq_z85_encode(out, key, TPC_KEY_BYTES);
}

/* sodium_memzero, not memset: a memset of memory never read again is a dead store the compiler
 * may remove, and the secret would stay in the freed or reused bytes. */
void tpc_keys_wipe(tpc_keypair_t *kp)
{
	sodium_memzero(kp->secret_z85, sizeof(kp->secret_z85));
}

/* PREFIX.key pairs with PREFIX.pub, as tpclear keygen writes them; a secret not named .key gets
 * ".pub" appended, so the public file never overwrites the secret. */
int tpc_keys_public_path(const char *secret_path, char *out, size_t cap)
{
	size_t n = strlen(secret_path);
	int w;

	if (n > 4 && strcmp(secret_path + n - 4, ".key") == 0)
		w = snprintf(out, cap, "%.*s.pub", (int)(n - 4), secret_path);
	else
		w = snprintf(out, cap, "%s.pub", secret_path);
	return w < 0 || (size_t)w >= cap ? TPC_E2BIG : 0;
}

/* Write @p text to a new file @p path with @p mode (exactly: fchmod undoes the umask), fsync. */
static int write_new(const char *path, const char *text, mode_t mode, int replace, char *err,
                     size_t errlen)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd, rc = 0;

	/* a replacement goes through a temporary file and rename(2): never a half-written key */
	if (snprintf(tmp, sizeof(tmp), "%s%s", path, replace ? ".tmp" : "") >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return TPC_E2BIG;
	}
	/* a .tmp left by a crash would make the O_EXCL below fail forever: clear it first */
	if (replace)
		unlink(tmp);
	/* O_EXCL: a secret key is never written over an existing file (keygen "never overwrites",
	 * docs/security.md), and a file planted at the name, a symlink included, is refused */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp,
		         rc == TPC_EEXIST ? "already exists (not overwritten)" : strerror(-rc));
		return rc;
	}
	/* errno is cleared first: a short write() sets none, and the unlink() above may have left
	 * ENOENT, which would name the wrong cause */
	errno = 0;
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		rc = errno ? -errno : TPC_EIO;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && replace && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

static int write_public(const char *path, const char *z85, int replace, char *err, size_t errlen)
{
	char text[256];

	snprintf(text, sizeof(text),
	         "# tpclear CURVE public key (Z85). Public: give it to the other side.\n%s\n", z85);
	return write_new(path, text, 0644, replace, err, errlen);
}

int tpc_keys_write(const char *prefix, const tpc_keypair_t *kp, char *err, size_t errlen)
{
	char sec[4096], pub[4096], text[256];
	struct stat st;
	int rc;

	if (snprintf(sec, sizeof(sec), "%s.key", prefix) >= (int)sizeof(sec) ||
	    snprintf(pub, sizeof(pub), "%s.pub", prefix) >= (int)sizeof(pub)) {
		snprintf(err, errlen, "%s: path too long", prefix);
		return TPC_E2BIG;
	}
	/* check both first, so a refusal leaves no half pair behind (O_EXCL in write_new still
	 * guards the race with another keygen) */
	if (stat(sec, &st) == 0 || stat(pub, &st) == 0) {
		snprintf(err, errlen, "%s: already exists (not overwritten)",
		         stat(sec, &st) == 0 ? sec : pub);
		return TPC_EEXIST;
	}
	snprintf(text, sizeof(text),
	         "# tpclear CURVE secret key (Z85). Secret: keep it on this machine, mode 0600.\n"
	         "%s\n",
	         kp->secret_z85);
	rc = write_new(sec, text, 0600, 0, err, errlen);
	sodium_memzero(text, sizeof(text));
	if (rc)
		return rc;
	/* secret first: if the public file then fails, the secret is removed again, so a retry
	 * starts clean instead of meeting "already exists" */
	rc = write_public(pub, kp->public_z85, 0, err, errlen);
	if (rc)
		unlink(sec);
	return rc;
}

/* The one key line of a key file, into @p out (41 bytes). */
static int read_key_line(const char *path, int strict, char *out, char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	uint8_t raw[TPC_KEY_BYTES];
	struct stat st;
	ssize_t n;
	int fd, found = 0, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	/* fstat on the open descriptor, not stat on the path: the checks then apply to the very
	 * file that is read, not to whatever the path named a moment earlier */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return TPC_EINVAL;
	}
	/* A secret others can read may already have been copied: refuse to run on it, as ssh
	 * refuses such a private key (docs/security.md, step 1: it "stops the engine"). */
	if (strict && (st.st_mode & 077)) {
		snprintf(err, errlen,
		         "%s: a secret key readable by group or others (mode %04o): chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return TPC_EACCES;
	}
	/* one byte more than allowed, to tell a file of exactly KEY_FILE_MAX from a larger one */
	n = read(fd, buf, KEY_FILE_MAX + 1);
	close(fd);
	if (n < 0 || n > KEY_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "not a key file");
		return TPC_EINVAL;
	}
	buf[n] = 0;
	for (char *line = buf, *next; line; line = next) {
		size_t len;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		while (*line == ' ' || *line == '\t')
			line++;
		len = strlen(line);
		while (len &&
		       (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		/* exactly one key line: a truncated or pasted-twice file is refused */
		if (found || tpc_keys_decode(line, len, raw) != 0) {
			found = 0;
			break;
		}
		memcpy(out, line, TPC_KEY_Z85 + 1);
		found = 1;
	}
	if (!found) {
		snprintf(err, errlen,
		         "%s: expected one 40-character Z85 key line (and '#' comments)", path);
		out[0] = 0;
		rc = TPC_EINVAL;
	}
	/* the buffer held a secret when called for a .key file: wipe it off the stack */
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int tpc_keys_read_public(const char *path, char out[TPC_KEY_Z85 + 1], char *err, size_t errlen)
{
	out[0] = 0;
	return read_key_line(path, 0, out, err, errlen);
}

int tpc_keys_read_secret(const char *path, int strict, tpc_keypair_t *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_key_line(path, strict, out->secret_z85, err, errlen);
	if (rc)
		return rc;
	/* The public half is derived, never read from the .pub beside it: a stale or swapped .pub
	 * cannot then make the engine announce a key that is not its own. */
	if (zmq_curve_public(out->public_z85, out->secret_z85) != 0) {
		snprintf(err, errlen, "%s: cannot derive the public key", path);
		tpc_keys_wipe(out);
		return TPC_EINVAL;
	}
	return 0;
}

int tpc_keys_server(const char *path, int create, tpc_keypair_t *out, int *created, char *err,
                    size_t errlen)
{
	char pub[4200], have[TPC_KEY_Z85 + 1], perr[256];
	struct stat st;
	int rc;

	/* Only a missing file is made (create = the default path, docs/security.md step 1); any
	 * other stat failure falls through to the read, which reports it with its reason. */
	*created = 0;
	if ((rc = tpc_keys_public_path(path, pub, sizeof(pub)))) {
		snprintf(err, errlen, "%s: path too long", path);
		return rc;
	}
	if (stat(path, &st) != 0 && errno == ENOENT) {
		char text[256];

		if (!create) {
			snprintf(err, errlen,
			         "%s: no such file (make one with: tpclear keygen --out PREFIX)",
			         path);
			return TPC_ENOENT;
		}
		if ((rc = tpc_keys_generate(out))) {
			snprintf(err, errlen, "cannot make a CURVE key pair: %s", tpc_strerror(rc));
			return rc;
		}
		snprintf(text, sizeof(text),
		         "# tpcleard CURVE secret key (Z85). Secret: mode 0600, never copy it.\n"
		         "%s\n",
		         out->secret_z85);
		rc = write_new(path, text, 0600, 0, err, errlen);
		sodium_memzero(text, sizeof(text));
		if (rc) {
			tpc_keys_wipe(out);
			return rc;
		}
		*created = 1;
	} else if ((rc = tpc_keys_read_secret(path, 1, out, err, errlen))) {
		return rc;
	}
	/* the public file is derived: (re)write it when missing or stale */
	if (tpc_keys_read_public(pub, have, perr, sizeof(perr)) != 0 ||
	    strcmp(have, out->public_z85) != 0) {
		if ((rc = write_public(pub, out->public_z85, 1, err, errlen))) {
			tpc_keys_wipe(out);
			return rc;
		}
	}
	return 0;
}

/* The lengths are checked here because libzmq reads a 40-byte option as Z85 and a 32-byte one
 * as binary: a wrong length would set something else, or fail with a bare EINVAL. */
int tpc_keys_client_socket(void *sock, const char *server_public, const tpc_keypair_t *client)
{
	if (strlen(server_public) != TPC_KEY_Z85 || strlen(client->public_z85) != TPC_KEY_Z85 ||
	    strlen(client->secret_z85) != TPC_KEY_Z85)
		return TPC_EINVAL;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public, TPC_KEY_Z85) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client->public_z85, TPC_KEY_Z85) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client->secret_z85, TPC_KEY_Z85) != 0)
		return TPC_EZMQ;
	return 0;
}

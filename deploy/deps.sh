#!/bin/sh
# deploy/deps.sh - install the Debian 12 packages tpclear needs to build, test and run.
# As root it installs what is missing with apt-get; otherwise it prints the exact command and
# stops (exit 1) so nothing is done behind the user's back.
#   deploy/deps.sh --fuzz   also clang and libFuzzer, for tests/fuzz/run (docs/fuzzing.md)
set -eu

PKGS="build-essential cmake pkg-config clang-format libevent-dev libzmq3-dev liblmdb-dev \
lmdb-utils libprotobuf-c-dev protobuf-c-compiler libcriterion-dev libinih-dev libsodium-dev \
libxml2-dev libxml2-utils liblz4-dev libxxhash-dev python3 python3-protobuf \
libjansson-dev libsystemd-dev"
# libFuzzer (libclang_rt.fuzzer) is in libclang-rt-14-dev, only a recommendation of clang-14;
# llvm gives llvm-symbolizer, for readable sanitizer reports
FUZZ_PKGS="clang libclang-rt-14-dev llvm"
if [ "${1:-}" = "--fuzz" ]; then
	PKGS="$PKGS $FUZZ_PKGS"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=sudo
	else
		echo "tpclear: missing Debian packages. Run as root:" >&2
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
echo "tpclear: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing >/dev/null

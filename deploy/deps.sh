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
# For the tests of the monitoring kit only (promtool, a real Prometheus scraping the daemon:
# docs/operations.md, "Monitoring"); installed without its recommendations, and not required:
# if it cannot be installed, those tests say they are skipped.
TEST_PKGS="prometheus"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
opt_missing=""
for p in $TEST_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		opt_missing="$opt_missing $p"
	fi
done
[ -z "$missing" ] && [ -z "$opt_missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=sudo
	elif [ -z "$missing" ]; then
		echo "tpclear: optional test packages missing (their tests are skipped). As root:" >&2
		echo "  apt-get install -y --no-install-recommends$opt_missing" >&2
		exit 0
	else
		echo "tpclear: missing Debian packages. Run as root:" >&2
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
echo "tpclear: installing:$missing$opt_missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq $missing >/dev/null
fi
if [ -n "$opt_missing" ]; then
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $opt_missing >/dev/null ||
		echo "tpclear: could not install$opt_missing: the monitoring tests will be skipped" >&2
fi

#!/bin/sh
# tests/package/test_unit_security.sh UNIT MAX - `systemd-analyze security --offline=true`
# rates the unit file (systemd 252 in Debian 12: 0 is best, 10 worst); fails above MAX.
# Skipped (77) where systemd-analyze is not installed.
set -eu
unit=$1
max=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "unit_security: SKIPPED: systemd-analyze is not installed (Debian package systemd)"
	exit 77
fi
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
	printf '%s\n' "$out" >&2
	echo "unit_security: no exposure level in systemd-analyze's output" >&2
	exit 1
fi
if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
	echo "unit_security: $unit rated $level (at most $max)"
	exit 0
fi
printf '%s\n' "$out" | grep '✗' >&2 || true
echo "unit_security: $unit rated $level, above $max" >&2
exit 1

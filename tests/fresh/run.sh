#!/usr/bin/env bash
# tests/fresh/run.sh - the first run on a freshly installed Debian 12.
#
#   tests/fresh/run.sh          (make check-fresh; also the last level of make check)
#
# A machine that already has the packages hides a missing install step.
# This level makes a fresh Debian 12 root (debootstrap --variant=minbase
# bookworm), adds only make and git, clones this repository's committed
# HEAD into it, and inside it (chroot) runs, at the first try:
#   1. make run    -> installs the packages, builds, prints the summary;
#   2. make check LEVELS="unit golden input install" -> the test command's
#      own set-up path, with the quick levels.
# The base system is downloaded once into a tarball kept in
# $SMTPSCOPE_FRESH_CACHE (/var/cache/smtpscope-fresh); every run unpacks a
# new root from it and removes it after.  Packages are fetched through the
# host's apt cache.  Needs root, debootstrap and a Debian mirror
# ($SMTPSCOPE_MIRROR, deb.debian.org by default); says plainly when it
# cannot run and counts nothing then.
# Prints one line per check and "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
repo=$(pwd)
passed=0 failed=0
pass() { echo "pass  $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; failed=$((failed + 1)); }
finish() { echo "fresh: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

if [ "$(id -u)" -ne 0 ]; then
    echo "fresh: skipped, making a Debian root and chrooting into it needs root"
    finish
fi
if ! command -v debootstrap >/dev/null; then
    echo "fresh: skipped, debootstrap is not installed (make deps installs it)"
    finish
fi
mirror=${SMTPSCOPE_MIRROR:-http://deb.debian.org/debian}
cache=${SMTPSCOPE_FRESH_CACHE:-/var/cache/smtpscope-fresh}
tarball=$cache/bookworm-minbase.tgz
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
    echo "fresh: downloading the Debian 12 base system once into $tarball"
    rm -rf "$cache/work"
    if ! debootstrap --variant=minbase --make-tarball="$tarball" bookworm "$cache/work" \
        "$mirror" >"$cache/make-tarball.log" 2>&1; then
        rm -f "$tarball"
        echo "fresh: skipped, debootstrap could not fetch the base system from $mirror:"
        tail -3 "$cache/make-tarball.log" | sed 's/^/    /'
        finish
    fi
    rm -rf "$cache/work"
fi

root=$(mktemp -d /var/tmp/smtpscope-fresh.XXXXXX)
log=$(mktemp)
mounted=""
cleanup() {
    local m
    for m in $mounted; do umount -l "$m" 2>/dev/null; done
    rm -rf --one-file-system "$root"
    rm -f "$log"
}
trap cleanup EXIT
bind() { mkdir -p "$root$2" && mount --bind "$1" "$root$2" && mounted="$root$2 $mounted"; }

if ! debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" "$mirror" \
    >"$log" 2>&1; then
    fail "debootstrap --unpack-tarball: $(tail -3 "$log")"
    finish
fi
pass "a fresh Debian 12 minbase root"
mount -t proc proc "$root/proc" && mounted="$root/proc $mounted"
bind /sys /sys
bind /dev /dev
bind /dev/pts /dev/pts
# The host's apt cache: packages downloaded once, not on every run.
bind /var/cache/apt/archives /var/cache/apt/archives
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null

in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive bash -c "$1"; }

if in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends make git ca-certificates" \
    >"$log" 2>&1; then
    pass "only make and git added"
else
    fail "apt-get install make git: $(tail -3 "$log")"
    finish
fi
# A clean clone of what is committed here.
if git clone -q --no-hardlinks "$repo" "$root/root/smtpscope" >"$log" 2>&1; then
    pass "a clean clone of $(git -C "$repo" rev-parse --short HEAD)"
else
    fail "git clone: $(tail -3 "$log")"
    finish
fi

in_root "cd /root/smtpscope && make run" >"$log" 2>&1
st=$?
if [ $st -eq 0 ] && grep -q '^smtpscope summary' "$log" && grep -qi 'sessions' "$log"; then
    pass "make run at the first try: packages installed, built, summary printed"
else
    fail "make run (status $st)"
    { grep -iE 'error|fatal' "$log" | head -5; tail -5 "$log"; } | sed 's/^/    /' 
fi

in_root "cd /root/smtpscope && make check LEVELS='unit golden input install'" >"$log" 2>&1
st=$?
line=$(grep -E '^check: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ $st -eq 0 ] && [ -n "$line" ] && ! grep -q '^check: 0 passed' "$log"; then
    pass "make check (quick levels) at the first try: $line"
else
    fail "make check (status $st): ${line:-no count line}"
    grep -E '^(FAIL|failed levels)' "$log" | head -20 | sed 's/^/    /' 
fi
finish

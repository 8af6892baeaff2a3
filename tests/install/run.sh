#!/usr/bin/env bash
# tests/install/run.sh - `make install` and the shipped systemd unit.
#
#  1. make install DESTDIR=... PREFIX=/usr puts the binary and the man page
#     where they belong; the installed binary runs and the page renders;
#     make uninstall takes them away again.
#  2. docs/smtpscope.service passes `systemd-analyze verify` with the
#     installed binary in its ExecStart (skipped without systemd-analyze).
# Prints one line per check and "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
pass() { echo "pass  $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; failed=$((failed + 1)); }

root=$tmp/root
if make -s install DESTDIR="$root" PREFIX=/usr >"$tmp/install.out" 2>&1 &&
    [ -x "$root/usr/bin/smtpscope" ] && [ -f "$root/usr/share/man/man1/smtpscope.1" ] &&
    "$root/usr/bin/smtpscope" --version >"$tmp/version" 2>&1 && grep -q smtpscope "$tmp/version"; then
    pass "make install DESTDIR PREFIX=/usr: binary runs ($(head -1 "$tmp/version")), man page in place"
else
    fail "make install: $(tail -5 "$tmp/install.out")"
fi
if command -v man >/dev/null; then
    if MANWIDTH=80 man -l "$root/usr/share/man/man1/smtpscope.1" 2>"$tmp/man.err" | grep -q 'EXIT STATUS'; then
        pass "the installed man page renders"
    else
        fail "man -l: $(head -3 "$tmp/man.err")"
    fi
else
    echo "skip  man page rendering: man is not installed"
fi
perm=$(stat -c %a "$root/usr/bin/smtpscope" 2>/dev/null)
[ "$perm" = 755 ] && pass "binary mode 0755" || fail "binary mode $perm"
make -s uninstall DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1
if [ ! -e "$root/usr/bin/smtpscope" ] && [ ! -e "$root/usr/share/man/man1/smtpscope.1" ]; then
    pass "make uninstall removes both"
else
    fail "make uninstall left files"
fi

if command -v systemd-analyze >/dev/null; then
    make -s install DESTDIR="$root" PREFIX=/usr/local >/dev/null 2>&1
    sed "s|/usr/local/bin/smtpscope|$root/usr/local/bin/smtpscope|" docs/smtpscope.service \
        >"$tmp/smtpscope.service"
    # Documentation= names the man page, which systemd looks up in the
    # system's own manual: not installed there by this test.
    SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/smtpscope.service" \
        >"$tmp/verify.out" 2>&1
    st=$?
    if [ $st -eq 0 ] && ! grep -qi 'error\|unknown\|invalid' "$tmp/verify.out"; then
        pass "docs/smtpscope.service passes systemd-analyze verify"
    else
        fail "systemd-analyze verify (status $st): $(head -5 "$tmp/verify.out")"
    fi
    for key in DynamicUser=yes LogsDirectory=smtpscope 'ExecStart=/usr/local/bin/smtpscope'; do
        grep -q "^$key" docs/smtpscope.service || fail "the unit lacks $key"
    done
else
    echo "skip  systemd unit: systemd-analyze is not installed"
fi

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

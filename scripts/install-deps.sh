#!/usr/bin/env bash
# Installs the Debian packages smtpscope needs to build and test, if any
# are missing.  Needs root (or sudo) only when something must be installed.
set -eu
build="gcc make pkg-config gettext libpcap-dev libnids-dev nettle-dev libgmime-3.0-dev check libsubunit-dev zlib1g-dev liblzma-dev libzstd-dev libmicrohttpd-dev"
tests="python3 tcpdump tcpreplay iproute2 valgrind time swaks python3-aiosmtpd python3-jsonschema clickhouse-server clickhouse-client procps gzip xz-utils zstd debootstrap bsdutils prometheus"
missing=""
for p in $build $tests; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null

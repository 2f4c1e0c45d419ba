#!/usr/bin/env bash
# Installs the Debian 12 packages xdprobe needs, only those missing, so a
# second run costs a few dpkg queries. Usage: setup-deps.sh run|test|bench
set -euo pipefail

build=(cmake make gcc pkg-config clang llvm bpftool libbpf-dev libxdp-dev libelf-dev
       zlib1g-dev liburing-dev libsqlite3-dev libinih-dev libcap-dev uthash-dev
       libjansson-dev)
run=(lighttpd iproute2 ethtool curl procps)
test=(libcmocka-dev prometheus)
bench=(prometheus-node-exporter time python3)

case "${1:-}" in
run) want=("${build[@]}" "${run[@]}") ;;
test) want=("${build[@]}" "${run[@]}" "${test[@]}") ;;
bench) want=("${build[@]}" "${run[@]}" "${test[@]}" "${bench[@]}") ;;
*) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "setup-deps: run as root (installs packages, then the tests create network namespaces)" >&2
	exit 1
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packaged services must not start here: the appliance runs its own instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

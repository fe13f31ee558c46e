#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs the Debian packages hblb builds and tests with, when missing,
# and mounts bpffs if it is not mounted. Safe to run again.
# Usage: scripts/deps.sh [--bench]   (--bench adds what `make bench` needs)
set -euo pipefail

# curl and python3: the demo's client and HTTP servers, the CLI tests' JSON checks;
# ethtool: native-mode topologies; apache2: the mod_heartbeat interop test;
# libclang-rt-14-dev: libFuzzer for `make fuzz`; jq: the fault tests read bpftool JSON
packages=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev iproute2 curl python3
	  ethtool apache2 libclang-rt-14-dev jq)
# wrk: HTTP throughput; gnuplot: report.png
[[ ${1:-} == --bench ]] && packages+=(wrk gnuplot-nox)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# apache2's postinst would start a system-wide httpd on :80; the tests run
	# their own, inside namespaces. policy-rc.d 101 = "do not start services".
	own_policy=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		own_policy=1
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
	[[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
	((${status:-0} == 0)) || exit "$status"
fi

if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi

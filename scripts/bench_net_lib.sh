#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared by bench-failover.sh and bench-http.sh (sourced after
# scripts/topology.sh): the topology plus an Apache reference load balancer,
# backends that serve HTTP with Apache, and the hblb daemon.
#
#   PREFIX-cl  client              198.18.7.1
#   PREFIX-lb  hblb (generic XDP)  198.18.7.2, VIP 198.18.7.100:80
#   PREFIX-ap  Apache balancer     198.18.7.3:80 (mod_heartmonitor + lbmethod=heartbeat)
#   PREFIX-bN  backend N           198.18.7.1N:80 (Apache, body "bN" at /id)
#
# Apache has its own namespace: hblb's XDP program consumes heartbeats on
# the LB's interface (no option passes them on yet), and multicast reaches
# both. Every Apache runs from a private configuration in $BN_WORK.

BN_APACHE_ADDR=198.18.7.3
BN_MODULES=/usr/lib/apache2/modules
BN_APACHE_PIDS=()
BN_DAEMON=

bn_hb() { topo_nsenter "$BN_PREFIX" lb "$BN_HBLB" --pin-dir "$BN_PIN" "$@"; }

# bn_apache_conf NAME: the common part of a private Apache configuration
bn_apache_conf() {
	local d=$BN_WORK/apache-$1
	mkdir -p "$d/www" "$d/run"
	chown www-data:www-data "$d/run"
	cat <<CONF
ServerRoot $d
ServerName $1
PidFile $d/apache.pid
ErrorLog $d/error.log
LogLevel warn
DefaultRuntimeDir $d/run
Mutex file:$d/run default
User www-data
Group www-data
LoadModule mpm_event_module $BN_MODULES/mod_mpm_event.so
LoadModule authz_core_module $BN_MODULES/mod_authz_core.so
StartServers 2
ThreadsPerChild 32
MaxRequestWorkers 256
KeepAlive On
MaxKeepAliveRequests 0
CONF
}

# bn_start_apache NAME NAMESPACE: runs $BN_WORK/apache-NAME/httpd.conf there
bn_start_apache() {
	local d=$BN_WORK/apache-$1 i
	# ip netns exec replaces itself with apache2: $! is Apache's parent
	ip netns exec "$BN_PREFIX-$2" /usr/sbin/apache2 -f "$d/httpd.conf" -DFOREGROUND \
		>"$d/stdout.log" 2>&1 &
	BN_APACHE_PIDS+=($!)
	for i in $(seq 100); do
		[[ -s $d/apache.pid ]] && return 0
		kill -0 "${BN_APACHE_PIDS[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "Apache $1 did not start:" >&2
	cat "$d/stdout.log" "$d/error.log" >&2 2>/dev/null
	return 1
}

# bn_up PREFIX N_BACKENDS INTERVAL_MS: everything but the heartbeats
bn_up() {
	local p=$1 n=$2 i d members=
	BN_PREFIX=$p
	topo_up "$p" "$n" || return 1
	topo_port "$p" ap "$BN_APACHE_ADDR"
	ip -n "$p-ap" route add 224.0.0.0/4 dev eth0       # to join 239.0.0.1
	# many short connections from one client address
	ip netns exec "$p-cl" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	for ((i = 1; i <= n; i++)); do
		d=$BN_WORK/apache-b$i
		{ bn_apache_conf "b$i"
		  cat <<CONF
Listen 80
DocumentRoot $d/www
<Directory $d/www>
    Require all granted
</Directory>
CONF
		} >"$BN_WORK/conf.tmp" && mv "$BN_WORK/conf.tmp" "$d/httpd.conf"
		echo "b$i" >"$d/www/id"
		chmod -R a+rX "$d/www"
		members+="    BalancerMember http://198.18.7.1$i:80"$'\n'
		bn_start_apache "b$i" "b$i" || return 1
	done
	d=$BN_WORK/apache-ap
	mkdir -p "$d"
	{ bn_apache_conf ap
	  cat <<CONF
LoadModule slotmem_shm_module $BN_MODULES/mod_slotmem_shm.so
LoadModule status_module $BN_MODULES/mod_status.so
LoadModule heartmonitor_module $BN_MODULES/mod_heartmonitor.so
LoadModule proxy_module $BN_MODULES/mod_proxy.so
LoadModule proxy_http_module $BN_MODULES/mod_proxy_http.so
LoadModule proxy_balancer_module $BN_MODULES/mod_proxy_balancer.so
LoadModule lbmethod_heartbeat_module $BN_MODULES/mod_lbmethod_heartbeat.so
Listen $BN_APACHE_ADDR:80
HeartbeatListen 239.0.0.1:27999
HeartbeatMaxServers 16
<Proxy balancer://hblb-bench>
$members    ProxySet lbmethod=heartbeat
</Proxy>
ProxyPass "/" "balancer://hblb-bench/"
CONF
	} >"$d/httpd.conf"
	bn_start_apache ap ap || return 1
	bn_start_daemon "$3" || return 1
	bn_hb service add "$TOPO_VIP:80" || return 1
	for ((i = 1; i <= n; i++)); do
		bn_hb backend add "$TOPO_VIP:80" "198.18.7.1$i" heartbeat || return 1
	done
}

# Flap damping off: the benchmark flaps backends on purpose, dozens of times.
bn_start_daemon() {     # bn_start_daemon INTERVAL_MS (adopts the pinned state)
	local i started
	started=$(grep -c running "$BN_WORK/daemon.log" 2>/dev/null) || true
	# nsenter directly (not a function) so that $! is the daemon itself
	nsenter --net=/run/netns/"$BN_PREFIX-lb" "$BN_HBLB" --pin-dir "$BN_PIN" daemon -i eth0:generic \
		--interval "$1" --dead-after 3 --flap off --tick "${BN_TICK:-1}" >>"$BN_WORK/daemon.log" 2>&1 &
	BN_DAEMON=$!
	for i in $(seq 200); do
		# its own "running" line, not an earlier daemon's
		[[ -e $BN_PIN/hblb_cfg_gen ]] &&
			(($(grep -c running "$BN_WORK/daemon.log") > ${started:-0})) && return 0
		kill -0 "$BN_DAEMON" 2>/dev/null || break
		sleep 0.05
	done
	echo "hblb daemon did not start:" >&2
	cat "$BN_WORK/daemon.log" >&2
	return 1
}

bn_stop_daemon() {
	[[ -n $BN_DAEMON ]] || return 0
	kill "$BN_DAEMON" 2>/dev/null
	wait "$BN_DAEMON" 2>/dev/null || true      # its status after SIGTERM
	BN_DAEMON=
}

bn_down() {             # bn_down [EXIT_STATUS]: our processes by PID, then namespaces, pins, files
	local status=${1:-$?} pid
	set +e                  # clean up everything, whatever fails
	if ((status)) && [[ -s ${BN_WORK:-}/daemon.log ]]; then
		echo "failed; the daemon's last lines:" >&2
		tail -n 15 "$BN_WORK/daemon.log" >&2
	fi
	bn_stop_daemon
	for pid in "${BN_APACHE_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${BN_APACHE_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	BN_APACHE_PIDS=()
	[[ -n ${BN_PREFIX:-} ]] && topo_down "$BN_PREFIX"
	[[ -n ${BN_PIN:-} ]] && rm -rf "$BN_PIN"
	[[ -n ${BN_WORK:-} ]] && rm -rf "$BN_WORK"
}

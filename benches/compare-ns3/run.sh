#!/usr/bin/env bash
# vnetsim and ns-3 side by side on one point-to-point UDP workload.
#
#   benches/compare-ns3/run.sh [--packets N] [--size BYTES] [--rate RATE] [--runs N]
#
# or the same through the environment: PACKETS (default 1000000), SIZE (bytes of the whole IPv4
# packet, default 1000), RATE (the VM's bandwidth, the link's rate and the offered rate, default
# 1Gbps), RUNS (runs of each simulator, the median is reported, default 3), LATENCY_NS (one-way
# latency, default 30000 = vnetsim's latency.host_to_host default), NS3_QDISC (none or default,
# default none; see README.md).
#
# Installs ns-3 from Debian's packages when it is missing (apt-get; needs root or sudo and
# network access), builds ns3-p2p-udp.cc with g++ -O2, builds vnetsim in release mode, writes the
# equivalent vnetsim scenario to a temporary directory, runs both and prints a table.
# Not run by CI: it downloads packages and takes minutes.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$(dirname "$0")/../.."

die() {
    echo "compare-ns3: error: $*" >&2
    exit 1
}

PACKETS="${PACKETS:-1000000}"
SIZE="${SIZE:-1000}"
RATE="${RATE:-1Gbps}"
RUNS="${RUNS:-3}"
LATENCY_NS="${LATENCY_NS:-30000}"
NS3_QDISC="${NS3_QDISC:-none}"

while [ $# -gt 0 ]; do
    case "$1" in
        --packets) PACKETS="${2:?--packets needs a value}"; shift 2 ;;
        --size) SIZE="${2:?--size needs a value}"; shift 2 ;;
        --rate) RATE="${2:?--rate needs a value}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --latency-ns) LATENCY_NS="${2:?--latency-ns needs a value}"; shift 2 ;;
        --ns3-qdisc) NS3_QDISC="${2:?--ns3-qdisc needs a value}"; shift 2 ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done

PACKETS="${PACKETS//,/}"
PACKETS="${PACKETS//_/}"
for v in PACKETS SIZE RUNS LATENCY_NS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$PACKETS" -ge 1 ] && [ "$PACKETS" -le 4294967295 ] || die "PACKETS must be 1..4294967295 (ns-3's UdpClient MaxPackets is 32 bits)"
[ "$SIZE" -ge 40 ] && [ "$SIZE" -le 65535 ] || die "SIZE must be 40..65535 bytes (IPv4 + UDP + ns-3's 12-byte SeqTsHeader)"
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"
case "$NS3_QDISC" in none | default) ;; *) die "NS3_QDISC must be none or default" ;; esac

# RATE: a number and bps, kbps, Mbps, Gbps (k, M, G alone also accepted), or bits per second.
RATE_BPS="$(awk -v r="$RATE" 'BEGIN {
    if (match(r, /^[0-9]+(\.[0-9]+)?/) == 0) exit 1
    n = substr(r, 1, RLENGTH); u = substr(r, RLENGTH + 1)
    if (u == "" || u == "bps") m = 1
    else if (u == "k" || u == "kbps" || u == "Kbps") m = 1e3
    else if (u == "M" || u == "Mbps") m = 1e6
    else if (u == "G" || u == "Gbps") m = 1e9
    else exit 1
    v = n * m
    if (v < 1 || v != int(v)) exit 1
    printf "%.0f\n", v
}')" || die "RATE must be like 1Gbps, 500Mbps, 10G or 1000000000, got '$RATE'"

# One datagram every SIZE*8/RATE seconds. Both simulators send at the same instants, so the
# gap must be a whole number of nanoseconds (ns-3's default time resolution).
BITS_NS=$((SIZE * 8 * 1000000000))
[ $((BITS_NS % RATE_BPS)) -eq 0 ] ||
    die "SIZE*8/RATE is not a whole number of nanoseconds ($SIZE bytes at $RATE_BPS bps); pick e.g. SIZE=1000 with RATE=1Gbps, 10Gbps, 500Mbps"
INTERVAL_NS=$((BITS_NS / RATE_BPS))
# ns-3's PointToPointNetDevice adds a 2-byte PPP header to each packet: its DataRate carries
# RATE of IPv4 bytes plus that header, so the link is exactly as busy as vnetsim's VM (no queue).
NS3_LINK_BPS=$((((SIZE + 2) * 8 * 1000000000 + INTERVAL_NS - 1) / INTERVAL_NS))
# vnetsim emits at start + k*interval while the time is before the flow's end.
DURATION_NS=$(((PACKETS - 1) * INTERVAL_NS + 1))

# --- (a) ns-3 from Debian's packages -------------------------------------------------------
ns3_present() {
    [ -f /usr/include/ns3/core-module.h ] &&
        ls /usr/lib/*/libns3*-core.so >/dev/null 2>&1 &&
        command -v g++ >/dev/null && command -v pkg-config >/dev/null
}
if ! ns3_present; then
    echo "== installing ns-3 from Debian's packages (libns3-dev, g++, pkg-config)"
    command -v apt-get >/dev/null || die "ns-3 is missing and there is no apt-get: install ns-3 (libns3-dev) by hand"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "ns-3 is missing; installing it needs root (or sudo): apt-get install libns3-dev g++ pkg-config"
        SUDO="sudo"
    fi
    $SUDO apt-get update || die "'apt-get update' failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y libns3-dev g++ pkg-config ||
        die "'apt-get install -y libns3-dev g++ pkg-config' failed"
    ns3_present || die "libns3-dev is installed but /usr/include/ns3/core-module.h or libns3-core.so is still missing"
fi
NS3_VERSION="$(pkg-config --modversion ns3-core 2>/dev/null || echo unknown)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- (b) the ns-3 program --------------------------------------------------------------------
# Debian's ns3-*.pc files name libgsl.so and libsqlite3.so, which only the -dev packages of gsl
# and sqlite provide; libns3-dev does not pull them in. The ns-3 libraries already record their
# own dependencies, so naming them directly is enough.
echo "== building ns3-p2p-udp.cc (g++ -O2, ns-3 $NS3_VERSION)"
g++ -O2 -std=c++17 -o "$WORK/ns3-p2p-udp" "$HERE/ns3-p2p-udp.cc" \
    -lns3-applications -lns3-point-to-point -lns3-internet -lns3-traffic-control \
    -lns3-network -lns3-core ||
    die "g++ could not build ns3-p2p-udp.cc against ns-3"

# --- (c) vnetsim ------------------------------------------------------------------------------
echo "== building vnetsim (cargo build --release -p vnetsim-cli)"
cargo build --release -p vnetsim-cli
VNETSIM="${CARGO_TARGET_DIR:-target}/release/vnetsim"
[ -x "$VNETSIM" ] || die "no vnetsim binary at $VNETSIM"

# --- (d) the equivalent vnetsim scenario -------------------------------------------------------
SCENARIO="$WORK/p2p-udp.yaml"
cat >"$SCENARIO" <<EOF
# One UDP flow from vm-a to vm-b across a VNet peering: the workload of ns3-p2p-udp.cc.
name: compare-ns3-p2p-udp
vnets:
  - name: vnet-a
    address_space: [10.10.0.0/16]
    subnets: [ { name: default, prefix: 10.10.0.0/24 } ]
  - name: vnet-b
    address_space: [10.20.0.0/16]
    subnets: [ { name: default, prefix: 10.20.0.0/24 } ]
vms:
  - { name: vm-a, size: Standard_D2s_v3, bandwidth: ${RATE_BPS}bps, nics: [ { name: vm-a-nic, vnet: vnet-a, subnet: default, ip: 10.10.0.4 } ] }
  - { name: vm-b, size: Standard_D2s_v3, bandwidth: ${RATE_BPS}bps, nics: [ { name: vm-b-nic, vnet: vnet-b, subnet: default, ip: 10.20.0.4 } ] }
peerings:
  - { name: a-to-b, from: vnet-a, to: vnet-b }
  - { name: b-to-a, from: vnet-b, to: vnet-a }
latency: { host_to_host: ${LATENCY_NS}ns }
traffic:
  # ${PACKETS} packets, one every ${INTERVAL_NS} ns
  - { name: udp, from: vm-a, to: vm-b, protocol: udp, src_port: 49152, dst_port: 5001, rate: ${RATE_BPS}bps, packet_size: ${SIZE}, start: 0ns, duration: ${DURATION_NS}ns }
EOF
"$VNETSIM" validate "$SCENARIO" >/dev/null || die "the generated scenario is invalid: $("$VNETSIM" validate "$SCENARIO" 2>&1)"

# Reads a number field out of a one-line JSON object.
field() { grep -o "\"$1\":[0-9.eE+-]*" | head -n1 | cut -d: -f2; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "workload: $PACKETS UDP datagrams of $SIZE bytes (whole IPv4 packet), one every $INTERVAL_NS ns"
echo "          ($RATE_BPS bps offered = VM bandwidth), one-way latency $LATENCY_NS ns"
echo "ns-3:     PointToPoint DataRate ${NS3_LINK_BPS}bps (RATE plus the 2-byte PPP header), Delay ${LATENCY_NS}ns,"
echo "          UdpClient/UdpServer, queue disc: $NS3_QDISC, no logging, no pcap, no tracing"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
echo

# --- (e) run both -------------------------------------------------------------------------------
# vnetsim: counts checked once with `run` (the conservation block), then `bench` RUNS times.
RUN_JSON="$("$VNETSIM" run "$SCENARIO" --format json)" || die "vnetsim run failed"
CONS="$(printf '%s' "$RUN_JSON" | tr -d ' \n' | grep -o '"conservation":{[^}]*}')"
V_SENT="$(printf '%s' "$CONS" | field sent)"
V_DELIVERED="$(printf '%s' "$CONS" | field delivered)"
V_DROPPED="$(printf '%s' "$CONS" | field dropped)"
[ "$V_SENT" = "$PACKETS" ] && [ "$V_DELIVERED" = "$PACKETS" ] && [ "$V_DROPPED" = "0" ] ||
    die "vnetsim: sent $V_SENT, delivered $V_DELIVERED, dropped $V_DROPPED; expected $PACKETS, $PACKETS, 0"
echo "counts:   vnetsim sent $V_SENT, delivered $V_DELIVERED, dropped $V_DROPPED"

unset NS_LOG # logging is compiled into Debian's ns-3; make sure no component is switched on
V_WALL=()
N_WALL=()
for i in $(seq 1 "$RUNS"); do
    out="$("$VNETSIM" bench "$SCENARIO" --format json)" || die "vnetsim bench failed"
    [ "$(printf '%s' "$out" | field simulated_packets)" = "$PACKETS" ] ||
        die "vnetsim bench simulated $(printf '%s' "$out" | field simulated_packets) packets, expected $PACKETS"
    V_WALL+=("$(printf '%s' "$out" | field wall_seconds)")
    V_EVENTS="$(printf '%s' "$out" | field events_processed)"
    out="$("$WORK/ns3-p2p-udp" --packets="$PACKETS" --ip-size="$SIZE" --interval-ns="$INTERVAL_NS" \
        --link-bps="$NS3_LINK_BPS" --delay-ns="$LATENCY_NS" --qdisc="$NS3_QDISC")" ||
        die "ns-3 run failed (or did not deliver every datagram): $out"
    [ "$i" -gt 1 ] || echo "counts:   ns-3 sent $(printf '%s' "$out" | field packets_sent), received $(printf '%s' "$out" | field packets_received), lost $(printf '%s' "$out" | field lost)"
    [ "$i" -gt 1 ] || echo "events:   vnetsim $V_EVENTS, ns-3 $(printf '%s' "$out" | field events_processed) (simulated events executed)"
    N_WALL+=("$(printf '%s' "$out" | field wall_seconds)")
    echo "run $i:    vnetsim ${V_WALL[-1]} s, ns-3 ${N_WALL[-1]} s"
done

# --- (f) the table --------------------------------------------------------------------------------
V_MED="$(printf '%s\n' "${V_WALL[@]}" | median)"
N_MED="$(printf '%s\n' "${N_WALL[@]}" | median)"
echo
awk -v p="$PACKETS" -v v="$V_MED" -v n="$N_MED" -v runs="$RUNS" -v ver="$NS3_VERSION" 'BEGIN {
    printf "%-12s %12s %16s %24s\n", "tool", "packets", "wall seconds", "packets per wall second"
    printf "%-12s %12.0f %16.4f %24.0f\n", "vnetsim", p, v, p / v
    printf "%-12s %12.0f %16.4f %24.0f\n", "ns-3 " ver, p, n, p / n
    printf "\nratio vnetsim/ns-3 (packets per wall second, median of %d runs): %.1f\n", runs, n / v
}'

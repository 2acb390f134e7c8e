#!/usr/bin/env bash
# Live capture cost, flowprobe `run` against softflowd (issue 5, item 5): CPU seconds per
# million packets captured, on the same veth replay.
#
#   bash benches/live_compare.sh            (as root; needs ip, ethtool, tcpreplay, softflowd)
#
# Two fresh network namespaces joined by a veth pair (198.18.0.1/24 and 198.18.0.2/24,
# RFC 2544 benchmarking space, as in tests/common/netns.rs), quiet: IPv6 off, GRO/GSO/TSO
# off, MTU 9000 so that no generated frame is too long. `flowprobe generate` writes a
# deterministic capture (CONVERSATIONS, default 50,000 conversations of 10 packets on
# average, about 470k packets). For each tool in turn (ROUNDS rounds, alternating):
#   - start it on side b's veth (flowprobe: `run -i veth0 --threads THREADS`, AF_PACKET,
#     IPFIX to a UDP sink on b's loopback; softflowd: `-i veth0 -v 10 -n` to the same sink,
#     same timeouts as flowprobe's defaults), let it settle;
#   - read its utime + stime from /proc/PID/stat (all threads), replay the capture with
#     tcpreplay on side a at PPS packets per second, wait 2 s, read them again;
#   - ask it for its packet counters (softflowd: softflowctl statistics), stop it
#     (flowprobe prints its counters when it stops).
# CPU s per Mpkt = (CPU after - CPU before) / packets sent x 1e6; the before/after window
# includes the idle wake-ups during the replay, which are part of a live probe's cost.
# "seen" is what each tool says it captured (flowprobe: packets read and metered;
# softflowd: received by libpcap and processed; softflowd without -6 skips IPv6),
# "dropped" the kernel's or libpcap's drops. Prints a markdown table (medians over the
# rounds) and the machine. Everything is
# removed on exit, also on failure or Ctrl-C.
#
# Environment: PPS (default 50000), CONVERSATIONS (default 50000), ROUNDS (default 3),
# THREADS (flowprobe workers, default 1, as softflowd has one), FLOWPROBE (a built binary;
# default: build release), KEEP=1 keeps the work directory.
set -euo pipefail

PPS=${PPS:-50000}
CONVERSATIONS=${CONVERSATIONS:-50000}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[[ $(id -u) == 0 ]] || { echo "live_compare.sh: run as root (namespaces, AF_PACKET)" >&2; exit 2; }
for tool in ip ethtool tcpreplay softflowd softflowctl python3; do
    command -v "$tool" >/dev/null || { echo "live_compare.sh: $tool not installed" >&2; exit 2; }
done
if [[ -z ${FLOWPROBE:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet --bin flowprobe)
    FLOWPROBE=${CARGO_TARGET_DIR:-$ROOT/target}/release/flowprobe
fi

NS_A=fplc-$$-a
NS_B=fplc-$$-b
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flowprobe-live.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ns in "$NS_A" "$NS_B"; do
        if [[ -e /run/netns/$ns ]]; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the namespaces ----------------------------------------------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add veth0 netns "$NS_A" type veth peer name veth0 netns "$NS_B"
for side in "A 198.18.0.1 02:00:c6:12:00:01 198.18.0.2 02:00:c6:12:00:02" \
            "B 198.18.0.2 02:00:c6:12:00:02 198.18.0.1 02:00:c6:12:00:01"; do
    read -r which addr mac peer peer_mac <<<"$side"
    ns=$([[ $which == A ]] && echo "$NS_A" || echo "$NS_B")
    ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
    ip -n "$ns" link set veth0 address "$mac" mtu 9000
    ip -n "$ns" addr add "$addr/24" dev veth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
    ip -n "$ns" neigh replace "$peer" lladdr "$peer_mac" dev veth0 nud permanent
    ip netns exec "$ns" ethtool -K veth0 gro off gso off tso off >/dev/null
done

# --- the capture and a UDP sink for both tools' IPFIX ------------------------------------
CAPTURE=$WORK/capture.pcap
"$FLOWPROBE" generate -o "$CAPTURE" --conversations "$CONVERSATIONS" --mean-packets 10 \
    2>"$WORK/generate.log"
cat "$WORK/generate.log" >&2
ip netns exec "$NS_B" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdout.close()
while True:
    s.recv(65536)
' >"$WORK/sink.port" &
PIDS+=($!)
for _ in $(seq 50); do [[ -s $WORK/sink.port ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/sink.port")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rx_packets() { ip -n "$NS_B" -s -j link show veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
TCK=$(getconf CLK_TCK)

# One line per run: tool<TAB>packets sent<TAB>cpu s<TAB>seen<TAB>dropped
RESULTS=$WORK/results.tsv
: >"$RESULTS"

run_tool() {
    local tool=$1 pid before after rx0 rx1 sent seen dropped
    case $tool in
    flowprobe)
        ip netns exec "$NS_B" "$FLOWPROBE" run -i veth0 --threads "$THREADS" \
            --collector "ipfix://127.0.0.1:$PORT" -f csv -o /dev/null -v \
            2>"$WORK/flowprobe.log" &
        pid=$! ;;
    softflowd)
        rm -f "$WORK/sf.ctl"
        ip netns exec "$NS_B" softflowd -d -i veth0 -v 10 -n "127.0.0.1:$PORT" -m 1048576 \
            -p "$WORK/sf.pid" -c "$WORK/sf.ctl" -t general=15 -t tcp=15 -t tcp.rst=5 \
            -t tcp.fin=5 -t udp=15 -t icmp=15 -t maxlife=1800 >"$WORK/softflowd.log" 2>&1 &
        pid=$! ;;
    esac
    PIDS+=("$pid")
    sleep 2
    kill -0 "$pid" 2>/dev/null || { echo "live_compare.sh: $tool did not start:" >&2; cat "$WORK/$tool.log" >&2; exit 1; }
    rx0=$(rx_packets)
    before=$(cpu_ticks "$pid")
    ip netns exec "$NS_A" tcpreplay -i veth0 --pps="$PPS" -q "$CAPTURE" >"$WORK/tcpreplay.log" 2>&1
    sleep 2
    after=$(cpu_ticks "$pid")
    rx1=$(rx_packets)
    sent=$((rx1 - rx0))
    case $tool in
    flowprobe)
        kill -TERM "$pid"; wait "$pid" || true
        # The closing summary: packets read by the rings and the kernel's drops.
        seen=$(grep -m1 -E '^ *packets read' "$WORK/flowprobe.log" | grep -oE '[0-9]+' | head -1 || echo '?')
        seen="$seen ($(grep -m1 -E '^ *metered' "$WORK/flowprobe.log" | grep -oE '[0-9]+' | head -1 || echo '?') metered)"
        dropped=$(grep -m1 -E '^kernel drops' "$WORK/flowprobe.log" | grep -oE '[0-9]+' | tail -1 || echo '?') ;;
    softflowd)
        softflowctl -c "$WORK/sf.ctl" statistics >"$WORK/sf.stats" 2>&1 || true
        kill -TERM "$pid"; wait "$pid" || true
        seen=$(grep -m1 -E 'received by libpcap' "$WORK/sf.stats" | grep -oE '[0-9]+' | tail -1 || echo '?')
        seen="$seen ($(grep -m1 -E '^Packets processed' "$WORK/sf.stats" | grep -oE '[0-9]+' | tail -1 || echo '?') processed)"
        dropped=$(grep -m1 -E 'dropped by libpcap' "$WORK/sf.stats" | grep -oE '[0-9]+' | tail -1 || echo '?') ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$sent" \
        "$(python3 -c "print(($after - $before) / $TCK)")" "${seen:-?}" "${dropped:-?}" >>"$RESULTS"
    echo "  $tool: $sent packets on the veth, CPU $(python3 -c "print(($after - $before) / $TCK)") s, seen ${seen:-?}, dropped ${dropped:-?}" >&2
}

echo "live_compare.sh: $ROUNDS rounds, $(grep -oE '[0-9]+ packets' "$WORK/generate.log" | head -1) at $PPS packets/s ..." >&2
for round in $(seq "$ROUNDS"); do
    run_tool flowprobe
    run_tool softflowd
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    tool, sent, cpu, seen, dropped = line.rstrip("\n").split("\t")
    if tool not in rows:
        rows[tool] = []
        order.append(tool)
    rows[tool].append((int(sent), float(cpu), seen, dropped))
print("| tool | packets sent (median) | CPU s (median) | CPU s per Mpkt (median) | seen | dropped | runs |")
print("|---|---:|---:|---:|---|---|---:|")
for t in order:
    r = rows[t]
    per = statistics.median(c / s * 1e6 for s, c, _, _ in r)
    print(f"| {t} | {statistics.median(s for s, _, _, _ in r)} | {statistics.median(c for _, c, _, _ in r):.2f} | {per:.2f} | "
          f"{', '.join(x[2] for x in r)} | {', '.join(x[3] for x in r)} | {len(r)} |")
EOF
echo
echo "Replay: tcpreplay --pps=$PPS on a veth pair between two namespaces; flowprobe run --threads $THREADS (AF_PACKET), softflowd $(softflowd -h 2>&1 | grep -oE 'version [0-9]+(\.[0-9]+)*' | head -1) (libpcap)."
echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
echo "Command: PPS=$PPS CONVERSATIONS=$CONVERSATIONS ROUNDS=$ROUNDS THREADS=$THREADS bash benches/live_compare.sh"

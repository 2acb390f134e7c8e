#!/usr/bin/env bash
# Offline conversion, flowprobe against the probes people use today (issue 5, item 2).
#
#   bash benches/compare.sh [PACKETS_SCALE]
#
# For each traffic shape in SHAPES (default "mixed short long"), generates a deterministic
# capture with `flowprobe generate` (scale 1):
#   mixed  100,000 conversations of 10 packets on average, full segments and small ones:
#          about 1M packets in about 200k directional flows (the capture of issue 5);
#   short  300,000 conversations of 5 packets on average, payloads of 1-80 bytes,
#          nanosecond pcap: about 1.3M packets of ~100 bytes, 2-3 packets a record;
#   long   1,000 conversations of 500 packets on average, every data packet 1500 bytes:
#          about 0.4M full-size packets in a few thousand long flows;
# then times, in alternating runs (RUNS, default 5, each tool once per round):
#   - flowprobe convert -q --threads 1 and --threads 2, writing CSV to a file, and, when
#     this build has `--ipfix-file`, writing an IPFIX file instead, and, when it has
#     Parquet output, a Parquet file (with a line: Parquet's wall time against CSV's);
#   - nfpcapd -r FILE -w DIR (nfdump's pcap-to-nfcapd converter);
#   - softflowd -r FILE -n 127.0.0.1:PORT, exporting IPFIX to a UDP sink on loopback.
# All tools get the same timeouts (idle 15 s, active 30 min: flowprobe's defaults) and a
# cache large enough for the capture. Prints a markdown table per shape: median wall
# seconds, the ratio to flowprobe's single-thread run, median CPU seconds, peak RSS; then
# one row per shape against nfpcapd; and the machine, the load, the command and the commit.
#
# Environment: RUNS (rounds, default 5), SHAPES (default "mixed short long"), FLOWPROBE
# (a built binary; default: build release), KEEP=1 keeps the work directory.
set -euo pipefail

SCALE=${1:-1}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RUNS=${RUNS:-5}
SHAPES=${SHAPES:-mixed short long}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in nfpcapd softflowd python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool not installed" >&2; exit 2; }
done

if [[ -z ${FLOWPROBE:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet --bin flowprobe)
    FLOWPROBE=${CARGO_TARGET_DIR:-$ROOT/target}/release/flowprobe
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flowprobe-compare.XXXXXX")
SINK_PID=
cleanup() {
    if [[ -n $SINK_PID ]]; then kill "$SINK_PID" 2>/dev/null || true; fi
    if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT

# --- the capture of one shape -------------------------------------------------------------
generate_shape() {
    local shape=$1 conversations mean args
    case $shape in
        mixed) conversations=100000 mean=10 args=() ;;
        short) conversations=300000 mean=5 args=(--payload small --nanos) ;;
        long) conversations=1000 mean=500 args=(--payload full) ;;
        *) echo "compare.sh: unknown shape $shape (mixed, short, long)" >&2; exit 2 ;;
    esac
    conversations=$(python3 -c "print(max(1, round($conversations * float('$SCALE'))))")
    CAPTURE=$WORK/capture-$shape.pcap
    "$FLOWPROBE" generate -o "$CAPTURE" --conversations "$conversations" --mean-packets "$mean" \
        "${args[@]}" 2>"$WORK/generate.log"
    cat "$WORK/generate.log" >&2
    CAPTURE_MB=$(( $(stat -c %s "$CAPTURE") / 1000000 ))
    # Every tool reads the capture from the page cache as it is after reading a file from
    # disk: written out, dropped, read once. How the cache holds a file depends on how it
    # got there: read ahead from disk, Linux 6.x fills it in large folios (2 MB here);
    # written in small pieces, it stays in 4 KiB pages, and mapping a file of 4 KiB pages
    # costs flowprobe's reader about 45 ms more CPU for this capture (mmap; the peers
    # read()).
    sync "$CAPTURE"
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$CAPTURE"
    cat "$CAPTURE" >/dev/null
}

# --- a UDP sink for softflowd's export ---------------------------------------------------
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdout.close()
while True:
    s.recv(65536)
' >"$WORK/sink.port" &
SINK_PID=$!
for _ in $(seq 50); do [[ -s $WORK/sink.port ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/sink.port")

# --- the tools ---------------------------------------------------------------------------
# add NAME COMMAND [PREP]: PREP runs before each timed run, untimed. Every tool's output
# of the run before is removed there: overwriting (truncating) a 16 MB file costs about
# 8 ms on this disk, which is the filesystem's time, not the tool's.
declare -A CMDS PREPS
add() { NAMES+=("$1"); CMDS[$1]=$2; PREPS[$1]=${3:-}; }
add_tools() {
NAMES=()

add "flowprobe convert, CSV, 1 thread" \
    "'$FLOWPROBE' convert '$CAPTURE' -q --threads 1 -f csv -o '$WORK/out.csv'" "rm -f '$WORK/out.csv'"
add "flowprobe convert, CSV, 2 threads" \
    "'$FLOWPROBE' convert '$CAPTURE' -q --threads 2 -f csv -o '$WORK/out.csv'" "rm -f '$WORK/out.csv'"
if "$FLOWPROBE" convert --help | grep -q -- '--ipfix-file'; then
    IPFIX=1
    add "flowprobe convert, IPFIX file, 1 thread" \
        "'$FLOWPROBE' convert '$CAPTURE' -q --threads 1 --ipfix-file '$WORK/out.ipfix' >/dev/null" \
        "rm -f '$WORK/out.ipfix'"
    add "flowprobe convert, IPFIX file, 2 threads" \
        "'$FLOWPROBE' convert '$CAPTURE' -q --threads 2 --ipfix-file '$WORK/out.ipfix' >/dev/null" \
        "rm -f '$WORK/out.ipfix'"
else
    IPFIX=0
fi
if "$FLOWPROBE" convert --help | grep -q -- 'parquet'; then
    add "flowprobe convert, Parquet, 1 thread" \
        "'$FLOWPROBE' convert '$CAPTURE' -q --threads 1 -f parquet -o '$WORK/out.parquet'" \
        "rm -f '$WORK/out.parquet'"
    add "flowprobe convert, Parquet, 2 threads" \
        "'$FLOWPROBE' convert '$CAPTURE' -q --threads 2 -f parquet -o '$WORK/out.parquet'" \
        "rm -f '$WORK/out.parquet'"
fi
# nfpcapd: -e active,inactive seconds; its node cache at the default (524288 flows).
add "nfpcapd -r -w (nfdump $(nfdump -V 2>&1 | grep -o '[0-9][0-9.]*' | head -1))" \
    "nfpcapd -r '$CAPTURE' -w '$WORK/nfpcapd' -e 1800,15 >/dev/null 2>&1" \
    "rm -rf '$WORK/nfpcapd' && mkdir '$WORK/nfpcapd'"
# softflowd: -d foreground, -v 10 IPFIX, -m cache size, -t timeouts as flowprobe's.
# -c none: with a control socket softflowd keeps running after the end of the file,
# waiting for commands; without one it flushes every flow and exits.
add "softflowd -r -n (IPFIX over UDP)" \
    "softflowd -d -r '$CAPTURE' -n 127.0.0.1:$PORT -v 10 -m 1048576 -p '$WORK/sf.pid' -c none -t general=15 -t tcp=15 -t tcp.rst=5 -t tcp.fin=5 -t udp=15 -t icmp=15 -t maxlife=1800 >/dev/null 2>&1"
}

# --- alternating runs --------------------------------------------------------------------
# One line per run: name<TAB>wall s<TAB>cpu s<TAB>peak RSS kB
run_one() {
    local name=$1 start end
    if [[ -n ${PREPS[$name]} ]]; then bash -c "${PREPS[$name]}"; sync -f "$WORK"; fi
    # Pages of the capture that the kernel reclaimed since the last run (this VM runs
    # DAMON proactive reclaim: pages idle a few seconds go, even with memory free) are
    # read back now, untimed, so that no tool waits for the disk in its run.
    cat "$CAPTURE" >/dev/null
    start=$(date +%s%N)
    # A tool that hangs fails the script instead of stalling it (TOOL_TIMEOUT seconds).
    if ! /usr/bin/time -f '%U %S %M' -o "$WORK/time.out" \
        timeout "${TOOL_TIMEOUT:-120}" bash -c "${CMDS[$name]}" </dev/null; then
        echo "compare.sh: failed or timed out: ${CMDS[$name]}" >&2
        exit 1
    fi
    end=$(date +%s%N)
    read -r user sys rss <"$WORK/time.out"
    printf '%s\t%s\t%s\t%s\n' "$name" \
        "$(python3 -c "print(($end - $start) / 1e9)")" \
        "$(python3 -c "print($user + $sys)")" "$rss" >>"$RESULTS"
}
SUMMARY=$WORK/summary.tsv
: >"$SUMMARY"
for SHAPE in $SHAPES; do
generate_shape "$SHAPE"
add_tools
RESULTS=$WORK/results-$SHAPE.tsv
: >"$RESULTS"
echo "compare.sh: shape $SHAPE: $RUNS rounds of ${#NAMES[@]} tools on $CAPTURE_MB MB ..." >&2
for round in $(seq "$RUNS"); do
    for name in "${NAMES[@]}"; do run_one "$name"; done
    echo "  round $round done" >&2
done

# --- record counts (a sanity check: same capture, same timeouts) -------------------------
FP_RECORDS=$(( $(wc -l <"$WORK/out.csv") - 1 ))
NF_RECORDS=$(nfdump -R "$WORK/nfpcapd" -q -o csv 2>/dev/null | grep -c '^[0-9]' || true)

# --- the table ---------------------------------------------------------------------------
echo
echo "### Shape: $SHAPE"
echo
python3 - "$RESULTS" "$IPFIX" "$SHAPE" "$SUMMARY" <<'EOF'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.rstrip("\n").split("\t")
    if name not in rows:
        rows[name] = []
        order.append(name)
    rows[name].append((float(wall), float(cpu), int(rss)))
base_name = order[2] if sys.argv[2] == "1" else order[0]
base = statistics.median(w for w, _, _ in rows[base_name])
print(f"| tool | median wall s | wall / flowprobe | median CPU s | peak RSS MB | runs |")
print(f"|---|---:|---:|---:|---:|---:|")
for name in order:
    r = rows[name]
    wall = statistics.median(w for w, _, _ in r)
    cpu = statistics.median(c for _, c, _ in r)
    rss = max(m for _, _, m in r) / 1024
    print(f"| {name} | {wall:.3f} | {wall / base:.2f} | {cpu:.3f} | {rss:.1f} | {len(r)} |")
print()
print(f"Ratios are against \"{base_name}\" (median {base:.3f} s).")
if sys.argv[2] == "1":
    one, two = order[2], order[3]
    w1 = statistics.median(w for w, _, _ in rows[one])
    w2 = statistics.median(w for w, _, _ in rows[two])
    c1 = statistics.median(c for _, c, _ in rows[one])
    c2 = statistics.median(c for _, c, _ in rows[two])
    print(f"IPFIX file, 2 threads against 1: {w1 / w2:.2f}x the speed; CPUs busy "
          f"(CPU s / wall s): 1 thread {c1 / w1:.2f}, 2 threads {c2 / w2:.2f}.")
nf = [n for n in order if n.startswith("nfpcapd")]
if sys.argv[2] == "1" and nf:
    nfw = statistics.median(w for w, _, _ in rows[nf[0]])
    with open(sys.argv[4], "a") as summary:
        summary.write(f"{sys.argv[3]}\t{nfw / w1:.2f}\t{nfw / w2:.2f}\t{w1:.3f}\t{w2:.3f}\t{nfw:.3f}\n")
pq = [n for n in order if "Parquet" in n]
if pq:
    for threads, csv_name in ((1, order[0]), (2, order[1])):
        p_name = [n for n in pq if n.endswith(f"{threads} thread" + ("s" if threads > 1 else ""))][0]
        pw = statistics.median(w for w, _, _ in rows[p_name])
        cw = statistics.median(w for w, _, _ in rows[csv_name])
        print(f"Parquet against CSV, {threads} thread{'s' if threads > 1 else ''}: "
              f"{pw / cw:.2f}x the wall time ({pw:.3f} s against {cw:.3f} s).")
walls = {n: [w for w, _, _ in rows[n]] for n in order}
print("All wall times (s), in run order:")
for n in order:
    print(f"- {n}: " + ", ".join(f"{w:.3f}" for w in walls[n]))
EOF

echo
echo "Capture: $(cat "$WORK/generate.log" | sed 's/^flowprobe: //'), $CAPTURE_MB MB, in ${TMPDIR:-/tmp}."
echo "Records: flowprobe $FP_RECORDS, nfpcapd $NF_RECORDS (softflowd's go to the UDP sink, not counted)."
rm -f "$CAPTURE"
done

if [[ -s $SUMMARY ]]; then
    echo
    echo "### Against nfpcapd, every shape (IPFIX file)"
    echo
    echo "| shape | 1 thread, × nfpcapd | 2 threads, × nfpcapd | 1 thread s | 2 threads s | nfpcapd s |"
    echo "|---|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r shape r1 r2 w1 w2 nf; do
        echo "| $shape | $r1 | $r2 | $w1 | $w2 | $nf |"
    done <"$SUMMARY"
fi
echo
echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
echo "Command: bash benches/compare.sh $SCALE (RUNS=$RUNS SHAPES=\"$SHAPES\")"
# The commit the figures belong to (of the source tree; FLOWPROBE may name another build).
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then COMMIT="$COMMIT (modified)"; fi
echo "Commit: $COMMIT; flowprobe: $FLOWPROBE."

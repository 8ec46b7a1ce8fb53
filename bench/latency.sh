#!/usr/bin/env bash
# latency.sh: produce→consume latency at a fixed rate, across processes.
#
# Starts a `skiff broker` (--fsync none: acks=1 never waits for fsync
# anyway) and runs `skiff bench-latency` ROUNDS times in another process:
# a producer at RATE records/s (linger 0, acks=1, no compression) and a
# consumer reading the same partition, each record carrying its send time.
# It prints every run, then the median of the runs' p50, p99 and p999 (a
# single run's p99 on a shared machine says more about its neighbours than
# about skiff). Each round also says how many cores the broker, the
# bench-latency process and everything else on the machine used while it
# ran ("others"): on a shared machine the tail follows the others.
#
# TRACE=1 also writes the broker's runtime trace (skiff broker --trace) and
# each round's per-record timeline (bench-latency --timeline) to
# $TRACE_DIR (default ./latency-trace), to line spikes up with the broker's
# scheduling, GC and syscalls (go tool trace).
#
# Usage (from anywhere in the repository):
#
#	bench/latency.sh                                   # 5 rounds x 10s at 50k records/s, skiff both sides
#	PRODUCER=kgo CONSUMER=kgo bench/latency.sh         # franz-go on both sides, for comparison
#	RATE=1000 bench/latency.sh                         # nearly idle
#
# Settings (environment, with defaults): ROUNDS=5 RATE=50000 DURATION=10s
# WARMUP=2s VALUE_SIZE=100 PRODUCER=skiff CONSUMER=skiff FSYNC=none TRACE=.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
RATE=${RATE:-50000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
VALUE_SIZE=${VALUE_SIZE:-100}
PRODUCER=${PRODUCER:-skiff}
CONSUMER=${CONSUMER:-skiff}
FSYNC=${FSYNC:-none}
TRACE=${TRACE:-}
TRACE_DIR=${TRACE_DIR:-$PWD/latency-trace}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
broker_pid=
cleanup() {
	if [[ -n $broker_pid ]]; then
		kill -INT "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/skiff" ./cmd/skiff)

broker_args=()
if [[ -n $TRACE ]]; then
	mkdir -p "$TRACE_DIR"
	broker_args=(--trace "$TRACE_DIR/broker.trace")
fi
"$work/skiff" broker --listen 127.0.0.1:0 --data "$work/data" --fsync "$FSYNC" "${broker_args[@]}" >"$work/broker.out" 2>&1 &
broker_pid=$!
addr=
for _ in $(seq 200); do
	addr=$(awk '/^listening/ {print $2; exit}' "$work/broker.out")
	[[ -n $addr ]] && break
	sleep 0.05
done
[[ -n $addr ]] || { echo "broker did not start:" >&2; cat "$work/broker.out" >&2; exit 1; }
"$work/skiff" topics create latency --brokers "$addr" --partitions 1 >/dev/null
echo "broker $addr; $RATE records/s of $VALUE_SIZE bytes, $PRODUCER producer, $CONSUMER consumer; load: $(cut -d' ' -f1-3 /proc/loadavg)"

field() { sed -n "s|^[^|]* $1=\([0-9.]*\).*|\1|p"; }
# CPU seconds: the machine's busy time, the broker's, and this shell's
# finished children's (bench-latency), from /proc and `times`.
hz=$(getconf CLK_TCK)
busy() { awk -v hz="$hz" '/^cpu / {print ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }
proc_cpu() { awk -v hz="$hz" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
# (`times` runs in this shell, not in a pipeline's subshell, which has no
# children of its own.)
children_cpu() {
	times >"$work/times"
	awk 'NR==2 {n=split($0,a," "); s=0; for (i=1;i<=n;i++) {split(a[i],b,"m"); s+=b[1]*60+b[2]} print s}' "$work/times"
}
results=$work/results
for round in $(seq "$ROUNDS"); do
	timeline=()
	[[ -n $TRACE ]] && timeline=(--timeline "$TRACE_DIR/timeline.$round")
	children_cpu >"$work/c0"
	b0=$(busy) k0=$(proc_cpu "$broker_pid") c0=$(cat "$work/c0") t0=$(date +%s.%N)
	line=$("$work/skiff" bench-latency --brokers "$addr" --topic latency --rate "$RATE" --duration "$DURATION" \
		--warmup "$WARMUP" --value-size "$VALUE_SIZE" --producer "$PRODUCER" --consumer "$CONSUMER" "${timeline[@]}")
	children_cpu >"$work/c1"
	b1=$(busy) k1=$(proc_cpu "$broker_pid") c1=$(cat "$work/c1") t1=$(date +%s.%N)
	cores=$(awk -v b="$b1-$b0" -v k="$k1-$k0" -v c="$c1-$c0" -v t="$t1-$t0" 'BEGIN {
		split(b, B, "-"); split(k, K, "-"); split(c, C, "-"); split(t, T, "-")
		s = T[1] - T[2]; bk = (K[1] - K[2]) / s; cl = (C[1] - C[2]) / s
		printf "cores: broker %.2f, bench-latency %.2f, others %.2f", bk, cl, (B[1] - B[2]) / s - bk - cl }')
	echo "round $round: $line | $cores"
	echo "$(field p50 <<<"$line") $(field p99 <<<"$line") $(field p999 <<<"$line")" >>"$results"
done

awk '
	{ p50 = p50 " " $1; p99 = p99 " " $2; p999 = p999 " " $3 }
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	END { printf "median of %d rounds (µs): p50 %.0f, p99 %.0f, p999 %.0f\n", NR, median(p50), median(p99), median(p999) }' "$results"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

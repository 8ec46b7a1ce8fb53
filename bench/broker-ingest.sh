#!/usr/bin/env bash
# broker-ingest.sh: the bundled broker's ingest rate against a null sink,
# across processes (issue 14: broker ≥ 80% of the sink with kgo).
#
# One `skiff sink` (internal/fastack: acknowledges produce requests without
# storing them) and one `skiff broker` (a fresh temporary data directory,
# default fsync policy: every log.flush.interval.ms = 1 s, acks=all answered
# after the write) run as separate processes. Each round runs
# `skiff bench-produce` for every client into each of them, each run in its
# own process; the order reverses every round so no pairing always gets the
# warmer (or quieter) machine. Both get identical, explicit settings.
#
# It prints every run, and at the end per client:
#   - median records/s into the sink and into the broker,
#   - the median of the per-round broker/sink ratios (the issue's figure),
#   - the broker's and the sink's CPU seconds per million records
#     (utime+stime from /proc/<pid>/stat over each run; steadier than
#     records/s when other work shares the machine),
#   - with several CONNECTIONS values, each one's broker rate against the
#     first's,
# and the broker's RSS after the last run and its peak (VmHWM).
#
# Usage (from anywhere in the repository):
#
#	bench/broker-ingest.sh                          # 3 rounds x 500k, 3 partitions
#	PARTITIONS=1000 bench/broker-ingest.sh          # 1,000 partitions, 10,000 keys
#	CONNECTIONS="8 200" bench/broker-ingest.sh      # 8 and 200 producers, each its own connection
#	CLIENTS=kgo CPUPROFILE=/tmp/broker.pprof bench/broker-ingest.sh   # profile the broker
#
# Settings (environment, with defaults): ROUNDS=3 RECORDS=500000
# PARTITIONS=3 KEYS=10000 CLIENTS="kgo skiff" CONNECTIONS=1 VALUE_SIZE=100
# COMPRESSION=none ACKS=all IDEMPOTENT=true LINGER=5ms BATCH_SIZE=16384
# BUFFER_MEMORY=33554432 MAX_IN_FLIGHT=5 FSYNC=interval CPUPROFILE= (a file
# for the broker's CPU profile over the whole run), SKIFF= (a prebuilt skiff
# binary to use instead of building this tree; BROKER_SKIFF= the same for
# the broker process alone, to compare two builds of the broker).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-500000}
PARTITIONS=${PARTITIONS:-3}
KEYS=${KEYS:-10000}
CLIENTS=${CLIENTS:-kgo skiff}
CONNECTIONS=${CONNECTIONS:-1}
VALUE_SIZE=${VALUE_SIZE:-100}
COMPRESSION=${COMPRESSION:-none}
ACKS=${ACKS:-all}
IDEMPOTENT=${IDEMPOTENT:-true}
LINGER=${LINGER:-5ms}
BATCH_SIZE=${BATCH_SIZE:-16384}
BUFFER_MEMORY=${BUFFER_MEMORY:-33554432}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-5}
FSYNC=${FSYNC:-interval}
CPUPROFILE=${CPUPROFILE:-}
SKIFF=${SKIFF:-}
BROKER_SKIFF=${BROKER_SKIFF:-}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -n $SKIFF ]]; then
	cp "$SKIFF" "$work/skiff"
else
	(cd "$root" && go build -o "$work/skiff" ./cmd/skiff)
fi
broker_bin=${BROKER_SKIFF:-$work/skiff}

# await FILE PATTERN: the address on the "PATTERN addr" line a server prints.
await() {
	local addr=
	for _ in $(seq 200); do
		addr=$(awk -v p="$2" '$0 ~ "^"p {print $NF; exit}' "$1" 2>/dev/null)
		[[ -n $addr ]] && { echo "$addr"; return; }
		sleep 0.05
	done
	echo "server did not start:" >&2
	cat "$1" >&2
	exit 1
}

"$work/skiff" sink --listen 127.0.0.1:0 --partitions "$PARTITIONS" >"$work/sink.out" 2>&1 &
pids+=($!)
sink_addr=$(await "$work/sink.out" "listening on")

profile=()
[[ -n $CPUPROFILE ]] && profile=(--cpuprofile "$CPUPROFILE")
mkdir "$work/data"
"$broker_bin" broker --listen 127.0.0.1:0 --data "$work/data" --partitions "$PARTITIONS" \
	--fsync "$FSYNC" "${profile[@]}" >"$work/broker.out" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")
broker_addr=$(await "$work/broker.out" "listening")

# Topics are created up front: kgo does not ask for auto-creation.
for client in $CLIENTS; do
	"$work/skiff" topics create "bench-$client" --brokers "$broker_addr" --partitions "$PARTITIONS" >/dev/null
done

tck=$(getconf CLK_TCK)
sink_pid=${pids[0]}
cpu_of() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
broker_mem() { awk -v k="$1:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$broker_pid/status"; }

settings=(--records "$RECORDS" --keys "$KEYS" --values random --value-size "$VALUE_SIZE"
	--compression "$COMPRESSION" --acks "$ACKS" --idempotent="$IDEMPOTENT" --linger "$LINGER"
	--batch-size "$BATCH_SIZE" --buffer-memory "$BUFFER_MEMORY" --max-in-flight "$MAX_IN_FLIGHT")
echo "sink $sink_addr, broker $broker_addr (fsync $FSYNC, data in a temp dir), $PARTITIONS partitions, connections per run: $CONNECTIONS"
echo "per run: ${settings[*]}"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

field() { sed -n "s|.* $1=\([0-9.]*\).*|\1|p"; }
runs=()
for conns in $CONNECTIONS; do
	for client in $CLIENTS; do runs+=("$client:sink:$conns" "$client:broker:$conns"); done
done
results=$work/results
for round in $(seq "$ROUNDS"); do
	order=("${runs[@]}")
	if ((round % 2 == 0)); then
		order=()
		for ((i = ${#runs[@]} - 1; i >= 0; i--)); do order+=("${runs[i]}"); done
	fi
	for run in "${order[@]}"; do
		IFS=: read -r client target conns <<<"$run"
		addr=$sink_addr pid=$sink_pid
		[[ $target == broker ]] && addr=$broker_addr pid=$broker_pid
		producers=()
		((conns > 1)) && producers=(--producers "$conns")
		cpu0=$(cpu_of "$pid")
		# One topic per client, reused across rounds: every run is a new
		# producer id, so sequences start at 0 anyway, and the broker
		# keeps PARTITIONS x clients partitions however many rounds run.
		line=$("$work/skiff" bench-produce --client "$client" --brokers "$addr" --topic "bench-$client" "${settings[@]}" "${producers[@]}")
		cpu1=$(cpu_of "$pid")
		rate=$(field records/s <<<"$line")
		cpupm=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$RECORDS" 'BEGIN { printf "%.2f", (b - a) / n * 1e6 }')
		extra=" | $target: ${cpupm} CPU s per M records"
		[[ $target == broker ]] && extra="$extra, RSS $(broker_mem VmRSS) MiB"
		printf 'round %d: %-5s -> %-6s x%-3s %s%s\n' "$round" "$client" "$target" "$conns" "$line" "$extra"
		echo "$round $client $target $conns $rate $cpupm $(field records/batch <<<"$line")" >>"$results"
	done
done

echo
echo "summary ($ROUNDS rounds, medians; load average $(cut -d' ' -f1-3 /proc/loadavg) at end):"
awk -v conns="$CONNECTIONS" '
	{ rate[$1, $2, $3, $4] = $5; cpu[$2, $3, $4] = cpu[$2, $3, $4] " " $6; rpb[$2, $3, $4] = rpb[$2, $3, $4] " " $7; if (!($2 in seen)) { seen[$2] = 1; order[++nc] = $2 } if ($1 > n) n = $1 }
	function median(list,   a, k, i, j, t) {
		k = split(list, a, " ")
		for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
	}
	END {
		ncs = split(conns, cs, " ")
		for (ci = 1; ci <= nc; ci++) {
			c = order[ci]
			for (k = 1; k <= ncs; k++) {
				x = cs[k]; s = ""; b = ""; ratios = ""; per = ""
				for (r = 1; r <= n; r++) {
					s = s " " rate[r, c, "sink", x]; b = b " " rate[r, c, "broker", x]
					ratio = rate[r, c, "broker", x] / rate[r, c, "sink", x]; ratios = ratios " " ratio
					per = per sprintf(" %.2f", ratio)
				}
				bm[c, x] = median(b)
				printf "  %-5s x%-3s sink %8.0f records/s, broker %8.0f records/s; broker/sink per round:%s; median broker/sink %.2f\n", c, x, median(s), median(b), per, median(ratios)
				printf "  %-5s x%-3s CPU s per million records: broker %.2f, sink %.2f; records per batch: broker %.1f, sink %.1f\n", c, x, median(cpu[c, "broker", x]), median(cpu[c, "sink", x]), median(rpb[c, "broker", x]), median(rpb[c, "sink", x])
			}
			for (k = 2; k <= ncs; k++)
				printf "  %-5s broker with %s connections / with %s: %.2f (median records/s)\n", c, cs[k], cs[1], bm[c, cs[k]] / bm[c, cs[1]]
		}
	}' "$results"
echo "  broker RSS now $(broker_mem VmRSS) MiB, peak $(broker_mem VmHWM) MiB"
echo "(broker/sink: the broker's records/s over the sink's in the same round; issue 14 aims at >= 0.80 with kgo,"
echo " the broker at 1,000 partitions keeping >= 60% of its 3-partition records/s with RSS < 300 MiB, and 200"
echo " connections within 20% of 8. CPU figures count 10 ms clock ticks: use RECORDS of 500000 or more.)"

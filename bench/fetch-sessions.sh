#!/usr/bin/env bash
# fetch-sessions.sh: what KIP-227 fetch sessions save at 1,000 partitions.
#
# Builds the skiff binary, then runs bench/fetchsessions, which starts one
# `skiff broker` process, creates a topic of PARTITIONS partitions, produces
# a steady trickle of RATE records/s round robin over them, and consumes all
# partitions with kgo and with the skiff consumer, each with and without
# fetch sessions (kgo.DisableFetchSessions, consumer.Config
# DisableFetchSessions), one after another. Every client connection goes
# through a counting proxy (the broker advertises it), which measures the
# Fetch request and response bytes per fetch; the broker's CPU per fetch is
# the utime+stime delta of its process (/proc/<pid>/stat) over the window,
# less that of a window with the producer alone, divided by the fetches.
# It prints a Markdown table.
#
# Usage (from anywhere in the repository):
#
#	bench/fetch-sessions.sh
#	PARTITIONS=1000 RATE=200 SECONDS=10 ROUNDS=2 bench/fetch-sessions.sh
#
# Settings (environment, with defaults): PARTITIONS=1000 RATE=200 SECONDS=10
# WARMUP_SECONDS=3 ROUNDS=1 (each round runs the four clients once).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/skiff" ./cmd/skiff
SKIFF_BIN="$work/skiff" go test -tags fetchsessions -count=1 -timeout 30m ./bench/fetchsessions -run TestFetchSessionsMeasure -v |
	grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok '

package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/partitioner"
)

// These tests run the broker against Kafka clients we did not write, as
// Debian packages them (see "What real clients send" in the design notes):
// kcat 1.7.1 on librdkafka 2.0.2, kafka-python 2.0.2 and
// confluent-kafka-python 1.7.0. They skip when a client is missing, unless
// CI=true: CI installs them with .ci/install-clients.sh, so there a missing
// client fails. Two broker bugs these clients found are pinned by tests that
// need no client (TestFetchEmptyPartitionSendsEmptyRecords,
// TestApiVersionsAdvertisesGroupAPIs), so they fail wherever they come back.
//
// Each client run is bounded by clientTimeout; on failure the test prints
// the tail of the client's debug log (librdkafka -d broker,protocol,
// kafka-python at DEBUG), which names the request and version that failed.

// clientTimeout bounds one client process: a client waiting forever on an
// answer the broker never sends fails the test instead of hanging it.
const clientTimeout = 30 * time.Second

// requireClient skips (locally) or fails (in CI) when a client is missing.
// Only a missing client skips: a client that is there and fails, fails.
func requireClient(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); !ci {
		t.Skipf("%s not available (%v); run .ci/install-clients.sh to test the broker against it", what, err)
	}
	t.Fatalf("%s not available in CI (%v); .ci/install-clients.sh should have installed it", what, err)
}

// outcomeTB records whether requireClient skipped or failed; both stop the
// caller, as the real ones do, by a panic the test recovers.
type outcomeTB struct {
	testing.TB
	outcome string
}

func (o *outcomeTB) Helper()               {}
func (o *outcomeTB) Skipf(string, ...any)  { o.outcome = "skip"; panic(o) }
func (o *outcomeTB) Fatalf(string, ...any) { o.outcome = "fail"; panic(o) }

// run calls f and returns "run" when it returned, else "skip" or "fail".
func (o *outcomeTB) run(f func(testing.TB)) (outcome string) {
	defer func() {
		if r := recover(); r != nil && r != o {
			panic(r)
		}
		outcome = o.outcome
	}()
	f(o)
	o.outcome = "run"
	return
}

func TestRequireClient(t *testing.T) {
	missing := errors.New("exec: \"kcat\": executable file not found in $PATH")
	tests := []struct {
		ci   string
		err  error
		want string
	}{
		{"", nil, "run"},
		{"true", nil, "run"},
		{"", missing, "skip"},
		{"false", missing, "skip"},
		{"true", missing, "fail"},
		{"1", missing, "fail"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("CI=%q/missing=%v", tt.ci, tt.err != nil), func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			o := &outcomeTB{TB: t}
			assert.Equal(t, tt.want, o.run(func(tb testing.TB) { requireClient(tb, "kcat", tt.err) }))
		})
	}
}

func kcatBinary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		// Debian before bookworm and some distributions keep the old name.
		if p, err2 := exec.LookPath("kafkacat"); err2 == nil {
			return p
		}
	}
	requireClient(t, "kcat (Debian package kcat)", err)
	return path
}

// pythonWith returns a Python interpreter that can import every module.
// Debian's python3-* packages install for /usr/bin/python3, which need not
// be the python3 first on PATH (pyenv, virtualenvs), so it is tried first.
func pythonWith(t testing.TB, pkg string, modules ...string) string {
	t.Helper()
	var errs []error
	seen := map[string]bool{}
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(c, path, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		cancel()
		if err == nil {
			return path
		}
		errs = append(errs, fmt.Errorf("%s: %s", path, lastLines(string(out), 1)))
	}
	requireClient(t, fmt.Sprintf("python modules %s (Debian package %s)", strings.Join(modules, ", "), pkg), errors.Join(errs...))
	return ""
}

// runClient runs a client to completion within clientTimeout and returns
// its stdout. A non-zero exit or a timeout fails the test with the tail of
// the client's stderr, where its debug log goes.
func runClient(t testing.TB, stdin string, bin string, args ...string) string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.WaitDelay = 2 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if c.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", clientTimeout, err)
	}
	require.NoError(t, err, "%s %s\nstdout (tail):\n%s\nstderr (tail):\n%s",
		filepath.Base(bin), strings.Join(args, " "), lastLines(stdout.String(), 20), lastLines(stderr.String(), 80))
	if testing.Verbose() {
		t.Logf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}
	return stdout.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... %d lines cut ...", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// coordinatorAPIs are the group coordinator's APIs a client looks for in
// ApiVersions before it joins a group. librdkafka also takes FindCoordinator
// as its marker for LZ4 support (rdkafka_feature.c): without it, it sends
// lz4 batches uncompressed.
var coordinatorAPIs = []int16{findCoordinatorKey, joinGroupKey, syncGroupKey, heartbeatKey, leaveGroupKey, offsetCommitKey, offsetFetchKey}

// TestApiVersionsAdvertisesGroupAPIs is a regression test: the broker once
// ran without its group coordinator wired in (Broker.groups nil, see
// broker/groups.go), so no client could join a group.
func TestApiVersionsAdvertisesGroupAPIs(t *testing.T) {
	b := startBroker(t, Config{})
	resp := dialRaw(t, b).roundTrip(kmsg.NewPtrApiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
	require.Zero(t, resp.ErrorCode)
	have := map[int16]bool{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = true
	}
	for _, key := range coordinatorAPIs {
		assert.True(t, have[key], "ApiVersions does not advertise %s: group coordinator not wired into the broker", kmsg.NameForKey(key))
	}
}

// TestFetchEmptyPartitionSendsEmptyRecords is a regression test: Fetch once
// answered a partition without data with null records (length -1 at v11)
// where Kafka sends empty ones (MemoryRecords.EMPTY, length 0). librdkafka
// 2.0.2 rejects the null set ("invalid MessageSetSize -1", a parse failure
// for the whole response) and backs off, so its consumers never reach the
// data or the partition end. The fix is in broker/01_fetch.go
// (*fetchOp).read: RecordBatches is []byte{}, not nil, for every partition,
// including errored ones.
func TestFetchEmptyPartitionSendsEmptyRecords(t *testing.T) {
	tests := []struct {
		name, topic string
		create      bool
	}{
		{"empty partition", "empty-fetch", true},
		{"errored partition", "no-such-topic", false},
	}
	b := startBroker(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.create {
				require.NoError(t, b.CreateTopic(tt.topic, 1, nil))
			}
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, 1<<20, 1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = tt.topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes, rp.LogStartOffset, rp.CurrentLeaderEpoch = 1<<20, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			// MaxWaitMillis 0: answered at once. The records are the last
			// field of a v11 response with one partition, so its last 4
			// bytes are their length.
			rc := dialRaw(t, b)
			rc.corr++
			rc.write(frame(req, 11, rc.corr))
			body, err := rc.readFrame(10 * time.Second)
			require.NoError(t, err)
			require.Greater(t, len(body), 8)
			assert.Equal(t, int32(0), int32(binary.BigEndian.Uint32(body[len(body)-4:])),
				"records length: Kafka sends an empty record set (0), librdkafka rejects a null one (-1)")
		})
	}
}

// clientRecord is one record as a client reported it.
type clientRecord struct {
	Codec     string `json:"codec,omitempty"` // producer side only
	Key       string `json:"key"`
	Value     string `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (r clientRecord) id() string {
	return fmt.Sprintf("%s=%s@%d/%d", r.Key, r.Value, r.Partition, r.Offset)
}

// checkProduced checks what a producer reported: every keyed record on
// murmur2(key) % partitions (the clients run with Java's partitioner), and
// offsets 0..n-1 on each partition, each once.
func checkProduced(t testing.TB, recs []clientRecord, partitions int32) {
	t.Helper()
	perPart := map[int32][]int64{}
	for _, r := range recs {
		assert.Equal(t, partitioner.KeyPartition([]byte(r.Key), partitions), r.Partition, "key %q", r.Key)
		perPart[r.Partition] = append(perPart[r.Partition], r.Offset)
	}
	for p, offs := range perPart {
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		for i, off := range offs {
			if !assert.EqualValues(t, i, off, "partition %d: offsets %v", p, offs) {
				break
			}
		}
	}
}

// sameRecords compares produced and consumed records by key, value,
// partition and offset, ignoring order across partitions.
func sameRecords(t testing.TB, produced, consumed []clientRecord) {
	t.Helper()
	ids := func(rs []clientRecord) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.id()
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, ids(produced), ids(consumed))
}

// checkStored reads topic back with kgo and checks that the broker kept
// each producer's batches as sent: the codec (Kafka stores batches as
// produced) and, for idempotent producers, the producer ID.
func checkStored(t testing.TB, b *Broker, topic string, produced []clientRecord, idempotent bool) {
	t.Helper()
	want := map[string]clientRecord{}
	for _, r := range produced {
		want[r.Key] = r
	}
	seen := map[string]bool{}
	for _, rec := range consumeN(t, b, topic, len(produced)) {
		p, ok := want[string(rec.Key)]
		if !assert.True(t, ok, "unexpected record key %q", rec.Key) || !assert.False(t, seen[p.Key], "key %q stored twice", rec.Key) {
			continue
		}
		seen[p.Key] = true
		assert.Equal(t, p.Value, string(rec.Value))
		assert.Equal(t, p.Partition, rec.Partition, "key %q", rec.Key)
		assert.Equal(t, p.Offset, rec.Offset, "key %q", rec.Key)
		codec, err := codecByName(p.Codec)
		require.NoError(t, err)
		assert.EqualValues(t, codec, rec.Attrs.CompressionType(), "key %q stored with another codec than produced with", rec.Key)
		if idempotent {
			assert.GreaterOrEqual(t, rec.ProducerID, int64(0), "key %q: idempotent batch without producer ID", rec.Key)
			assert.GreaterOrEqual(t, rec.ProducerEpoch, int16(0), "key %q", rec.Key)
		}
	}
}

func codecByName(name string) (compress.Codec, error) {
	switch name {
	case "", "none":
		return compress.None, nil
	case "gzip":
		return compress.Gzip, nil
	case "snappy":
		return compress.Snappy, nil
	case "lz4":
		return compress.LZ4, nil
	case "zstd":
		return compress.Zstd, nil
	}
	return 0, fmt.Errorf("unknown codec %q", name)
}

// committedOffsets asks the broker (OffsetFetch through kgo, which finds the
// coordinator) what group committed for topic's partitions.
func committedOffsets(t testing.TB, b *Broker, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), newClient(t, b))
	require.NoError(t, err)
	out := map[int32]int64{}
	require.Zero(t, resp.ErrorCode, "OffsetFetch %s", group)
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			require.Zero(t, p.ErrorCode, "OffsetFetch %s %s[%d]", group, tp.Topic, p.Partition)
			out[p.Partition] = p.Offset
		}
	}
	for _, g := range resp.Groups { // v8+ answers per group
		require.Zero(t, g.ErrorCode, "OffsetFetch %s", g.Group)
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				require.Zero(t, p.ErrorCode, "OffsetFetch %s %s[%d]", group, tp.Topic, p.Partition)
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}

// endOffsets counts the records per partition.
func endOffsets(recs []clientRecord) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		out[r.Partition] = max(out[r.Partition], r.Offset+1)
	}
	return out
}

// ---- which API versions the clients use ----

// apiUse is one request kind at one version.
type apiUse struct{ key, version int16 }

func (u apiUse) String() string { return fmt.Sprintf("%s v%d", kmsg.NameForKey(u.key), u.version) }

// apiRecorder records the key and version of every request its broker
// parses (Config.Faults sees them all and injects nothing), so a test can
// check that a client really sent the versions of the design notes' table.
type apiRecorder struct {
	mu   sync.Mutex
	seen map[apiUse]bool
}

func (r *apiRecorder) faults(key, version int16) Fault {
	r.mu.Lock()
	r.seen[apiUse{key, version}] = true
	r.mu.Unlock()
	return Fault{}
}

// during runs f and returns the requests the broker parsed meanwhile.
func (r *apiRecorder) during(f func()) map[apiUse]bool {
	r.mu.Lock()
	r.seen = map[apiUse]bool{}
	r.mu.Unlock()
	f()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = map[apiUse]bool{}
	return seen
}

// assertUsed checks that client sent every one of want.
func assertUsed(t testing.TB, client string, seen map[apiUse]bool, want ...apiUse) {
	t.Helper()
	var all []string
	for u := range seen {
		all = append(all, u.String())
	}
	sort.Strings(all)
	for _, u := range want {
		assert.True(t, seen[u], "%s did not send %v; it sent %v", client, u, all)
	}
	if testing.Verbose() {
		t.Logf("%s sent %v", client, all)
	}
}

// API keys of the design notes' table not named in apis.go.
const (
	offsetCommitKey    int16 = 8
	offsetFetchKey     int16 = 9
	findCoordinatorKey int16 = 10
	joinGroupKey       int16 = 11
	heartbeatKey       int16 = 12
	leaveGroupKey      int16 = 13
	syncGroupKey       int16 = 14
)

// clientPartitions is the partition count of every topic the clients use,
// so keyed records spread and the partitioners can be checked.
const clientPartitions = 3

// clientBroker starts a broker for one client scenario, recording the API
// versions used.
func clientBroker(t testing.TB) (*Broker, *apiRecorder) {
	t.Helper()
	rec := &apiRecorder{seen: map[apiUse]bool{}}
	return startBroker(t, Config{NumPartitions: clientPartitions, Faults: rec.faults}), rec
}

// ---- kcat (librdkafka 2.0.2) ----

// kcatDebug is librdkafka's debug contexts for kcat runs, in stderr.
var kcatDebug = []string{"-d", "broker,protocol"}

// kcatProduce produces "key:value" lines with kcat -P -K: and Kafka's
// murmur2 partitioner, so keyedLines knows where each record lands.
func kcatProduce(t testing.TB, kcat, addr, topic string, lines []string, args ...string) {
	t.Helper()
	argv := append([]string{"-P", "-b", addr, "-t", topic, "-K:", "-X", "topic.partitioner=murmur2_random"}, args...)
	argv = append(argv, kcatDebug...)
	runClient(t, strings.Join(lines, "\n")+"\n", kcat, argv...)
}

// kcatFormat prints what parseKcat reads.
const kcatFormat = `%k:%s:%p:%o\n`

// parseKcat parses kcat's -f kcatFormat output.
func parseKcat(t testing.TB, out string) []clientRecord {
	t.Helper()
	var recs []clientRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, ":")
		require.Len(t, f, 4, "kcat output line %q", line)
		p, err := strconv.ParseInt(f[2], 10, 32)
		require.NoError(t, err, "line %q", line)
		off, err := strconv.ParseInt(f[3], 10, 64)
		require.NoError(t, err, "line %q", line)
		recs = append(recs, clientRecord{Key: f[0], Value: f[1], Partition: int32(p), Offset: off})
	}
	return recs
}

// clientPad makes every value compressible: librdkafka and kafka-python
// send a batch uncompressed when compression does not shrink it, and the
// stored codec could not be checked.
var clientPad = strings.Repeat("skiff", 20)

// keyedLines returns n "key:value" lines and the records they become on a
// topic with clientPartitions partitions, placed by Kafka's murmur2.
func keyedLines(prefix, codec string, n int) ([]string, []clientRecord) {
	lines := make([]string, n)
	recs := make([]clientRecord, n)
	next := map[int32]int64{}
	for i := range n {
		k, v := fmt.Sprintf("%s-k%d", prefix, i), fmt.Sprintf("%s-v%d-%s", prefix, i, clientPad)
		lines[i] = k + ":" + v
		p := partitioner.KeyPartition([]byte(k), clientPartitions)
		recs[i] = clientRecord{Codec: codec, Key: k, Value: v, Partition: p, Offset: next[p]}
		next[p]++
	}
	return lines, recs
}

func TestKcat(t *testing.T) {
	kcat := kcatBinary(t)

	t.Run("metadata", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		addr := b.Addr()
		require.NoError(t, b.CreateTopic("kcat-meta", clientPartitions, nil))
		var out string
		seen := rec.during(func() { out = runClient(t, "", kcat, append([]string{"-L", "-J", "-b", addr}, kcatDebug...)...) })
		assertUsed(t, "kcat -L", seen, apiUse{apiVersionsKey, 3}, apiUse{metadataKey, 4})
		var md struct {
			Brokers []struct {
				ID   int32  `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
			Topics []struct {
				Topic      string `json:"topic"`
				Error      string `json:"error"`
				Partitions []struct {
					Partition int32  `json:"partition"`
					Leader    int32  `json:"leader"`
					Error     string `json:"error"`
					Replicas  []struct {
						ID int32 `json:"id"`
					} `json:"replicas"`
				} `json:"partitions"`
			} `json:"topics"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &md), "kcat -L -J output: %s", out)
		require.Len(t, md.Brokers, 1)
		assert.Equal(t, b.nodeID(), md.Brokers[0].ID)
		assert.Equal(t, addr, md.Brokers[0].Name)
		found := false
		for _, tp := range md.Topics {
			if tp.Topic != "kcat-meta" {
				continue
			}
			found = true
			assert.Empty(t, tp.Error)
			require.Len(t, tp.Partitions, clientPartitions)
			for _, p := range tp.Partitions {
				assert.Empty(t, p.Error, "partition %d", p.Partition)
				assert.Equal(t, b.nodeID(), p.Leader, "partition %d", p.Partition)
				require.Len(t, p.Replicas, 1)
				assert.Equal(t, b.nodeID(), p.Replicas[0].ID)
			}
		}
		assert.True(t, found, "kcat-meta missing from kcat -L: %s", out)

		// The human listing of one topic, as people read it.
		out = runClient(t, "", kcat, "-L", "-b", addr, "-t", "kcat-meta")
		assert.Contains(t, out, `topic "kcat-meta" with 3 partitions:`)
		assert.Contains(t, out, "1 brokers:")
	})

	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		for _, acks := range []struct{ name, prop string }{
			{"acks-all", "acks=all"},
			{"acks-1", "request.required.acks=1"},
		} {
			t.Run("produce-consume/"+codec+"/"+acks.name, func(t *testing.T) {
				t.Parallel()
				b, rec := clientBroker(t)
				topic := "kcat-" + codec + "-" + acks.name
				require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
				lines, want := keyedLines(topic, codec, 60)
				seen := rec.during(func() { kcatProduce(t, kcat, b.Addr(), topic, lines, "-z", codec, "-X", acks.prop) })
				assertUsed(t, "kcat -P", seen, apiUse{apiVersionsKey, 3}, apiUse{metadataKey, 4}, apiUse{produceKey, 7})
				// lz4 included: librdkafka sends lz4 only to a broker that
				// advertises FindCoordinator (see coordinatorAPIs).
				checkStored(t, b, topic, want, false)

				var out string
				seen = rec.during(func() {
					out = runClient(t, "", kcat, append([]string{"-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e",
						"-f", kcatFormat}, kcatDebug...)...)
				})
				assertUsed(t, "kcat -C", seen, apiUse{listOffsetsKey, 2}, apiUse{fetchKey, 11})
				sameRecords(t, want, parseKcat(t, out))
			})
		}
	}

	t.Run("group", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic, group = "kcat-group", "kcat-group"
		require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
		lines, want := keyedLines(topic, "none", 90)
		first, second := lines[:60], lines[60:]
		kcatProduce(t, kcat, b.Addr(), topic, first)

		consume := func(n int) []clientRecord {
			// -c stops after n records; closing the consumer commits the
			// offsets consumed (enable.auto.commit, the default) and
			// leaves the group.
			var out string
			seen := rec.during(func() {
				out = runClient(t, "", kcat, append([]string{"-b", b.Addr(), "-G", group, "-X", "auto.offset.reset=earliest",
					"-c", strconv.Itoa(n), "-f", kcatFormat, topic}, kcatDebug...)...)
			})
			assertUsed(t, "kcat -G", seen, apiUse{findCoordinatorKey, 2}, apiUse{joinGroupKey, 5}, apiUse{syncGroupKey, 3},
				apiUse{fetchKey, 11}, apiUse{offsetCommitKey, 7}, apiUse{leaveGroupKey, 1})
			return parseKcat(t, out)
		}
		got := consume(len(first))
		sameRecords(t, want[:len(first)], got)
		assert.Equal(t, endOffsets(got), committedOffsets(t, b, group, topic, clientPartitions), "offsets committed by kcat -G on close")

		// The next member of the group resumes from the commits: it sees
		// only the records produced since.
		kcatProduce(t, kcat, b.Addr(), topic, second)
		sameRecords(t, want[len(first):], consume(len(second)))
		assert.Equal(t, endOffsets(want), committedOffsets(t, b, group, topic, clientPartitions))
	})
}

// ---- kafka-python 2.0.2 ----

func kafkaPython(t testing.TB) string {
	t.Helper()
	return pythonWith(t, "python3-kafka, python3-lz4, python3-snappy", "kafka", "lz4.frame", "snappy")
}

// runScript runs a client script of testdata/clients and returns its
// stdout, one JSON object.
func runScript(t testing.TB, py, script string, args ...string) []byte {
	t.Helper()
	return []byte(runClient(t, "", py, append([]string{filepath.Join("testdata", "clients", script)}, args...)...))
}

func TestKafkaPython(t *testing.T) {
	py := kafkaPython(t)
	parts := strconv.Itoa(clientPartitions)

	t.Run("basic", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic, perCodec = "kafka-python", 20
		var out []byte
		seen := rec.during(func() {
			out = runScript(t, py, "kafka_python_client.py", "--bootstrap", b.Addr(), "--topic", topic,
				"--partitions", parts, "--count", strconv.Itoa(perCodec), "--codecs", "none,gzip,lz4,snappy", "--debug")
		})
		assertUsed(t, "kafka-python", seen, apiUse{apiVersionsKey, 0}, apiUse{metadataKey, 0}, apiUse{metadataKey, 1}, apiUse{metadataKey, 5},
			apiUse{createTopicsKey, 3}, apiUse{produceKey, 7}, apiUse{fetchKey, 4}, apiUse{listOffsetsKey, 1})
		var res struct {
			CreateVersion  int             `json:"create_version"`
			CreateErrors   [][]any         `json:"create_errors"`
			DuplicateError *string         `json:"duplicate_error"`
			Topics         []string        `json:"topics"`
			APIVersion     []int           `json:"api_version"`
			Produced       []clientRecord  `json:"produced"`
			Consumed       []clientRecord  `json:"consumed"`
			Beginning      map[int32]int64 `json:"beginning"`
			End            map[int32]int64 `json:"end"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "kafka_python_client.py output: %s", out)
		t.Logf("kafka-python inferred broker version %v", res.APIVersion)

		assert.Equal(t, 3, res.CreateVersion)
		require.Len(t, res.CreateErrors, 1)
		assert.Equal(t, []any{topic, float64(0)}, res.CreateErrors[0])
		if assert.NotNil(t, res.DuplicateError, "creating %s twice succeeded", topic) {
			assert.Equal(t, "TopicAlreadyExistsError", *res.DuplicateError)
		}
		assert.Contains(t, res.Topics, topic)

		require.Len(t, res.Produced, 4*perCodec)
		checkProduced(t, res.Produced, clientPartitions)
		sameRecords(t, res.Produced, res.Consumed)
		wantEnd := endOffsets(res.Produced)
		for p := range int32(clientPartitions) {
			assert.Zero(t, res.Beginning[p], "beginning offset of partition %d", p)
			assert.Equal(t, wantEnd[p], res.End[p], "end offset of partition %d", p)
		}
		checkStored(t, b, topic, res.Produced, false)
	})

	t.Run("group", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic, group = "kafka-python-group", "kafka-python-group"
		require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
		var out []byte
		seen := rec.during(func() {
			out = runScript(t, py, "kafka_python_client.py", "--bootstrap", b.Addr(), "--topic", topic, "--mode", "group",
				"--group", group, "--partitions", parts, "--count", "40", "--debug")
		})
		assertUsed(t, "kafka-python", seen, apiUse{findCoordinatorKey, 0}, apiUse{joinGroupKey, 2}, apiUse{syncGroupKey, 1},
			apiUse{offsetCommitKey, 2}, apiUse{offsetFetchKey, 1}, apiUse{leaveGroupKey, 1})
		var res struct {
			Produced   []clientRecord  `json:"produced"`
			Consumed   []clientRecord  `json:"consumed"`
			Assignment []int32         `json:"assignment"`
			Committed  map[int32]int64 `json:"committed"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "kafka_python_client.py output: %s", out)
		checkProduced(t, res.Produced, clientPartitions)
		sameRecords(t, res.Produced, res.Consumed)
		assert.Equal(t, []int32{0, 1, 2}, res.Assignment, "the only member gets every partition")
		end := endOffsets(res.Produced)
		for p := range int32(clientPartitions) {
			assert.Equal(t, end[p], res.Committed[p], "committed offset of partition %d as kafka-python read it", p)
		}
		assert.Equal(t, end, committedOffsets(t, b, group, topic, clientPartitions))
	})
}

// ---- confluent-kafka-python 1.7.0 (librdkafka 2.0.2) ----

func TestConfluentKafkaPython(t *testing.T) {
	py := pythonWith(t, "python3-confluent-kafka", "confluent_kafka")
	parts := strconv.Itoa(clientPartitions)

	t.Run("basic", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic = "confluent"
		args := []string{"--bootstrap", b.Addr(), "--topic", topic,
			"--partitions", parts, "--count", "50", "--codec", "zstd", "--debug", "broker,protocol,eos"}
		var out []byte
		seen := rec.during(func() { out = runScript(t, py, "confluent_client.py", args...) })
		assertUsed(t, "confluent-kafka", seen, apiUse{apiVersionsKey, 3}, apiUse{metadataKey, 4}, apiUse{createTopicsKey, 4},
			apiUse{initProducerIDKey, 4}, apiUse{produceKey, 7})
		var res struct {
			DuplicateError *string            `json:"duplicate_error"`
			Topics         map[string]int     `json:"topics"`
			Brokers        []string           `json:"brokers"`
			Produced       []clientRecord     `json:"produced"`
			Consumed       []clientRecord     `json:"consumed"`
			ConsumeErrors  []string           `json:"consume_errors"`
			Watermarks     map[int32][2]int64 `json:"watermarks"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "confluent_client.py output: %s", out)
		if assert.NotNil(t, res.DuplicateError, "creating %s twice succeeded", topic) {
			assert.Equal(t, "TOPIC_ALREADY_EXISTS", *res.DuplicateError)
		}
		assert.Equal(t, clientPartitions, res.Topics[topic])
		assert.Equal(t, []string{fmt.Sprintf("%d@%s", b.nodeID(), b.Addr())}, res.Brokers)

		require.Len(t, res.Produced, 50)
		checkProduced(t, res.Produced, clientPartitions)
		checkStored(t, b, topic, res.Produced, true)

		assertUsed(t, "confluent-kafka", seen, apiUse{listOffsetsKey, 2}, apiUse{fetchKey, 11})
		assert.Empty(t, res.ConsumeErrors)
		sameRecords(t, res.Produced, res.Consumed)
		end := endOffsets(res.Produced)
		for p := range int32(clientPartitions) {
			assert.Equal(t, [2]int64{0, end[p]}, res.Watermarks[p], "low/high watermark of partition %d", p)
		}
	})

	t.Run("group", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic, group = "confluent-group", "confluent-group"
		require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
		var out []byte
		seen := rec.during(func() {
			out = runScript(t, py, "confluent_client.py", "--bootstrap", b.Addr(), "--topic", topic, "--mode", "group",
				"--group", group, "--partitions", parts, "--count", "40", "--codec", "lz4", "--debug", "broker,protocol,cgrp")
		})
		assertUsed(t, "confluent-kafka", seen, apiUse{findCoordinatorKey, 2}, apiUse{joinGroupKey, 5}, apiUse{syncGroupKey, 3},
			apiUse{offsetCommitKey, 7}, apiUse{offsetFetchKey, 7}, apiUse{leaveGroupKey, 1})
		var res struct {
			Produced      []clientRecord  `json:"produced"`
			Consumed      []clientRecord  `json:"consumed"`
			ConsumeErrors []string        `json:"consume_errors"`
			Assignment    []int32         `json:"assignment"`
			Committed     map[int32]int64 `json:"committed"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "confluent_client.py output: %s", out)
		checkProduced(t, res.Produced, clientPartitions)
		assert.Empty(t, res.ConsumeErrors)
		sameRecords(t, res.Produced, res.Consumed)
		assert.Equal(t, []int32{0, 1, 2}, res.Assignment, "the only member gets every partition")
		end := endOffsets(res.Produced)
		for p := range int32(clientPartitions) {
			assert.Equal(t, end[p], res.Committed[p], "committed offset of partition %d as librdkafka read it", p)
		}
		assert.Equal(t, end, committedOffsets(t, b, group, topic, clientPartitions))
		checkStored(t, b, topic, res.Produced, true)
	})
}

//go:build soak

// The soak test runs the bundled broker as a child process, SIGKILLs and
// restarts it on a fixed cadence while idempotent producers write keyed
// sequences and a consumer group reads them, then checks the whole log with
// a client we did not write (kgo). It is behind the `soak` build tag: it runs
// for minutes and writes gigabytes.
//
//	go test -tags soak -run TestSoak -timeout 60m -v ./cmd/skiff -soak.duration 5m
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
)

var (
	soakDuration   = flag.Duration("soak.duration", 5*time.Minute, "how long the producers write")
	soakKillEvery  = flag.Duration("soak.kill-every", 60*time.Second, "SIGKILL and restart the broker this often")
	soakPartitions = flag.Int("soak.partitions", 200, "partitions of the soak topic")
	soakProducers  = flag.Int("soak.producers", 8, "idempotent producers")
	soakMembers    = flag.Int("soak.members", 4, "consumer group members")
	soakKeys       = flag.Int("soak.keys", 64, "keys per producer")
	soakRate       = flag.Int("soak.rate", 5000, "records/s per producer")
)

const soakTopic = "soak"

// TestSoakBrokerChild is the broker process the soak test starts, kills and
// restarts. It does nothing unless started by TestSoak.
func TestSoakBrokerChild(t *testing.T) {
	args := os.Getenv("SKIFF_SOAK_BROKER_ARGS")
	if args == "" {
		t.Skip("started by TestSoak only")
	}
	heapFile := os.Getenv("SKIFF_SOAK_HEAP_FILE")
	go func() { // killed with the process: SIGKILL is the only way out
		f, err := os.OpenFile(heapFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		var ms runtime.MemStats
		for range time.Tick(2 * time.Second) {
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(f, "%d %d\n", time.Now().Unix(), ms.HeapInuse)
		}
	}()
	os.Exit(brokerMain(context.Background(), strings.Fields(args), os.Stdout, os.Stderr))
}

// soakBroker is the child broker process: same port and data directory on
// every restart, as a real broker behind a fixed address.
type soakBroker struct {
	t        *testing.T
	addr     string
	dataDir  string
	heapFile string

	mu       sync.Mutex
	cmd      *exec.Cmd
	restarts int
	rssMax   int64
	rss      []string // "t=..s rss=..MiB heap=..MiB" samples
}

func (b *soakBroker) start() {
	b.t.Helper()
	_ = os.Remove(b.heapFile) // samples of the killed process are stale
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSoakBrokerChild$")
	cmd.Env = append(os.Environ(),
		"SKIFF_SOAK_BROKER_ARGS="+fmt.Sprintf("--listen %s --data %s --partitions %d --fsync interval",
			b.addr, b.dataDir, *soakPartitions),
		"SKIFF_SOAK_HEAP_FILE="+b.heapFile)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b.t, err)
	cmd.Stderr = os.Stderr
	require.NoError(b.t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "listening") {
			break
		}
	}
	go func() { // drain so the child never blocks on a full pipe
		for sc.Scan() {
		}
	}()
	b.mu.Lock()
	b.cmd = cmd
	b.mu.Unlock()
}

func (b *soakBroker) kill() {
	b.mu.Lock()
	cmd := b.cmd
	b.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

func (b *soakBroker) sample(start time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rss := readRSS(b.cmd.Process.Pid)
	if rss > b.rssMax {
		b.rssMax = rss
	}
	b.rss = append(b.rss, fmt.Sprintf("t=%3.0fs rss=%dMiB heap=%dMiB",
		time.Since(start).Seconds(), rss>>20, lastHeap(b.heapFile)>>20))
}

func readRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func lastHeap(path string) int64 {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) == 2 {
		n, _ := strconv.ParseInt(f[1], 10, 64)
		return n
	}
	return 0
}

// keyState is one key's sequence as the producers and the group saw it.
type keyState struct {
	acked      int64 // highest sequence acknowledged; -1 for none
	failed     map[int64]bool
	seen       int64 // highest sequence the group delivered; -1 for none
	deliveries int64
	rewinds    int64 // deliveries at or below seen: redelivery
	gaps       int64 // a sequence skipped that was not failed: loss or reorder
}

type soakState struct {
	mu   sync.Mutex
	keys map[string]*keyState
}

func (s *soakState) key(k string) *keyState {
	ks := s.keys[k]
	if ks == nil {
		ks = &keyState{acked: -1, seen: -1, failed: map[int64]bool{}}
		s.keys[k] = ks
	}
	return ks
}

func TestSoak(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	b := &soakBroker{t: t, addr: addr, dataDir: filepath.Join(dir, "data"), heapFile: filepath.Join(dir, "heap")}
	b.start()
	defer b.kill()

	st := &soakState{keys: map[string]*keyState{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()

	// The group first, so it reads while the producers write.
	var (
		groupWG   sync.WaitGroup
		delivered atomic.Int64
	)
	groupCtx, stopGroup := context.WithCancel(ctx)
	for m := 0; m < *soakMembers; m++ {
		c, err := consumer.New(consumer.Config{
			Brokers: []string{addr}, GroupID: "soak", Topics: []string{soakTopic},
			AutoOffsetReset: "earliest", AutoCommitInterval: time.Second,
		})
		require.NoError(t, err)
		groupWG.Add(1)
		go func() {
			defer groupWG.Done()
			defer c.Close(context.Background())
			for groupCtx.Err() == nil {
				recs, err := c.Poll(groupCtx)
				if err != nil && groupCtx.Err() == nil {
					t.Logf("poll: %v", err)
				}
				st.mu.Lock()
				for _, r := range recs {
					seq := int64(binary.BigEndian.Uint64(r.Value))
					ks := st.key(string(r.Key))
					ks.deliveries++
					switch {
					case seq <= ks.seen:
						ks.rewinds++
					case seq == ks.seen+1:
						ks.seen = seq
					default:
						for s := ks.seen + 1; s < seq; s++ {
							if !ks.failed[s] {
								ks.gaps++
								break
							}
						}
						ks.seen = seq
					}
				}
				st.mu.Unlock()
				delivered.Add(int64(len(recs)))
			}
		}()
	}

	// Producers: each owns its keys and sends each key's sequence in order.
	codecs := []producer.Compression{producer.CompressionNone, producer.CompressionLZ4,
		producer.CompressionZstd, producer.CompressionSnappy, producer.CompressionGzip}
	var (
		prodWG          sync.WaitGroup
		sent, ok, fails atomic.Int64
	)
	prodCtx, stopProducers := context.WithTimeout(ctx, *soakDuration)
	defer stopProducers()
	for p := 0; p < *soakProducers; p++ {
		pr, err := producer.New(producer.Config{
			Brokers: []string{addr}, Acks: producer.AcksAll, Compression: codecs[p%len(codecs)],
			Linger: 5 * time.Millisecond,
		})
		require.NoError(t, err)
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			defer pr.Close(context.Background())
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			perTick := *soakRate / 100
			var next int64
			value := make([]byte, 100)
			for prodCtx.Err() == nil {
				select {
				case <-tick.C:
				case <-prodCtx.Done():
					return
				}
				for i := 0; i < perTick; i++ {
					key := fmt.Sprintf("p%d-k%d", p, int(next)%*soakKeys)
					seq := next / int64(*soakKeys)
					next++
					binary.BigEndian.PutUint64(value, uint64(seq))
					sent.Add(1)
					err := pr.Send(ctx, producer.Record{Topic: soakTopic, Key: []byte(key), Value: value},
						func(_ producer.RecordMetadata, err error) {
							st.mu.Lock()
							ks := st.key(key)
							if err != nil {
								ks.failed[seq] = true
								fails.Add(1)
							} else {
								if seq > ks.acked {
									ks.acked = seq
								}
								ok.Add(1)
							}
							st.mu.Unlock()
						})
					if err != nil {
						st.mu.Lock()
						st.key(key).failed[seq] = true
						st.mu.Unlock()
						fails.Add(1)
					}
				}
			}
		}()
	}

	// Kill and restart on the cadence; sample RSS and heap between.
	kill := time.NewTicker(*soakKillEvery)
	sample := time.NewTicker(5 * time.Second)
loop:
	for {
		select {
		case <-prodCtx.Done():
			break loop
		case <-sample.C:
			b.sample(start)
		case <-kill.C:
			b.kill()
			b.restarts++
			b.start()
			t.Logf("t=%.0fs restart %d: sent %d acked %d failed %d delivered %d",
				time.Since(start).Seconds(), b.restarts, sent.Load(), ok.Load(), fails.Load(), delivered.Load())
		}
	}
	kill.Stop()
	prodWG.Wait()

	// Let the group catch up with every acknowledged sequence.
	caughtUp := func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		for _, ks := range st.keys {
			if ks.seen < ks.acked {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(3 * time.Minute)
	for !caughtUp() && time.Now().Before(deadline) {
		b.sample(start)
		time.Sleep(time.Second)
	}
	stopGroup()
	groupWG.Wait()
	assert.True(t, caughtUp(), "the group did not read every acknowledged record")

	// The whole log, read by kgo: every acknowledged sequence once, in order.
	dups, losses, disorder, stored := verifyLog(t, addr, st)

	st.mu.Lock()
	var rewinds, gaps, deliveries int64
	for _, ks := range st.keys {
		rewinds += ks.rewinds
		gaps += ks.gaps
		deliveries += ks.deliveries
	}
	st.mu.Unlock()
	t.Logf("RSS/heap samples:\n%s", strings.Join(b.rss, "\n"))
	summary := fmt.Sprintf("soak %s, %d restarts: sent %d, acked %d, failed %d, stored %d, verified %d; duplicates %d, losses %d, out of order %d; group deliveries %d (redelivered %d, gaps %d); broker max RSS %d MiB",
		*soakDuration, b.restarts, sent.Load(), ok.Load(), fails.Load(), stored, ok.Load()-losses,
		dups, losses, disorder, deliveries, rewinds, gaps, b.rssMax>>20)
	t.Log(summary)
	fmt.Println(summary)
	assert.Zero(t, dups, "duplicates")
	assert.Zero(t, losses, "acknowledged records lost")
	assert.Zero(t, disorder, "records out of order")
	assert.Zero(t, gaps, "group skipped records")
	assert.Less(t, b.rssMax, int64(1<<30), "broker RSS")
}

// verifyLog reads every partition from the start to its high watermark with
// kgo and checks each key's sequences against what the producers saw.
func verifyLog(t *testing.T, addr string, st *soakState) (dups, losses, disorder, stored int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = soakTopic
	for p := 0; p < *soakPartitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = int32(p)
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, admin)
	admin.Close()
	require.NoError(t, err)
	ends := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for _, p := range resp.Topics[0].Partitions {
		require.Zero(t, p.ErrorCode)
		if p.Offset > 0 {
			ends[p.Partition] = p.Offset
			offsets[p.Partition] = kgo.NewOffset().AtStart()
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{soakTopic: offsets}))
	require.NoError(t, err)
	defer cl.Close()

	last := map[string]int64{}
	seen := map[string]map[int64]bool{}
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading the log back")
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := ends[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset == end-1 {
				delete(ends, r.Partition)
			}
			stored++
			k := string(r.Key)
			seq := int64(binary.BigEndian.Uint64(r.Value))
			if seen[k] == nil {
				seen[k] = map[int64]bool{}
				last[k] = -1
			}
			if seen[k][seq] {
				dups++
				return
			}
			seen[k][seq] = true
			if seq < last[k] {
				disorder++
			}
			last[k] = seq
		})
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, ks := range st.keys {
		for s := int64(0); s <= ks.acked; s++ {
			if !ks.failed[s] && !seen[k][s] {
				losses++
			}
		}
	}
	return dups, losses, disorder, stored
}

//go:build fetchsessions

// Package fetchsessions measures what KIP-227 fetch sessions save at 1,000
// partitions: Fetch request and response bytes per fetch, and the CPU a
// separate `skiff broker` process spends per fetch, for kgo and the skiff
// consumer, each with and without sessions. It is run by
// bench/fetch-sessions.sh, which builds the skiff binary and passes it in
// SKIFF_BIN. It is a measurement, not a unit test, so it builds only with
// the fetchsessions tag and is not part of `go test ./...`.
//
// One broker process serves every run. Its clients reach it through a
// counting proxy (the broker advertises the proxy's address, so every
// connection goes through it), which adds up the Fetch request frames a
// client writes and the response frames that answer them. Broker CPU is
// utime+stime from /proc/<pid>/stat over the measured window, less the
// CPU of a window with the producer alone (the trickle's own cost),
// divided by the fetches in the window.
package fetchsessions

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/consumer"
)

// settings from the environment, with defaults.
func setting(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestFetchSessionsMeasure(t *testing.T) {
	bin := os.Getenv("SKIFF_BIN")
	if bin == "" {
		t.Fatal("SKIFF_BIN is not set: run bench/fetch-sessions.sh, which builds the skiff binary")
	}
	var (
		partitions = int32(setting("PARTITIONS", 1000))
		rate       = setting("RATE", 200) // records/s, round robin over the partitions
		window     = time.Duration(setting("SECONDS", 10)) * time.Second
		warmup     = time.Duration(setting("WARMUP_SECONDS", 3)) * time.Second
		rounds     = setting("ROUNDS", 1)
	)

	px := startProxy(t)
	pid := startBroker(t, bin, px)
	admin, err := kgo.NewClient(kgo.SeedBrokers(px.addr()))
	require.NoError(t, err)
	defer admin.Close()
	createTopic(t, admin, "fs", partitions)

	// The trickle: RATE records/s, one at a time, round robin.
	prod, err := kgo.NewClient(kgo.SeedBrokers(px.addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	require.NoError(t, err)
	defer prod.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var produced atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for p := int32(0); ; p = (p + 1) % partitions {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			prod.Produce(ctx, &kgo.Record{Topic: "fs", Partition: p, Value: []byte("trickle-record-0123456789")}, func(_ *kgo.Record, err error) {
				if err == nil {
					produced.Add(1)
				}
			})
		}
	}()
	defer wg.Wait()
	defer cancel()

	// The trickle alone: what the broker spends without a consumer.
	time.Sleep(warmup)
	cpu0 := brokerCPU(t, pid)
	time.Sleep(window)
	base := brokerCPU(t, pid) - cpu0

	type result struct {
		name                  string
		fetches               int64
		reqBytes, respBytes   int64
		cpu                   time.Duration
		records               int64
		perFetchCPU, reqPerFt float64
	}
	var results []result
	variants := []struct {
		name string
		run  func(ctx context.Context, records *atomic.Int64)
	}{
		{"kgo, sessions", kgoConsumer(px.addr(), false)},
		{"kgo, DisableFetchSessions", kgoConsumer(px.addr(), true)},
		{"skiff consumer, sessions", skiffConsumer(px.addr(), partitions, false)},
		{"skiff consumer, DisableFetchSessions", skiffConsumer(px.addr(), partitions, true)},
	}
	for range rounds {
		for _, v := range variants {
			vctx, vcancel := context.WithCancel(ctx)
			var records atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				v.run(vctx, &records)
			}()
			time.Sleep(warmup) // the first, full fetch and the catch-up are not the steady state
			f0, q0, r0, c0, n0 := px.fetches.Load(), px.reqBytes.Load(), px.respBytes.Load(), brokerCPU(t, pid), records.Load()
			time.Sleep(window)
			f1, q1, r1, c1, n1 := px.fetches.Load(), px.reqBytes.Load(), px.respBytes.Load(), brokerCPU(t, pid), records.Load()
			vcancel()
			<-done
			res := result{name: v.name, fetches: f1 - f0, reqBytes: q1 - q0, respBytes: r1 - r0, cpu: c1 - c0 - base, records: n1 - n0}
			results = append(results, res)
		}
	}

	fmt.Printf("\n%d partitions, %d records/s trickle, %v windows after %v warm-up; broker CPU without a consumer: %v per %v (subtracted)\n\n",
		partitions, rate, window, warmup, base, window)
	fmt.Printf("| client | fetches/s | Fetch request bytes/fetch | response bytes/fetch | broker CPU µs/fetch | records/s |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.fetches == 0 {
			fmt.Printf("| %s | 0 | – | – | – | %d |\n", r.name, r.records)
			continue
		}
		fmt.Printf("| %s | %.1f | %d | %d | %.0f | %.0f |\n", r.name,
			float64(r.fetches)/window.Seconds(), r.reqBytes/r.fetches, r.respBytes/r.fetches,
			float64(r.cpu.Microseconds())/float64(r.fetches), float64(r.records)/window.Seconds())
	}
	fmt.Println()
}

func kgoConsumer(addr string, disable bool) func(ctx context.Context, records *atomic.Int64) {
	return func(ctx context.Context, records *atomic.Int64) {
		opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics("fs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd())}
		if disable {
			opts = append(opts, kgo.DisableFetchSessions())
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			panic(err)
		}
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			records.Add(int64(fs.NumRecords()))
		}
	}
}

func skiffConsumer(addr string, partitions int32, disable bool) func(ctx context.Context, records *atomic.Int64) {
	return func(ctx context.Context, records *atomic.Int64) {
		ps := make([]consumer.TopicPartitionOffset, partitions)
		for i := range ps {
			ps[i] = consumer.TopicPartitionOffset{Partition: int32(i), Offset: consumer.OffsetLatest, LeaderEpoch: -1}
		}
		c, err := consumer.New(consumer.Config{
			Brokers:              []string{addr},
			Assign:               map[string][]consumer.TopicPartitionOffset{"fs": ps},
			DisableFetchSessions: disable,
		})
		if err != nil {
			panic(err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Close(cctx)
		}()
		for ctx.Err() == nil {
			recs, _ := c.Poll(ctx)
			records.Add(int64(len(recs)))
		}
	}
}

func createTopic(t testing.TB, cl *kgo.Client, topic string, partitions int32) {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 60_000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)
}

// startBroker runs `skiff broker` advertising the proxy's address, points
// the proxy at it, and returns its pid; it is stopped with SIGINT at
// cleanup.
func startBroker(t testing.TB, bin string, px *proxy) int {
	cmd := exec.Command(bin, "broker", "--listen", "127.0.0.1:0", "--advertised", px.addr(), "--data", filepath.Join(t.TempDir(), "data"))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			px.target = strings.Fields(addr)[0]
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return cmd.Process.Pid
		}
	}
	t.Fatalf("skiff broker did not print its address: %v", sc.Err())
	return 0
}

// brokerCPU is the broker process's user+system CPU so far.
func brokerCPU(t testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// Fields after the command name (which is in parentheses): utime
	// and stime are the 12th and 13th, in clock ticks (USER_HZ, 100).
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	require.NoError(t, err1)
	require.NoError(t, err2)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// proxy forwards client connections to the broker and counts the Fetch
// request frames and their responses.
type proxy struct {
	ln     net.Listener
	target string

	fetches, reqBytes, respBytes atomic.Int64
}

func startProxy(t testing.TB) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go p.accept()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *proxy) serve(client net.Conn) {
	defer client.Close()
	broker, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer broker.Close()
	var fetchCorr sync.Map // correlation ids of Fetch requests in flight
	go func() {
		defer broker.Close()
		defer client.Close()
		copyFrames(broker, client, func(frame []byte) {
			if len(frame) >= 8 && binary.BigEndian.Uint16(frame) == 1 {
				p.fetches.Add(1)
				p.reqBytes.Add(int64(len(frame) + 4))
				fetchCorr.Store(binary.BigEndian.Uint32(frame[4:]), true)
			}
		})
	}()
	copyFrames(client, broker, func(frame []byte) {
		if len(frame) >= 4 {
			if _, ok := fetchCorr.LoadAndDelete(binary.BigEndian.Uint32(frame)); ok {
				p.respBytes.Add(int64(len(frame) + 4))
			}
		}
	})
}

// copyFrames copies size-prefixed frames from src to dst, one write each,
// showing each frame (without its size) to see.
func copyFrames(dst io.Writer, src io.Reader, see func([]byte)) {
	r := bufio.NewReaderSize(src, 64<<10)
	buf := make([]byte, 4, 64<<10)
	for {
		if _, err := io.ReadFull(r, buf[:4]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(buf))
		if cap(buf) < 4+n {
			buf = append(buf[:4], make([]byte, n)...)
		}
		buf = buf[:4+n]
		if _, err := io.ReadFull(r, buf[4:]); err != nil {
			return
		}
		see(buf[4:])
		if _, err := dst.Write(buf); err != nil {
			return
		}
	}
}

//go:build linux

package broker

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/internal/reqframe"
	"github.com/skiffkit/skiff/kerr"
)

// wireBytes is the frame as the writer puts it on the wire: the in-memory
// runs with the slices' file bytes spliced in.
func (f *fetchFrame) wireBytes(tb testing.TB) []byte {
	tb.Helper()
	buf := *f.buf
	var out []byte
	prev := 0
	for i := range f.splices {
		sp := &f.splices[i]
		out = append(out, buf[prev:sp.at]...)
		prev = sp.at
		var err error
		out, err = sp.sl.AppendTo(out)
		require.NoError(tb, err)
	}
	return append(out, buf[prev:]...)
}

// randomTags sets up to two unknown tags on t.
func randomTags(rng *rand.Rand, t *kmsg.Tags) {
	for range rng.IntN(3) {
		t.Set(uint32(10+rng.IntN(20)), []byte(strconv.Itoa(rng.IntN(1000))))
	}
}

// TestFetchFrameMatchesKmsg: the zero-copy encoder writes, for every Fetch
// version the broker serves, exactly the frame kmsg writes with the batches
// in RecordBatches, whatever fields and tags the response carries.
func TestFetchFrameMatchesKmsg(t *testing.T) {
	l, err := log.Open(t.TempDir(), log.Config{SegmentBytes: 3000, IndexIntervalBytes: 200})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	for i := range 30 {
		var bb batch.Builder
		bb.Reset(nil, 1700000000000)
		for j := range 1 + i%5 {
			batch.Append[batch.RecordHeader](&bb, 1700000000000+int64(j), []byte("k"), bytes.Repeat([]byte{byte('a' + i%26)}, 50+i*7), nil)
		}
		_, err := l.Append(append([]byte(nil), bb.Finish(batch.NoProducer)...), time.Now())
		require.NoError(t, err)
	}
	minV, maxV := int16(4), int16(18)
	rng := rand.New(rand.NewPCG(7, 7))
	for v := minV; v <= maxV; v++ {
		for round := range 40 {
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(v)
			resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = rng.Int32N(100), int16(rng.IntN(3)), rng.Int32()
			if rng.IntN(3) == 0 {
				randomTags(rng, &resp.UnknownTags)
			}
			if rng.IntN(3) == 0 {
				for k := range 1 + rng.IntN(2) {
					b := kmsg.NewFetchResponseBroker()
					b.NodeID, b.Host, b.Port = int32(k), "host-"+strconv.Itoa(k), 9092
					if k == 1 {
						b.Rack = kmsg.StringPtr("rack")
					}
					randomTags(rng, &b.UnknownTags)
					resp.Brokers = append(resp.Brokers, b)
				}
			}
			var parts []regionPart
			var slices []log.Slice
			var regionOf []*kmsg.FetchResponseTopicPartition
			marks := make([]byte, 16)
			for ti := range rng.IntN(3) {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic = "topic-" + strconv.Itoa(ti)
				rt.TopicID = [16]byte{byte(ti), 1, 2, 3}
				randomTags(rng, &rt.UnknownTags)
				rt.Partitions = make([]kmsg.FetchResponseTopicPartition, rng.IntN(4))
				resp.Topics = append(resp.Topics, rt)
			}
			for ti := range resp.Topics {
				for pi := range resp.Topics[ti].Partitions {
					sp := &resp.Topics[ti].Partitions[pi]
					sp.Default()
					sp.Partition, sp.ErrorCode = int32(pi), int16(rng.IntN(2))
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = rng.Int64(), rng.Int64(), rng.Int64()
					sp.PreferredReadReplica = rng.Int32N(3) - 1
					switch rng.IntN(3) {
					case 0:
						sp.AbortedTransactions = nil
					case 1:
						sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
					default:
						for range 1 + rng.IntN(2) {
							a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
							a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
							randomTags(rng, &a.UnknownTags)
							sp.AbortedTransactions = append(sp.AbortedTransactions, a)
						}
					}
					if rng.IntN(4) == 0 {
						sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = 3, 99
					}
					if rng.IntN(4) == 0 {
						sp.CurrentLeader.LeaderID = 1
						randomTags(rng, &sp.CurrentLeader.UnknownTags)
					}
					if rng.IntN(4) == 0 {
						sp.SnapshotID.Epoch = 2
					}
					randomTags(rng, &sp.UnknownTags)
					switch rng.IntN(4) {
					case 0:
						sp.RecordBatches = nil
					case 1:
						sp.RecordBatches = []byte{}
					default:
						// From the log: read with ReadSlices, spanning
						// segments now and then.
						from := len(slices)
						slices, err = l.ReadSlices(rng.Int64N(l.EndOffset()), 1+rng.IntN(6000), slices)
						require.NoError(t, err)
						sp.RecordBatches = nil
						for k := from; k < len(slices); k++ {
							sp.RecordBatches, err = slices[k].AppendTo(sp.RecordBatches)
							require.NoError(t, err)
						}
						if len(slices) > from {
							parts = append(parts, regionPart{mark: &marks[len(parts)], from: from, to: len(slices)})
							regionOf = append(regionOf, sp)
						}
					}
				}
			}
			want := reqframe.AppendResponse(nil, int32(round), resp)
			for k, sp := range regionOf {
				sp.RecordBatches = marks[k : k+1 : k+1]
			}
			f := encodeFetchFrame(int32(round), resp, parts, slices)
			for k := range slices {
				assert.Equal(t, log.Slice{}, slices[k], "the frame took slice %d over", k)
			}
			got := f.wireBytes(t)
			require.Equal(t, want, got, "version %d round %d", v, round)
			assert.Equal(t, int64(len(want)), f.size)
			f.release()
		}
	}
}

// failOnError is a produce promise that fails the test on an error.
func failOnError(t testing.TB) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		if err != nil {
			t.Errorf("produce to %s[%d]: %v", r.Topic, r.Partition, err)
		}
	}
}

// fetchAt builds a Fetch of every partition of topics from offset 0.
func fetchAt(topics map[string][16]byte, parts int32, maxBytes, partMax int32, isolation int8) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes, req.IsolationLevel = maxBytes, isolation
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = name, topics[name]
		for p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes = p, partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TestZeroCopyFetchMatchesTLSCopy fetches the same data through the
// PLAINTEXT and SASL_PLAINTEXT listeners (sendfile) and an SSL one
// (copying) of one broker: the answers are the same bytes, for every
// version, isolation level and size limit, while only the plaintext ones
// went through sendfile.
//
// With every range sent through sendfile (sendfileMin 1), every record
// byte goes that way; with the default, the ranges of this test, all
// below defaultSendfileMin, are copied into the answer, which leaves in
// one write: the same bytes either way.
func TestZeroCopyFetchMatchesTLSCopy(t *testing.T) {
	for _, tc := range []struct {
		name string
		min  int64
	}{{"sendfile every range", 1}, {"copy small ranges", 0}} {
		t.Run(tc.name, func(t *testing.T) { testZeroCopyFetchMatchesTLSCopy(t, tc.min) })
	}
}

func testZeroCopyFetchMatchesTLSCopy(t *testing.T, sendfileMin int64) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		func(c *Config) { c.sendfileMin = sendfileMin })
	seg := map[string]string{"segment.bytes": "4096"}
	require.NoError(t, sb.CreateTopic("a", 3, seg))
	require.NoError(t, sb.CreateTopic("b", 2, nil))
	cl := newClient(t, sb.Broker, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(3000)) // below segment.bytes, which bounds a batch

	for i := range 300 {
		topic, parts := "a", int32(3)
		if i%4 == 0 {
			topic, parts = "b", 2
		}
		r := &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: bytes.Repeat([]byte{byte(i)}, 100+i%400)}
		cl.Produce(ctx(t), r, failOnError(t))
		if i%25 == 0 {
			require.NoError(t, cl.Flush(ctx(t)))
		}
	}
	require.NoError(t, cl.Flush(ctx(t)))
	// An aborted and an open transaction for read_committed.
	txn := newClient(t, sb.Broker, kgo.TransactionalID("zc"), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, txn.BeginTransaction())
	require.NoError(t, txn.ProduceSync(ctx(t), &kgo.Record{Topic: "a", Partition: 0, Value: []byte("aborted")}).FirstErr())
	require.NoError(t, txn.EndTransaction(ctx(t), kgo.TryAbort))
	require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Topic: "a", Partition: 0, Value: []byte("after")}).FirstErr())
	require.NoError(t, txn.BeginTransaction())
	require.NoError(t, txn.ProduceSync(ctx(t), &kgo.Record{Topic: "a", Partition: 1, Value: []byte("open")}).FirstErr())

	ids := map[string][16]byte{}
	for _, name := range []string{"a", "b"} {
		ids[name] = sb.topics.byName(name).id
	}
	plain := dialAt(t, sb.ListenerAddr("PLAINTEXT"), nil)
	secure := dialAt(t, sb.ListenerAddr("SSL"), sb.clientTLS)
	sasl := dialAt(t, sb.ListenerAddr("SASL_PLAINTEXT"), nil)
	require.Zero(t, handshake(sasl, "PLAIN", 1).ErrorCode)
	require.Zero(t, authenticate(sasl, plainToken(secUser, secPassword), 2).ErrorCode)
	for v := int16(4); v <= 18; v++ {
		for _, iso := range []int8{0, 1} {
			for _, lim := range [][2]int32{{1 << 20, 1 << 20}, {3000, 1000}, {1, 1}, {10000, 200}} {
				req := fetchAt(ids, 2, lim[0], lim[1], iso)
				if v >= 13 {
					for i := range req.Topics {
						req.Topics[i].Topic = ""
					}
				}
				plain.corr++
				before := sb.sendfileBytes.Load()
				plain.write(frame(req, v, plain.corr))
				zc, err := plain.readFrame(10 * time.Second)
				require.NoError(t, err)
				sent := sb.sendfileBytes.Load() - before
				secure.corr = plain.corr
				secure.write(frame(req, v, secure.corr))
				cp, err := secure.readFrame(10 * time.Second)
				require.NoError(t, err)
				require.Equal(t, cp, zc, "version %d isolation %d limits %v", v, iso, lim)
				assert.Equal(t, sb.sendfileBytes.Load()-before, sent, "the TLS answer was copied")

				// SASL_PLAINTEXT sends with sendfile too, the same bytes.
				sasl.corr = plain.corr
				sasl.write(frame(req, v, sasl.corr))
				viaSASL, err := sasl.readFrame(10 * time.Second)
				require.NoError(t, err)
				require.Equal(t, zc, viaSASL)
				assert.Equal(t, 2*sent, sb.sendfileBytes.Load()-before, "the SASL_PLAINTEXT answer went through sendfile")

				resp := kmsg.NewPtrFetchResponse()
				resp.SetVersion(v)
				body := zc[4:]
				if v >= 12 {
					body = body[1:]
				}
				require.NoError(t, resp.ReadFrom(body))
				var records int64
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						require.Zero(t, rp.ErrorCode)
						records += int64(len(rp.RecordBatches))
					}
				}
				require.Positive(t, records)
				if sendfileMin == 1 {
					assert.Equal(t, records, sent, "every record byte went through sendfile")
				} else {
					assert.Zero(t, sent, "ranges below defaultSendfileMin are copied")
				}
			}
		}
	}
}

// TestZeroCopyConsumersWhileSegmentsRollAndRetentionDeletes: kgo and skiff
// consumers read through sendfile while a producer rolls 4 KiB segments and
// retention deletes them; every record they get carries the value written
// at its offset.
func TestZeroCopyConsumersWhileSegmentsRollAndRetentionDeletes(t *testing.T) {
	b := startBroker(t, Config{RetentionCheckInterval: 20 * time.Millisecond, sendfileMin: 1})
	require.NoError(t, b.CreateTopic("roll", 2, map[string]string{"segment.bytes": "4096", "retention.bytes": "20000"}))
	const perPart = 3000
	value := func(p int32, off int64) []byte {
		return []byte(fmt.Sprintf("p%d-o%d-%s", p, off, strings.Repeat("x", int(off%97))))
	}
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchMaxBytes(3000))
	var wg sync.WaitGroup
	pctx, stop := context.WithCancel(ctx(t))
	defer stop()
	wg.Go(func() {
		for off := range int64(perPart) {
			for p := range int32(2) {
				// One producer, idempotent, in order: the n-th record of
				// a partition lands at offset n.
				prod.Produce(pctx, &kgo.Record{Topic: "roll", Partition: p, Value: value(p, off)}, failOnError(t))
			}
			if off%200 == 0 {
				prod.Flush(pctx)
			}
		}
		prod.Flush(pctx)
	})
	check := func(p int32, off int64, v []byte) {
		if !bytes.Equal(v, value(p, off)) {
			t.Errorf("partition %d offset %d: got %q", p, off, v)
		}
	}
	last := func(seen map[int32]int64) bool { return seen[0] == perPart-1 && seen[1] == perPart-1 }

	kc := newClient(t, b, kgo.ConsumeTopics("roll"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	sc, err := consumer.New(consumer.Config{Brokers: []string{b.Addr()}, AutoOffsetReset: "earliest", FetchMaxWait: 50 * time.Millisecond,
		Assign: map[string][]consumer.TopicPartitionOffset{"roll": {{Partition: 0, Offset: consumer.OffsetEarliest}, {Partition: 1, Offset: consumer.OffsetEarliest}}}})
	require.NoError(t, err)
	defer sc.Close(context.Background())
	wg.Go(func() {
		cl := kc
		seen := map[int32]int64{}
		for !last(seen) && pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			fs.EachRecord(func(r *kgo.Record) {
				check(r.Partition, r.Offset, r.Value)
				seen[r.Partition] = r.Offset
			})
		}
	})
	wg.Go(func() {
		c := sc
		seen := map[int32]int64{}
		for !last(seen) && pctx.Err() == nil {
			recs, err := c.Poll(pctx)
			if err != nil && pctx.Err() == nil {
				// A reset after retention overtook the consumer is fine;
				// wrong bytes are not (check).
				continue
			}
			for _, r := range recs {
				check(r.Partition, r.Offset, r.Value)
				seen[r.Partition] = r.Offset
			}
		}
	})
	wg.Wait()
	require.NoError(t, pctx.Err(), "consumers reached the end")
	assert.Positive(t, b.sendfileBytes.Load())
	p := b.topics.byName("roll").parts[0]
	assert.Positive(t, p.log.LogStartOffset(), "retention deleted segments meanwhile")
}

// deletedFiles counts this process's descriptors open on unlinked files of
// dir.
func deletedFiles(tb testing.TB, dir string) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(tb, err)
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir) && strings.HasSuffix(target, "(deleted)") {
			n++
		}
	}
	return n
}

// TestZeroCopyFetchRacingDeleteRecords: fetches from offsets that
// DeleteRecords keeps removing either answer OFFSET_OUT_OF_RANGE or carry
// valid batches that start where asked, never other bytes; and answers
// that a client never reads do not keep deleted segments open once its
// connection is gone.
func TestZeroCopyFetchRacingDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, Config{DataDir: dir})
	require.NoError(t, b.CreateTopic("del", 1, map[string]string{"segment.bytes": "65536"}))
	cl := newClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.DefaultProduceTopic("del"), kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(60000))
	const n = 6000
	for i := range n {
		cl.Produce(ctx(t), &kgo.Record{Value: []byte(fmt.Sprintf("%04d-%s", i, strings.Repeat("v", 1000)))}, failOnError(t))
	}
	require.NoError(t, cl.Flush(ctx(t)))

	// A client that asks and never reads: its 1 MiB answers pin segments
	// once the socket buffers are full.
	idle := dialRaw(t, b)
	require.NoError(t, idle.c.(*net.TCPConn).SetReadBuffer(4096))
	for range maxInFlight {
		idle.corr++
		idle.write(frame(fetchReq("del", 0, 1, 0), 12, idle.corr))
	}
	// Most of the answers (1 MiB each, 16 slices) are handled before the
	// deletions start; the socket buffers take a few MiB at most, the
	// rest stays pinned until the client reads or goes.
	p := b.topics.byName("del").parts[0]
	require.Eventually(t, func() bool { return p.log.PinnedSlices() >= 10*16 }, 10*time.Second, time.Millisecond,
		"the idle client's answers pin their segments")

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for off := int64(100); off < n; off += 100 {
			if _, err := b.deleteRecords("del", 0, off); err != nil {
				t.Errorf("delete records %d: %v", off, err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			rc := dialRaw(t, b)
			for off := int64(0); ; off = (off + 77) % n {
				select {
				case <-done:
					return
				default:
				}
				resp := rc.roundTrip(fetchReq("del", off, 1, 0), 12).(*kmsg.FetchResponse)
				rp := resp.Topics[0].Partitions[0]
				if rp.ErrorCode == kerr.OffsetOutOfRange.Code {
					continue
				}
				if !assert.Zero(t, rp.ErrorCode) {
					return
				}
				data := rp.RecordBatches
				first := true
				for len(data) > 0 {
					one, rest, h, err := batch.Next(data)
					if !assert.NoError(t, err) {
						return
					}
					_, err = batch.Validate(one)
					assert.NoError(t, err, "batch CRC")
					if first {
						assert.LessOrEqual(t, h.BaseOffset, off)
						assert.GreaterOrEqual(t, h.LastOffset(), off, "the first batch holds the fetch offset")
						first = false
					}
					data = rest
				}
			}
		})
	}
	wg.Wait()
	require.Positive(t, p.log.PinnedSlices(), "the idle client's answers pin segments")
	require.Positive(t, deletedFiles(t, dir), "among them deleted ones")
	idle.c.Close()
	// No event says the writer has let go: poll, with a deadline.
	require.Eventually(t, func() bool { return p.log.PinnedSlices() == 0 }, 10*time.Second, 10*time.Millisecond,
		"closing the connection unpinned its unwritten answers")
}

// TestFetchFrameFollowsMarks: a response rebuilt from copies of its
// partitions, with one left out (as a fetch session answering only what
// changed may do), still sends each partition's own batches, and the
// batches of the partition left out are released, not leaked.
func TestFetchFrameFollowsMarks(t *testing.T) {
	l, err := log.Open(t.TempDir(), log.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	for i := range 6 {
		var bb batch.Builder
		bb.Reset(nil, 1700000000000)
		batch.Append[batch.RecordHeader](&bb, 1700000000000, nil, bytes.Repeat([]byte{byte(i)}, 30), nil)
		_, err := l.Append(append([]byte(nil), bb.Finish(batch.NoProducer)...), time.Now())
		require.NoError(t, err)
	}
	z := &fetchRegions{marks: make([]byte, 3)}
	orig := make([]kmsg.FetchResponseTopicPartition, 3)
	want := make([][]byte, 3)
	for i := range orig {
		orig[i].Default()
		orig[i].Partition = int32(i)
		from := len(z.slices)
		z.slices, err = l.ReadSlices(int64(2*i), 1, z.slices)
		require.NoError(t, err)
		want[i], err = z.slices[from].AppendTo(nil)
		require.NoError(t, err)
		z.parts = append(z.parts, regionPart{mark: &z.marks[i], from: from, to: len(z.slices)})
		orig[i].RecordBatches = z.marks[i : i+1 : i+1]
	}
	require.EqualValues(t, 3, l.PinnedSlices())

	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = "t"
	rt.Partitions = []kmsg.FetchResponseTopicPartition{orig[2], orig[0]} // copies, reordered, 1 left out
	resp.Topics = append(resp.Topics, rt)
	f := encodeFetchFrame(7, resp, z.parts, z.slices)
	z.reset()
	assert.EqualValues(t, 2, l.PinnedSlices(), "the left-out partition's slice is released")

	rt.Partitions[0].RecordBatches, rt.Partitions[1].RecordBatches = want[2], want[0]
	assert.Equal(t, reqframe.AppendResponse(nil, 7, resp), f.wireBytes(t))
	f.release()
	assert.Zero(t, l.PinnedSlices())
}

// BenchmarkHandleFetchZeroCopy is BenchmarkHandleFetch on a TCP
// connection, where the answer pins segment ranges instead of reading
// them: the handler's cost and allocations per 1 MiB fetch, without the
// write.
//
//	go test -run '^$' -bench 'HandleFetch' -benchmem ./broker/
func BenchmarkHandleFetchZeroCopy(b *testing.B) {
	br := startBroker(b, Config{Logger: discardLogger()})
	if err := br.CreateTopic("bench", 1, nil); err != nil {
		b.Fatal(err)
	}
	l := br.topics.byName("bench").parts[0].log
	for range 200 {
		if _, err := l.Append(makeBatch(100, 100, batch.NoProducer), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	f := frame(fetchReq("bench", 0, 1, 0), 12, 1)[4:]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(b, err)
	defer server.Close()
	c := newConn(br, server)
	require.NotNil(b, c.zc)
	w := newWorker()
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		r, err := parseRequest(f)
		if err != nil {
			b.Fatal(err)
		}
		r.c = c
		br.serve(w, r)
		resp := <-c.respCh
		size = resp.fetch.size
		c.unwritten.Add(-size) // as the writer would
		resp.fetch.release()
	}
	if size < 1<<20-32<<10 {
		b.Fatalf("response of %d bytes, want about 1 MiB", size)
	}
	b.SetBytes(size)
}

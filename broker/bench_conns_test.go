package broker

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// BenchmarkConnProduceConns is BenchmarkConnProduce spread over many
// connections (issue 14: 200 producer connections within 20% of 8): each
// connection keeps up to 5 Produce v9 requests of one 100-record batch in
// flight, to a partition of its own among 3, and b.N requests are shared
// between them. cpu-ns/op (client and broker, one process) is what a
// request costs; the difference between conns=8 and conns=200 is what
// serving it over many connections adds.
//
//	go test -run '^$' -bench ConnProduceConns -benchmem ./broker/
func BenchmarkConnProduceConns(b *testing.B) {
	for _, conns := range []int{8, 200} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			br := startBroker(b, Config{Logger: discardLogger(), RetentionCheckInterval: 100 * time.Millisecond})
			if err := br.CreateTopic("bench", 3, map[string]string{"segment.bytes": "16777216", "retention.bytes": "67108864"}); err != nil {
				b.Fatal(err)
			}
			frames := make([][]byte, 3)
			for p := range frames {
				frames[p] = frame(produceReq("bench", int32(p), makeBatch(100, 100, batch.NoProducer)), 9, 1)
			}
			ncs := make([]net.Conn, conns)
			for i := range ncs {
				nc, err := net.Dial("tcp", br.Addr())
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				ncs[i] = nc
			}
			var (
				left atomic.Int64 // requests not yet claimed by a connection
				wg   sync.WaitGroup
				errs = make(chan error, conns)
			)
			left.Store(int64(b.N))
			b.SetBytes(int64(len(frames[0])))
			b.ReportAllocs()
			cpu0 := processCPUTime()
			b.ResetTimer()
			for i, nc := range ncs {
				wg.Go(func() {
					if err := pipelineShare(nc, frames[i%len(frames)], &left); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(processCPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// pipelineShare sends f on nc, up to 5 in flight, while left has requests
// to claim, and reads every answer.
func pipelineShare(nc net.Conn, f []byte, left *atomic.Int64) error {
	const inFlight = 5
	var (
		slots = make(chan struct{}, inFlight) // taken per request, given back per answer
		reqs  = make(chan struct{}, inFlight) // one per request sent; closed after the last
		done  = make(chan error, 1)
	)
	go func() {
		done <- readAnswers(nc, func() bool { _, ok := <-reqs; return ok }, func() { <-slots })
	}()
	var err error
	for err == nil && left.Add(-1) >= 0 {
		slots <- struct{}{}
		reqs <- struct{}{}
		_, err = nc.Write(f)
	}
	close(reqs)
	if err != nil {
		nc.Close() // ends the reader
		<-done
		return err
	}
	return <-done
}

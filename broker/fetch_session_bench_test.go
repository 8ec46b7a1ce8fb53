package broker

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// BenchmarkFetchSession1000 measures one fetch of 1,000 caught-up
// partitions in process (parse, handle, encode; no wait): a full
// sessionless fetch listing them all against an incremental fetch of a
// session holding them, listing nothing. The bytes per op are the
// request's.
//
//	go test -run '^$' -bench FetchSession1000 -benchmem ./broker/
func BenchmarkFetchSession1000(b *testing.B) {
	const parts = 1000
	br := startBroker(b, Config{Logger: discardLogger()})
	if err := br.CreateTopic("bench", parts, nil); err != nil {
		b.Fatal(err)
	}
	for _, p := range br.topics.byName("bench").parts {
		if _, err := p.log.Append(makeBatch(1, 10, batch.NoProducer), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	all := make(map[int32]int64, parts)
	for p := range int32(parts) {
		all[p] = 1 // caught up: nothing to read
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c := newConn(br, c1)
	w := newWorker()
	serve := func(f []byte) *kmsg.FetchResponse {
		r, err := parseRequest(f)
		if err != nil {
			b.Fatal(err)
		}
		r.c = c
		br.serve(w, r)
		resp := <-c.respCh
		c.unwritten.Add(-int64(len(*resp.frame)))
		out := kmsg.NewPtrFetchResponse()
		out.Version = 12
		rd := kbin.Reader{Src: (*resp.frame)[8:]} // size, correlation id
		kmsg.SkipTags(&rd)
		if err := out.ReadFrom(rd.Src); err != nil {
			b.Fatal(err)
		}
		framePool.put(resp.frame)
		return out
	}
	b.Run("full", func(b *testing.B) {
		f := frame(sessFetch{epoch: -1, parts: all}.request("bench", [16]byte{}), 12, 1)[4:]
		b.SetBytes(int64(len(f)))
		b.ReportAllocs()
		for b.Loop() {
			serve(f)
		}
	})
	b.Run("incremental", func(b *testing.B) {
		resp := serve(frame(sessFetch{parts: all}.request("bench", [16]byte{}), 12, 1)[4:])
		sid, epoch := resp.SessionID, int32(1)
		if sid == 0 {
			b.Fatal("no session")
		}
		req := sessFetch{id: sid}.request("bench", [16]byte{})
		b.SetBytes(int64(len(frame(req, 12, 1)) - 4))
		b.ReportAllocs()
		for b.Loop() {
			req.SessionEpoch = epoch
			if resp := serve(frame(req, 12, 1)[4:]); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
				b.Fatalf("error %d, %d topics", resp.ErrorCode, len(resp.Topics))
			}
			epoch++
		}
	})
}

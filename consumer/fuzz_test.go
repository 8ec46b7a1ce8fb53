package consumer

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

func seedBatch(t testing.TB, codec compress.Codec, control bool, n int) []byte {
	var b batch.Builder
	b.Reset(nil, 1000)
	for i := 0; i < n; i++ {
		batch.Append(&b, int64(1000+i), []byte("key"), []byte("value"), []batch.RecordHeader{{Key: "h", Value: []byte("v")}})
	}
	p := batch.NoProducer
	p.Codec = codec
	if control {
		p.ProducerID, p.ProducerEpoch, p.Transactional = 7, 0, true
	}
	out, err := b.AppendCompressed(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if control {
		// Flip the control bit and re-seal the CRC through SetProducer.
		out[21+1] |= batch.AttrControl
		batch.SetProducer(out, 7, 0, 0)
	}
	return out
}

// FuzzDecodePartition feeds arbitrary bytes, as a fetch response
// partition's record set, through what the fetch path does with broker
// bytes: the header scan and the decoder, in both isolation levels. It must
// return errors, never panic, and never return a record before the fetch
// offset.
func FuzzDecodePartition(f *testing.F) {
	one := seedBatch(f, compress.None, false, 3)
	f.Add(one, int64(0), false)
	f.Add(append(one, one...), int64(1), true)
	f.Add(seedBatch(f, compress.Gzip, false, 5), int64(2), false)
	f.Add(seedBatch(f, compress.Zstd, false, 5), int64(0), true)
	f.Add(seedBatch(f, compress.None, true, 1), int64(0), true)
	f.Add(one[:40], int64(0), false)
	f.Add([]byte{}, int64(0), false)
	f.Fuzz(func(t *testing.T, data []byte, offset int64, committed bool) {
		c := &Consumer{cfg: Config{}.withDefaults()}
		if committed {
			c.cfg.IsolationLevel = ReadCommitted
		}
		ps := &partState{tp: TopicPartition{"t", 0}}
		fp := &fetchPart{ps: ps, offset: offset}
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.RecordBatches = data
		if committed {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = 7, 0
			rp.AbortedTransactions = append(rp.AbortedTransactions, at)
		}
		results := []fetchResult{{fp: fp}}
		resp := kmsg.NewFetchResponse()
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "t"
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		c.scanResponse(&resp, []fetchPart{*fp}, results)
		var dec batch.Decoder
		ch, _ := c.decodePartition(&dec, fp, &resp.Topics[0].Partitions[0])
		if ch == nil {
			t.Fatal("nil chunk")
		}
		for _, r := range ch.recs {
			if r.Offset < offset {
				t.Fatalf("record at %d before the fetch offset %d", r.Offset, offset)
			}
		}
		if results[0].next < offset {
			t.Fatalf("scan moved the offset back: %d < %d", results[0].next, offset)
		}
	})
}

// FuzzDecodeSubscription: subscriptions and assignments come from other
// group members (any client); bad bytes are errors, and whatever decodes
// is usable by every assignor.
func FuzzDecodeSubscription(f *testing.F) {
	f.Add(encodeSubscription([]string{"a", "b"}, map[string][]int32{"a": {0, 1}}, 3, "rack"))
	f.Add(encodeSubscription([]string{"a"}, nil, -1, ""))
	f.Add(encodeAssignment(map[string][]int32{"a": {0, 2}}))
	f.Add([]byte{0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decodeSubscription("m", nil, b); err == nil {
			members := []memberSub{s, {id: "n", topics: []string{"a"}, generation: -1}}
			for _, name := range []string{AssignorRange, AssignorRoundRobin, AssignorCooperativeSticky} {
				newAssignor(name).assign(members, map[string]int32{"a": 3, "b": 2})
			}
		}
		_, _ = decodeAssignment(b)
	})
}

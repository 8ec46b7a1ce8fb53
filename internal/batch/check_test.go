package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// producedBatch is a batch as the issue 14 benchmarks produce it
// (bench/broker-ingest.sh, kgo with 16 KiB batches): 130 records of a
// 16-byte key and a 100-byte random value, no headers.
func producedBatch(t testing.TB, records int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]testRecord, records)
	for i := range recs {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		recs[i] = testRecord{ts: 1_700_000_000_000 + int64(i/8), key: fmt.Appendf(nil, "key-%012d", i*37%10_000), value: v}
	}
	return build(t, recs, Params{ProducerID: 7, ProducerEpoch: 0, BaseSequence: 100})
}

// BenchmarkCheckProduced is Check on what a producer really sends, the
// broker's per-record cost (BenchmarkCheck mixes every record shape).
//
//	go test -run '^$' -bench CheckProduced -count 6 ./internal/batch/
func BenchmarkCheckProduced(b *testing.B) {
	raw := producedBatch(b, 130)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := d.Check(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/130, "ns/record")
}

// walkRecords is the iterator's verdict on a records section, the
// reference checkRecords must agree with.
func walkRecords(body []byte, h Header) error {
	it := iterator{d: &Decoder{}, h: h, body: body, prevDelta: -1, noHeaders: true}
	var rec Record
	for {
		ok, err := it.next(&rec)
		if err != nil || !ok {
			return err
		}
	}
}

// recordsOf splits a built batch into its header and records section.
func recordsOf(t testing.TB, raw []byte) (Header, []byte) {
	t.Helper()
	h, err := ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	return h, raw[HeaderSize:h.Size()]
}

// TestCheckRecordsAgreesWithIterator flips, cuts and grows records sections
// byte by byte: checkRecords must pass exactly what the iterator passes,
// and Check must still return the iterator's error for what fails.
func TestCheckRecordsAgreesWithIterator(t *testing.T) {
	mixed := build(t, sampleRecords(40), NoProducer)
	produced := producedBatch(t, 20)
	for name, raw := range map[string][]byte{"mixed": mixed, "produced": produced} {
		t.Run(name, func(t *testing.T) {
			h, body := recordsOf(t, raw)
			require.NoError(t, walkRecords(body, h))
			require.True(t, checkRecords(body, &h))
			var d Decoder
			agree := func(what string, body []byte, h Header) {
				t.Helper()
				want := walkRecords(body, h)
				if got := checkRecords(body, &h); got != (want == nil) {
					t.Fatalf("%s: checkRecords says %v, iterator says %v", what, got, want)
				}
				// Through Check: the same error as the iterator's.
				b := make([]byte, HeaderSize+len(body))
				copy(b, raw[:HeaderSize])
				copy(b[HeaderSize:], body)
				binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
				binary.BigEndian.PutUint32(b[offRecordCount:], uint32(h.NumRecords))
				binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
				binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.Attributes))
				err := d.Check(b)
				if want == nil {
					assert.NoError(t, err, what)
				} else {
					assert.EqualError(t, err, want.Error(), what)
				}
			}
			for i := range body {
				for _, v := range []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, body[i] + 1, body[i] - 1, body[i] ^ 0x80} {
					mut := bytes.Clone(body)
					mut[i] = v
					agree(fmt.Sprintf("byte %d = %#x", i, v), mut, h)
				}
				agree(fmt.Sprintf("cut at %d", i), body[:i], h)
			}
			agree("extra byte", append(bytes.Clone(body), 0), h)
			for _, n := range []int32{0, 1, h.NumRecords - 1, h.NumRecords + 1} {
				hh := h
				hh.NumRecords = n
				agree(fmt.Sprintf("count %d", n), body, hh)
			}
			for _, d := range []int32{0, h.LastOffsetDelta - 1, h.LastOffsetDelta + 1} {
				hh := h
				hh.LastOffsetDelta = d
				agree(fmt.Sprintf("last offset delta %d", d), body, hh)
				hh.Attributes |= AttrControl
				agree(fmt.Sprintf("control, last offset delta %d", d), body, hh)
			}
		})
	}
}

// FuzzCheckRecords holds checkRecords to the iterator on any records
// section: both pass it or both fail it.
func FuzzCheckRecords(f *testing.F) {
	for _, raw := range [][]byte{build(f, sampleRecords(6), NoProducer), producedBatch(f, 3)} {
		h, body := recordsOf(f, raw)
		f.Add(body, h.NumRecords, h.LastOffsetDelta, false)
	}
	f.Add([]byte{0x01, 0x00}, int32(1), int32(0), true)
	f.Fuzz(func(t *testing.T, body []byte, n, lastDelta int32, control bool) {
		if n < 0 || lastDelta < 0 {
			return // ParseHeader refuses these before any record is read
		}
		h := Header{NumRecords: n, LastOffsetDelta: lastDelta}
		if control {
			h.Attributes = AttrControl
		}
		want := walkRecords(body, h)
		if got := checkRecords(body, &h); got != (want == nil) {
			t.Fatalf("checkRecords says %v, iterator says %v", got, want)
		}
	})
}

package compress

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

var allCodecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

// realisticRecords returns about size bytes shaped like a record batch's
// records section: varint-framed records with a short key, a timestamp
// delta and a JSON value drawn from a small vocabulary, which compresses
// the way production event streams do (3-6x), unlike zeros or noise.
func realisticRecords(tb testing.TB, size int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(size), 42))
	events := []string{"page_view", "add_to_cart", "checkout", "login", "search", "logout"}
	countries := []string{"DE", "US", "FR", "BR", "IN", "JP", "NG", "CA"}
	out := make([]byte, 0, size+512)
	for i := 0; len(out) < size; i++ {
		key := fmt.Appendf(nil, "user-%d", rng.IntN(100000))
		val := fmt.Appendf(nil,
			`{"event":%q,"user":%q,"session":"%016x","url":"/products/%d?ref=%s","country":%q,"price_cents":%d,"ts":%d}`,
			events[rng.IntN(len(events))], key, rng.Uint64(), rng.IntN(5000),
			events[rng.IntN(len(events))], countries[rng.IntN(len(countries))],
			rng.IntN(100000), 1764000000000+int64(i)*3+int64(rng.IntN(3)))
		var rec []byte
		rec = append(rec, 0)                                // attributes
		rec = binary.AppendVarint(rec, int64(rng.IntN(20))) // timestamp delta
		rec = binary.AppendVarint(rec, int64(i))            // offset delta
		rec = binary.AppendVarint(rec, int64(len(key)))
		rec = append(rec, key...)
		rec = binary.AppendVarint(rec, int64(len(val)))
		rec = append(rec, val...)
		rec = binary.AppendVarint(rec, 0) // no headers
		out = binary.AppendVarint(out, int64(len(rec)))
		out = append(out, rec...)
	}
	return out[:size]
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func mustCompress(tb testing.TB, src []byte, c Codec) []byte {
	tb.Helper()
	out, err := AppendCompress(nil, src, c)
	if err != nil {
		tb.Fatalf("compress %s: %v", c, err)
	}
	return out
}

// runtimeMem snapshots the process's cumulative allocation.
type runtimeMem struct{ totalAlloc uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.totalAlloc = s.TotalAlloc
}

package txncoord

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func seedLog() []byte {
	meta := "m"
	out := []byte(logMagic)
	out = appendFrame(out, []logEntry{{kind: entryState, txnID: "t1", rec: txnRecord{
		producerID: 1000, lastProducerID: -1, epoch: 3, lastEpoch: 2, timeoutMs: 60000,
		state: Ongoing, startMs: 1700000000000, lastUpdateMs: 1700000000001,
		partitions: []TopicPartition{{"a", 0}, {"b", 7}}, groups: []string{"g"},
	}}})
	out = appendFrame(out, []logEntry{{kind: entryOffsets, txnID: "t1", producerID: 1000, epoch: 3, group: "g",
		offsets: []TxnOffset{{Topic: "in", Partition: 1, Offset: 42, LeaderEpoch: -1}, {Topic: "in", Partition: 2, Offset: 7, LeaderEpoch: 5, Metadata: &meta}}}})
	out = appendFrame(out, []logEntry{{kind: entryTombstone, txnID: "t0"}})
	return out
}

// FuzzReplayLog feeds arbitrary bytes to the transaction-log decoder, as a
// damaged disk would: it must never panic, never claim more than it read,
// and whatever it accepts must encode back to the same bytes.
func FuzzReplayLog(f *testing.F) {
	seed := seedLog()
	f.Add(seed)
	f.Add(seed[:len(seed)-5])
	f.Add([]byte(logMagic))
	f.Add([]byte("SKTX"))
	f.Add(append([]byte(logMagic), 0, 0, 0, 4, 0, 0, 0, 0, 1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []logEntry
		valid, err := replayLog(data, func(e *logEntry) { entries = append(entries, *e) })
		require.LessOrEqual(t, valid, len(data))
		if err == nil {
			require.Equal(t, len(data), valid)
		}
		if valid == 0 {
			require.Empty(t, entries)
			return
		}
		// Re-encode entry by entry, then compare with a re-decode: frame
		// boundaries may differ, the entries may not.
		re := []byte(logMagic)
		for i := range entries {
			re = appendFrame(re, entries[i:i+1])
		}
		var again []logEntry
		n, err := replayLog(re, func(e *logEntry) { again = append(again, *e) })
		require.NoError(t, err)
		require.Equal(t, len(re), n)
		assert.Equal(t, entries, again)
	})
}

func TestSeedLogRoundTrip(t *testing.T) {
	seed := seedLog()
	var entries []logEntry
	valid, err := replayLog(seed, func(e *logEntry) { entries = append(entries, *e) })
	require.NoError(t, err)
	require.Equal(t, len(seed), valid)
	require.Len(t, entries, 3)
	re := []byte(logMagic)
	for i := range entries {
		re = appendFrame(re, entries[i:i+1])
	}
	assert.True(t, bytes.Equal(seed, re), "encode(decode(x)) == x")
	assert.Equal(t, "in", entries[1].offsets[0].Topic)
	assert.Equal(t, "m", *entries[1].offsets[1].Metadata)
}

// TestDecodeRejectsUnloggableState: PrepareEpochFence and Dead are never
// written, so a log holding them is corrupt.
func TestDecodeRejectsUnloggableState(t *testing.T) {
	data := appendFrame([]byte(logMagic), []logEntry{{kind: entryState, txnID: "x", rec: txnRecord{state: PrepareEpochFence}}})
	valid, err := replayLog(data, func(*logEntry) {})
	assert.ErrorIs(t, err, errCorrupt)
	assert.Equal(t, len(logMagic), valid)
}

func TestDecodeHugeCount(t *testing.T) {
	// A count of 2^31-1 partitions in a tiny body must fail, not allocate.
	body := appendEntry(nil, &logEntry{kind: entryState, txnID: "x"})
	body[len(body)-8], body[len(body)-7], body[len(body)-6], body[len(body)-5] = 0x7f, 0xff, 0xff, 0xff
	_, err := decodeEntries(nil, body)
	assert.ErrorIs(t, err, errCorrupt)
}

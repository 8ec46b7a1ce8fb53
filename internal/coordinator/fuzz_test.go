package coordinator

import (
	"bytes"
	"errors"
	"hash/crc32"
	"maps"
	"testing"

	"github.com/skiffkit/skiff/internal/framelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// state is the result of replaying a log: group → partition → value.
type state map[string]map[topicPartition]offsetValue

func replayState(t testing.TB, data []byte) (state, int, error) {
	t.Helper()
	s, valid, err := replayStore(t, data)
	return s.offsets, valid, err
}

func replayStore(t testing.TB, data []byte) (*offsetStore, int, error) {
	t.Helper()
	s := &offsetStore{offsets: make(map[string]map[topicPartition]offsetValue), groups: make(map[string]*groupRecord)}
	valid, err := replayLog(data, s.apply)
	return s, valid, err
}

// FuzzLoadOffsets feeds arbitrary bytes to the offsets-log loader. It must
// never panic, must report a valid prefix that replays cleanly to the same
// state, and re-encoding that state must replay to it again.
func FuzzLoadOffsets(f *testing.F) {
	md := "meta"
	log := []byte(logMagic)
	log = appendFrame(log, []logEntry{
		{kind: entryCommit, key: offsetKey{"g", "t", 0}, value: offsetValue{offset: 1, leaderEpoch: 2, commitTime: 3, expireTime: -1, metadata: &md}},
		{kind: entryCommit, key: offsetKey{"g", "u", 1}, value: offsetValue{offset: 4, leaderEpoch: -1, commitTime: 5, expireTime: 6}},
	})
	log = appendFrame(log, []logEntry{{kind: entryPartitionDelete, key: offsetKey{"g", "u", 1}}})
	log = appendFrame(log, []logEntry{{kind: entryGroupDelete, key: offsetKey{group: "h"}}})
	log = appendFrame(log, []logEntry{
		{kind: entryGroupMetadata, key: offsetKey{group: "g"}, meta: sampleGroupRecord()},
		{kind: entryGroupMetadata, key: offsetKey{group: "e"}, meta: &groupRecord{generation: 2, protocolType: "consumer"}},
	})
	log = appendFrame(log, []logEntry{{kind: entryGroupMetadataDelete, key: offsetKey{group: "e"}}})
	f.Add(log)
	f.Add(log[:len(log)-3])
	f.Add([]byte(logMagic))
	f.Add([]byte{})
	f.Add([]byte("SKOF"))
	f.Add(append([]byte(logMagic), 0, 0, 0, 1, 0, 0, 0, 0, 9))
	f.Fuzz(func(t *testing.T, data []byte) {
		store, valid, err := replayStore(t, data)
		st := state(store.offsets)
		require.LessOrEqual(t, valid, len(data))
		if err == nil {
			require.Equal(t, len(data), valid)
		} else {
			require.True(t, errors.Is(err, errTorn) || errors.Is(err, errCorrupt), "error %v", err)
		}
		if valid == 0 {
			return
		}
		againStore, valid2, err := replayStore(t, data[:valid])
		require.NoError(t, err)
		require.Equal(t, valid, valid2)
		assert.True(t, equalState(st, againStore.offsets))
		assert.Equal(t, store.groups, againStore.groups)

		// Re-encode the live state as compaction would.
		buf := []byte(logMagic)
		for g, tps := range st {
			for tp, v := range tps {
				buf = appendFrame(buf, []logEntry{{kind: entryCommit, key: offsetKey{g, tp.topic, tp.partition}, value: v}})
			}
		}
		for g, r := range store.groups {
			buf = appendFrame(buf, []logEntry{{kind: entryGroupMetadata, key: offsetKey{group: g}, meta: r}})
		}
		compacted, _, err := replayStore(t, buf)
		require.NoError(t, err)
		assert.True(t, equalState(st, compacted.offsets))
		assert.Equal(t, store.groups, compacted.groups)
	})
}

func equalState(a, b state) bool {
	return maps.EqualFunc(a, b, func(x, y map[topicPartition]offsetValue) bool {
		return maps.EqualFunc(x, y, func(v, w offsetValue) bool {
			if (v.metadata == nil) != (w.metadata == nil) || (v.metadata != nil && *v.metadata != *w.metadata) {
				return false
			}
			v.metadata, w.metadata = nil, nil
			return v == w
		})
	})
}

func TestReplayStopsAtFirstBadFrame(t *testing.T) {
	good := appendFrame([]byte(logMagic), []logEntry{{kind: entryCommit, key: offsetKey{"g", "t", 0}, value: offsetValue{offset: 1, expireTime: -1}}})
	bad := appendFrame(nil, []logEntry{{kind: entryCommit, key: offsetKey{"g", "t", 0}, value: offsetValue{offset: 2, expireTime: -1}}})
	bad[len(bad)-1] ^= 1
	after := appendFrame(nil, []logEntry{{kind: entryCommit, key: offsetKey{"g", "t", 0}, value: offsetValue{offset: 3, expireTime: -1}}})
	data := bytes.Join([][]byte{good, bad, after}, nil)
	st, valid, err := replayState(t, data)
	assert.ErrorIs(t, err, errCorrupt)
	assert.Equal(t, len(good), valid)
	assert.Equal(t, int64(1), st["g"][topicPartition{"t", 0}].offset)

	// A frame whose body does not parse despite a good CRC.
	junk := appendFrameRaw(nil, []byte{7})
	_, valid, err = replayState(t, append(append([]byte{}, good...), junk...))
	assert.ErrorIs(t, err, errCorrupt)
	assert.Equal(t, len(good), valid)
}

// appendFrameRaw frames an arbitrary body with a correct CRC.
func appendFrameRaw(dst, body []byte) []byte {
	f := appendFrame(nil, nil)
	f[3] = byte(len(body))
	f = append(f, body...)
	return append(dst, rechecksum(f)...)
}

func rechecksum(frame []byte) []byte {
	body := frame[framelog.HeaderSize:]
	crc := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	frame[4], frame[5], frame[6], frame[7] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return frame
}

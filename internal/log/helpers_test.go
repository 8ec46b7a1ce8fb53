package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
)

// t0 is the wall clock the tests pretend it is.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type batchSpec struct {
	records   int
	ts        int64 // timestamp of the first record; the others +1 ms each
	valueSize int
	pid       int64 // -1: not idempotent
	epoch     int16
	seq       int32
	txn       bool // transactional (needs pid >= 0)
}

// makeBatch encodes a fresh batch whose record i has value "<tag>-<i>"
// padded to valueSize.
func makeBatch(tb testing.TB, s batchSpec, tag string) []byte {
	tb.Helper()
	if s.records == 0 {
		s.records = 1
	}
	if s.ts == 0 {
		s.ts = t0.UnixMilli()
	}
	var b batch.Builder
	b.Reset(nil, s.ts)
	for i := 0; i < s.records; i++ {
		batch.Append[batch.RecordHeader](&b, s.ts+int64(i), []byte("k"), []byte(valueOf(tag, i, s.valueSize)), nil)
	}
	p := batch.NoProducer
	if s.pid >= 0 {
		p = batch.Params{ProducerID: s.pid, ProducerEpoch: s.epoch, BaseSequence: s.seq, Transactional: s.txn, PartitionLeaderEpoch: -1}
	}
	return append([]byte(nil), b.Finish(p)...)
}

// valueOf is the value makeBatch gives record i.
func valueOf(tag string, i, size int) string {
	v := []byte(fmt.Sprintf("%s-%d", tag, i))
	for len(v) < size {
		v = append(v, byte('a'+i%26))
	}
	return string(v)
}

func plain(records int) batchSpec { return batchSpec{records: records, pid: -1} }

func openLog(tb testing.TB, dir string, cfg Config) *Log {
	tb.Helper()
	l, err := Open(dir, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(tb testing.TB, l *Log, b []byte) AppendInfo {
	tb.Helper()
	info, err := l.Append(b, t0)
	require.NoError(tb, err)
	return info
}

// decoded is one record read back.
type decoded struct {
	offset int64
	ts     int64
	value  string
}

// decodeAll validates and decodes concatenated batches.
func decodeAll(tb testing.TB, b []byte) []decoded {
	tb.Helper()
	var out []decoded
	var d batch.Decoder
	for len(b) > 0 {
		one, rest, _, err := batch.Next(b)
		require.NoError(tb, err)
		_, err = batch.Validate(one)
		require.NoError(tb, err)
		require.NoError(tb, d.Records(one, func(_ *batch.Header, r *batch.Record) error {
			out = append(out, decoded{offset: r.Offset, ts: r.Timestamp, value: string(r.Value)})
			return nil
		}))
		b = rest
	}
	return out
}

// batchesOf splits concatenated batches into their headers.
func batchesOf(tb testing.TB, b []byte) []batch.Header {
	tb.Helper()
	var hs []batch.Header
	for len(b) > 0 {
		_, rest, h, err := batch.Next(b)
		require.NoError(tb, err)
		hs = append(hs, h)
		b = rest
	}
	return hs
}

// copyDir copies the files of a log directory as they are right now: a
// crash image when the log is still open.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), filepath.Base(src))
	require.NoError(tb, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(tb, err)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		require.NoError(tb, err)
		out, err := os.Create(filepath.Join(dst, e.Name()))
		require.NoError(tb, err)
		_, err = io.Copy(out, in)
		require.NoError(tb, err)
		in.Close()
		require.NoError(tb, out.Close())
	}
	return dst
}

func segmentFiles(tb testing.TB, dir, suffix string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	require.NoError(tb, err)
	return m
}

// corruptFile flips bits of the byte at pos in a file.
func corruptFile(tb testing.TB, name string, pos int64) {
	tb.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	require.NoError(tb, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], pos)
	require.NoError(tb, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b[:], pos)
	require.NoError(tb, err)
}

func beUint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

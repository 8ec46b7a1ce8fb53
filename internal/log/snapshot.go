package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// Producer-state snapshot, file <20-digit offset>.snapshot: the state of
// every producer after all batches below offset. Big-endian throughout;
// docs/storage.md has the same diagram. Version 2 (written since
// transactions) adds the coordinator epoch, the open transaction and the
// last timestamp to each producer; version 1 files still load.
//
//	offset  width  field
//	     0      2  version        int16, 2 (or 1)
//	     2      4  crc            uint32, CRC-32C (Castagnoli) of bytes 6..end
//	     6      8  offset         int64, end offset the state covers (= file name)
//	    14      4  producerCount  int32
//	    18      *  producers      producerCount × producer, ascending producerId
//
//	producer, version 2:
//	     0      8  producerId        int64
//	     8      2  epoch             int16
//	    10      4  coordinatorEpoch  int32, of the last marker; -1 before any
//	    14      8  txnFirstOffset    int64, first offset of the open transaction; -1 when none
//	    22      8  lastTimestamp     int64, of the last batch or marker; -1 unknown
//	    30      1  batchCount        int8, 0..5
//	    31      *  batches           batchCount × 28 bytes, oldest first (below)
//
//	producer, version 1:
//	     0      8  producerId     int64
//	     8      2  epoch          int16
//	    10      1  batchCount     int8, 0..5
//	    11      *  batches        batchCount × 28 bytes, oldest first:
//	                 0  4  firstSequence    int32
//	                 4  4  lastSequence     int32
//	                 8  8  firstOffset      int64
//	                16  4  lastOffsetDelta  int32
//	                20  8  timestamp        int64, the batch's max timestamp
//
// Kafka's own format (version int16, crc uint32, then one entry per producer
// with only its last batch) cannot restore duplicate detection for the last
// 5 batches, hence a format of our own. A snapshot whose version, CRC or
// lengths do not check out is ignored and the state is rebuilt from the log.
const (
	snapshotVersion       = 2
	snapshotVersion1      = 1
	snapshotHeaderSize    = 18
	snapshotProducerSize  = 31
	snapshotProducer1Size = 11
	snapshotBatchSize     = 28
	snapshotOffsetVersion = 0
	snapshotOffsetCRC     = 2
	snapshotOffsetOffset  = 6
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errSnapshot = errors.New("invalid producer snapshot")

// appendSnapshot encodes the state covering offsets below offset.
func appendSnapshot(dst []byte, offset int64, p producers) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, snapshotVersion)
	dst = binary.BigEndian.AppendUint32(dst, 0) // CRC, filled below
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	ids := make([]int64, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := p[id]
		dst = binary.BigEndian.AppendUint64(dst, uint64(id))
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.epoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.coordEpoch))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.txnFirst))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.lastTs))
		dst = append(dst, byte(e.n))
		e.each(func(m *batchMeta) {
			dst = binary.BigEndian.AppendUint32(dst, uint32(m.firstSeq))
			dst = binary.BigEndian.AppendUint32(dst, uint32(m.lastSeq))
			dst = binary.BigEndian.AppendUint64(dst, uint64(m.firstOffset))
			dst = binary.BigEndian.AppendUint32(dst, uint32(m.lastDelta))
			dst = binary.BigEndian.AppendUint64(dst, uint64(m.timestamp))
		})
	}
	crc := crc32.Checksum(dst[start+snapshotOffsetOffset:], castagnoli)
	binary.BigEndian.PutUint32(dst[start+snapshotOffsetCRC:], crc)
	return dst
}

// decodeSnapshot parses a snapshot of version 1 or 2; any inconsistency is
// an error, never a panic, because the bytes come from disk.
func decodeSnapshot(b []byte) (offset int64, p producers, err error) {
	if len(b) < snapshotHeaderSize {
		return 0, nil, fmt.Errorf("%w: %d bytes", errSnapshot, len(b))
	}
	version := int16(binary.BigEndian.Uint16(b[snapshotOffsetVersion:]))
	entrySize := snapshotProducerSize
	switch version {
	case snapshotVersion:
	case snapshotVersion1:
		entrySize = snapshotProducer1Size
	default:
		return 0, nil, fmt.Errorf("%w: version %d", errSnapshot, version)
	}
	if want, got := binary.BigEndian.Uint32(b[snapshotOffsetCRC:]), crc32.Checksum(b[snapshotOffsetOffset:], castagnoli); want != got {
		return 0, nil, fmt.Errorf("%w: CRC stored %08x, computed %08x", errSnapshot, want, got)
	}
	offset = int64(binary.BigEndian.Uint64(b[snapshotOffsetOffset:]))
	count := int64(int32(binary.BigEndian.Uint32(b[14:])))
	rest := b[snapshotHeaderSize:]
	if offset < 0 || count < 0 || count > int64(len(rest)/entrySize) {
		return 0, nil, fmt.Errorf("%w: offset %d, %d producers in %d bytes", errSnapshot, offset, count, len(rest))
	}
	p = make(producers, count)
	for i := int64(0); i < count; i++ {
		if len(rest) < entrySize {
			return 0, nil, fmt.Errorf("%w: producer %d truncated", errSnapshot, i)
		}
		id := int64(binary.BigEndian.Uint64(rest))
		e := newProducerEntry(int16(binary.BigEndian.Uint16(rest[8:])))
		if version == snapshotVersion {
			e.coordEpoch = int32(binary.BigEndian.Uint32(rest[10:]))
			e.txnFirst = int64(binary.BigEndian.Uint64(rest[14:]))
			e.lastTs = int64(binary.BigEndian.Uint64(rest[22:]))
		}
		n := int(rest[entrySize-1])
		rest = rest[entrySize:]
		if id < 0 || e.epoch < 0 || n > maxCachedBatches || len(rest) < n*snapshotBatchSize || p[id] != nil {
			return 0, nil, fmt.Errorf("%w: producer %d (id %d, epoch %d, %d batches)", errSnapshot, i, id, e.epoch, n)
		}
		if e.coordEpoch < -1 || e.txnFirst < -1 || e.txnFirst >= offset {
			return 0, nil, fmt.Errorf("%w: producer %d: coordinator epoch %d, open transaction at %d", errSnapshot, id, e.coordEpoch, e.txnFirst)
		}
		for j := 0; j < n; j++ {
			m := batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(rest)),
				lastSeq:     int32(binary.BigEndian.Uint32(rest[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(rest[8:])),
				lastDelta:   int32(binary.BigEndian.Uint32(rest[16:])),
				timestamp:   int64(binary.BigEndian.Uint64(rest[20:])),
			}
			if m.firstSeq < 0 || m.lastSeq < 0 || m.lastDelta < 0 || m.firstOffset < 0 || m.firstOffset+int64(m.lastDelta) >= offset {
				return 0, nil, fmt.Errorf("%w: producer %d batch %d out of range", errSnapshot, id, j)
			}
			e.add(m)
			rest = rest[snapshotBatchSize:]
		}
		if version == snapshotVersion1 {
			// Version 1 predates transactions; its last timestamp is
			// that of the newest batch.
			if m := e.last(); m != nil {
				e.lastTs = m.timestamp
			}
		}
		p[id] = e
	}
	if len(rest) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", errSnapshot, len(rest))
	}
	return offset, p, nil
}

// writeSnapshot writes the snapshot through a temporary file, an fsync and
// a rename, as Kafka's ProducerStateManager does, so that a crash leaves
// either the old set of snapshots or the new file whole. A crash before the
// rename leaves a .tmp file, which recovery deletes (the log is replayed
// from an older snapshot instead); a torn file fails its CRC and is ignored
// anyway. The rename is durable only once the caller fsyncs dir, which it
// does together with the other entries it changed (see roll, Close, load).
func writeSnapshot(fsys vfs.FS, dir string, offset int64, p producers) error {
	b := appendSnapshot(nil, offset, p)
	name := fileName(dir, offset, snapshotSuffix)
	tmp := name + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write producer snapshot %d: %w", offset, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write producer snapshot %d: %w", offset, err)
	}
	return nil
}

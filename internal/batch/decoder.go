package batch

import (
	"fmt"

	"github.com/skiffkit/skiff/internal/compress"
)

// Record is one decoded record. Key, Value and Headers alias the batch or the
// decoder's decompression buffer (see Decoder.ReuseBuffer).
type Record struct {
	Offset     int64
	Timestamp  int64
	Key        []byte // nil for a null key
	Value      []byte // nil for a null value (tombstone)
	Headers    []RecordHeader
	Attributes int8
}

// DefaultMaxDecompressed bounds the decompressed size of one batch: a batch
// that inflates past it is refused rather than exhausting memory.
const DefaultMaxDecompressed = 256 << 20

// Decoder decodes the records of batches. The zero value is ready to use.
type Decoder struct {
	// MaxDecompressed bounds the decompressed records section; zero means
	// DefaultMaxDecompressed.
	MaxDecompressed int
	// ReuseBuffer makes the decoder decompress every batch into the same
	// buffer, so records are only valid until the next call. Otherwise each
	// compressed batch gets a buffer of its own that callers may keep.
	ReuseBuffer bool

	buf     []byte
	headers []RecordHeader
	// it and rec live in the Decoder so that handing them to the callback
	// does not move them to the heap once per batch.
	it  iterator
	rec Record
}

// Records decodes every record of one batch (b holds exactly the batch, as
// Next returns it) and calls fn with each in order. The *Record and its
// Headers slice are reused between calls. It checks the records' structure:
// lengths within bounds, offset deltas strictly increasing within
// lastOffsetDelta, and the record count; it does not check the CRC.
func (d *Decoder) Records(b []byte, fn func(h *Header, r *Record) error) error {
	it, rec := &d.it, &d.rec
	if err := d.begin(it, b); err != nil {
		return err
	}
	for {
		ok, err := it.next(rec)
		if err != nil || !ok {
			return err
		}
		if err := fn(&it.h, rec); err != nil {
			return err
		}
	}
}

// Check decodes every record only to validate the batch's structure: what the
// broker does before it appends a produced batch. Unlike Records it
// allocates nothing for an uncompressed batch.
func (d *Decoder) Check(b []byte) error {
	reuse := d.ReuseBuffer
	d.ReuseBuffer = true
	defer func() { d.ReuseBuffer = reuse }()
	var it iterator
	if err := d.begin(&it, b); err != nil {
		return err
	}
	if checkRecords(it.body, &it.h) {
		return nil
	}
	// Walk it again to say what is wrong.
	it.noHeaders = true
	var rec Record
	for {
		ok, err := it.next(&rec)
		if err != nil || !ok {
			return err
		}
	}
}

// iterator walks the records of one batch; Records and Check share it.
type iterator struct {
	d         *Decoder
	h         Header
	body      []byte
	i         int32
	prevDelta int64
	noHeaders bool // Check validates headers without materialising them
}

func (d *Decoder) begin(it *iterator, b []byte) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if h.Size() > len(b) {
		return ErrShort
	}
	body := b[HeaderSize:h.Size()]
	if c := h.Codec(); c != compress.None {
		max := d.MaxDecompressed
		if max <= 0 {
			max = DefaultMaxDecompressed
		}
		var dst []byte
		if d.ReuseBuffer {
			dst = d.buf[:0]
		}
		out, err := compress.AppendDecompress(dst, body, c, max)
		if err != nil {
			return fmt.Errorf("%w: %s records: %v", ErrCorrupt, c, err)
		}
		if d.ReuseBuffer {
			d.buf = out
		}
		body = out
	}
	*it = iterator{d: d, h: h, body: body, prevDelta: -1}
	return nil
}

// next decodes the next record into rec; false at the end of the batch,
// after checking that nothing is left over.
func (it *iterator) next(rec *Record) (bool, error) {
	h := &it.h
	if it.i == h.NumRecords {
		if len(it.body) != 0 {
			return false, fmt.Errorf("%w: %d bytes after the last of %d records", ErrCorrupt, len(it.body), h.NumRecords)
		}
		if h.NumRecords > 0 && it.prevDelta != int64(h.LastOffsetDelta) && !h.IsControl() {
			// Compaction can leave gaps, but the last record keeps its delta.
			return false, fmt.Errorf("%w: last record has offset delta %d, header says %d", ErrCorrupt, it.prevDelta, h.LastOffsetDelta)
		}
		return false, nil
	}
	n, err := it.d.decodeRecord(it.body, h, rec, it.noHeaders)
	if err != nil {
		return false, fmt.Errorf("record %d: %w", it.i, err)
	}
	it.body = it.body[n:]
	delta := rec.Offset - h.BaseOffset
	if delta <= it.prevDelta || delta > int64(h.LastOffsetDelta) {
		return false, fmt.Errorf("%w: record %d has offset delta %d after %d (last offset delta %d)", ErrCorrupt, it.i, delta, it.prevDelta, h.LastOffsetDelta)
	}
	it.prevDelta = delta
	it.i++
	return true, nil
}

func (d *Decoder) decodeRecord(b []byte, h *Header, r *Record, noHeaders bool) (int, error) {
	length, n := readVarint(b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad record length varint", ErrCorrupt)
	}
	if length < 0 || length > int64(len(b)-n) {
		return 0, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorrupt, length, len(b)-n)
	}
	total := n + int(length)
	rb := b[n:total]
	if len(rb) < 1 {
		return 0, fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	r.Attributes = int8(rb[0])
	rb = rb[1:]
	tsDelta, n := readVarint(rb)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad timestamp delta", ErrCorrupt)
	}
	rb = rb[n:]
	offDelta, n := readVarint(rb)
	if n <= 0 || offDelta < 0 || offDelta > int64(^uint32(0)>>1) {
		return 0, fmt.Errorf("%w: bad offset delta", ErrCorrupt)
	}
	rb = rb[n:]
	var err error
	if r.Key, rb, err = readBytes(rb); err != nil {
		return 0, fmt.Errorf("key: %w", err)
	}
	if r.Value, rb, err = readBytes(rb); err != nil {
		return 0, fmt.Errorf("value: %w", err)
	}
	count, n := readVarint(rb)
	if n <= 0 || count < 0 || count > int64(len(rb)) {
		return 0, fmt.Errorf("%w: bad header count", ErrCorrupt)
	}
	rb = rb[n:]
	hdrs := d.headers[:0]
	for i := int64(0); i < count; i++ {
		var k, v []byte
		if k, rb, err = readBytes(rb); err != nil || k == nil {
			return 0, fmt.Errorf("%w: header %d key", ErrCorrupt, i)
		}
		if v, rb, err = readBytes(rb); err != nil {
			return 0, fmt.Errorf("header %d value: %w", i, err)
		}
		if !noHeaders {
			hdrs = append(hdrs, RecordHeader{Key: string(k), Value: v})
		}
	}
	if cap(hdrs) != cap(d.headers) {
		d.headers = hdrs
	}
	r.Headers = hdrs
	if len(rb) != 0 {
		return 0, fmt.Errorf("%w: %d stray bytes in record", ErrCorrupt, len(rb))
	}
	r.Offset = h.BaseOffset + offDelta
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	} else {
		r.Timestamp = h.BaseTimestamp + tsDelta
	}
	return total, nil
}

func readBytes(b []byte) (p, rest []byte, err error) {
	l, n := readVarint(b)
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: bad length varint", ErrCorrupt)
	}
	b = b[n:]
	if l == -1 {
		return nil, b, nil
	}
	if l < -1 || l > int64(len(b)) {
		return nil, nil, fmt.Errorf("%w: length %d with %d bytes left", ErrCorrupt, l, len(b))
	}
	return b[:l:l], b[l:], nil
}

// Package framelog is the framing of the coordinators' append-only logs
// (the group coordinator's __consumer_offsets and the transaction
// coordinator's __transaction_state): a magic string, then CRC-checked
// frames, each written in one write and applied whole or not at all. What a
// frame's body holds is each log's own business.
//
// File layout (all integers big-endian):
//
//	+-----------------+----------+----------+
//	| magic (8 bytes) | frame 0  | frame 1  | ...
//	+-----------------+----------+----------+
//
//	 0               4               8
//	+---------------+---------------+--------------------------+
//	| body length   | CRC-32C       | body                     |
//	| uint32        | of body       | (body length bytes)      |
//	+---------------+---------------+--------------------------+
//
// A frame whose CRC fails, or that the file ends inside of, ends the valid
// log; Log.Open (file.go) truncates the file there on load, as Kafka
// recovers a segment at its first bad batch.
package framelog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a frame's length and CRC.
const HeaderSize = 8

// Format is one log's magic and the errors it reports, so that each log's
// errors name it ("offsets log: torn frame").
type Format struct {
	Magic string
	// Torn means the log ends inside a frame: a crash during append.
	Torn error
	// Corrupt means a complete frame failed its CRC or does not parse.
	Corrupt error
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// StartFrame reserves a frame header at the end of dst. Append the body,
// then call FinishFrame with the returned start.
func StartFrame(dst []byte) ([]byte, int) {
	start := len(dst)
	return append(dst, make([]byte, HeaderSize)...), start
}

// FinishFrame fills in the header of the frame that starts at start.
func FinishFrame(dst []byte, start int) []byte {
	body := dst[start+HeaderSize:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// ReadFrame splits the first frame off src and checks its CRC. It returns
// f.Torn when src ends inside the frame (a corrupt length usually looks
// like that too) and f.Corrupt for a bad checksum. It only slices src, so
// no length field can make it allocate.
func (f *Format) ReadFrame(src []byte) (body []byte, n int, err error) {
	if len(src) < HeaderSize {
		return nil, 0, f.Torn
	}
	size := uint64(binary.BigEndian.Uint32(src))
	if uint64(len(src)) < HeaderSize+size {
		return nil, 0, f.Torn
	}
	n = HeaderSize + int(size)
	body = src[HeaderSize:n]
	if want, got := binary.BigEndian.Uint32(src[4:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, 0, fmt.Errorf("%w: crc %08x, want %08x", f.Corrupt, got, want)
	}
	return body, n, nil
}

// Replay checks data's magic and calls frame for each valid frame's body, in
// order. It returns the length of the valid prefix and, if the log does not
// end cleanly there, why: f.Torn, f.Corrupt, or frame's error.
func (f *Format) Replay(data []byte, frame func(body []byte) error) (valid int, err error) {
	if len(data) < len(f.Magic) {
		if bytes.HasPrefix([]byte(f.Magic), data) {
			return 0, f.Torn
		}
		return 0, fmt.Errorf("%w: bad magic", f.Corrupt)
	}
	if string(data[:len(f.Magic)]) != f.Magic {
		return 0, fmt.Errorf("%w: bad magic", f.Corrupt)
	}
	valid = len(f.Magic)
	for valid < len(data) {
		body, n, err := f.ReadFrame(data[valid:])
		if err != nil {
			return valid, err
		}
		if err := frame(body); err != nil {
			return valid, err
		}
		valid += n
	}
	return valid, nil
}

// ReplayEntries is Replay for a log whose frames each hold a list of
// entries: decode turns a frame's body into entries (appending to dst), and
// apply sees them only once the whole frame decoded, so a frame is applied
// whole or not at all.
func ReplayEntries[E any](f *Format, data []byte, decode func(dst []E, body []byte) ([]E, error), apply func(*E)) (valid int, err error) {
	var entries []E
	return f.Replay(data, func(body []byte) error {
		var err error
		if entries, err = decode(entries[:0], body); err != nil {
			return err
		}
		for i := range entries {
			apply(&entries[i])
		}
		return nil
	})
}

// AppendNullableString appends s with a uint32 length, -1 for nil (an
// offset commit's metadata).
func AppendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(*s)))
	return append(dst, *s...)
}

// AppendShortString appends s with a uint16 length. Callers keep s under
// 64 KiB (Kafka limits names to int16 lengths).
func AppendShortString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// Reader is a bounds-checked cursor over a frame body; after the first
// short read every read returns zero values and Bad stays set.
type Reader struct {
	B   []byte
	Bad bool
}

// Fail marks the read as bad.
func (r *Reader) Fail() { r.Bad = true; r.B = nil }

// Bytes returns the next n bytes, aliasing the body.
func (r *Reader) Bytes(n int) []byte {
	if n < 0 || len(r.B) < n {
		r.Fail()
		return nil
	}
	out := r.B[:n]
	r.B = r.B[n:]
	return out
}

func (r *Reader) U8() uint8 {
	if b := r.Bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if b := r.Bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if b := r.Bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if b := r.Bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// ShortString reads a string written by AppendShortString.
func (r *Reader) ShortString() string { return string(r.Bytes(int(r.U16()))) }

// NullableString reads what AppendNullableString wrote; a length below -1
// marks the read bad.
func (r *Reader) NullableString() *string {
	n := int32(r.U32())
	if n == -1 {
		return nil
	}
	if n < 0 {
		r.Fail()
		return nil
	}
	s := string(r.Bytes(int(n)))
	if r.Bad {
		return nil
	}
	return &s
}

// Count reads an int32 element count and fails the read unless the rest of
// the body could hold that many elements of at least minSize bytes, so a
// corrupt count can never make a decoder allocate beyond its input.
func (r *Reader) Count(minSize int) int {
	n := int64(int32(r.U32()))
	if n < 0 || n*int64(minSize) > int64(len(r.B)) {
		r.Fail()
		return 0
	}
	return int(n)
}

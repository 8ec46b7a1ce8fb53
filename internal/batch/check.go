package batch

import "math"

// The broker walks every record of every produced batch before appending it
// (Kafka's LogValidator does too), so that walk is per-record cost on the
// produce path. checkRecords is that walk without the decoder: no Record to
// fill, no slices cut, no errors built, positions instead of subslices.
// It answers only pass or fail; on fail, Check walks the batch again with
// the iterator to say what is wrong, so errors stay exactly as they were.
// It must accept exactly what the iterator accepts (FuzzCheckRecords holds
// the two to that).

// checkRecords reports whether body, a batch's (decompressed) records
// section, holds exactly h.NumRecords well-formed records whose offset
// deltas increase strictly up to h.LastOffsetDelta, as iterator.next
// demands.
func checkRecords(body []byte, h *Header) bool {
	prev, last := int64(-1), int64(h.LastOffsetDelta)
	for range h.NumRecords {
		length, p := varintAt(body, 0)
		if p < 0 || length < 0 || length > int64(len(body)-p) {
			return false
		}
		end := p + int(length)
		if !checkRecord(body[p:end], &prev, last) {
			return false
		}
		body = body[end:]
	}
	return len(body) == 0 && (h.NumRecords == 0 || prev == last || h.IsControl())
}

// checkRecord checks one record r (without its length prefix) as
// decodeRecord does, and its offset delta against *prev, which it moves.
func checkRecord(r []byte, prev *int64, last int64) bool {
	// attributes (any value), then the timestamp delta (any value).
	p := skipVarint(r, 1)
	if p < 0 {
		return false
	}
	delta, p := varintAt(r, p)
	if p < 0 || delta < 0 || delta > math.MaxInt32 || delta <= *prev || delta > last {
		return false
	}
	*prev = delta
	// key and value: -1 for null, else the length of what follows.
	for range 2 {
		n, q := varintAt(r, p)
		if q < 0 || n < -1 || n > int64(len(r)-q) {
			return false
		}
		p = q + int(max(n, 0))
	}
	count, q := varintAt(r, p)
	if q < 0 || count < 0 || count > int64(len(r)-p) {
		return false
	}
	p = q
	for range count {
		// A header key cannot be null; its value can.
		n, q := varintAt(r, p)
		if q < 0 || n < 0 || n > int64(len(r)-q) {
			return false
		}
		n, q = varintAt(r, q+int(n))
		if q < 0 || n < -1 || n > int64(len(r)-q) {
			return false
		}
		p = q + int(max(n, 0))
	}
	return p == len(r)
}

// varintAt is readVarint(b[p:]) returning the position after the varint,
// or a negative position where readVarint fails (b too short, or more
// than 10 bytes); small enough to be inlined.
func varintAt(b []byte, p int) (int64, int) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if uint(p) >= uint(len(b)) {
			return 0, -1
		}
		c := b[p]
		p++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), p
		}
	}
	return 0, -1
}

// skipVarint is the position after the varint at b[p:], negative where
// readVarint fails.
func skipVarint(b []byte, p int) int {
	for end := p + 10; p < end; p++ {
		if uint(p) >= uint(len(b)) {
			return -1
		}
		if b[p] < 0x80 {
			return p + 1
		}
	}
	return -1
}

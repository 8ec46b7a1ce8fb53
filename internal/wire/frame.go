package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka frames every request and response with a 4-byte big-endian size
// that counts the bytes after it.
//
// Request, header v1 (non-flexible versions) and v2 (flexible, KIP-482):
//
//	+---------+---------+-------------+----------------+----------------------+----------------+------+
//	| size    | api_key | api_version | correlation_id | client_id            | tagged fields  | body |
//	| int32   | int16   | int16       | int32          | int16 len + bytes    | uvarint count  | ...  |
//	|         |         |             |                | (-1 = null)          | (v2 only; 0)   |      |
//	+---------+---------+-------------+----------------+----------------------+----------------+------+
//
// Response, header v0 (non-flexible, and ApiVersions at every version so
// that a client can always parse the version error) and v1 (flexible):
//
//	+---------+----------------+---------------------------------------+------+
//	| size    | correlation_id | tagged fields                         | body |
//	| int32   | int32          | uvarint count, then per field uvarint | ...  |
//	|         |                | tag, uvarint length, bytes (v1 only)  |      |
//	+---------+----------------+---------------------------------------+------+
//
// The correlation id is chosen by the client and echoed by the broker; Kafka
// answers requests on one connection strictly in order, so the client only
// ever compares it with its oldest outstanding request.

const (
	// corrIDOffset is where the correlation id sits in an encoded request,
	// patched in after encoding so that ids are assigned in write order.
	corrIDOffset = 4 + 2 + 2
	// maxHeaderTags bounds the number of tagged fields we skip in a
	// response header; Kafka defines none today.
	maxHeaderTags = 1 << 10
)

var (
	errShortFrame   = errors.New("response frame shorter than its correlation id")
	errNegativeSize = errors.New("negative response size")
	errBadTags      = errors.New("malformed tagged fields in response header")
)

// encodeRequest encodes req as a complete size-prefixed frame into buf's
// storage (its contents are discarded) with correlation id 0; the caller
// patches the id at corrIDOffset once it is assigned. The header is kmsg's
// (RequestFormatter: header v1, or v2 with an empty tag section for
// flexible versions, and ControlledShutdown v0's header v0), so skiff does
// not keep its own copy of those rules. kmsg writes the size prefix at the
// start of the slice it is given, hence the empty buf rather than an append.
func encodeRequest(buf []byte, f *kmsg.RequestFormatter, req kmsg.Request) []byte {
	return f.AppendRequest(buf[:0], req, 0)
}

// readFrameSize reads a response's size prefix and checks it against max.
// The prefix must cover at least the correlation id.
func readFrameSize(r io.Reader, buf *[4]byte, max int32) (int32, error) {
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return 0, err
	}
	size := int32(binary.BigEndian.Uint32(buf[:]))
	switch {
	case size < 0:
		return 0, fmt.Errorf("%w: %d", errNegativeSize, size)
	case size < 4:
		return 0, fmt.Errorf("%w: size %d", errShortFrame, size)
	case size > max:
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrResponseTooLarge, size, max)
	}
	return size, nil
}

// frameChunk is how much of a response frame is allocated before its bytes
// arrive; past it, the buffer doubles as data comes in.
const frameChunk = 1 << 20

// readFrame reads a size-byte frame (the bytes after the size prefix). The
// buffer starts at min(size, frameChunk) and doubles, never past size, as
// the bytes arrive, so a size prefix alone (up to MaxResponseSize) cannot
// make the client allocate memory the broker never sends (issue 13); a
// frame that does arrive costs at most twice its size in allocations, and
// frames up to frameChunk (nearly every response) exactly one. The broker
// reads requests the same way (broker.readBody).
func readFrame(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, 0, min(size, frameChunk))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), size))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && len(buf) < size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// parseResponseHeader splits a frame (the bytes after the size prefix) into
// its correlation id and body, skipping header tagged fields when flexible.
func parseResponseHeader(frame []byte, flexible bool) (corrID int32, body []byte, err error) {
	if len(frame) < 4 {
		return 0, nil, errShortFrame
	}
	corrID = int32(binary.BigEndian.Uint32(frame))
	body = frame[4:]
	if !flexible {
		return corrID, body, nil
	}
	n, body, err := readUvarint(body)
	if err != nil {
		return corrID, nil, err
	}
	if n > maxHeaderTags {
		return corrID, nil, fmt.Errorf("%w: %d tags", errBadTags, n)
	}
	for range n {
		if _, body, err = readUvarint(body); err != nil { // tag
			return corrID, nil, err
		}
		var size uint64
		if size, body, err = readUvarint(body); err != nil {
			return corrID, nil, err
		}
		if size > uint64(len(body)) {
			return corrID, nil, fmt.Errorf("%w: tag of %d bytes, %d left", errBadTags, size, len(body))
		}
		body = body[size:]
	}
	return corrID, body, nil
}

func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v > 1<<31 {
		return 0, nil, errBadTags
	}
	return v, b[n:], nil
}

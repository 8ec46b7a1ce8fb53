// Package reqframe is the server side of Kafka's framing, shared by the
// bundled broker and the fastack benchmark sink: reading size-prefixed
// request frames, parsing the request header and the kmsg body, and
// framing responses.
//
// A request frame on the wire:
//
//	offset  width  field
//	     0      4  size            int32, the bytes that follow
//	     4      2  api key         int16
//	     6      2  api version     int16
//	     8      4  correlation id  int32, echoed in the response
//	    12      2  client id len   int16, -1 for null
//	    14      *  client id       bytes
//	     *      *  tagged fields   only in header v2, i.e. for flexible versions
//	     *      *  body            the kmsg request at that version
//
// A response frame is size, correlation id, then (response header v1, for
// flexible versions except ApiVersions, KIP-511) an empty tagged field
// section, then the body.
package reqframe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is ApiVersions, whose framing has two exceptions (KIP-511).
const apiVersionsKey = int16(kmsg.ApiVersions)

var (
	// ErrTooLarge is a size prefix above the reader's limit
	// (socket.request.max.bytes) or below zero: the connection is closed
	// without reading the body.
	ErrTooLarge = errors.New("request size out of bounds")
	// ErrMalformed is a frame that does not parse as a request this
	// package can answer; the connection that sent it should be closed.
	ErrMalformed = errors.New("malformed request")
)

// ReadSize reads a frame's size prefix into size (the caller's scratch, so
// nothing escapes) and checks it against max.
func ReadSize(r io.Reader, size *[4]byte, max int32) (int32, error) {
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return 0, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > max {
		return n, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, n, max)
	}
	return n, nil
}

// ReadBody reads an n-byte frame body into buf (nil, or an empty reused
// buffer), which grows as the bytes arrive: a size prefix alone, up to the
// reader's limit, cannot make the server allocate memory the client never
// sends. A body cut short is io.ErrUnexpectedEOF.
func ReadBody(r io.Reader, n int, buf []byte) ([]byte, error) {
	const initial = 64 << 10
	if cap(buf) == 0 {
		buf = make([]byte, 0, min(n, initial))
	}
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), n-len(buf)))...)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// Header is a parsed request header.
type Header struct {
	Key, Version int16
	Corr         int32
	// ClientID aliases the frame; nil for a null or empty client id.
	ClientID []byte
}

// Parse decodes a frame (without its size prefix) into its header and
// request. The request is nil, with no error, only for an ApiVersions at a
// version newer than kmsg parses: KIP-511 has the server answer it in v0
// with the versions it supports. Any other failure wraps ErrMalformed.
//
// kmsg's decoders check every length against the input (the broker's
// FuzzRequest holds them to it); the recover is the last line of defence
// that keeps a decoder bug from taking the server down with it.
func Parse(frame []byte) (h Header, req kmsg.Request, err error) {
	defer func() {
		if v := recover(); v != nil {
			req, err = nil, fmt.Errorf("%w: bug: decoder panicked: %v", ErrMalformed, v)
		}
	}()
	if len(frame) < 10 {
		return h, nil, fmt.Errorf("%w: %d byte frame is shorter than a request header", ErrMalformed, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.Corr = int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	body := frame[10:]
	if idLen > 0 {
		if idLen > len(body) {
			return h, nil, fmt.Errorf("%w: client id of %d bytes in a %d byte frame", ErrMalformed, idLen, len(frame))
		}
		h.ClientID = body[:idLen:idLen]
		body = body[idLen:]
	} else if idLen < -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformed, idLen)
	}

	req = kmsg.RequestForKey(h.Key)
	if req == nil {
		return h, nil, fmt.Errorf("%w: unknown api key %d", ErrMalformed, h.Key)
	}
	if h.Key == apiVersionsKey && h.Version > req.MaxVersion() {
		return h, nil, nil // KIP-511
	}
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return h, nil, fmt.Errorf("%w: api key %d version %d is beyond what kmsg can parse", ErrMalformed, h.Key, h.Version)
	}
	req.SetVersion(h.Version)
	if req.IsFlexible() {
		rd := kbin.Reader{Src: body}
		kmsg.SkipTags(&rd)
		if !rd.Ok() {
			return h, nil, fmt.Errorf("%w: bad tagged fields in the header of api key %d v%d", ErrMalformed, h.Key, h.Version)
		}
		body = rd.Src
	}
	if err := req.ReadFrom(body); err != nil {
		return h, nil, fmt.Errorf("%w: api key %d v%d: %v", ErrMalformed, h.Key, h.Version, err)
	}
	return h, req, nil
}

// AppendResponse appends the response frame answering correlation id corr
// to dst. resp's version must be set.
func AppendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	// Response header v1 (a tag section) for flexible versions, except
	// ApiVersions, whose response header is always v0 (KIP-511): a client
	// must read it before it knows which versions the server speaks.
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

package skifftest

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The proxy follows the Kafka framing of both directions of a connection,
// without holding whole requests:
//
//	request:   size int32 | api_key int16 | api_version int16 | correlation_id int32 | client_id, tags, body...
//	           `------ 4 -'`------ 2 ----'`------- 2 -------'`--------- 4 --------'
//	response:  size int32 | correlation_id int32 | tags (flexible versions but ApiVersions) | body...
//
// size counts the bytes after itself. Requests are scanned for their first
// 12 bytes and forwarded as they come; a response is buffered whole only
// when its correlation ID belongs to a request whose response carries
// broker addresses (see rewrites), everything else streams through.

// Limits beyond which a stream is taken not to be Kafka (or not to be worth
// decoding), and forwarded unchanged from there on.
const (
	maxRequestFrame  = 100 << 20 // socket.request.max.bytes
	maxResponseFrame = 1 << 30
	maxRewriteFrame  = 64 << 20 // a Metadata response of a huge cluster is still far below
)

// rewrites reports whether responses to requests of key carry broker
// addresses the proxy replaces.
func rewrites(key int16) bool {
	switch key {
	case Metadata, FindCoordinator, describeClusterKey:
		return true
	}
	return false
}

const describeClusterKey int16 = 60

// reqScanner follows the requests in a client→broker byte stream, fed in
// chunks of any size, and reports each request's header.
type reqScanner struct {
	hdr    [12]byte
	nhdr   int
	left   int64 // bytes of the current request still to skip
	broken bool  // not Kafka framing: stop looking
}

// scan feeds b and calls on for each request header completed in it.
func (s *reqScanner) scan(b []byte, on func(reqInfo, int32)) {
	for len(b) > 0 && !s.broken {
		if s.left > 0 {
			n := min(s.left, int64(len(b)))
			s.left -= n
			b = b[n:]
			continue
		}
		n := copy(s.hdr[s.nhdr:], b)
		s.nhdr += n
		b = b[n:]
		if s.nhdr < len(s.hdr) {
			if s.nhdr >= 4 {
				if size := int32(binary.BigEndian.Uint32(s.hdr[:4])); size < 8 || size > maxRequestFrame {
					s.broken = true
				}
			}
			return
		}
		size := int32(binary.BigEndian.Uint32(s.hdr[:4]))
		if size < 8 || size > maxRequestFrame {
			s.broken = true
			return
		}
		h := reqInfo{
			key:     int16(binary.BigEndian.Uint16(s.hdr[4:6])),
			version: int16(binary.BigEndian.Uint16(s.hdr[6:8])),
		}
		on(h, int32(binary.BigEndian.Uint32(s.hdr[8:12])))
		s.left = int64(size) - 8
		s.nhdr = 0
	}
}

// respRewriter follows the responses in a broker→client byte stream, fed in
// chunks of any size, and passes the stream on through emit with the
// responses that carry broker addresses rewritten. The slices given to
// emit alias the input or the rewriter's buffers: copy them before the next
// feed.
type respRewriter struct {
	expecting func() bool                      // whether a response to rewrite may come
	lookup    func(corr int32) (reqInfo, bool) // the request a correlation ID answers, forgotten after
	rewrite   func(reqInfo, []byte) []byte     // a whole frame, size included; returns what to send
	hdr       [8]byte
	nhdr      int    // bytes of hdr collected
	nsent     int    // bytes of hdr already emitted: this response streams through
	left      int64  // bytes of a passing response still to stream through
	buf       []byte // a response being buffered for rewrite, size prefix included
	want      int    // len(buf) once whole
	info      reqInfo
	broken    bool
}

func (r *respRewriter) feed(b []byte, emit func([]byte)) {
	for len(b) > 0 {
		switch {
		case r.broken:
			emit(b)
			return
		case r.left > 0:
			n := min(r.left, int64(len(b)))
			emit(b[:n])
			r.left -= n
			b = b[n:]
		case r.buf != nil:
			n := min(r.want-len(r.buf), len(b))
			r.buf = append(r.buf, b[:n]...)
			b = b[n:]
			if len(r.buf) == r.want {
				emit(r.rewrite(r.info, r.buf))
				r.buf = nil
			}
		default:
			n := copy(r.hdr[r.nhdr:], b)
			if r.nsent > 0 || (r.nhdr == 0 && !r.expecting()) {
				// No response to rewrite is due: stream the header
				// through rather than hold it, so a protocol that is
				// not Kafka is not stalled waiting for 8 bytes.
				emit(b[:n])
				r.nsent += n
			}
			r.nhdr += n
			b = b[n:]
			if r.nhdr < len(r.hdr) {
				continue
			}
			sent := r.nsent
			r.nhdr, r.nsent = 0, 0
			size := int32(binary.BigEndian.Uint32(r.hdr[:4]))
			if size < 4 || size > maxResponseFrame {
				r.broken = true
				if sent == 0 {
					emit(append([]byte(nil), r.hdr[:]...))
				}
				continue
			}
			info, ok := r.lookup(int32(binary.BigEndian.Uint32(r.hdr[4:8])))
			if ok && sent == 0 && size <= maxRewriteFrame {
				r.info, r.want = info, 4+int(size)
				r.buf = append(make([]byte, 0, r.want), r.hdr[:]...)
				if len(r.buf) == r.want { // a 4-byte response: nothing to rewrite
					emit(r.buf)
					r.buf = nil
				}
				continue
			}
			if sent == 0 {
				emit(append([]byte(nil), r.hdr[:]...))
			}
			r.left = int64(size) - 4
		}
	}
}

// flush emits what the rewriter holds when the stream ends: a truncated
// response goes on as it came.
func (r *respRewriter) flush(emit func([]byte)) {
	var rest []byte
	rest = append(rest, r.buf...)
	rest = append(rest, r.hdr[r.nsent:r.nhdr]...)
	r.buf, r.nhdr, r.nsent = nil, 0, 0
	if len(rest) > 0 {
		emit(rest)
	}
}

// rewriteResponse decodes frame (a whole response, size prefix included) as
// the response to h, replaces the broker addresses in it with what mapAddr
// says, and encodes it again. It reports false, and the caller forwards
// frame unchanged, when the frame does not decode or nothing changed.
func rewriteResponse(h reqInfo, frame []byte, mapAddr func(string, int32) (string, int32, bool)) ([]byte, bool) {
	if len(frame) < 8 || !rewrites(h.key) {
		return nil, false
	}
	resp := kmsg.ResponseForKey(h.key)
	if resp == nil || h.version < 0 || h.version > resp.MaxVersion() {
		return nil, false
	}
	resp.SetVersion(h.version)
	hdrEnd := 8
	if resp.IsFlexible() { // ApiVersions, the one exception to flexible headers, is not rewritten
		n, ok := skipTags(frame[hdrEnd:])
		if !ok {
			return nil, false
		}
		hdrEnd += n
	}
	if err := resp.ReadFrom(frame[hdrEnd:]); err != nil {
		return nil, false
	}
	changed := false
	remap := func(host *string, port *int32) {
		if hh, pp, ok := mapAddr(*host, *port); ok {
			*host, *port, changed = hh, pp, true
		}
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Brokers {
			remap(&r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.FindCoordinatorResponse:
		if h.version < 4 {
			if r.ErrorCode == 0 {
				remap(&r.Host, &r.Port)
			}
		} else {
			for i := range r.Coordinators {
				if r.Coordinators[i].ErrorCode == 0 {
					remap(&r.Coordinators[i].Host, &r.Coordinators[i].Port)
				}
			}
		}
	case *kmsg.DescribeClusterResponse:
		for i := range r.Brokers {
			remap(&r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	}
	if !changed {
		return nil, false
	}
	out := make([]byte, 0, len(frame)+64)
	out = append(out, frame[:hdrEnd]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, true
}

// skipTags returns the length of the tagged-field section (KIP-482) at the
// start of b.
func skipTags(b []byte) (int, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return 0, false
	}
	off := w
	for range n {
		_, w := binary.Uvarint(b[off:])
		if w <= 0 {
			return 0, false
		}
		off += w
		size, w := binary.Uvarint(b[off:])
		if w <= 0 || size > uint64(len(b)-off-w) {
			return 0, false
		}
		off += w + int(size)
	}
	return off, true
}

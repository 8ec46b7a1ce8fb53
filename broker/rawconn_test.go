package broker

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the wire protocol by hand, so tests choose exact versions
// and can send bytes no client would.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dialRaw(t testing.TB, b *Broker) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// frame encodes req at version as a size-prefixed request frame.
func frame(req kmsg.Request, version int16, corr int32) []byte {
	req.SetVersion(version)
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(version))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len("raw")))
	buf = append(buf, "raw"...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := rc.c.Write(b)
	require.NoError(rc.t, err)
}

// readFrame reads one response frame (after the size), or returns the
// read error (io.EOF when the broker closed the connection).
func (rc *rawConn) readFrame(timeout time.Duration) ([]byte, error) {
	rc.c.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(rc.c, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(rc.c, body)
	return body, err
}

// roundTrip sends req at version and decodes the response at version
// (respVersion lets ApiVersions read a KIP-511 v0 answer).
func (rc *rawConn) roundTrip(req kmsg.Request, version int16) kmsg.Response {
	rc.t.Helper()
	return rc.roundTripAs(req, version, version)
}

func (rc *rawConn) roundTripAs(req kmsg.Request, version, respVersion int16) kmsg.Response {
	rc.t.Helper()
	rc.corr++
	rc.write(frame(req, version, rc.corr))
	body, err := rc.readFrame(10 * time.Second)
	require.NoError(rc.t, err)
	require.GreaterOrEqual(rc.t, len(body), 4)
	require.Equal(rc.t, rc.corr, int32(binary.BigEndian.Uint32(body)), "correlation id")
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(respVersion)
	if resp.IsFlexible() && req.Key() != 18 {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		require.True(rc.t, r.Ok())
		body = r.Src
	}
	require.NoError(rc.t, resp.ReadFrom(body))
	return resp
}

// requireClosed asserts the broker closes the connection.
func (rc *rawConn) requireClosed() {
	rc.t.Helper()
	_, err := rc.readFrame(5 * time.Second)
	// EOF, or a reset when the broker closed with our bytes unread.
	require.True(rc.t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET),
		"the broker should close the connection, got %v", err)
}

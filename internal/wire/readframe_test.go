package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// countingConn counts the bytes read from it and, on entering each Read,
// records how many bytes had been read before it and signals.
type countingConn struct {
	net.Conn
	read    *atomic.Int64
	entered *atomic.Int64 // read's value when the latest Read began
	signal  chan struct{}
}

func (c countingConn) Read(p []byte) (int, error) {
	c.entered.Store(c.read.Load())
	select {
	case c.signal <- struct{}{}:
	default:
	}
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestHugeSizePrefixAllocatesOnlyWhatArrives: a broker (or anything on the
// port) that sends a 256 MiB size prefix and a few bytes, then stalls, must
// not make the client allocate 256 MiB: the frame grows as bytes arrive.
func TestHugeSizePrefixAllocatesOnlyWhatArrives(t *testing.T) {
	const announced = 256 << 20
	var (
		sent     atomic.Int64 // bytes the fake broker wrote
		hugeSent atomic.Bool  // the huge prefix is among them
	)
	fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		var raw []byte
		if r, ok := req.(*kmsg.ApiVersionsRequest); ok {
			raw = responseFrame(req, corrID, apiVersionsReply(r.Version, map[int16][2]int16{3: {0, 12}, 18: {0, 3}}))
		} else {
			raw = binary.BigEndian.AppendUint32(nil, announced)
			raw = binary.BigEndian.AppendUint32(raw, uint32(corrID))
			raw = append(raw, "just a few bytes"...)
		}
		sent.Add(int64(len(raw)))
		if _, ok := req.(*kmsg.MetadataRequest); ok {
			hugeSent.Store(true)
		}
		return fakeReply{raw: raw}
	})
	var read atomic.Int64
	var entered atomic.Int64
	signal := make(chan struct{}, 1)
	var d net.Dialer
	cl := newTestClient(t, Config{
		SeedBrokers: []string{fb.addr()},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: nc, read: &read, entered: &entered, signal: signal}, nil
		},
	})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	cn.DoAsync(kmsg.NewPtrMetadataRequest(), func(_ kmsg.Response, err error) { done <- err })
	// Wait until the reader, having taken in every byte the broker sent,
	// asks the socket for more: the frame is then as large as it gets
	// while the broker stalls.
wait:
	for {
		select {
		case <-signal:
			if hugeSent.Load() && entered.Load() >= sent.Load() {
				break wait
			}
		case <-ctx.Done():
			t.Fatalf("read %d of %d bytes", read.Load(), sent.Load())
		}
	}
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes while a %d-byte frame was announced", grew, announced)
	assert.Less(t, grew, uint64(8<<20), "allocation follows the bytes that arrived, not the size prefix")
	select {
	case err := <-done:
		t.Fatalf("request completed while the frame is incomplete: %v", err)
	default:
	}
	require.NoError(t, cn.Close())
	assert.ErrorIs(t, <-done, ErrConnClosed)
}

// TestResponseOverBoundClosesConn: a size prefix above MaxResponseSize is
// refused before any of the frame is read, with an error naming the limit,
// and the connection is closed.
func TestResponseOverBoundClosesConn(t *testing.T) {
	const limit = 1 << 20
	fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		if r, ok := req.(*kmsg.ApiVersionsRequest); ok {
			return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{3: {0, 12}, 18: {0, 3}})}
		}
		raw := binary.BigEndian.AppendUint32(nil, limit+1)
		return fakeReply{raw: binary.BigEndian.AppendUint32(raw, uint32(corrID))}
	})
	cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}, MaxResponseSize: limit})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	_, err = cn.Do(ctx, kmsg.NewPtrMetadataRequest())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.ErrorIs(t, err, ErrConnClosed)
	assert.Contains(t, err.Error(), "1048577 bytes, limit 1048576")
	<-cn.Closed()
}

func TestReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*frameChunk)/16+5)
	tests := []struct {
		name    string
		data    []byte
		size    int
		wantErr error
	}{
		{"small", []byte("hello"), 5, nil},
		{"several chunks, one byte per read", big, len(big), nil},
		{"short", []byte("hel"), 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := iotest.OneByteReader(bytes.NewReader(tt.data))
			got, err := readFrame(r, tt.size)
			if len(tt.data) < tt.size {
				require.Error(t, err)
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.data[:tt.size], got)
			assert.LessOrEqual(t, cap(got), tt.size, "no slack past the frame")
		})
	}
}

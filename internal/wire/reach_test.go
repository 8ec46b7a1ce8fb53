package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// logRecord is one captured log line.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// captureHandler keeps every record, at every level, for assertions.
type captureHandler struct {
	mu   *sync.Mutex
	recs *[]logRecord
	with []slog.Attr
}

func newCapture() (*slog.Logger, func() []logRecord) {
	h := &captureHandler{mu: new(sync.Mutex), recs: new([]logRecord)}
	return slog.New(h), func() []logRecord {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]logRecord(nil), *h.recs...)
	}
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.with {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.with = append(append([]slog.Attr(nil), h.with...), as...)
	return &c
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

func countLevel(recs []logRecord, level slog.Level) int {
	n := 0
	for _, r := range recs {
		if r.level == level {
			n++
		}
	}
	return n
}

// refused is what net.Dialer returns for a closed port.
func refused(addr string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// timedOut is what net.Dialer returns when its deadline passes.
func timedOut() error {
	var d net.Dialer
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := d.DialContext(ctx, "tcp", "127.0.0.1:9")
	return err
}

// TestPingNamesEveryAddress: Ping fails after one round, naming each seed
// by address with its OS error, once, without internal node ids or
// "wire:" prefixes; the causes stay matchable.
func TestPingNamesEveryAddress(t *testing.T) {
	dead := deadAddr(t)
	const slow = "127.0.0.2:9"
	var dials atomic.Int32
	cl := newTestClient(t, Config{
		SeedBrokers: []string{dead, slow},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			if addr == slow {
				return nil, timedOut()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	err := cl.Ping(testCtx(t, 10*time.Second))
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("no broker reachable: %s: connection refused; %s: i/o timeout", dead, slow), err.Error())
	assert.ErrorIs(t, err, ErrNoBrokers)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
	var nb *NoBrokersError
	require.ErrorAs(t, err, &nb)
	assert.Len(t, nb.Tried, 2)
	assert.Equal(t, int32(2), dials.Load(), "one round, no retries")
	assert.True(t, Unreachable(err))
}

// TestTopicNoBrokerErrorSaysHowLong: the error after giving up reads as
// one sentence with the addresses and the wait, and wraps the context's
// error. synctest: the minute passes in fake time.
func TestTopicNoBrokerErrorSaysHowLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const addr = "127.0.0.1:1"
		cl, err := NewClient(Config{
			SeedBrokers: []string{addr},
			Dial: func(ctx context.Context, network, a string) (net.Conn, error) {
				return nil, refused(a)
			},
		})
		require.NoError(t, err)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err = cl.Topic(ctx, "T")
		require.Error(t, err)
		assert.Equal(t, `metadata for topic "T": no broker reachable (retried for 1m0s): 127.0.0.1:1: connection refused`, err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, ErrNoBrokers)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		assert.NotContains(t, err.Error(), "wire:")
		assert.NotContains(t, err.Error(), "-2147483648")
	})
}

// TestUnreachableLogsOnEdges: while no broker answers the client logs one
// Warn naming every address, Debug for each later round, and one Info
// when a broker is reachable again.
func TestUnreachableLogsOnEdges(t *testing.T) {
	c := newCluster(t)
	real := c.ListenAddrs()[0]
	dead := deadAddr(t)
	var down atomic.Bool
	down.Store(true)
	logger, records := newCapture()
	cl := newTestClient(t, Config{
		SeedBrokers:  []string{real, dead},
		RetryBackoff: time.Millisecond,
		Logger:       logger,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if down.Load() {
				return nil, refused(addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	ctx := testCtx(t, 10*time.Second)
	for range 5 {
		require.ErrorIs(t, cl.Ping(ctx), ErrNoBrokers)
	}
	recs := records()
	require.Equal(t, 1, countLevel(recs, slog.LevelWarn), "one Warn for the whole outage: %v", recs)
	var warn logRecord
	for _, r := range recs {
		if r.level == slog.LevelWarn {
			warn = r
		}
	}
	assert.Equal(t, "no broker reachable; retrying", warn.msg)
	assert.Equal(t, real+": connection refused; "+dead+": connection refused", warn.attrs["brokers"])
	assert.Equal(t, 0, countLevel(recs, slog.LevelInfo))
	assert.GreaterOrEqual(t, countLevel(recs, slog.LevelDebug), 4, "later rounds log at Debug")

	down.Store(false)
	_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	require.NoError(t, err)
	recs = records()
	assert.Equal(t, 1, countLevel(recs, slog.LevelWarn))
	var infos []string
	for _, r := range recs {
		if r.level == slog.LevelInfo {
			infos = append(infos, r.msg)
		}
	}
	assert.Equal(t, []string{"broker reachable again"}, infos)
}

// TestConnectErrorNaming: seeds are named by address, known brokers by id
// and address; a handshake failure does not repeat the address.
func TestConnectErrorNaming(t *testing.T) {
	cause := refused("x")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"seed", &ConnectError{Addr: "h:1", Node: -1, Err: cause}, "h:1: connection refused"},
		{"broker", &ConnectError{Addr: "h:1", Node: 3, Err: cause}, "broker 3 at h:1: connection refused"},
		{"handshake", &ConnectError{Addr: "h:1", Node: -1, Err: &connErr{node: SeedNode(0), addr: "h:1", err: fmt.Errorf("%w: %w", ErrConnClosed, errors.New("EOF"))}},
			"h:1: connection closed: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
			assert.False(t, strings.Contains(tt.err.Error(), "wire:"))
		})
	}
}

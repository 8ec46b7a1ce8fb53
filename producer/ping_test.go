package producer

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestPing: against a live cluster Ping succeeds; against an address where
// nothing listens it fails after one round, naming the address and the OS
// error, long before max.block.
func TestPing(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	require.NoError(t, p.Ping(ctx))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())
	p = newProducer(t, Config{Brokers: []string{dead}, MaxBlock: time.Hour})
	err = p.Ping(ctx)
	require.Error(t, err)
	assert.Equal(t, "no broker reachable: "+dead+": connection refused", err.Error())
	assert.ErrorIs(t, err, ErrNoBrokers)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
	assert.NoError(t, ctx.Err(), "Ping did not wait for its context")

	require.NoError(t, p.Close(ctx))
	assert.ErrorIs(t, p.Ping(ctx), ErrClosed)
}

// levelCounter counts log records by level and message.
type levelCounter struct {
	mu sync.Mutex
	n  map[slog.Level]map[string]int
}

func (l *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *levelCounter) WithGroup(string) slog.Handler            { return l }
func (l *levelCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[r.Level] == nil {
		l.n[r.Level] = map[string]int{}
	}
	l.n[r.Level][r.Message]++
	return nil
}

func (l *levelCounter) get(level slog.Level) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.n[level])
}

// TestBrokerGoneWarnsOnce: when the only broker goes away with records
// waiting, the sender's redials (every retry.backoff.ms) log at Debug;
// each Warn appears once, not once per retry.
func TestBrokerGoneWarnsOnce(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	logs := &levelCounter{n: map[slog.Level]map[string]int{}}
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), RetryBackoff: 5 * time.Millisecond, Logger: slog.New(logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := p.SendSync(ctx, Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)

	c.Close()
	require.NoError(t, p.Send(ctx, Record{Topic: "t", Value: []byte("w")}, nil))
	// No event marks "the sender redialed N times"; poll the log.
	require.Eventually(t, func() bool {
		return logs.get(slog.LevelDebug)["producer: connecting to broker failed"] >= 3
	}, 15*time.Second, 5*time.Millisecond)
	for msg, n := range logs.get(slog.LevelWarn) {
		assert.Equal(t, 1, n, "Warn %q repeated", msg)
	}
	assert.Equal(t, 1, logs.get(slog.LevelWarn)["cannot connect to broker; retrying"], "the outage was reported")

	// The record cannot be delivered: abort instead of waiting it out.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_ = p.Close(cctx)
}

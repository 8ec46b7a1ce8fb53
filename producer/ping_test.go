package producer

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

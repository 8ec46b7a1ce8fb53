package wire

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/sasl"
)

// KIP-368: with connections.max.reauth.ms set, the connection logs in again
// before its session ends, stays usable throughout, and sends nothing but
// SASL requests between SaslHandshake and the end of the login (a real
// broker fails the connection otherwise).
func TestReauthenticatesBeforeSessionEnds(t *testing.T) {
	const session = 600 * time.Millisecond
	c := newCluster(t, kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "alice", testPassword),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "600"}))

	var (
		mu         sync.Mutex
		keys       []kmsg.Key
		handshakes = make(chan time.Time, 100)
	)
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		keys = append(keys, kmsg.Key(req.Key()))
		mu.Unlock()
		if req.Key() == int16(kmsg.SASLHandshake) {
			handshakes <- time.Now()
		}
		return nil, nil, false
	})

	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), SASL: sasl.ScramSHA256("alice", testPassword)})
	ctx := testCtx(t, 20*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	first := <-handshakes

	// Keep requests flowing on the connection while it re-authenticates
	// twice; every one must succeed on the same connection.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := cn.Do(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
				errs <- err
				return
			}
		}
	})
	var at []time.Time
	for range 2 {
		select {
		case h := <-handshakes:
			at = append(at, h)
		case err := <-errs:
			t.Fatalf("request failed during re-authentication: %v", err)
		case <-ctx.Done():
			t.Fatal("no re-authentication")
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("request failed during re-authentication: %v", err)
	default:
	}
	// Held until the last login finished, so the log below is complete.
	_, err = cn.Do(ctx, kmsg.NewPtrMetadataRequest())
	require.NoError(t, err)
	assert.False(t, cn.isClosed())

	prev := first
	for _, h := range at {
		// 85-95% of the session, with slack for a loaded machine.
		assert.Less(t, h.Sub(prev), session, "re-authenticated before the session ended")
		assert.Greater(t, h.Sub(prev), session/2)
		prev = h
	}
	mu.Lock()
	defer mu.Unlock()
	logins := 0
	for i, k := range keys {
		if k != kmsg.SASLHandshake {
			continue
		}
		logins++
		// SCRAM: the handshake is followed by exactly two SaslAuthenticate.
		require.Greater(t, len(keys), i+2)
		assert.Equal(t, []kmsg.Key{kmsg.SASLAuthenticate, kmsg.SASLAuthenticate}, keys[i+1:i+3], "nothing else inside login %d", logins)
	}
	assert.GreaterOrEqual(t, logins, 3)
}

package wire

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// KIP-368: with connections.max.reauth.ms set, the connection logs in again
// before its session ends, stays usable throughout, and sends nothing but
// SASL requests between SaslHandshake and the end of the login (a real
// broker fails the connection otherwise).
func TestReauthenticatesBeforeSessionEnds(t *testing.T) {
	// Long enough that a loaded machine's timer lag (the client renews at
	// 85-95% of it) does not eat the remaining 5-15%.
	const session = 2 * time.Second
	c := newCluster(t, kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "alice", testPassword),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "2000"}))

	var (
		mu       sync.Mutex
		keys     []kmsg.Key
		lastAuth time.Time // arrival of the latest SaslAuthenticate
		// Each handshake with the arrival of the previous login's last
		// SaslAuthenticate: the broker starts that session no earlier.
		handshakes = make(chan [2]time.Time, 100)
	)
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		keys = append(keys, kmsg.Key(req.Key()))
		now, prevAuth := time.Now(), lastAuth
		if req.Key() == int16(kmsg.SASLAuthenticate) {
			lastAuth = now
		}
		mu.Unlock()
		if req.Key() == int16(kmsg.SASLHandshake) {
			handshakes <- [2]time.Time{now, prevAuth}
		}
		return nil, nil, false
	})

	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), SASL: wireMech(sasl.ScramSHA256("alice", testPassword))})
	ctx := testCtx(t, 20*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	<-handshakes

	// Keep requests flowing on the connection while it re-authenticates
	// twice; every one must succeed on the same connection.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond) // steady load, not a busy loop
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := cn.Do(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
				errs <- err
				return
			}
		}
	})
	var at [][2]time.Time
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

	for _, h := range at {
		// Renewal at 85-95% of the session, counted from the previous
		// login's last SaslAuthenticate (the session cannot start before
		// it): the slow SCRAM exchange itself does not count.
		assert.Less(t, h[0].Sub(h[1]), session, "re-authenticated before the session ended")
		assert.Greater(t, h[0].Sub(h[1]), session/2)
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

// When re-authentication fails (here: the password changed on the broker
// since the connection logged in), the connection closes, requests on it
// fail instead of hanging, and the next connection reports the typed
// authentication error.
func TestReauthenticationFailureClosesConnection(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "alice", testPassword),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "500"}))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), SASL: wireMech(sasl.ScramSHA256("alice", testPassword))})
	ctx := testCtx(t, 20*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)

	salt := []byte("new-salt")
	salted, err := pbkdf2.Key(sha256.New, "changed", salt, 4096, sha256.Size)
	require.NoError(t, err)
	alter := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "alice", 1, 4096, salt, salted
	alter.Upsertions = append(alter.Upsertions, up)
	kresp, err := cn.Do(ctx, alter)
	require.NoError(t, err)
	resp := kresp.(*kmsg.AlterUserSCRAMCredentialsResponse)
	require.Len(t, resp.Results, 1)
	require.Zero(t, resp.Results[0].ErrorCode)

	// Requests keep working until the re-authentication, then fail.
	for {
		_, err := cn.Do(ctx, kmsg.NewPtrMetadataRequest())
		if err != nil {
			assert.ErrorIs(t, err, ErrConnClosed)
			break
		}
	}
	select {
	case <-cn.Closed():
	case <-ctx.Done():
		t.Fatal("connection not closed after failed re-authentication")
	}
	_, err = cl.Conn(ctx, SeedNode(0))
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
}

// Re-authentication traffic is not use: an otherwise idle connection is
// still closed after connections.max.idle.ms.
func TestReauthenticationDoesNotKeepIdleConnectionsAlive(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", testPassword),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "200"}))
	var logins atomic.Int32
	c.ControlKey(int16(kmsg.SASLHandshake), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		logins.Add(1)
		return nil, nil, false
	})
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), SASL: wireMech(sasl.Plain("alice", testPassword)), ConnMaxIdle: 800 * time.Millisecond})
	ctx := testCtx(t, 20*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	select {
	case <-cn.Closed():
	case <-ctx.Done():
		t.Fatal("idle connection kept open by re-authentication")
	}
	assert.GreaterOrEqual(t, logins.Load(), int32(2), "it re-authenticated while idle, before being reaped")
}

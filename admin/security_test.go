package admin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// The admin client logs in like producer and consumer: the mechanism in
// Config.SASL reaches every connection, and bad credentials fail at once
// with the typed error instead of retrying.
func TestSASL(t *testing.T) {
	be := newKfake(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "admin", "s3cret"))
	for _, tc := range []struct {
		name    string
		mech    sasl.Mechanism
		wantErr error
	}{
		{"right password", sasl.ScramSHA512("admin", "s3cret"), nil},
		{"wrong password", sasl.ScramSHA512("admin", "nope"), kerr.SaslAuthenticationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Brokers: be.addrs, Logger: testLogger(), SASL: tc.mech})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close(context.Background()) })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err = c.ListTopics(ctx)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			assert.NotContains(t, err.Error(), "nope", "the password never shows")
			assert.Less(t, time.Since(start), 10*time.Second, "fatal, not retried until the deadline")
		})
	}
}

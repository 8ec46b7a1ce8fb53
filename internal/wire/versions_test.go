package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

func TestVersionsChoose(t *testing.T) {
	v := versionsFrom([]kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 3, MaxVersion: 7},    // Produce
		{ApiKey: 3, MinVersion: 0, MaxVersion: 50},   // Metadata, newer than kmsg
		{ApiKey: 1, MinVersion: 20, MaxVersion: 30},  // Fetch, only newer than kmsg
		{ApiKey: -1, MinVersion: 0, MaxVersion: 1},   // garbage: ignored
		{ApiKey: 9999, MinVersion: 0, MaxVersion: 1}, // beyond maxAPIKey: ignored
		{ApiKey: 12, MinVersion: 4, MaxVersion: 2},   // inverted: ignored
	})
	assert.Equal(t, []int16{0, 1, 3}, v.Keys())
	tests := []struct {
		name string
		req  kmsg.Request
		want int16
		err  bool
	}{
		{"broker caps", kmsg.NewPtrProduceRequest(), 7, false},
		{"client caps", kmsg.NewPtrMetadataRequest(), kmsg.NewPtrMetadataRequest().MaxVersion(), false},
		{"caller max", MaxVersion(kmsg.NewPtrMetadataRequest(), 9), 9, false},
		{"caller min satisfied", MinVersion(kmsg.NewPtrProduceRequest(), 7), 7, false},
		{"caller min too high", MinVersion(kmsg.NewPtrProduceRequest(), 8), 0, true},
		{"min and max compose", MaxVersion(MinVersion(kmsg.NewPtrProduceRequest(), 3), 5), 5, false},
		{"caller max below broker min", MaxVersion(kmsg.NewPtrProduceRequest(), 2), 0, true},
		{"no overlap with broker", kmsg.NewPtrFetchRequest(), 0, true},
		{"key not advertised", kmsg.NewPtrHeartbeatRequest(), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, lo, hi := unwrapRequest(tt.req)
			got, err := v.choose(req, lo, hi)
			if tt.err {
				require.Error(t, err)
				assert.ErrorIs(t, err, kerr.UnsupportedVersion)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	var zero Versions
	_, ok := zero.Max(0)
	assert.False(t, ok)
}

package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

func TestApiVersionsAllVersions(t *testing.T) {
	b := startBroker(t, Config{})
	rc := dialRaw(t, b)
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "skiff-test", "1.0"
		resp := rc.roundTrip(req, v).(*kmsg.ApiVersionsResponse)
		require.Zero(t, resp.ErrorCode, "v%d", v)
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		assert.Equal(t, [2]int16{0, 13}, got[0], "Produce advertised from v0 like Kafka 4.0")
		assert.Equal(t, [2]int16{4, 18}, got[1], "Fetch")
		assert.Equal(t, [2]int16{0, 13}, got[3], "Metadata")
		assert.Equal(t, [2]int16{0, 4}, got[18], "ApiVersions")
		assert.Equal(t, [2]int16{0, 9}, got[11], "JoinGroup, answered by the group coordinator")
		for key, rng := range got {
			max := kmsg.RequestForKey(key).MaxVersion()
			assert.LessOrEqual(t, rng[1], max, "key %d advertised beyond kmsg", key)
		}
	}
}

func TestApiVersionsUnknownVersionKIP511(t *testing.T) {
	b := startBroker(t, Config{})
	rc := dialRaw(t, b)
	// v5 parses in kmsg but is not ours; v0 answer with our ranges.
	resp := rc.roundTripAs(kmsg.NewPtrApiVersionsRequest(), 5, 0).(*kmsg.ApiVersionsResponse)
	assert.Equal(t, kerr.UnsupportedVersion.Code, resp.ErrorCode)
	assert.NotEmpty(t, resp.ApiKeys)

	// A version beyond what kmsg parses: the body is not even read.
	rc.corr++
	f := frame(kmsg.NewPtrApiVersionsRequest(), 0, rc.corr)
	f[7] = 99 // version low byte
	rc.write(f)
	body, err := rc.readFrame(5e9)
	require.NoError(t, err)
	var v0 kmsg.ApiVersionsResponse
	v0.SetVersion(0)
	require.NoError(t, v0.ReadFrom(body[4:]))
	assert.Equal(t, kerr.UnsupportedVersion.Code, v0.ErrorCode)
	assert.NotEmpty(t, v0.ApiKeys)

	// The connection keeps working.
	ok := rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
	assert.Zero(t, ok.ErrorCode)
}

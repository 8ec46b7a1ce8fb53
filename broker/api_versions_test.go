package broker

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
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
		assert.Equal(t, [2]int16{0, 13}, got[0], "Produce advertised from v0 like Kafka 4.0 (KAFKA-18659)")
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

// TestEveryAdvertisedVersionAnswered sends every advertised version of
// every advertised key, with the request's default body, on its own
// connection: each must be answered (not closed) and nothing in the answer
// may say UNSUPPORTED_VERSION, except Produce v0-v2, which Kafka 4.0 also
// advertises and refuses (KAFKA-18659, see apis.go).
func TestEveryAdvertisedVersionAnswered(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	rc := dialRaw(t, b)
	adv := rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
	require.NotEmpty(t, adv.ApiKeys)
	for _, k := range adv.ApiKeys {
		min := k.MinVersion
		if k.ApiKey == produceKey {
			min = apiFor(produceKey).min
		}
		for v := min; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			require.NotNil(t, req, "key %d", k.ApiKey)
			if k.ApiKey == 0 {
				req.(*kmsg.ProduceRequest).Acks = 1 // acks=0 is never answered
			}
			c := dialRaw(t, b)
			resp := c.roundTrip(req, v)
			assert.False(t, hasErrorCode(reflect.ValueOf(resp), kerr.UnsupportedVersion.Code),
				"key %d (%s) v%d answered UNSUPPORTED_VERSION", k.ApiKey, kmsg.NameForKey(k.ApiKey), v)
			c.c.Close()
		}
	}
	// Produce v0-v2: advertised and refused, as Kafka 4.0 refuses them.
	require.NoError(t, b.CreateTopic("t", 1, nil))
	p := produceReq("t", 0, makeBatch(1, 10, batch.NoProducer))
	resp := rc.roundTrip(p, 2).(*kmsg.ProduceResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	assert.Equal(t, kerr.UnsupportedVersion.Code, resp.Topics[0].Partitions[0].ErrorCode)
}

// hasErrorCode reports whether any ErrorCode field in v equals code.
func hasErrorCode(v reflect.Value, code int16) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasErrorCode(v.Elem(), code)
	case reflect.Slice:
		for i := range v.Len() {
			if hasErrorCode(v.Index(i), code) {
				return true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 && v.Field(i).Int() == int64(code) {
				return true
			}
			if hasErrorCode(v.Field(i), code) {
				return true
			}
		}
	}
	return false
}

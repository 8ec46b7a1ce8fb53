package broker

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// populate fills a kmsg request with one element in every list and a
// nonzero value in every identifying field, so an error response has
// something to answer for each list.
func populate(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() && v.Type().Elem().Kind() == reflect.String {
			s := "name"
			v.Set(reflect.ValueOf(&s))
		}
	case reflect.String:
		v.SetString("name")
	case reflect.Int8, reflect.Int32, reflect.Int64:
		v.SetInt(3)
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.Index(0).SetUint(7) // a topic id
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).Name != "Version" {
				populate(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			e := reflect.New(v.Type().Elem()).Elem()
			populate(e)
			v.Set(reflect.Append(v, e))
		}
	}
}

// errorCodes collects every ErrorCode in v, with the path to it.
func errorCodes(v reflect.Value, path string, out map[string]int16) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			errorCodes(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "ErrorCode" {
				out[path+".ErrorCode"] = int16(v.Field(i).Int())
				continue
			}
			if f.IsExported() {
				errorCodes(v.Field(i), path+"."+f.Name, out)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			errorCodes(v.Index(i), path, out)
		}
	}
}

// TestErrorResponseEveryAPI: for every API key the broker serves, and the
// group APIs, at every version it answers, the error response carries the
// code in every error field of every topic, partition, group or resource
// the request named, echoes what identifies them, and encodes and decodes
// at that version.
func TestErrorResponseEveryAPI(t *testing.T) {
	var served []api
	for _, a := range apis {
		if a != nil {
			served = append(served, *a)
		}
	}
	served = append(served, groupAPIs...)
	require.Len(t, served, 44)
	code := kerr.NotLeaderForPartition.Code
	for _, a := range served {
		for v := a.min; v <= a.max; v++ {
			req := kmsg.RequestForKey(a.key)
			populate(reflect.ValueOf(req).Elem())
			req.SetVersion(v)
			name := kmsg.NameForKey(a.key)

			resp := errorResponse(req, code)
			require.NotNil(t, resp, "%s v%d", name, v)
			assert.Equal(t, v, resp.GetVersion())

			codes := map[string]int16{}
			errorCodes(reflect.ValueOf(resp), name, codes)
			if a.key == metadataKey {
				delete(codes, name+".ErrorCode") // cluster-level, left alone
			}
			require.NotEmpty(t, codes, "%s v%d has no error field", name, v)
			for path, got := range codes {
				assert.Equal(t, code, got, "%s v%d: %s", name, v, path)
			}

			// The response round-trips at this version, so every error field
			// that matters at v is on the wire.
			dec := kmsg.ResponseForKey(a.key)
			dec.SetVersion(v)
			require.NoError(t, dec.ReadFrom(resp.AppendTo(nil)), "%s v%d", name, v)
			assert.Equal(t, resp.AppendTo(nil), dec.AppendTo(nil), "%s v%d", name, v)
		}
	}

	t.Run("identities echoed", func(t *testing.T) {
		req := kmsg.NewPtrProduceRequest()
		populate(reflect.ValueOf(req).Elem())
		req.SetVersion(9)
		resp := errorResponse(req, code).(*kmsg.ProduceResponse)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		assert.Equal(t, req.Topics[0].Topic, resp.Topics[0].Topic)
		assert.Equal(t, req.Topics[0].TopicID, resp.Topics[0].TopicID)
		p := resp.Topics[0].Partitions[0]
		assert.Equal(t, req.Topics[0].Partitions[0].Partition, p.Partition)
		assert.EqualValues(t, -1, p.BaseOffset, "no offset: -1, as Kafka answers")

		f := kmsg.NewPtrFetchRequest()
		populate(reflect.ValueOf(f).Elem())
		f.SetVersion(12)
		fr := errorResponse(f, code).(*kmsg.FetchResponse)
		fp := fr.Topics[0].Partitions[0]
		assert.NotNil(t, fp.RecordBatches, "empty, never null: librdkafka rejects null")
		assert.EqualValues(t, -1, fp.HighWatermark)

		dt := kmsg.NewPtrDeleteTopicsRequest()
		dt.TopicNames = []string{"a", "b"}
		dt.SetVersion(3)
		dr := errorResponse(dt, code).(*kmsg.DeleteTopicsResponse)
		require.Len(t, dr.Topics, 2)
		assert.Equal(t, "b", *dr.Topics[1].Topic)

		of := kmsg.NewPtrOffsetFetchRequest()
		ot := kmsg.NewOffsetFetchRequestTopic()
		ot.Topic, ot.Partitions = "t", []int32{4, 5}
		of.Topics = append(of.Topics, ot)
		of.SetVersion(5)
		ofr := errorResponse(of, code).(*kmsg.OffsetFetchResponse)
		require.Len(t, ofr.Topics[0].Partitions, 2)
		assert.EqualValues(t, 5, ofr.Topics[0].Partitions[1].Partition)
		assert.EqualValues(t, -1, ofr.Topics[0].Partitions[1].Offset)
	})

	// A kind the broker does not serve has no error response: its
	// connection is closed instead.
	assert.Nil(t, errorResponse(kmsg.NewPtrDescribeDelegationTokenRequest(), code))
}

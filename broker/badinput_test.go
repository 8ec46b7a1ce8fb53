package broker

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// makeBatch encodes n records of valueSize bytes as one uncompressed batch.
func makeBatch(n, valueSize int, p batch.Params) []byte {
	var bb batch.Builder
	now := time.Now().UnixMilli()
	bb.Reset(nil, now)
	for i := range n {
		v := make([]byte, valueSize)
		copy(v, fmt.Sprintf("v%d", i))
		batch.Append[batch.RecordHeader](&bb, now, []byte(fmt.Sprintf("k%d", i)), v, nil)
	}
	return append([]byte(nil), bb.Finish(p)...)
}

func produceReq(topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func produceCode(t *testing.T, rc *rawConn, req *kmsg.ProduceRequest, version int16) (int16, int64) {
	t.Helper()
	resp := rc.roundTrip(req, version).(*kmsg.ProduceResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func endOffset(t *testing.T, b *Broker, topic string, p int32) int64 {
	t.Helper()
	return b.topics.partition(topic, p).log.EndOffset()
}

func TestBadProduceInput(t *testing.T) {
	b := startBroker(t, Config{MessageMaxBytes: 4096, DisableAutoCreateTopics: true})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	good := makeBatch(3, 10, batch.NoProducer)

	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-2] ^= 0xff
	truncated := good[:len(good)-5]
	big := makeBatch(10, 1000, batch.NoProducer)

	for _, tc := range []struct {
		name    string
		req     *kmsg.ProduceRequest
		version int16
		want    *kerr.Error
	}{
		{"bad CRC", produceReq("t", 0, badCRC), 7, kerr.CorruptMessage},
		{"truncated batch", produceReq("t", 0, truncated), 7, kerr.CorruptMessage},
		{"empty record set", produceReq("t", 0, nil), 7, kerr.CorruptMessage},
		{"batch above message.max.bytes", produceReq("t", 0, big), 7, kerr.MessageTooLarge},
		{"unknown topic", produceReq("nope", 0, good), 7, kerr.UnknownTopicOrPartition},
		{"unknown partition", produceReq("t", 5, good), 7, kerr.UnknownTopicOrPartition},
		{"produce v2 (message sets)", produceReq("t", 0, good), 2, kerr.UnsupportedVersion},
		{"produce v0", produceReq("t", 0, good), 0, kerr.UnsupportedVersion},
		{"acks=2", func() *kmsg.ProduceRequest { r := produceReq("t", 0, good); r.Acks = 2; return r }(), 7, kerr.InvalidRequiredAcks},
		{"unknown topic id (v13)", produceReq("t", 0, good), 13, kerr.UnknownTopicID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, b)
			code, off := produceCode(t, rc, tc.req, tc.version)
			assert.Equal(t, tc.want.Code, code, "got %v", kerr.ForCode(code))
			assert.EqualValues(t, -1, off)
			assert.Zero(t, endOffset(t, b, "t", 0), "nothing appended")
		})
	}

	rc := dialRaw(t, b)
	code, off := produceCode(t, rc, produceReq("t", 0, good), 7)
	require.Zero(t, code)
	assert.Zero(t, off)
	assert.EqualValues(t, 3, endOffset(t, b, "t", 0))
}

func TestUnsupportedVersionsAnswered(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)

	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fr := rc.roundTrip(fetch, 3).(*kmsg.FetchResponse)
	require.Len(t, fr.Topics, 1)
	assert.Equal(t, kerr.UnsupportedVersion.Code, fr.Topics[0].Partitions[0].ErrorCode)

	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lt.Partitions = append(lt.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
	lo.Topics = append(lo.Topics, lt)
	lr := rc.roundTrip(lo, 0).(*kmsg.ListOffsetsResponse)
	assert.Equal(t, kerr.UnsupportedVersion.Code, lr.Topics[0].Partitions[0].ErrorCode)

	// A known key we do not implement closes the connection (Kafka does the
	// same: there is no response to put an error code in).
	rc.write(frame(kmsg.NewPtrDescribeDelegationTokenRequest(), 1, 99))
	rc.requireClosed()
}

// TestBadFramesCloseOnlyTheirConnection sends bytes that are not a request
// we can answer: that connection closes, and the broker keeps serving
// another one opened before and one opened after.
func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	b := startBroker(t, Config{SocketRequestMaxBytes: 1 << 20})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	bystander := dialRaw(t, b)
	bystander.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)

	withSize := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	metadataTruncated := frame(kmsg.NewPtrMetadataRequest(), 12, 1)
	metadataTruncated = metadataTruncated[:len(metadataTruncated)-1]
	binary.BigEndian.PutUint32(metadataTruncated, uint32(len(metadataTruncated)-4))
	unimplemented := frame(kmsg.NewPtrDescribeDelegationTokenRequest(), 1, 1)
	beyondKmsg := frame(kmsg.NewPtrMetadataRequest(), 1, 1)
	binary.BigEndian.PutUint16(beyondKmsg[6:], 200)

	for name, raw := range map[string][]byte{
		"garbage":                             withSize([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
		"http request":                        []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
		"short header":                        withSize([]byte{0, 3, 0}),
		"unknown api key":                     withSize([]byte{0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0xff, 0xff}),
		"negative client id len":              withSize([]byte{0, 18, 0, 0, 0, 0, 0, 1, 0x80, 0}),
		"client id past the frame":            withSize([]byte{0, 18, 0, 0, 0, 0, 0, 1, 0x10, 0}),
		"truncated metadata body":             metadataTruncated,
		"unimplemented api":                   unimplemented,
		"version beyond kmsg":                 beyondKmsg,
		"negative size":                       {0xff, 0xff, 0xff, 0xf0},
		"size above socket.request.max.bytes": binary.BigEndian.AppendUint32(nil, 2<<20),
	} {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, b)
			rc.write(raw)
			rc.requireClosed()

			after := dialRaw(t, b)
			after.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)
			bystander.roundTrip(kmsg.NewPtrMetadataRequest(), 12)
		})
	}
}

// Produce to a topic no Metadata named yet creates it when auto-create is on
// (num.partitions), and answers UNKNOWN_TOPIC_OR_PARTITION when it is off.
func TestProduceAutoCreatesTopic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
		want    int16
	}{
		{"enabled", false, 0},
		{"disabled", true, kerr.UnknownTopicOrPartition.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{NumPartitions: 2, DisableAutoCreateTopics: tc.disable})
			rc := dialRaw(t, b)
			code, off := produceCode(t, rc, produceReq("fresh", 1, makeBatch(2, 10, batch.NoProducer)), 7)
			assert.Equal(t, tc.want, code)
			if tc.disable {
				assert.Nil(t, b.topics.byName("fresh"))
				return
			}
			assert.Equal(t, int64(0), off)
			require.NotNil(t, b.topics.byName("fresh"))
			assert.Len(t, b.topics.byName("fresh").parts, 2)
			assert.Equal(t, int64(2), endOffset(t, b, "fresh", 1))
		})
	}
}

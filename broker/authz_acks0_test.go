package broker

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestAuthzAcksZeroAppendsAllowedTopics: an acks=0 Produce naming a topic
// the producer may write and one it may not has the allowed topic appended
// and then its connection closed, as Kafka's handleProduceRequest does (it
// appends the authorized partitions, then closes an acks=0 connection whose
// answer holds an error). The broker used to close without appending.
func TestAuthzAcksZeroAppendsAllowedTopics(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("ok", 1, nil))
	require.NoError(t, b.CreateTopic("no", 1, nil))

	// A DENY on "no" for everyone; "ok" has no ACL, so the default
	// allow.everyone.if.no.acl.found lets anyone write it.
	createTopicACLs(t, b, "no", topicACL{aclOpWrite, false})

	const n = 7
	req := produceReq("ok", 0, makeBatch(n, 32, batch.NoProducer))
	other := produceReq("no", 0, makeBatch(3, 32, batch.NoProducer))
	req.Topics = append(req.Topics, other.Topics...)
	req.Acks = 0

	rc := dialRaw(t, b)
	rc.write(frame(req, 9, 1))
	rc.requireClosed()

	okLog, noLog := b.topics.partition("ok", 0).log, b.topics.partition("no", 0).log
	// The close comes after the append: the record count is exact here.
	assert.Equal(t, int64(n), okLog.EndOffset(), "the allowed topic is appended")
	assert.Zero(t, noLog.EndOffset(), "the denied topic is not")

	// A request with only allowed topics keeps its connection.
	rc = dialRaw(t, b)
	only := produceReq("ok", 0, makeBatch(2, 32, batch.NoProducer))
	only.Acks = 0
	rc.write(frame(only, 9, 2))
	meta := kmsg.NewPtrMetadataRequest()
	_, ok := rc.roundTrip(meta, 9).(*kmsg.MetadataResponse)
	assert.True(t, ok, "connection still open")
	// Answers leave in request order, and the acks=0 request's turn ends
	// after its append: the Metadata answer comes after it.
	assert.Equal(t, int64(n+2), okLog.EndOffset())
}

// disconnectHook reports every connection kgo sees closed.
type disconnectHook chan struct{}

func (h disconnectHook) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) {
	select {
	case h <- struct{}{}:
	default:
	}
}

// TestAuthzAcksZeroKgo is the test above with franz-go's kgo at acks=0:
// one Produce request carries records for an allowed and a denied topic
// (ManualFlushing sends everything buffered at once). kgo sees its
// connection closed, the allowed records can be read back, the denied topic
// stays empty, and the client goes on producing over a new connection.
func TestAuthzAcksZeroKgo(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("ok", 1, nil))
	require.NoError(t, b.CreateTopic("no", 1, nil))
	// kgo must see the topic in Metadata to send records for it at all.
	createTopicACLs(t, b, "no", topicACL{aclOpWrite, false}, topicACL{aclOpDescribe, true})

	closed := make(disconnectHook, 1)
	prod := newClient(t, b, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(),
		kgo.ManualFlushing(), kgo.WithHooks(closed))
	const n = 5
	for i := range n {
		prod.Produce(ctx(t), &kgo.Record{Topic: "ok", Value: fmt.Appendf(nil, "ok-%d", i)}, nil)
		prod.Produce(ctx(t), &kgo.Record{Topic: "no", Value: fmt.Appendf(nil, "no-%d", i)}, nil)
	}
	// Nothing leaves before Flush; once kgo knows both topics' leaders,
	// the flush sends one request for both. kgo has no event for a loaded
	// topic, so this polls its metadata cache.
	require.Eventually(t, func() bool {
		okLeader, _, _ := prod.PartitionLeader("ok", 0)
		noLeader, _, _ := prod.PartitionLeader("no", 0)
		return okLeader >= 0 && noLeader >= 0
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, prod.Flush(ctx(t)))
	select {
	case <-closed:
	case <-ctx(t).Done():
		t.Fatal("the broker did not close the acks=0 connection")
	}

	got := consumeN(t, b, "ok", n)
	for i, r := range got {
		assert.Equal(t, fmt.Sprintf("ok-%d", i), string(r.Value))
	}
	assert.Zero(t, b.topics.partition("no", 0).log.EndOffset(), "the denied topic is not appended")

	// kgo reconnects and goes on.
	prod.Produce(ctx(t), &kgo.Record{Topic: "ok", Value: []byte("after")}, nil)
	require.NoError(t, prod.Flush(ctx(t)))
	got = consumeN(t, b, "ok", n+1)
	assert.Equal(t, "after", string(got[n].Value))
}

// topicACL is an ACL for every principal and host on a literal topic name.
type topicACL struct {
	op    int8
	allow bool
}

// createTopicACLs creates the ACLs on topic through CreateACLs.
func createTopicACLs(t testing.TB, b *Broker, topic string, acls ...topicACL) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, a := range acls {
		perm := int8(2) // DENY
		if a.allow {
			perm = 3
		}
		req.Creations = append(req.Creations, kmsg.CreateACLsRequestCreation{
			ResourceType: 2, ResourceName: topic, ResourcePatternType: 3, // TOPIC, LITERAL
			Principal: "User:*", Host: "*", Operation: kmsg.ACLOperation(a.op), PermissionType: kmsg.ACLPermissionType(perm),
		})
	}
	created := dialRaw(t, b).roundTrip(req, 3).(*kmsg.CreateACLsResponse)
	require.Len(t, created.Results, len(acls))
	for _, r := range created.Results {
		require.Zero(t, r.ErrorCode)
	}
}

package coordinator

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

func offsetDeleteReq(group string, topics ...string) *kmsg.OffsetDeleteRequest {
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	for _, tp := range topics {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = tp
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// partitionCodes maps topic to partition 0's code.
func partitionCodes(resp *kmsg.OffsetDeleteResponse) map[string]int16 {
	out := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[rt.Topic] = rp.ErrorCode
		}
	}
	return out
}

// TestOffsetDelete pins Kafka's OffsetDelete rules for classic groups.
func TestOffsetDelete(t *testing.T) {
	subscribedTo := func(topics ...string) []byte {
		md := kmsg.NewConsumerMemberMetadata()
		md.Topics = topics
		return md.AppendTo(nil)
	}
	for _, tc := range []struct {
		name      string
		metadata  []byte // nil: the group has no member
		protoType string
		wantTop   int16
		want      map[string]int16 // after: topic → partition code
		remaining map[string]bool  // topic → offset still committed
	}{
		{name: "empty group: everything goes", want: map[string]int16{"t": 0, "u": 0}, remaining: map[string]bool{"t": false, "u": false}},
		{name: "member subscribed to t", metadata: subscribedTo("t"), protoType: "consumer",
			want: map[string]int16{"t": kerr.GroupSubscribedToTopic.Code, "u": 0}, remaining: map[string]bool{"t": true, "u": false}},
		{name: "unreadable subscription", metadata: []byte("md-range"), protoType: "consumer",
			wantTop: kerr.NonEmptyGroup.Code, remaining: map[string]bool{"t": true, "u": true}},
		{name: "not a consumer group", metadata: subscribedTo("t"), protoType: "connect",
			wantTop: kerr.NonEmptyGroup.Code, remaining: map[string]bool{"t": true, "u": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCoordinator(t, testConfig(t.TempDir()))
				for _, tp := range []string{"t", "u"} {
					resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "g", "", -1, tp, map[int32]int64{0: 5}))
					require.Zero(t, commitCodes(resp)[0])
				}
				if tc.metadata != nil {
					id := memberID(t, c, "g")
					join := joinReq(9, "g", id, nil)
					join.ProtocolType = tc.protoType
					join.Protocols[0].Metadata = tc.metadata
					jr := do[*kmsg.JoinGroupResponse](t, c, join)
					require.Zero(t, jr.ErrorCode)
				}
				resp := do[*kmsg.OffsetDeleteResponse](t, c, offsetDeleteReq("g", "t", "u"))
				assert.Equal(t, tc.wantTop, resp.ErrorCode)
				if tc.want != nil {
					assert.Equal(t, tc.want, partitionCodes(resp))
				}
				for tp, want := range tc.remaining {
					_, ok := c.store.fetch("g", topicPartition{tp, 0})
					assert.Equal(t, want, ok, "offset of %s", tp)
				}
			})
		})
	}
	t.Run("unknown and invalid groups", func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		assert.Equal(t, kerr.GroupIDNotFound.Code, do[*kmsg.OffsetDeleteResponse](t, c, offsetDeleteReq("nobody", "t")).ErrorCode)
		assert.Equal(t, kerr.InvalidGroupID.Code, do[*kmsg.OffsetDeleteResponse](t, c, offsetDeleteReq("", "t")).ErrorCode)
	})
}

package coordinator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var testClient = Client{ID: "test-client", Host: "127.0.0.1"}

// testConfig is a config with short timeouts suited to synctest bubbles.
func testConfig(dir string) Config {
	return Config{
		DataDir:               dir,
		InitialRebalanceDelay: 100 * time.Millisecond,
		MinSessionTimeout:     100 * time.Millisecond,
		Port:                  9092,
		Logger:                slog.New(slog.DiscardHandler),
	}
}

func newCoordinator(t testing.TB, cfg Config) *Coordinator {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// send hands req to c and returns a channel that receives the response.
// It fails the test if respond is called more than once.
func submit(t testing.TB, c *Coordinator, req kmsg.Request) <-chan kmsg.Response {
	t.Helper()
	ch := make(chan kmsg.Response, 2)
	ok := c.Handle(testClient, req, func(resp kmsg.Response) {
		ch <- resp
	})
	require.True(t, ok, "request %T not handled", req)
	return ch
}

// wait returns the response on ch, failing after a (bubbled) minute.
func wait[R kmsg.Response](t testing.TB, ch <-chan kmsg.Response) R {
	t.Helper()
	select {
	case resp := <-ch:
		r, ok := resp.(R)
		require.True(t, ok, "response is %T", resp)
		select {
		case extra := <-ch:
			t.Fatalf("second response %v", extra)
		default:
		}
		return r
	case <-time.After(time.Minute):
		t.Fatal("no response")
		panic("unreachable")
	}
}

// pending asserts that no response has arrived on ch yet.
func pending(t testing.TB, ch <-chan kmsg.Response) {
	t.Helper()
	select {
	case resp := <-ch:
		t.Fatalf("unexpected response %+v", resp)
	default:
	}
}

func do[R kmsg.Response](t testing.TB, c *Coordinator, req kmsg.Request) R {
	t.Helper()
	return wait[R](t, submit(t, c, req))
}

func str(s string) *string { return &s }

// joinReq builds a consumer JoinGroup of version v with the given
// protocols (name → metadata).
func joinReq(v int16, group, memberID string, instance *string, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = v
	req.Group = group
	req.MemberID = memberID
	req.InstanceID = instance
	req.SessionTimeoutMillis = 1000
	req.RebalanceTimeoutMillis = 2000
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte("md-" + p)})
	}
	return req
}

// memberID performs the KIP-394 first join and returns the assigned id.
func memberID(t testing.TB, c *Coordinator, group string) string {
	t.Helper()
	resp := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, group, "", nil))
	require.Equal(t, int16(79), resp.ErrorCode, "MEMBER_ID_REQUIRED")
	require.NotEmpty(t, resp.MemberID)
	return resp.MemberID
}

func syncReq(group, memberID string, gen int32, assignments map[string]string) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	for id, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(a)})
	}
	return req
}

func heartbeatReq(group, memberID string, gen int32, instance *string) *kmsg.HeartbeatRequest {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation, req.InstanceID = group, memberID, gen, instance
	return req
}

func heartbeat(t testing.TB, c *Coordinator, group, memberID string, gen int32) int16 {
	t.Helper()
	return do[*kmsg.HeartbeatResponse](t, c, heartbeatReq(group, memberID, gen, nil)).ErrorCode
}

func commitReq(v int16, group, memberID string, gen int32, topic string, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = v
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	for p, o := range offsets {
		tp := kmsg.NewOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset, tp.LeaderEpoch, tp.Metadata = p, o, 3, str("md")
		t.Partitions = append(t.Partitions, tp)
	}
	req.Topics = append(req.Topics, t)
	return req
}

// commitCodes returns partition → error code of a commit response.
func commitCodes(resp *kmsg.OffsetCommitResponse) map[int32]int16 {
	out := map[int32]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// fetchOffsets fetches the given partitions with OffsetFetch v7, returning
// partition → offset.
func fetchOffsets(t testing.TB, c *Coordinator, group, topic string, partitions ...int32) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: partitions}}
	resp := do[*kmsg.OffsetFetchResponse](t, c, req)
	require.Zero(t, resp.ErrorCode)
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			require.Zero(t, p.ErrorCode)
			out[p.Partition] = p.Offset
		}
	}
	return out
}

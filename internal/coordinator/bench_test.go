package coordinator

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkOffsetCommit measures durable commits (one partition each, one
// fsync per group commit) from parallel committers.
func BenchmarkOffsetCommit(b *testing.B) {
	c := newCoordinator(b, testConfig(b.TempDir()))
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := next.Add(1)
		req := commitReq(8, "g", "", -1, "t", map[int32]int64{p: 0})
		done := make(chan kmsg.Response, 1)
		respond := func(r kmsg.Response) { done <- r }
		for pb.Next() {
			req.Topics[0].Partitions[0].Offset++
			c.Handle(testClient, req, respond)
			if code := (<-done).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
				b.Fatalf("commit: code %d", code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkHeartbeat measures the steady-state cost of a heartbeat.
func BenchmarkHeartbeat(b *testing.B) {
	cfg := testConfig(b.TempDir())
	cfg.InitialRebalanceDelay = -1
	c := newCoordinator(b, cfg)
	join := do[*kmsg.JoinGroupResponse](b, c, joinReq(3, "g", "", nil))
	require.Zero(b, join.ErrorCode)
	require.Zero(b, do[*kmsg.SyncGroupResponse](b, c, syncReq("g", join.MemberID, 1, nil)).ErrorCode)
	req := heartbeatReq("g", join.MemberID, 1, nil)
	var code int16
	respond := func(r kmsg.Response) { code = r.(*kmsg.HeartbeatResponse).ErrorCode }
	b.ReportAllocs()
	for b.Loop() {
		c.Handle(testClient, req, respond)
		if code != 0 {
			b.Fatalf("heartbeat: code %d", code)
		}
	}
}

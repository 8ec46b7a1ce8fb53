package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TestBrokerSessionTimeoutFlags: --group-min-session-timeout reaches the
// group coordinator: a 2 s session is refused by default (Kafka's 6 s
// floor) and accepted under a 1 s floor.
func TestBrokerSessionTimeoutFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int16
	}{
		{nil, kerr.InvalidSessionTimeout.Code},
		{[]string{"--group-min-session-timeout", "1s"}, 0},
	} {
		addr, _ := runBrokerCmd(t, tc.args...)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		require.NoError(t, err)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		join := func(member string) *kmsg.JoinGroupResponse {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.MemberID, req.ProtocolType = "g", member, "consumer"
			req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 2000, 10000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", (&kmsg.ConsumerMemberMetadata{Topics: []string{"t"}}).AppendTo(nil)
			req.Protocols = append(req.Protocols, p)
			resp, err := req.RequestWith(ctx, cl)
			require.NoError(t, err)
			return resp
		}
		resp := join("")
		if resp.ErrorCode == kerr.MemberIDRequired.Code { // KIP-394: past the session check
			resp = join(resp.MemberID)
		}
		assert.Equal(t, tc.want, resp.ErrorCode, "%q: %v", tc.args, kerr.ForCode(resp.ErrorCode))
	}
}

package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TestGroupSessionTimeoutBounds: JoinGroup's session timeout must lie in
// [group.min.session.timeout.ms, group.max.session.timeout.ms], Kafka's 6 s
// and 30 min by default, and Config moves both bounds.
func TestGroupSessionTimeoutBounds(t *testing.T) {
	cases := []struct {
		name     string
		min, max time.Duration
		session  time.Duration
		want     *kerr.Error // nil: joins
	}{
		{"default floor refuses 5999ms", 0, 0, 5999 * time.Millisecond, kerr.InvalidSessionTimeout},
		{"default floor takes 6s", 0, 0, 6 * time.Second, nil},
		{"default ceiling takes 30min", 0, 0, 30 * time.Minute, nil},
		{"default ceiling refuses 30min+1ms", 0, 0, 30*time.Minute + time.Millisecond, kerr.InvalidSessionTimeout},
		{"lowered floor takes 500ms", 500 * time.Millisecond, 0, 500 * time.Millisecond, nil},
		{"lowered floor refuses 499ms", 500 * time.Millisecond, 0, 499 * time.Millisecond, kerr.InvalidSessionTimeout},
		{"lowered ceiling refuses 11s", time.Second, 10 * time.Second, 11 * time.Second, kerr.InvalidSessionTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{GroupInitialRebalanceDelay: -1,
				GroupMinSessionTimeout: tc.min, GroupMaxSessionTimeout: tc.max})
			cl := newClient(t, b)
			join := func(memberID string) *kmsg.JoinGroupResponse {
				req := kmsg.NewPtrJoinGroupRequest()
				req.Group, req.MemberID, req.ProtocolType = "g", memberID, "consumer"
				req.SessionTimeoutMillis = int32(tc.session.Milliseconds())
				req.RebalanceTimeoutMillis = 10000
				p := kmsg.NewJoinGroupRequestProtocol()
				p.Name, p.Metadata = "range", (&kmsg.ConsumerMemberMetadata{Topics: []string{"t"}}).AppendTo(nil)
				req.Protocols = append(req.Protocols, p)
				resp, err := req.RequestWith(ctx(t), cl)
				require.NoError(t, err)
				return resp
			}
			resp := join("")
			if resp.ErrorCode == kerr.MemberIDRequired.Code { // KIP-394: past the session check
				resp = join(resp.MemberID)
			}
			if tc.want != nil {
				assert.Equal(t, tc.want.Code, resp.ErrorCode, "got %v", kerr.ForCode(resp.ErrorCode))
				return
			}
			assert.Zero(t, resp.ErrorCode, "got %v", kerr.ForCode(resp.ErrorCode))
		})
	}
}

func TestGroupSessionTimeoutConfig(t *testing.T) {
	for _, cfg := range []Config{
		{DataDir: "x", GroupMinSessionTimeout: -time.Second},
		{DataDir: "x", GroupMaxSessionTimeout: -time.Second},
		{DataDir: "x", QuotaWindowNum: -1},
	} {
		assert.ErrorIs(t, cfg.withDefaults().validate(), ErrInvalidConfig)
	}
	_, err := Start(ctx(t), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: discardLogger(),
		GroupMinSessionTimeout: time.Minute, GroupMaxSessionTimeout: time.Second})
	assert.ErrorContains(t, err, "MaxSessionTimeout", "a ceiling below the floor is refused")
}

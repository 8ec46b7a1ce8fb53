package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{name: "minimal", cfg: Config{Brokers: []string{"127.0.0.1:9092"}}},
		{name: "no brokers", cfg: Config{}, want: []string{"Brokers (bootstrap.servers) is empty"}},
		{name: "not host:port", cfg: Config{Brokers: []string{"localhost"}}, want: []string{`broker "localhost" is not host:port`}},
		{name: "every problem at once", cfg: Config{Brokers: []string{"x"}, RequestTimeout: -1, RetryBackoff: -time.Second},
			want: []string{`broker "x"`, "RequestTimeout (request.timeout.ms) is negative", "RetryBackoff (retry.backoff.ms) is negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				assert.NoError(t, c.Close(context.Background()))
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestClose(t *testing.T) {
	be := newBundled(t)
	c, err := New(Config{Brokers: be.addrs, Logger: testLogger()})
	require.NoError(t, err)
	mustCreate(t, c, "t", 1, nil) // a live connection to close
	ctx := testCtx(t)
	require.NoError(t, c.Close(ctx))
	assert.NoError(t, c.Close(ctx), "Close is idempotent")

	_, err = c.ListTopics(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = c.CreateTopics(ctx, NewTopic{Name: "x"})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = c.DescribeGroups(ctx, "g")
	assert.ErrorIs(t, err, ErrClosed)
}

func TestDecodeConsumerProtocol(t *testing.T) {
	sub := kmsg.NewConsumerMemberMetadata()
	sub.Version = 3
	sub.Topics = []string{"b", "a"}
	as := kmsg.NewConsumerMemberAssignment()
	as.Version = 3
	as.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "a", Partitions: []int32{2, 0}}, {Topic: "b", Partitions: []int32{1}}}
	for _, tc := range []struct {
		name         string
		meta, assign []byte
		wantSub      []string
		wantAssign   map[string][]int32
		wantErr      bool
	}{
		{name: "both", meta: sub.AppendTo(nil), assign: as.AppendTo(nil), wantSub: []string{"a", "b"}, wantAssign: map[string][]int32{"a": {0, 2}, "b": {1}}},
		{name: "rebalancing: no assignment yet", meta: sub.AppendTo(nil), wantSub: []string{"a", "b"}},
		{name: "empty", wantSub: nil},
		{name: "truncated assignment", meta: sub.AppendTo(nil), assign: as.AppendTo(nil)[:7], wantSub: []string{"a", "b"}, wantErr: true},
		{name: "garbage subscription", meta: []byte{0, 0, 0x7f, 0xff, 0xff, 0xff}, assign: as.AppendTo(nil), wantAssign: map[string][]int32{"a": {0, 2}, "b": {1}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotSub, gotAssign, err := decodeConsumerProtocol(tc.meta, tc.assign)
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrMalformedResponse)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.wantSub, gotSub)
			assert.Equal(t, tc.wantAssign, gotAssign)
		})
	}
}

// FuzzDecodeConsumerProtocol feeds DescribeGroups member bytes from the
// network: they must decode or fail, never panic.
func FuzzDecodeConsumerProtocol(f *testing.F) {
	sub := kmsg.NewConsumerMemberMetadata()
	sub.Topics = []string{"t"}
	as := kmsg.NewConsumerMemberAssignment()
	as.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	f.Add(sub.AppendTo(nil), as.AppendTo(nil))
	f.Add([]byte{0, 1}, []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, meta, assign []byte) {
		_, _, _ = decodeConsumerProtocol(meta, assign)
	})
}

// Close while calls are under way: every call ends, with a closed-client or
// closed-connection error once Close has run, and -race sees no race.
func TestCloseDuringCalls(t *testing.T) {
	be := newBundled(t)
	c, err := New(Config{Brokers: be.addrs, Logger: testLogger()})
	require.NoError(t, err)
	mustCreate(t, c, "t", 1, nil)
	ctx := testCtx(t)
	errs := make(chan error, 8)
	start := make(chan struct{})
	for range cap(errs) {
		go func() {
			<-start
			var err error
			for err == nil {
				_, err = c.ListOffsets(ctx, Latest, "t")
			}
			errs <- err
		}()
	}
	close(start)
	require.NoError(t, c.Close(ctx))
	for range cap(errs) {
		err := <-errs
		assert.True(t, errors.Is(err, ErrClosed) || errors.Is(err, ErrConnClosed), "%v", err)
	}
}

func TestStrings(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{ToEarliest(), "to-earliest"},
		{ToLatest(), "to-latest"},
		{ToTime(at), "to-datetime 2026-12-03T08:00:00Z"},
		{ToOffset(7), "to-offset 7"},
		{ShiftBy(-3), "shift-by -3"},
		{ResetSpec{}, "invalid"},
		{Earliest, "earliest"},
		{Latest, "latest"},
		{AtTime(at), "2026-12-03T08:00:00Z"},
		{ResourceTopic, "topic"},
		{ResourceBroker, "broker"},
		{ResourceType(99), "resource-type-99"},
		{SourceDynamicTopic, "DYNAMIC_TOPIC_CONFIG"},
		{SourceDefault, "DEFAULT_CONFIG"},
		{ConfigSource(42), "UNKNOWN"},
	} {
		assert.Equal(t, tc.want, tc.v.String())
	}
}

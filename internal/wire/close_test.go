package wire

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCloseSendsBarrierAfterAcksZero checks the first step of a graceful
// close: after an acks=0 Produce, Close sends an ApiVersions barrier and
// waits for its answer, so the broker has handled the Produce (Kafka handles
// a connection's requests in order) before the connection goes away.
func TestCloseSendsBarrierAfterAcksZero(t *testing.T) {
	tests := []struct {
		name        string
		acksZero    bool
		wantBarrier bool
	}{
		{"after acks=0", true, true},
		{"nothing unanswered", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				keys []int16
			)
			fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
				mu.Lock()
				keys = append(keys, req.Key())
				mu.Unlock()
				switch r := req.(type) {
				case *kmsg.ApiVersionsRequest:
					return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{0: {3, 9}, 3: {0, 12}, 18: {0, 3}})}
				case *kmsg.ProduceRequest:
					if r.Acks == 0 {
						return fakeReply{}
					}
					return fakeReply{resp: r.ResponseKind()}
				}
				return fakeReply{close: true}
			})
			cl, err := NewClient(Config{SeedBrokers: []string{fb.addr()}})
			require.NoError(t, err)
			ctx := testCtx(t, 10*time.Second)
			cn, err := cl.Conn(ctx, SeedNode(0))
			require.NoError(t, err)
			acks := int16(1)
			if tt.acksZero {
				acks = 0
			}
			_, err = cn.Do(ctx, produceRequest("t", 0, acks, recordBatch(1, []byte("v"))))
			require.NoError(t, err)

			require.NoError(t, cl.Close())
			mu.Lock()
			got := append([]int16(nil), keys...)
			mu.Unlock()
			want := []int16{int16(kmsg.ApiVersions), int16(kmsg.Produce)}
			if tt.wantBarrier {
				want = append(want, int16(kmsg.ApiVersions))
			}
			assert.Equal(t, want, got, "requests the broker handled before Close returned")
			assert.NoError(t, cl.Close(), "second Close")
			requireNoWireGoroutines(t)
		})
	}
}

// TestCloseBoundedWhenBarrierUnanswered: a broker that reads but never
// answers holds Close for RequestTimeout at most, not forever.
func TestCloseBoundedWhenBarrierUnanswered(t *testing.T) {
	var answered sync.Once
	fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		if r, ok := req.(*kmsg.ApiVersionsRequest); ok {
			first := false
			answered.Do(func() { first = true })
			if first {
				return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{0: {3, 9}, 18: {0, 3}})}
			}
		}
		return fakeReply{} // swallow the acks=0 Produce and the barrier
	})
	const timeout = 200 * time.Millisecond
	cl, err := NewClient(Config{SeedBrokers: []string{fb.addr()}, RequestTimeout: timeout})
	require.NoError(t, err)
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	_, err = cn.Do(ctx, produceRequest("t", 0, 0, recordBatch(1, []byte("v"))))
	require.NoError(t, err)

	start := time.Now()
	require.NoError(t, cl.Close())
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, timeout, "Close waited for the barrier")
	assert.Less(t, took, closeGrace, "Close gave up at RequestTimeout")
	requireNoWireGoroutines(t)
}

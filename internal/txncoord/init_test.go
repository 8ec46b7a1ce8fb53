package txncoord

import (
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

type harness struct {
	*env
	c *Coordinator
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := newEnv(t)
	return &harness{env: e, c: e.open(t)}
}

func (h *harness) init(t *testing.T, expected ProducerIDEpoch) ProducerIDEpoch {
	t.Helper()
	pe, err := h.c.InitProducerID("t1", txnTimeout, expected)
	require.NoError(t, err)
	return pe
}

func TestInitProducerID(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, h *harness)
		call    func(h *harness) (ProducerIDEpoch, error)
		want    ProducerIDEpoch
		wantErr error
		check   func(t *testing.T, h *harness)
	}{
		{
			name: "new id gets a producer id and epoch 0",
			want: ProducerIDEpoch{1000, 0},
		},
		{
			name:  "known id bumps the epoch",
			setup: func(t *testing.T, h *harness) { h.init(t, NoProducer) },
			want:  ProducerIDEpoch{1000, 1},
		},
		{
			name:    "empty transactional id",
			call:    func(h *harness) (ProducerIDEpoch, error) { return h.c.InitProducerID("", time.Second, NoProducer) },
			wantErr: kerr.InvalidRequest,
		},
		{
			name:    "zero timeout",
			call:    func(h *harness) (ProducerIDEpoch, error) { return h.c.InitProducerID("t1", 0, NoProducer) },
			wantErr: kerr.InvalidTransactionTimeout,
		},
		{
			name:    "timeout above transaction.max.timeout.ms",
			call:    func(h *harness) (ProducerIDEpoch, error) { return h.c.InitProducerID("t1", time.Hour, NoProducer) },
			wantErr: kerr.InvalidTransactionTimeout,
		},
		{
			name: "producer id without epoch",
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", time.Second, ProducerIDEpoch{1000, -1})
			},
			wantErr: kerr.InvalidRequest,
		},
		{
			name:  "KIP-360 bump with the current id and epoch",
			setup: func(t *testing.T, h *harness) { h.init(t, NoProducer) },
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", txnTimeout, ProducerIDEpoch{1000, 0})
			},
			want: ProducerIDEpoch{1000, 1},
		},
		{
			name: "KIP-360 retry of a bump whose answer was lost",
			setup: func(t *testing.T, h *harness) {
				h.init(t, NoProducer)
				h.init(t, ProducerIDEpoch{1000, 0})
			},
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", txnTimeout, ProducerIDEpoch{1000, 0})
			},
			want: ProducerIDEpoch{1000, 1},
		},
		{
			name: "KIP-360 stale epoch is fenced",
			setup: func(t *testing.T, h *harness) {
				h.init(t, NoProducer)
				h.init(t, NoProducer)
				h.init(t, NoProducer)
			},
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", txnTimeout, ProducerIDEpoch{1000, 0})
			},
			wantErr: kerr.ProducerFenced,
		},
		{
			name:  "KIP-360 another producer id is fenced",
			setup: func(t *testing.T, h *harness) { h.init(t, NoProducer) },
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", txnTimeout, ProducerIDEpoch{999, 0})
			},
			wantErr: kerr.ProducerFenced,
		},
		{
			name: "exhausted epoch rotates the producer id",
			setup: func(t *testing.T, h *harness) {
				h.init(t, NoProducer)
				h.c.txns["t1"].epoch = math.MaxInt16 - 1
			},
			want: ProducerIDEpoch{1001, 0},
			check: func(t *testing.T, h *harness) {
				assert.Equal(t, int64(1000), h.c.txns["t1"].lastProducerID)
			},
		},
		{
			name: "retry of a rotation with the old id and exhausted epoch",
			setup: func(t *testing.T, h *harness) {
				h.init(t, NoProducer)
				h.c.txns["t1"].epoch = math.MaxInt16 - 1
				h.init(t, ProducerIDEpoch{1000, math.MaxInt16 - 1})
			},
			call: func(h *harness) (ProducerIDEpoch, error) {
				return h.c.InitProducerID("t1", txnTimeout, ProducerIDEpoch{1000, math.MaxInt16 - 1})
			},
			want: ProducerIDEpoch{1001, 0},
		},
		{
			name: "ongoing transaction is aborted with a bumped epoch first",
			setup: func(t *testing.T, h *harness) {
				begin(t, h.c, "t1", tpA0)
			},
			wantErr: kerr.ConcurrentTransactions,
			check: func(t *testing.T, h *harness) {
				synctest.Wait()
				d := describe(t, h.c, "t1")
				assert.Equal(t, CompleteAbort, d.State)
				assert.Equal(t, int16(1), d.ProducerEpoch)
				assert.Equal(t, []marker{{tpA0, 1000, 1, false}}, h.markers.list())
				// The retry then gets the next epoch.
				assert.Equal(t, ProducerIDEpoch{1000, 2}, h.init(t, NoProducer))
			},
		},
		{
			name: "completing transaction",
			setup: func(t *testing.T, h *harness) {
				h.markers.setFailAll(true)
				pe := begin(t, h.c, "t1", tpA0)
				require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
			},
			wantErr: kerr.ConcurrentTransactions,
			check: func(t *testing.T, h *harness) {
				assert.Equal(t, PrepareCommit, describe(t, h.c, "t1").State)
				h.markers.setFailAll(false)
			},
		},
		{
			name:    "producer id allocation fails",
			setup:   func(t *testing.T, h *harness) { h.pids.fail = errors.New("no ids") },
			wantErr: kerr.CoordinatorNotAvailable,
		},
		{
			name: "log write fails",
			setup: func(t *testing.T, h *harness) {
				h.init(t, NoProducer)
				h.c.store.setFailWrite(errors.New("disk full"))
			},
			wantErr: kerr.CoordinatorNotAvailable,
			check: func(t *testing.T, h *harness) {
				assert.Equal(t, int16(0), describe(t, h.c, "t1").ProducerEpoch, "epoch must not change without a durable record")
				h.c.store.setFailWrite(nil)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				if tc.setup != nil {
					tc.setup(t, h)
				}
				call := tc.call
				if call == nil {
					call = func(h *harness) (ProducerIDEpoch, error) {
						return h.c.InitProducerID("t1", txnTimeout, NoProducer)
					}
				}
				got, err := call(h)
				if tc.wantErr != nil {
					assert.ErrorIs(t, err, tc.wantErr)
					assert.Equal(t, NoProducer, got)
				} else {
					require.NoError(t, err)
					assert.Equal(t, tc.want, got)
				}
				if tc.check != nil {
					tc.check(t, h)
				}
			})
		})
	}
}

package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// TestTxnPrepareCommitFinishesAfterRestart: a transaction whose commit is
// decided (EndTxn answered, PrepareCommit durable) but whose marker cannot
// be written (the partition's disk fails) stays in PrepareCommit; after a
// restart on a healthy disk the coordinator writes the marker at once and
// the committed records reach read_committed consumers: a decided commit
// is never lost.
func TestTxnPrepareCommitFinishesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	cfg := Config{DataDir: dir, NumPartitions: 1, Logger: discardLogger()}
	cfg.logFS = fsys
	b := startBroker(t, cfg)
	require.NoError(t, b.CreateTopic("pc", 1, nil))
	cl := newClient(t, b, kgo.TransactionalID("tx-pc"), kgo.DefaultProduceTopic("pc"))
	require.NoError(t, cl.BeginTransaction())
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "p-%d", i)})
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpWrite | errorfs.OpSync, Path: errorfs.Under(filepath.Join(dir, "pc-0")), Err: errorfs.EIO})
	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit), "the decision is logged apart from the partition")
	// EndTxn is answered once PrepareCommit is durable; the markers are
	// written after it, on the coordinator's own goroutine, so wait for the
	// marker's write to meet the fault before looking at the state.
	require.Eventually(t, func() bool { return fsys.Injected() > 0 }, 10*time.Second, time.Millisecond,
		"the coordinator tries to write the marker")
	admin := newClient(t, b)
	assert.Equal(t, "PrepareCommit", describeTxn(t, admin, "tx-pc").State, "the marker cannot be written")
	cl.Close()
	admin.Close()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Close(c) // the failed partition's log reports its error on close

	cfg.logFS = nil
	b = startBroker(t, cfg)
	admin = newClient(t, b)
	require.Eventually(t, func() bool { return describeTxn(t, admin, "tx-pc").State == "CompleteCommit" },
		10*time.Second, 10*time.Millisecond, "the restart finishes writing the markers")
	got := valuesByPrefix(consumeN(t, b, "pc", 5, readCommitted()))
	assert.Equal(t, map[string]int{"p": 5}, got)
}

package broker

import (
	"encoding/binary"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/kerr"
)

// gateFS holds every fsync of the files under dir while armed, so a test
// can keep a transaction's marker (which the broker fsyncs) from becoming
// durable for as long as it needs.
type gateFS struct {
	vfs.FS
	dir  string
	mu   sync.Mutex
	gate chan struct{} // mu; nil when open
}

func (g *gateFS) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

func (g *gateFS) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gateFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasPrefix(filepath.Clean(name), g.dir+string(filepath.Separator)) {
		return f, err
	}
	return gateFile{File: f, g: g}, nil
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f gateFile) Sync() error {
	f.g.mu.Lock()
	gate := f.g.gate
	f.g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return f.File.Sync()
}

// TestTxnAddPartitionsWaitsForCompletion: an AddPartitionsToTxn that
// arrives while the id's previous transaction is still writing its markers
// (PrepareCommit) is answered once the transaction completed, with
// success, instead of CONCURRENT_TRANSACTIONS at once (Kafka's answer, on
// which every client waits a retry backoff before its next transaction
// can start).
func TestTxnAddPartitionsWaitsForCompletion(t *testing.T) {
	dir := t.TempDir()
	gate := &gateFS{FS: vfs.Default, dir: filepath.Join(dir, "park-0")}
	var watchAPIVersions atomic.Bool
	apiVersionsServed := make(chan struct{}, 1)
	cfg := Config{DataDir: dir, NumPartitions: 1, Logger: discardLogger(), Faults: func(key, _ int16) Fault {
		if key == apiVersionsKey && watchAPIVersions.Load() {
			select {
			case apiVersionsServed <- struct{}{}:
			default:
			}
		}
		return Fault{}
	}}
	cfg.logFS = gate
	b := startBroker(t, cfg)
	t.Cleanup(gate.release) // before the broker closes: its flusher syncs too
	require.NoError(t, b.CreateTopic("park", 1, nil))
	cl := newClient(t, b, kgo.TransactionalID("tx-park"), kgo.DefaultProduceTopic("park"))
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("one")}).FirstErr())

	gate.arm()
	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit), "PrepareCommit is logged apart from the partition")
	admin := newClient(t, b)
	st := describeTxn(t, admin, "tx-park")
	require.Equal(t, "PrepareCommit", st.State, "the marker's fsync is held")

	// AddPartitionsToTxn, then ApiVersions on the same connection: the
	// broker serves a connection's requests one after the other, so once
	// ApiVersions is served the AddPartitionsToTxn handler has returned.
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "tx-park", st.ProducerID, st.ProducerEpoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = "park", []int32{0}
	add.Topics = append(add.Topics, rt)
	rc := dialRaw(t, b)
	watchAPIVersions.Store(true)
	rc.write(frame(add, 1, 1))
	rc.write(frame(kmsg.NewPtrApiVersionsRequest(), 0, 2))
	select {
	case <-apiVersionsServed:
	case <-time.After(10 * time.Second):
		t.Fatal("the broker never served the ApiVersions behind AddPartitionsToTxn")
	}
	assert.Equal(t, "PrepareCommit", describeTxn(t, admin, "tx-park").State, "still completing while the request waits")
	gate.release()

	body, err := rc.readFrame(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, int32(1), int32(binary.BigEndian.Uint32(body)), "the AddPartitionsToTxn answer comes first")
	resp := add.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.SetVersion(1)
	require.NoError(t, resp.ReadFrom(body[4:]))
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode, "answered after the completion, with success: %v",
		kerr.ForCode(resp.Topics[0].Partitions[0].ErrorCode))
	assert.Equal(t, "Ongoing", describeTxn(t, admin, "tx-park").State, "the next transaction began")
}

package txncoord

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pidSource counts producer ids up from 1000.
type pidSource struct {
	mu   sync.Mutex
	next int64
	fail error
}

func (p *pidSource) NextProducerID() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return 0, p.fail
	}
	if p.next == 0 {
		p.next = 1000
	}
	p.next++
	return p.next - 1, nil
}

// partitions is a set of existing partitions.
type partitions struct {
	mu  sync.Mutex
	set map[TopicPartition]bool
}

func (p *partitions) PartitionExists(topic string, partition int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set[TopicPartition{topic, partition}]
}

func (p *partitions) remove(tp TopicPartition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.set, tp)
}

type marker struct {
	TopicPartition
	producerID int64
	epoch      int16
	commit     bool
}

// markers records written markers; failures are injected per partition.
type markers struct {
	mu      sync.Mutex
	written []marker
	// failN makes the next n writes to a partition fail; failAll, all.
	failN    map[TopicPartition]int
	failAll  bool
	attempts int
}

var errMarker = errors.New("injected marker failure")

func (m *markers) WriteMarker(topic string, partition int32, producerID int64, epoch int16, _ int32, commit bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	tp := TopicPartition{topic, partition}
	if m.failAll {
		return errMarker
	}
	if m.failN[tp] > 0 {
		m.failN[tp]--
		return errMarker
	}
	m.written = append(m.written, marker{tp, producerID, epoch, commit})
	return nil
}

func (m *markers) list() []marker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]marker(nil), m.written...)
}

func (m *markers) setFailAll(v bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failAll = v
}

// offsets stands in for the group coordinator.
type offsets struct {
	mu        sync.Mutex
	committed map[string]map[TopicPartition]int64
	commits   int
	validate  error
	failN     int
}

func (o *offsets) ValidateTxnOffsetCommit(group, memberID string, instanceID *string, generation int32) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.validate
}

func (o *offsets) CommitTxnOffsets(group string, producerID int64, offs []TxnOffset) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failN > 0 {
		o.failN--
		return errors.New("injected offset commit failure")
	}
	o.commits++
	if o.committed == nil {
		o.committed = make(map[string]map[TopicPartition]int64)
	}
	if o.committed[group] == nil {
		o.committed[group] = make(map[TopicPartition]int64)
	}
	for _, off := range offs {
		o.committed[group][TopicPartition{off.Topic, off.Partition}] = off.Offset
	}
	return nil
}

func (o *offsets) get(group string, tp TopicPartition) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.committed[group][tp]
	return v, ok
}

// env is a coordinator's surroundings, kept across restarts.
type env struct {
	dir     string
	pids    *pidSource
	parts   *partitions
	markers *markers
	offsets *offsets
}

var (
	tpA0 = TopicPartition{"a", 0}
	tpA1 = TopicPartition{"a", 1}
	tpB0 = TopicPartition{"b", 0}
)

func newEnv(t testing.TB) *env {
	t.Helper()
	return &env{
		dir:     t.TempDir(),
		pids:    &pidSource{},
		parts:   &partitions{set: map[TopicPartition]bool{tpA0: true, tpA1: true, tpB0: true}},
		markers: &markers{failN: map[TopicPartition]int{}},
		offsets: &offsets{},
	}
}

func (e *env) config() Config {
	return Config{
		DataDir:     e.dir,
		ProducerIDs: e.pids,
		Partitions:  e.parts,
		Markers:     e.markers,
		Offsets:     e.offsets,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// open starts a coordinator on e; it is closed at cleanup unless the test
// closed it.
func (e *env) open(t testing.TB) *Coordinator {
	t.Helper()
	c, err := New(e.config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func closeCoord(t testing.TB, c *Coordinator) {
	t.Helper()
	require.NoError(t, c.Close(context.Background()))
}

func (e *env) logPath() string { return filepath.Join(e.dir, LogFile) }

// loggedStates replays the log file and returns the states logged for id,
// in order: what a restart would see.
func (e *env) loggedStates(t testing.TB, id string) []State {
	t.Helper()
	data, err := os.ReadFile(e.logPath())
	require.NoError(t, err)
	var out []State
	_, err = replayLog(data, func(le *logEntry) {
		if le.kind == entryState && le.txnID == id {
			out = append(out, le.rec.state)
		}
	})
	require.NoError(t, err)
	return out
}

func describe(t testing.TB, c *Coordinator, id string) Description {
	t.Helper()
	d := c.Describe([]string{id})
	require.Len(t, d, 1)
	require.NoError(t, d[0].Err)
	return d[0]
}

const txnTimeout = time.Minute

// begin inits id and opens a transaction on parts.
func begin(t testing.TB, c *Coordinator, id string, parts ...TopicPartition) ProducerIDEpoch {
	t.Helper()
	pe, err := c.InitProducerID(id, txnTimeout, NoProducer)
	require.NoError(t, err)
	if len(parts) > 0 {
		for _, err := range c.AddPartitions(id, pe.ProducerID, pe.Epoch, parts) {
			require.NoError(t, err)
		}
	}
	return pe
}

// setFailWrite makes every append fail with err (nil: succeed again).
func (s *txnStore) setFailWrite(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrite = err
}

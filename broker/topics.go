package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
)

// metadataFile holds the cluster id and every topic's id, partition count
// and configs: the broker's equivalent of Kafka's metadata log. It is
// rewritten whole (write, fsync, rename, fsync the directory) on every
// topic change, so a crash leaves either the old or the new version.
const metadataFile = "skiff-metadata.json"

// defaultMaxPartitions bounds the partitions of one topic.
const defaultMaxPartitions = 10000

type metadataJSON struct {
	Version   int         `json:"version"`
	ClusterID string      `json:"cluster_id"`
	Topics    []topicJSON `json:"topics"`
}

type topicJSON struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"` // hex of the 16-byte topic id
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// topic is one topic; its fields never change after creation, so readers
// need no lock once they hold the pointer. CreatePartitions replaces the
// topic with a copy holding more partitions; AlterConfigs swaps the map
// behind configs, which every copy shares.
type topic struct {
	name    string
	id      [16]byte
	configs *atomic.Pointer[map[string]string] // explicitly set topic configs; never modified in place
	parts   []*partition
}

func newTopic(name string, configs map[string]string) *topic {
	if configs == nil {
		configs = map[string]string{}
	}
	t := &topic{name: name, configs: new(atomic.Pointer[map[string]string])}
	t.configs.Store(&configs)
	return t
}

// cfgs is the topic's explicitly set configs; callers must not modify it.
func (t *topic) cfgs() map[string]string { return *t.configs.Load() }

// partition is one partition's log plus what the purgatory needs.
type partition struct {
	t     *topic
	index int32
	key   purgatory.Key
	log   *log.Log
	// appended counts bytes appended since the broker started: a parked
	// fetch compares it with its value at parking time to learn how many
	// bytes arrived without reading them (fetch.min.bytes).
	appended atomic.Int64
	// deleted is set when the topic is deleted, so parked requests answer.
	deleted atomic.Bool
	// unsynced says p waits in the flusher's next round (flusher.go).
	unsynced atomic.Bool
	// onDataFS says the log's directory is on DataDir's filesystem, so
	// the flusher's syncfs covers it (flusher_syncfs.go).
	onDataFS bool
}

// topicTable is the set of topics. mu guards the maps and the metadata
// file; it is never held during I/O on a partition log except while
// creating and deleting topics, which are rare and serialised by it.
type topicTable struct {
	b         *Broker
	clusterID string

	// maxPartitions caps one topic's partitions, so a single request
	// cannot make the broker open millions of files.
	maxPartitions int32

	mu     sync.RWMutex
	names  map[string]*topic
	ids    map[[16]byte]*topic
	closed bool // set by closeAll: no topic may be created after it
}

// openTopics loads the metadata file and opens every partition log,
// recovering those not closed cleanly.
func openTopics(ctx context.Context, b *Broker) (*topicTable, error) {
	tt := &topicTable{b: b, names: make(map[string]*topic), ids: make(map[[16]byte]*topic), maxPartitions: defaultMaxPartitions}
	raw, err := os.ReadFile(filepath.Join(b.cfg.DataDir, metadataFile))
	var md metadataJSON
	switch {
	case errors.Is(err, os.ErrNotExist):
		tt.clusterID = newClusterID()
		if err := tt.persistLocked(); err != nil {
			return nil, err
		}
		return tt, nil
	case err != nil:
		return nil, fmt.Errorf("broker: read %s: %w", metadataFile, err)
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("broker: parse %s: %w", metadataFile, err)
	}
	tt.clusterID = md.ClusterID
	for _, tj := range md.Topics {
		if err := ctx.Err(); err != nil {
			tt.closeAll()
			return nil, err
		}
		idb, err := hex.DecodeString(tj.ID)
		if err != nil || len(idb) != 16 || validateTopicName(tj.Name) != nil || tj.Partitions < 1 {
			tt.closeAll()
			return nil, fmt.Errorf("broker: %s: bad topic entry %q", metadataFile, tj.Name)
		}
		t := newTopic(tj.Name, tj.Configs)
		copy(t.id[:], idb)
		if err := tt.openPartitions(t, tj.Partitions, false); err != nil {
			tt.closeAll()
			return nil, err
		}
		tt.names[t.name] = t
		tt.ids[t.id] = t
	}
	return tt, nil
}

func newClusterID() string {
	var b [16]byte
	rand.Read(b[:])
	return "skiff-" + hex.EncodeToString(b[:8])
}

func (tt *topicTable) partitionDir(topic string, p int32) string {
	return filepath.Join(tt.b.cfg.DataDir, topic+"-"+strconv.Itoa(int(p)))
}

// openPartitions opens the partition logs of t from len(t.parts) up to n.
// fresh means the partitions are being created: a directory left by a
// deleted topic of the same name (the metadata file is the truth) is
// removed first. On failure the logs it opened are closed and t.parts is
// as before.
func (tt *topicTable) openPartitions(t *topic, n int32, fresh bool) error {
	cfg, err := tt.b.logConfig(t.cfgs())
	if err != nil {
		return err
	}
	had := len(t.parts)
	fail := func(err error) error {
		for _, p := range t.parts[had:] {
			p.log.Close()
		}
		t.parts = t.parts[:had]
		return err
	}
	// Opening a log creates and fsyncs files and directories: 1,000
	// partitions one after another took 6 s to create on a loaded
	// machine, so a few open at a time.
	if n <= int32(had) {
		return nil
	}
	parts := make([]*partition, n-int32(had))
	errs := make([]error, len(parts))
	forEachPartition(len(parts), func(j int) { // parallel.go
		i := int32(had + j)
		dir := tt.partitionDir(t.name, i)
		if fresh {
			if err := os.RemoveAll(dir); err != nil {
				errs[j] = fmt.Errorf("%w: remove stale %s: %v", kerr.KafkaStorageError, dir, err)
				return
			}
		}
		l, err := log.Open(dir, cfg)
		if err != nil {
			errs[j] = fmt.Errorf("open %s[%d]: %w", t.name, i, err)
			return
		}
		parts[j] = &partition{t: t, index: i, key: purgatory.Key{Topic: t.name, Partition: i}, log: l,
			onDataFS: onDataFilesystem(tt.b.cfg.DataDir, dir)}
	})
	for _, p := range parts {
		if p != nil {
			t.parts = append(t.parts, p)
		}
	}
	for _, err := range errs {
		if err != nil {
			return fail(err) // the first; the others are likely the same
		}
	}
	return nil
}

// addPartitions grows t to count partitions (CreatePartitions). The topic
// is replaced by a copy with the new partitions, so readers holding the
// old one keep a consistent view; the new logs are created, then the
// metadata file names them. A failure removes the new logs again.
func (tt *topicTable) addPartitions(t *topic, count int32) (*topic, error) {
	if count > tt.maxPartitions {
		return nil, fmt.Errorf("%w: %d partitions, at most %d", kerr.InvalidPartitions, count, tt.maxPartitions)
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.closed {
		return nil, ErrClosed
	}
	cur := tt.names[t.name]
	if cur == nil || cur.id != t.id {
		return nil, fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, t.name)
	}
	if have := int32(len(cur.parts)); count <= have {
		if count == have {
			return nil, fmt.Errorf("%w: topic %s already has %d partitions", kerr.InvalidPartitions, t.name, have)
		}
		return nil, fmt.Errorf("%w: topic %s currently has %d partitions, which is higher than the requested %d", kerr.InvalidPartitions, t.name, have, count)
	}
	nt := &topic{name: cur.name, id: cur.id, configs: cur.configs, parts: slices.Clip(cur.parts)}
	if err := tt.openPartitions(nt, count, true); err != nil {
		return nil, err
	}
	tt.names[nt.name], tt.ids[nt.id] = nt, nt
	if err := tt.persistLocked(); err != nil {
		tt.names[cur.name], tt.ids[cur.id] = cur, cur
		for _, p := range nt.parts[len(cur.parts):] {
			p.log.Delete()
		}
		return nil, err
	}
	tt.b.log.Info("partitions added", "topic", nt.name, "from", len(cur.parts), "to", count)
	return nt, nil
}

func (tt *topicTable) byName(name string) *topic {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return tt.names[name]
}

func (tt *topicTable) byID(id [16]byte) *topic {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return tt.ids[id]
}

// partition returns the partition, or nil when the topic or partition does
// not exist.
func (tt *topicTable) partition(name string, p int32) *partition {
	t := tt.byName(name)
	if t == nil || p < 0 || int(p) >= len(t.parts) {
		return nil
	}
	return t.parts[p]
}

// all returns every topic sorted by name.
func (tt *topicTable) all() []*topic {
	tt.mu.RLock()
	ts := make([]*topic, 0, len(tt.names))
	for _, t := range tt.names {
		ts = append(ts, t)
	}
	tt.mu.RUnlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	return ts
}

// create creates a topic with its logs and persists it. It returns the
// topic already there, with TOPIC_ALREADY_EXISTS, when the name is taken.
func (tt *topicTable) create(name string, partitions int32, configs map[string]string) (*topic, error) {
	if err := validateTopicName(name); err != nil {
		return nil, err
	}
	if partitions < 1 || partitions > tt.maxPartitions {
		return nil, fmt.Errorf("%w: %d partitions, must be 1..%d", kerr.InvalidPartitions, partitions, tt.maxPartitions)
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.closed {
		return nil, ErrClosed
	}
	if t, ok := tt.names[name]; ok {
		return t, fmt.Errorf("%w: %s", kerr.TopicAlreadyExists, name)
	}
	if isInternalTopic(name) {
		return nil, fmt.Errorf("%w: %s is the broker's internal topic", kerr.TopicAlreadyExists, name)
	}
	t := newTopic(name, configs)
	for {
		rand.Read(t.id[:])
		if _, dup := tt.ids[t.id]; !dup && t.id != [16]byte{} {
			break
		}
	}
	if err := tt.openPartitions(t, partitions, true); err != nil {
		return nil, err
	}
	tt.names[name] = t
	tt.ids[t.id] = t
	if err := tt.persistLocked(); err != nil {
		delete(tt.names, name)
		delete(tt.ids, t.id)
		for _, p := range t.parts {
			p.log.Delete()
		}
		return nil, err
	}
	tt.b.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// delete removes a topic from the metadata first (so a crash cannot bring
// it back) and then deletes its logs; parked requests on it are woken.
func (tt *topicTable) delete(t *topic) error {
	tt.mu.Lock()
	if tt.names[t.name] != t {
		tt.mu.Unlock()
		return fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, t.name)
	}
	delete(tt.names, t.name)
	delete(tt.ids, t.id)
	if err := tt.persistLocked(); err != nil {
		tt.names[t.name] = t
		tt.ids[t.id] = t
		tt.mu.Unlock()
		return err
	}
	tt.mu.Unlock()
	var errs []error
	for _, p := range t.parts {
		p.deleted.Store(true)
		tt.b.flush.forget(p)
		if err := p.log.Delete(); err != nil {
			errs = append(errs, err)
		}
		tt.b.purg.Notify(p.key)
	}
	tt.b.log.Info("topic deleted", "topic", t.name)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: delete %s: %v", kerr.KafkaStorageError, t.name, err)
	}
	return nil
}

// alterConfigs replaces t's explicitly set configs (already validated):
// the metadata file first, so an answered change survives a crash, then
// every partition log. A failure to persist leaves the old configs.
func (tt *topicTable) alterConfigs(t *topic, cfgs map[string]string) error {
	lc, err := tt.b.logConfig(cfgs)
	if err != nil {
		return err
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if cur := tt.names[t.name]; cur == nil || cur.id != t.id {
		return fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, t.name)
	}
	old := t.configs.Load()
	t.configs.Store(&cfgs)
	if err := tt.persistLocked(); err != nil {
		t.configs.Store(old)
		return err
	}
	var errs []error
	for _, p := range tt.names[t.name].parts {
		if err := p.log.Reconfigure(lc); err != nil && !errors.Is(err, log.ErrClosed) {
			errs = append(errs, err)
		}
	}
	tt.b.log.Info("topic configs altered", "topic", t.name, "configs", cfgs)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
	}
	return nil
}

// persistLocked rewrites the metadata file; tt.mu must be held (or tt not
// yet shared).
func (tt *topicTable) persistLocked() error {
	md := metadataJSON{Version: 1, ClusterID: tt.clusterID, Topics: []topicJSON{}}
	for _, t := range tt.names {
		md.Topics = append(md.Topics, topicJSON{Name: t.name, ID: hex.EncodeToString(t.id[:]), Partitions: int32(len(t.parts)), Configs: t.cfgs()})
	}
	sort.Slice(md.Topics, func(i, j int) bool { return md.Topics[i].Name < md.Topics[j].Name })
	raw, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(tt.b.cfg.DataDir, metadataFile, raw); err != nil {
		return fmt.Errorf("%w: persist topic metadata: %v", kerr.KafkaStorageError, err)
	}
	return nil
}

// closeAll closes every partition log (fsyncing it) and reports every
// failure.
func (tt *topicTable) closeAll() error {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.closed = true
	var all []*partition
	for _, t := range tt.names {
		all = append(all, t.parts...)
	}
	// Each Close fsyncs and writes a snapshot and a clean-shutdown
	// marker: one after another, 1,000 partitions took 11-14 s to stop
	// on a loaded machine.
	errs := make([]error, len(all))
	forEachPartition(len(all), func(i int) { // parallel.go
		if err := all[i].log.Close(); err != nil && !errors.Is(err, log.ErrClosed) {
			errs[i] = err
		}
	})
	return errors.Join(errs...)
}

// writeFileAtomic replaces dir/name with data so that a crash leaves the
// old or the new contents, never a mix.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// validateTopicName applies Kafka's Topic.validate rules.
func validateTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%w: topic name %q is illegal", kerr.InvalidTopicException, name)
	}
	if len(name) > 249 {
		return fmt.Errorf("%w: topic name is %d characters long, the maximum is 249", kerr.InvalidTopicException, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q contains a character other than ASCII alphanumerics, '.', '_' and '-'", kerr.InvalidTopicException, name)
		}
	}
	return nil
}

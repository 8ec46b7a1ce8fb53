package producer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/skiffkit/skiff/serializer"
)

// Typed sends records with typed keys and values through serializers, so
// callers never convert to []byte by hand. It shares its Producer's
// batches, memory and goroutines; many Typed values may wrap one Producer.
type Typed[K, V any] struct {
	p      *Producer
	keys   serializer.Serializer[K]
	values serializer.Serializer[V]
	kApp   serializer.AppendSerializer[K] // keys, if it appends
	vApp   serializer.AppendSerializer[V] // values, if it appends
}

// TypedRecord is a Record with a typed key and value.
type TypedRecord[K, V any] struct {
	Topic     string
	Partition Partition // zero value: the partitioner chooses
	Key       K
	// NullKey sends a null key instead of serializing Key, so the
	// partitioner treats the record as keyless.
	NullKey   bool
	Value     V
	Headers   []Header
	Timestamp time.Time // zero means now
}

// NewTyped wraps p with a key and a value serializer.
func NewTyped[K, V any](p *Producer, keys serializer.Serializer[K], values serializer.Serializer[V]) *Typed[K, V] {
	t := &Typed[K, V]{p: p, keys: keys, values: values}
	t.kApp, _ = keys.(serializer.AppendSerializer[K])
	t.vApp, _ = values.(serializer.AppendSerializer[V])
	return t
}

// Producer returns the underlying producer.
func (t *Typed[K, V]) Producer() *Producer { return t.p }

// scratch holds serialized bytes for the duration of one Send: the
// accumulator copies them into the batch, so the buffer is reused.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Send serializes rec and sends it like Producer.Send. A serializer error
// is returned, wrapped with the topic, and nothing is sent.
func (t *Typed[K, V]) Send(ctx context.Context, rec TypedRecord[K, V], cb Callback) error {
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	r := Record{Topic: rec.Topic, Partition: rec.Partition, Headers: rec.Headers, Timestamp: rec.Timestamp}
	buf := (*bp)[:0]
	var err error
	if !rec.NullKey {
		if t.kApp != nil {
			buf, err = t.kApp.AppendSerialize(buf, rec.Topic, rec.Key)
			r.Key = buf
		} else {
			r.Key, err = t.keys.Serialize(rec.Topic, rec.Key)
		}
		if err != nil {
			return fmt.Errorf("produce %s: serialize key: %w", rec.Topic, err)
		}
		if r.Key == nil {
			r.Key = []byte{} // a serialized key is never null, only empty
		}
	}
	keyEnd := len(buf)
	if t.vApp != nil {
		buf, err = t.vApp.AppendSerialize(buf, rec.Topic, rec.Value)
		if err == nil {
			r.Value = buf[keyEnd:len(buf):len(buf)]
			if t.kApp != nil && !rec.NullKey {
				r.Key = buf[:keyEnd:keyEnd] // buf may have moved
			}
		}
	} else {
		r.Value, err = t.values.Serialize(rec.Topic, rec.Value)
	}
	if err != nil {
		return fmt.Errorf("produce %s: serialize value: %w", rec.Topic, err)
	}
	*bp = buf
	return t.p.Send(ctx, r, cb)
}

// SendSync serializes rec, sends it and waits for the outcome, like
// Producer.SendSync.
func (t *Typed[K, V]) SendSync(ctx context.Context, rec TypedRecord[K, V]) (RecordMetadata, error) {
	return sendSync(ctx, rec.Topic, func(cb Callback) error { return t.Send(ctx, rec, cb) })
}

// InitTransactions is Producer.InitTransactions.
func (t *Typed[K, V]) InitTransactions(ctx context.Context) error { return t.p.InitTransactions(ctx) }

// BeginTransaction is Producer.BeginTransaction.
func (t *Typed[K, V]) BeginTransaction() error { return t.p.BeginTransaction() }

// CommitTransaction is Producer.CommitTransaction.
func (t *Typed[K, V]) CommitTransaction(ctx context.Context) error {
	return t.p.CommitTransaction(ctx)
}

// AbortTransaction is Producer.AbortTransaction.
func (t *Typed[K, V]) AbortTransaction(ctx context.Context) error {
	return t.p.AbortTransaction(ctx)
}

// SendOffsetsToTransaction is Producer.SendOffsetsToTransaction.
func (t *Typed[K, V]) SendOffsetsToTransaction(ctx context.Context, offsets map[string]map[int32]Offset, group GroupMetadata) error {
	return t.p.SendOffsetsToTransaction(ctx, offsets, group)
}

package consumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/serializer"
)

// TypedRecord is a record with a deserialized key and value. The raw bytes
// stay reachable as Record.Key and Record.Value.
type TypedRecord[K, V any] struct {
	Record
	Key   K
	Value V
}

// DeserializeError is a record whose key or value did not deserialize.
// Typed.Poll skips it and reports it, so one poison record does not stop
// the partition (the position is already past it; Seek back to retry).
type DeserializeError struct {
	Record Record
	Err    error
}

func (e *DeserializeError) Error() string {
	return fmt.Sprintf("consumer: deserialize %s[%d] offset %d: %v", e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *DeserializeError) Unwrap() error { return e.Err }

// Typed wraps a Consumer with key and value deserializers.
type Typed[K, V any] struct {
	*Consumer
	keys   serializer.Deserializer[K]
	values serializer.Deserializer[V]
}

// NewTyped wraps c; every other method is the Consumer's.
func NewTyped[K, V any](c *Consumer, keys serializer.Deserializer[K], values serializer.Deserializer[V]) *Typed[K, V] {
	return &Typed[K, V]{Consumer: c, keys: keys, values: values}
}

// Poll is Consumer.Poll with keys and values deserialized. Records that fail
// are left out and returned as *DeserializeError values joined in err,
// alongside the records that succeeded. A null key or value (tombstone) is
// passed to the deserializer as nil.
func (t *Typed[K, V]) Poll(ctx context.Context) ([]TypedRecord[K, V], error) {
	recs, err := t.Consumer.Poll(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TypedRecord[K, V], 0, len(recs))
	var errs []error
	for i := range recs {
		r := &recs[i]
		k, err := t.keys.Deserialize(r.Topic, r.Key)
		if err != nil {
			errs = append(errs, &DeserializeError{Record: *r, Err: fmt.Errorf("key: %w", err)})
			continue
		}
		v, err := t.values.Deserialize(r.Topic, r.Value)
		if err != nil {
			errs = append(errs, &DeserializeError{Record: *r, Err: fmt.Errorf("value: %w", err)})
			continue
		}
		out = append(out, TypedRecord[K, V]{Record: *r, Key: k, Value: v})
	}
	return out, errors.Join(errs...)
}

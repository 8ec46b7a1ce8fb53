package serializer

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// JSON returns a Serde encoding T with encoding/json, like the JSON
// serializers of Kafka Connect and Spring Kafka (no schema, no framing).
//
// Null: when T is a pointer, map, slice or interface type, a nil v
// serializes to null (a tombstone), not to the JSON text "null". Null
// deserializes to T's zero value (a nil pointer for JSON[*T]), as does the
// JSON text "null". Other invalid JSON fails with an error naming the topic.
func JSON[T any]() Serde[T] {
	t := reflect.TypeFor[T]()
	var nilable bool
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		nilable = true
	}
	return jsonSerde[T]{nilable: nilable, typ: t.String()}
}

type jsonSerde[T any] struct {
	nilable bool
	typ     string
}

func (s jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if s.nilable {
		// Decided per type at construction, so non-nilable types skip
		// reflection on every call.
		if rv := reflect.ValueOf(&v).Elem(); rv.IsNil() {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("serializer: json %s for topic %q: %w", s.typ, topic, err)
	}
	return b, nil
}

func (s jsonSerde[T]) Deserialize(topic string, b []byte) (T, error) {
	var v T
	if b == nil {
		return v, nil
	}
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("serializer: json %s from topic %q: %w", s.typ, topic, err)
	}
	return v, nil
}

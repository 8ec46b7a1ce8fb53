package serializer

// Serializer turns a value into the bytes of a record key or value.
//
// A nil result is Kafka's null (a tombstone when it is the value of a
// compacted topic's record); an empty non-nil result is an empty key or
// value. Serializers that can produce null say when.
type Serializer[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
}

// Deserializer turns the bytes of a record key or value back into a value.
//
// b is nil for Kafka's null and non-nil (possibly empty) otherwise. All
// deserializers in this package return T's zero value for nil.
type Deserializer[T any] interface {
	Deserialize(topic string, b []byte) (T, error)
}

// Serde serializes and deserializes T: one value for both directions of a
// topic, like Kafka's Serde.
type Serde[T any] interface {
	Serializer[T]
	Deserializer[T]
}

// AppendSerializer is an optional interface of a Serializer that can write
// into a buffer the caller owns, so a producer can serialize each record
// into a reused scratch buffer without an allocation. AppendSerialize
// appends v's encoding to dst and returns the extended slice.
//
// An AppendSerializer never produces null: types with a null encoding (the
// Bytes and JSON serdes) do not implement it, so a producer can use it
// whenever it is present and call Serialize otherwise.
type AppendSerializer[T any] interface {
	AppendSerialize(dst []byte, topic string, v T) ([]byte, error)
}

// SerializerFunc adapts a function to a Serializer.
type SerializerFunc[T any] func(topic string, v T) ([]byte, error)

// Serialize calls f(topic, v).
func (f SerializerFunc[T]) Serialize(topic string, v T) ([]byte, error) { return f(topic, v) }

// DeserializerFunc adapts a function to a Deserializer.
type DeserializerFunc[T any] func(topic string, b []byte) (T, error)

// Deserialize calls f(topic, b).
func (f DeserializerFunc[T]) Deserialize(topic string, b []byte) (T, error) { return f(topic, b) }

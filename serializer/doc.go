// Package serializer turns record keys and values into bytes and back, with
// the same encodings as Kafka's Java serializers, so Go and Java producers
// and consumers can share a topic.
//
//	s := serializer.Int64()
//	b, _ := s.Serialize("clicks", 42)     // 00 00 00 00 00 00 00 2a, as Java's LongSerializer
//	v, _ := s.Deserialize("clicks", b)    // 42
//
// Serde constructors and the Java classes they match:
//
//	Bytes()    ByteArraySerializer  identity, no copy
//	String()   StringSerializer     UTF-8 bytes as they are
//	Int16()    ShortSerializer      2 bytes big-endian
//	Int32()    IntegerSerializer    4 bytes big-endian
//	Int64()    LongSerializer       8 bytes big-endian
//	Float32()  FloatSerializer      4 bytes IEEE 754 big-endian (raw bits)
//	Float64()  DoubleSerializer     8 bytes IEEE 754 big-endian (NaN canonical)
//	JSON[T]()  (Connect/Spring JSON without schema) encoding/json
//
// # Null
//
// Kafka distinguishes a null key or value (length -1 on the wire; a null
// value is a tombstone on compacted topics) from an empty one. Here null is
// a nil []byte. Serializers return nil only for a nil input of a nilable
// type: a nil []byte for Bytes, a nil pointer, map, slice or interface for
// JSON. Every deserializer maps null to T's zero value (a nil pointer for
// JSON[*T]); use Bytes or JSON[*T] when "absent" must differ from zero.
//
// # Allocation
//
// The fixed-width and String serdes implement AppendSerializer, which
// writes into a buffer the caller owns; the producer uses it to serialize
// without allocating. AppendSerializer never produces null, which is why
// Bytes and JSON do not implement it.
//
// # Caveats
//
// Deserializers of fixed-width types reject any length but their width
// with ErrWrongSize, like Java's SerializationException; String and Bytes
// accept anything. Bytes and String deserialization do not validate UTF-8.
// Bytes().Deserialize returns the slice it is given, which aliases the
// consumer's record.
package serializer

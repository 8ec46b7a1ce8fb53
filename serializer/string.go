package serializer

// String returns a Serde for strings as raw bytes, Kafka's StringSerializer
// and StringDeserializer with their default UTF-8 encoding. A Go string
// cannot be null: "" serializes to an empty, non-nil value, and null
// deserializes to "". Bytes are not validated as UTF-8 (Java replaces
// invalid sequences with U+FFFD; Go keeps them as they are).
//
// The returned Serde also implements AppendSerializer.
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

// empty is a non-nil, zero-length value: an empty string is not a null.
var empty = []byte{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) {
	if v == "" {
		return empty, nil
	}
	return []byte(v), nil
}

func (stringSerde) AppendSerialize(dst []byte, _ string, v string) ([]byte, error) {
	return append(dst, v...), nil
}

func (stringSerde) Deserialize(_ string, b []byte) (string, error) { return string(b), nil }

package serializer

// Bytes returns the identity Serde, Kafka's ByteArraySerializer and
// ByteArrayDeserializer. Neither direction copies: Serialize returns v
// itself (the producer copies it into the batch before Send returns) and
// Deserialize returns b itself, which aliases the consumer's record. A nil
// slice stays nil (null) both ways, and an empty one stays empty.
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error)   { return v, nil }
func (bytesSerde) Deserialize(_ string, b []byte) ([]byte, error) { return b, nil }

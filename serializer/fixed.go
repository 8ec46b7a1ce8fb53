package serializer

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Int16 returns a Serde for Kafka's ShortSerializer encoding: 2 bytes,
// big-endian two's complement. Null deserializes to 0; any other length
// than 2 fails with ErrWrongSize. The Serde also implements
// AppendSerializer.
func Int16() Serde[int16] {
	return fixed[int16]{name: "int16", width: 2,
		enc: func(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) },
		dec: func(b []byte) int16 { return int16(binary.BigEndian.Uint16(b)) },
	}
}

// Int32 returns a Serde for Kafka's IntegerSerializer encoding: 4 bytes,
// big-endian two's complement (1 is 00 00 00 01, -1 is ff ff ff ff).
// Null deserializes to 0; any other length than 4 fails with ErrWrongSize.
// The Serde also implements AppendSerializer.
func Int32() Serde[int32] {
	return fixed[int32]{name: "int32", width: 4,
		enc: func(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) },
		dec: func(b []byte) int32 { return int32(binary.BigEndian.Uint32(b)) },
	}
}

// Int64 returns a Serde for Kafka's LongSerializer encoding: 8 bytes,
// big-endian two's complement. Null deserializes to 0; any other length
// than 8 fails with ErrWrongSize. The Serde also implements
// AppendSerializer.
func Int64() Serde[int64] {
	return fixed[int64]{name: "int64", width: 8,
		enc: func(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) },
		dec: func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) },
	}
}

// Float32 returns a Serde for Kafka's FloatSerializer encoding: the 4 byte
// IEEE 754 bits, big-endian, NaN payloads kept (Java uses
// floatToRawIntBits). Null deserializes to 0; any other length than 4
// fails with ErrWrongSize. The Serde also implements AppendSerializer.
func Float32() Serde[float32] {
	return fixed[float32]{name: "float32", width: 4,
		enc: func(dst []byte, v float32) []byte { return binary.BigEndian.AppendUint32(dst, math.Float32bits(v)) },
		dec: func(b []byte) float32 { return math.Float32frombits(binary.BigEndian.Uint32(b)) },
	}
}

// javaCanonicalNaN is Double.doubleToLongBits(Double.NaN).
const javaCanonicalNaN = 0x7ff8000000000000

// Float64 returns a Serde for Kafka's DoubleSerializer encoding: the 8 byte
// IEEE 754 bits, big-endian (1.5 is 3f f8 00 00 00 00 00 00). Every NaN is
// written as 7f f8 00 00 00 00 00 00, because Java uses doubleToLongBits,
// which canonicalizes NaN. Null deserializes to 0; any other length than 8
// fails with ErrWrongSize. The Serde also implements AppendSerializer.
func Float64() Serde[float64] {
	return fixed[float64]{name: "float64", width: 8,
		enc: func(dst []byte, v float64) []byte {
			bits := math.Float64bits(v)
			if v != v {
				bits = javaCanonicalNaN
			}
			return binary.BigEndian.AppendUint64(dst, bits)
		},
		dec: func(b []byte) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b)) },
	}
}

// fixed is a fixed-width big-endian Serde; enc and dec do the bits, fixed
// the null and length rules they share.
type fixed[T any] struct {
	name  string
	width int
	enc   func(dst []byte, v T) []byte
	dec   func(b []byte) T // len(b) == width
}

func (f fixed[T]) Serialize(_ string, v T) ([]byte, error) {
	return f.enc(make([]byte, 0, f.width), v), nil
}

func (f fixed[T]) AppendSerialize(dst []byte, _ string, v T) ([]byte, error) {
	return f.enc(dst, v), nil
}

func (f fixed[T]) Deserialize(topic string, b []byte) (T, error) {
	if b == nil {
		var zero T
		return zero, nil
	}
	if len(b) != f.width {
		var zero T
		return zero, fmt.Errorf("serializer: %s value of topic %q is %d bytes, want %d: %w", f.name, topic, len(b), f.width, ErrWrongSize)
	}
	return f.dec(b), nil
}

package serializer

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzDeserialize feeds arbitrary record bytes to every deserializer: none
// may panic, failures are classified, and whatever decodes re-encodes to
// the same bytes (the encodings are bijective, except NaN for Float64).
func FuzzDeserialize(f *testing.F) {
	for _, seed := range [][]byte{nil, {}, {1}, {0, 1}, {0, 0, 0, 1}, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0},
		[]byte(`{"id":1,"item":"x","price":2.5}`), []byte("null"), []byte(`{"id":`), []byte("\xff\xfe")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fixedRoundTrip(t, Int16(), b, 2)
		fixedRoundTrip(t, Int32(), b, 4)
		fixedRoundTrip(t, Int64(), b, 8)
		fixedRoundTrip(t, Float32(), b, 4)
		if v, err := Float64().Deserialize("t", b); err == nil && !math.IsNaN(v) {
			again, _ := Float64().Serialize("t", v)
			if b != nil && !bytes.Equal(again, b) {
				t.Fatalf("float64 %x -> %v -> %x", b, v, again)
			}
		}

		s, err := String().Deserialize("t", b)
		if err != nil || s != string(b) {
			t.Fatalf("string: %q, %v", s, err)
		}
		if got, _ := Bytes().Deserialize("t", b); !bytes.Equal(got, b) || (got == nil) != (b == nil) {
			t.Fatalf("bytes: identity broken")
		}

		o, err := JSON[*order]().Deserialize("t", b)
		if err == nil && o != nil {
			enc, err := JSON[*order]().Serialize("t", o)
			if err != nil {
				t.Fatalf("re-serialize %+v: %v", o, err)
			}
			o2, err := JSON[*order]().Deserialize("t", enc)
			if err != nil || *o2 != *o {
				t.Fatalf("json round trip: %+v vs %+v (%v)", o, o2, err)
			}
		}
		_, _ = JSON[map[string]any]().Deserialize("t", b)
	})
}

func fixedRoundTrip[T comparable](t *testing.T, s Serde[T], b []byte, width int) {
	t.Helper()
	v, err := s.Deserialize("topic", b)
	switch {
	case b == nil:
		var zero T
		if err != nil || v != zero {
			t.Fatalf("null: %v, %v", v, err)
		}
	case len(b) != width:
		if !errors.Is(err, ErrWrongSize) {
			t.Fatalf("%d bytes, width %d: err %v", len(b), width, err)
		}
	default:
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		again, err := s.Serialize("topic", v)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x -> %v -> %x (%v)", b, v, again, err)
		}
	}
}

package serializer

import "testing"

// BenchmarkAppendSerialize is the producer's path: serialize into a reused
// buffer. allocs/op must be 0.
func BenchmarkAppendSerialize(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.Run("int64", func(b *testing.B) {
		s := Int64().(AppendSerializer[int64])
		b.ReportAllocs()
		for i := int64(0); b.Loop(); i++ {
			buf, _ = s.AppendSerialize(buf[:0], "t", i)
		}
	})
	b.Run("string", func(b *testing.B) {
		s := String().(AppendSerializer[string])
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = s.AppendSerialize(buf[:0], "t", "user-00012345")
		}
	})
}

func BenchmarkDeserialize(b *testing.B) {
	b.Run("int64", func(b *testing.B) {
		d, in := Int64(), []byte{0, 0, 0, 0, 0, 0, 1, 0}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Deserialize("t", in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		d, in := JSON[order](), []byte(`{"id":7,"item":"kayak","price":499.5}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Deserialize("t", in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

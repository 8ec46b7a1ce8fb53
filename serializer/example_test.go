package serializer_test

import (
	"fmt"

	"github.com/skiffkit/skiff/serializer"
)

func ExampleInt32() {
	s := serializer.Int32()
	b, _ := s.Serialize("counts", -1)
	fmt.Printf("% x\n", b)
	v, _ := s.Deserialize("counts", []byte{0, 0, 0, 42})
	fmt.Println(v)
	_, err := s.Deserialize("counts", []byte{1, 2})
	fmt.Println(err)
	// Output:
	// ff ff ff ff
	// 42
	// serializer: int32 value of topic "counts" is 2 bytes, want 4: wrong encoded size
}

type Order struct {
	ID   int64  `json:"id"`
	Item string `json:"item"`
}

func ExampleJSON() {
	s := serializer.JSON[*Order]()
	b, _ := s.Serialize("orders", &Order{ID: 1, Item: "kayak"})
	fmt.Println(string(b))

	// A nil pointer is a tombstone (null value) and null comes back as nil.
	tomb, _ := s.Serialize("orders", nil)
	fmt.Println(tomb == nil)
	o, _ := s.Deserialize("orders", nil)
	fmt.Println(o == nil)
	// Output:
	// {"id":1,"item":"kayak"}
	// true
	// true
}

// A producer serializes into a reused buffer when the serializer supports
// it, and falls back to Serialize otherwise.
func ExampleAppendSerializer() {
	var s serializer.Serializer[string] = serializer.String()
	buf := make([]byte, 0, 64)
	for _, v := range []string{"a", "bc"} {
		var b []byte
		if as, ok := s.(serializer.AppendSerializer[string]); ok {
			b, _ = as.AppendSerialize(buf[:0], "t", v)
		} else {
			b, _ = s.Serialize("t", v)
		}
		fmt.Printf("%q\n", b)
	}
	// Output:
	// "a"
	// "bc"
}

func ExampleSerializerFunc() {
	upper := serializer.SerializerFunc[string](func(topic string, v string) ([]byte, error) {
		return fmt.Appendf(nil, "%s/%s", topic, v), nil
	})
	b, _ := upper.Serialize("logs", "line")
	fmt.Println(string(b))
	// Output: logs/line
}

package serializer

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(tb, err)
	return b
}

// javaVector is a value and the bytes Kafka's Java serializer writes for it.
type javaVector[T any] struct {
	v    T
	java string // hex
}

// checkJava checks serialize, append-serialize and deserialize against
// Java's bytes for one serde.
func checkJava[T comparable](t *testing.T, s Serde[T], vectors []javaVector[T]) {
	t.Helper()
	for _, vec := range vectors {
		want := unhex(t, vec.java)
		got, err := s.Serialize("t", vec.v)
		require.NoError(t, err)
		assert.Equal(t, want, got, "Serialize(%v)", vec.v)

		as, ok := s.(AppendSerializer[T])
		require.True(t, ok, "fixed-width and string serdes implement AppendSerializer")
		got, err = as.AppendSerialize([]byte{0xaa}, "t", vec.v)
		require.NoError(t, err)
		assert.Equal(t, append([]byte{0xaa}, want...), got, "AppendSerialize(%v)", vec.v)

		back, err := s.Deserialize("t", want)
		require.NoError(t, err)
		assert.Equal(t, vec.v, back, "Deserialize(%s)", vec.java)
	}
}

func TestInt16Java(t *testing.T) {
	checkJava(t, Int16(), []javaVector[int16]{
		{0, "0000"}, {1, "0001"}, {-1, "ffff"}, {256, "0100"},
		{math.MaxInt16, "7fff"}, {math.MinInt16, "8000"},
	})
}

func TestInt32Java(t *testing.T) {
	checkJava(t, Int32(), []javaVector[int32]{
		{0, "00000000"}, {1, "00000001"}, {-1, "ffffffff"}, {0x12345678, "12345678"},
		{math.MaxInt32, "7fffffff"}, {math.MinInt32, "80000000"}, {-2, "fffffffe"},
	})
}

func TestInt64Java(t *testing.T) {
	checkJava(t, Int64(), []javaVector[int64]{
		{0, "0000000000000000"}, {1, "0000000000000001"}, {-1, "ffffffffffffffff"},
		{0x0102030405060708, "0102030405060708"},
		{math.MaxInt64, "7fffffffffffffff"}, {math.MinInt64, "8000000000000000"},
		{1764000000000, "0000019ab697e800"}, // a millisecond timestamp
	})
}

func TestFloat64Java(t *testing.T) {
	checkJava(t, Float64(), []javaVector[float64]{
		{0, "0000000000000000"}, {1.5, "3ff8000000000000"}, {-2, "c000000000000000"},
		{0.1, "3fb999999999999a"}, {math.Inf(1), "7ff0000000000000"},
		{math.Inf(-1), "fff0000000000000"}, {math.MaxFloat64, "7fefffffffffffff"},
		{math.SmallestNonzeroFloat64, "0000000000000001"},
	})
	negZero, err := Float64().Serialize("t", math.Copysign(0, -1))
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "8000000000000000"), negZero)

	// Java's doubleToLongBits maps every NaN to 0x7ff8000000000000.
	for _, nan := range []float64{math.NaN(), math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff8000000000123)} {
		got, err := Float64().Serialize("t", nan)
		require.NoError(t, err)
		assert.Equal(t, unhex(t, "7ff8000000000000"), got)
	}
	back, err := Float64().Deserialize("t", unhex(t, "7ff8000000000000"))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(back))
}

func TestFloat32Java(t *testing.T) {
	checkJava(t, Float32(), []javaVector[float32]{
		{0, "00000000"}, {1.5, "3fc00000"}, {-2, "c0000000"}, {0.1, "3dcccccd"},
		{float32(math.Inf(1)), "7f800000"},
	})
	// Java's floatToRawIntBits keeps NaN payloads.
	got, err := Float32().Serialize("t", math.Float32frombits(0x7fc00001))
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "7fc00001"), got)
}

func TestStringJava(t *testing.T) {
	checkJava(t, String(), []javaVector[string]{
		{"a", "61"}, {"héllo", "68c3a96c6c6f"}, {"日本", "e697a5e69cac"},
	})
	got, err := String().Serialize("t", "")
	require.NoError(t, err)
	assert.NotNil(t, got, "an empty string is an empty value, not null")
	assert.Empty(t, got)

	s, err := String().Deserialize("t", nil)
	require.NoError(t, err)
	assert.Equal(t, "", s)
	s, err = String().Deserialize("t", []byte{0xff, 'a'})
	require.NoError(t, err)
	assert.Equal(t, "\xffa", s, "bytes are kept as they are")
}

func TestFixedWidthNullAndWrongSize(t *testing.T) {
	type fixedCase struct {
		name  string
		width int
		deser func(topic string, b []byte) (any, error)
	}
	wrap := func(name string, width int, d func(string, []byte) (any, error)) fixedCase {
		return fixedCase{name, width, d}
	}
	cases := []fixedCase{
		wrap("int16", 2, func(tp string, b []byte) (any, error) { return Int16().Deserialize(tp, b) }),
		wrap("int32", 4, func(tp string, b []byte) (any, error) { return Int32().Deserialize(tp, b) }),
		wrap("int64", 8, func(tp string, b []byte) (any, error) { return Int64().Deserialize(tp, b) }),
		wrap("float32", 4, func(tp string, b []byte) (any, error) { return Float32().Deserialize(tp, b) }),
		wrap("float64", 8, func(tp string, b []byte) (any, error) { return Float64().Deserialize(tp, b) }),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.deser("orders", nil)
			require.NoError(t, err, "null deserializes to the zero value")
			assert.Zero(t, v)

			for _, n := range []int{0, 1, tc.width - 1, tc.width + 1, 100} {
				_, err := tc.deser("orders", make([]byte, n))
				require.Error(t, err, "%d bytes", n)
				assert.ErrorIs(t, err, ErrWrongSize)
				assert.ErrorContains(t, err, `topic "orders"`)
				assert.ErrorContains(t, err, tc.name)
				assert.ErrorContains(t, err, "want "+string(rune('0'+tc.width)))
			}
		})
	}
}

func TestBytes(t *testing.T) {
	s := Bytes()
	got, err := s.Serialize("t", nil)
	require.NoError(t, err)
	assert.Nil(t, got, "nil stays null")
	got, err = s.Deserialize("t", nil)
	require.NoError(t, err)
	assert.Nil(t, got)

	empty := []byte{}
	got, err = s.Serialize("t", empty)
	require.NoError(t, err)
	assert.NotNil(t, got, "empty stays empty, not null")

	in := []byte("payload")
	got, err = s.Serialize("t", in)
	require.NoError(t, err)
	assert.Same(t, &in[0], &got[0], "identity, no copy")
	got, err = s.Deserialize("t", in)
	require.NoError(t, err)
	assert.Same(t, &in[0], &got[0], "identity, no copy")
	_, isAppend := s.(AppendSerializer[[]byte])
	assert.False(t, isAppend, "bytes can be null, so no AppendSerializer")
}

type order struct {
	ID    int64   `json:"id"`
	Item  string  `json:"item"`
	Price float64 `json:"price"`
}

func TestJSON(t *testing.T) {
	t.Run("struct", func(t *testing.T) {
		s := JSON[order]()
		b, err := s.Serialize("orders", order{ID: 7, Item: "kayak", Price: 499.5})
		require.NoError(t, err)
		assert.JSONEq(t, `{"id":7,"item":"kayak","price":499.5}`, string(b))
		o, err := s.Deserialize("orders", b)
		require.NoError(t, err)
		assert.Equal(t, order{ID: 7, Item: "kayak", Price: 499.5}, o)

		o, err = s.Deserialize("orders", nil)
		require.NoError(t, err)
		assert.Zero(t, o)

		_, err = s.Deserialize("orders", []byte(`{"id":"seven"}`))
		require.Error(t, err)
		assert.ErrorContains(t, err, `topic "orders"`)
		assert.ErrorContains(t, err, "serializer.order")
		_, err = s.Deserialize("orders", []byte(`{"id":`))
		require.Error(t, err)
		var syntax *json.SyntaxError
		assert.True(t, errors.As(err, &syntax), "the json error is wrapped")
	})
	t.Run("pointer tombstone", func(t *testing.T) {
		s := JSON[*order]()
		b, err := s.Serialize("orders", nil)
		require.NoError(t, err)
		assert.Nil(t, b, "nil pointer is a tombstone")
		p, err := s.Deserialize("orders", nil)
		require.NoError(t, err)
		assert.Nil(t, p, "null gives a nil pointer")
		p, err = s.Deserialize("orders", []byte("null"))
		require.NoError(t, err)
		assert.Nil(t, p)
		b, err = s.Serialize("orders", &order{ID: 1})
		require.NoError(t, err)
		p, err = s.Deserialize("orders", b)
		require.NoError(t, err)
		require.NotNil(t, p)
		assert.Equal(t, int64(1), p.ID)
	})
	t.Run("nil map slice interface", func(t *testing.T) {
		b, err := JSON[map[string]int]().Serialize("t", nil)
		require.NoError(t, err)
		assert.Nil(t, b)
		b, err = JSON[[]int]().Serialize("t", nil)
		require.NoError(t, err)
		assert.Nil(t, b)
		b, err = JSON[any]().Serialize("t", nil)
		require.NoError(t, err)
		assert.Nil(t, b)
		b, err = JSON[[]int]().Serialize("t", []int{})
		require.NoError(t, err)
		assert.Equal(t, "[]", string(b), "empty is not nil")
	})
	t.Run("unsupported", func(t *testing.T) {
		_, err := JSON[chan int]().Serialize("events", make(chan int))
		require.Error(t, err)
		assert.ErrorContains(t, err, `topic "events"`)
		_, err = JSON[float64]().Serialize("events", math.NaN())
		require.Error(t, err)
	})
}

func TestFuncAdapters(t *testing.T) {
	var s Serializer[int] = SerializerFunc[int](func(topic string, v int) ([]byte, error) {
		return []byte(topic + ":" + string(rune('0'+v))), nil
	})
	b, err := s.Serialize("t", 3)
	require.NoError(t, err)
	assert.Equal(t, "t:3", string(b))

	boom := errors.New("boom")
	var d Deserializer[int] = DeserializerFunc[int](func(topic string, b []byte) (int, error) {
		if b == nil {
			return 0, boom
		}
		return len(b), nil
	})
	n, err := d.Deserialize("t", []byte("abcd"))
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	_, err = d.Deserialize("t", nil)
	assert.ErrorIs(t, err, boom)
}

func TestAppendSerializeAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	i32 := Int32().(AppendSerializer[int32])
	f64 := Float64().(AppendSerializer[float64])
	str := String().(AppendSerializer[string])
	allocs := testing.AllocsPerRun(100, func() {
		b, _ := i32.AppendSerialize(buf[:0], "t", 12345)
		b, _ = f64.AppendSerialize(b, "t", 1.5)
		_, _ = str.AppendSerialize(b, "t", "some string value")
	})
	assert.Zero(t, allocs)
	d := Int64()
	src := unhex(t, "0000000000000001")
	allocs = testing.AllocsPerRun(100, func() { _, _ = d.Deserialize("t", src) })
	assert.Zero(t, allocs)
}

package partitioner

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's UtilsTest.testMurmur2 vectors.
func TestMurmur2KafkaVectors(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		assert.Equal(t, want, Murmur2([]byte(in)), in)
	}
}

func TestKeyPartition(t *testing.T) {
	// Java masks the sign bit (Utils.toPositive), it does not negate:
	// "21" hashes to -973932308, 0x7fffffff-masked 1173551340.
	assert.Equal(t, int32(1173551340%7), KeyPartition([]byte("21"), 7))
	assert.Equal(t, int32(0), KeyPartition([]byte("anything"), 1))
	assert.Equal(t, int32(-1), KeyPartition([]byte("k"), 0))
	assert.Equal(t, int32(-1), KeyPartition([]byte("k"), -3))
}

// kgoPartition is what franz-go's Kafka-compatible default picks.
func kgoPartition(tb testing.TB, p kgo.TopicPartitioner, key []byte, n int32) int32 {
	tb.Helper()
	return int32(p.Partition(&kgo.Record{Key: key}, int(n)))
}

func TestKeyPartitionMatchesFranzGo(t *testing.T) {
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{{}, {0}, []byte("a"), []byte("ab"), []byte("abc"), []byte("abcd")}
	for range 1000 {
		k := make([]byte, rng.IntN(64))
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	for _, n := range []int32{1, 3, 16, 100} {
		for _, k := range keys {
			require.Equal(t, kgoPartition(t, kp, k, n), KeyPartition(k, n), "key %x n %d", k, n)
		}
	}
}

func FuzzKeyPartition(f *testing.F) {
	f.Add([]byte("foobar"), uint16(16))
	f.Add([]byte{}, uint16(3))
	f.Add([]byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), uint16(1000))
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	f.Fuzz(func(t *testing.T, key []byte, n uint16) {
		parts := int32(n%4096) + 1
		got := KeyPartition(key, parts)
		if got < 0 || got >= parts {
			t.Fatalf("partition %d out of [0,%d)", got, parts)
		}
		if want := kgoPartition(t, kp, key, parts); got != want {
			t.Fatalf("key %x n %d: got %d, franz-go %d", key, parts, got, want)
		}
	})
}

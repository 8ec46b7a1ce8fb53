package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Workload is what each Point sends. Exactly one of Records and Duration
// bounds a point; if both are set, whichever comes first ends it.
type Workload struct {
	// RecordSize is the value size in bytes. Zero means 100, as kafka-producer-perf-test.
	RecordSize int
	// KeyCardinality is the number of distinct keys, sent round robin. Zero
	// means keyless records, which the default partitioner spreads with its
	// sticky strategy (KIP-480) and so makes the biggest batches.
	KeyCardinality int
	// Records bounds each point by a record count.
	Records int
	// Duration bounds each point by time. Zero with Records zero means 1s.
	Duration time.Duration
	// Rate fixes the send rate in records/s: each point then runs one phase
	// at that rate. Zero means two phases: saturated, to find the peak, then
	// at Load × peak to measure latency.
	Rate int
	// Load is the fraction of the peak at which latency is measured. Zero
	// means 0.8; 1 or more measures latency in the saturated phase itself,
	// where it is mostly time spent waiting for buffer memory.
	Load float64
	// BufferMemory is the producer's buffer.memory. Zero means
	// max(1 MiB, 2 × batch.size × partitions): enough for full batches on
	// every partition, small enough that a saturated phase drains in a
	// fraction of a second rather than the many seconds Kafka's 32 MiB
	// default holds at low throughput.
	BufferMemory int64
	// Partitions is the partition count of each fresh topic. Zero means 3.
	Partitions int
	// TopicPrefix names the fresh topics: <prefix>-<run>-<point>. Empty means "skiff-bench".
	TopicPrefix string
	// KeepTopics keeps each point's topic instead of deleting it once measured.
	KeepTopics bool
}

func (w Workload) withDefaults() Workload {
	if w.RecordSize == 0 {
		w.RecordSize = 100
	}
	if w.Records == 0 && w.Duration == 0 {
		w.Duration = time.Second
	}
	if w.Partitions == 0 {
		w.Partitions = 3
	}
	if w.TopicPrefix == "" {
		w.TopicPrefix = "skiff-bench"
	}
	if w.Load == 0 {
		w.Load = 0.8
	}
	return w
}

// bufferMemory is the buffer.memory for point p (see BufferMemory).
func (w Workload) bufferMemory(p Point) int64 {
	if w.BufferMemory > 0 {
		return w.BufferMemory
	}
	return max(1<<20, 2*int64(p.BatchSize)*int64(w.Partitions))
}

// Validate reports every problem with w at once.
func (w Workload) Validate() error {
	var errs []error
	if w.RecordSize < 0 {
		errs = append(errs, fmt.Errorf("workload: record size %d is negative", w.RecordSize))
	}
	if w.KeyCardinality < 0 {
		errs = append(errs, fmt.Errorf("workload: key cardinality %d is negative", w.KeyCardinality))
	}
	if w.Records < 0 {
		errs = append(errs, fmt.Errorf("workload: records %d is negative", w.Records))
	}
	if w.Duration < 0 {
		errs = append(errs, fmt.Errorf("workload: duration %s is negative", w.Duration))
	}
	if w.Rate < 0 {
		errs = append(errs, fmt.Errorf("workload: rate %d is negative", w.Rate))
	}
	if w.Load < 0 {
		errs = append(errs, fmt.Errorf("workload: load %g is negative", w.Load))
	}
	if w.BufferMemory < 0 {
		errs = append(errs, fmt.Errorf("workload: buffer memory %d is negative", w.BufferMemory))
	}
	if w.Partitions < 0 {
		errs = append(errs, fmt.Errorf("workload: partitions %d is negative", w.Partitions))
	}
	return errors.Join(errs...)
}

// payloadCount is how many distinct values a workload cycles through: enough
// that compression cannot exploit repetition across records within a 1 MiB
// batch of 100-byte records, few enough to build in a millisecond.
const payloadCount = 1 << 12

// payloads are the pre-built keys and values a point sends. They are never
// written after construction, so producers may keep references to them.
type payloads struct {
	values [][]byte
	keys   [][]byte // nil when keyless
}

// maxPrebuiltKeys bounds the key table; larger cardinalities format keys on the fly.
const maxPrebuiltKeys = 1 << 16

func newPayloads(w Workload) payloads {
	// A fixed seed makes every point, and every run, send the same bytes, so
	// compression ratios are comparable across settings.
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, payloadCount*w.RecordSize)
	for range payloadCount {
		buf = appendValue(buf, w.RecordSize, rng)
	}
	p := payloads{values: make([][]byte, payloadCount)}
	for i := range p.values {
		p.values[i] = buf[i*w.RecordSize : (i+1)*w.RecordSize : (i+1)*w.RecordSize]
	}
	if n := min(w.KeyCardinality, maxPrebuiltKeys); n > 0 {
		p.keys = make([][]byte, n)
		for i := range p.keys {
			p.keys[i] = keyFor(i)
		}
	}
	return p
}

// vocabulary is what values are made of. kafka-producer-perf-test sends
// random upper-case letters, which LZ4 and Snappy cannot compress at all (no
// repeated 4-byte sequences) and so says nothing about them; real payloads
// (JSON, logs) repeat field names and words. Random words from a small
// vocabulary with random numbers compress roughly like such text: LZ4 finds
// the repeats, zstd and gzip also the skewed byte distribution.
var vocabulary = strings.Fields(`id user order amount currency status created updated name email
	country city region product quantity price total discount payment method card paid pending
	shipped delivered cancelled true false null event type source session device browser version
	latency error warn info debug request response topic partition offset key value timestamp`)

// appendValue appends a value of exactly size bytes: "word=number word=..." text.
func appendValue(dst []byte, size int, rng *rand.Rand) []byte {
	start := len(dst)
	for len(dst)-start < size {
		dst = append(dst, vocabulary[rng.IntN(len(vocabulary))]...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(rng.IntN(100000)), 10)
		dst = append(dst, ' ')
	}
	return dst[:start+size]
}

func keyFor(i int) []byte { return strconv.AppendInt([]byte("key-"), int64(i), 10) }

// record returns the key and value of the i-th record of a point.
func (p payloads) record(i, cardinality int) (key, value []byte) {
	value = p.values[i%len(p.values)]
	switch {
	case cardinality == 0:
	case cardinality <= len(p.keys):
		key = p.keys[i%cardinality]
	default:
		key = keyFor(i % cardinality)
	}
	return key, value
}

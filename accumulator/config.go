package accumulator

import (
	"time"

	"github.com/skiffkit/skiff/internal/accum"
)

// Config configures an Accumulator. The zero value of every field but
// Leader means Kafka's producer default.
type Config struct {
	// BatchSize is batch.size: the size of a pooled batch buffer. A record
	// bigger than that gets a batch of its own, sized to fit. Zero means 16384.
	BatchSize int
	// BufferMemory is buffer.memory: the bytes all batch buffers together
	// may use. Zero means 32 MiB.
	BufferMemory int64
	// MaxBlock is max.block.ms: how long Append waits for memory. Zero
	// means 60s; negative means do not wait.
	MaxBlock time.Duration
	// Linger is linger.ms: how long a batch that is not full waits for more
	// records. Zero means 5ms (Kafka 4's default); negative means 0.
	Linger time.Duration
	// MaxRequestSize is max.request.size: the cap on the records of one
	// Produce request, and so on one record. Zero means 1 MiB.
	MaxRequestSize int
	// MaxInFlightPerPartition caps the drained batches of one partition not
	// yet released. 1 keeps a partition's batches in order across retries,
	// like Kafka's max.in.flight.requests.per.connection=1. Zero means no cap.
	MaxInFlightPerPartition int
	// Codec is compression.type as its Kafka attribute value (0 none,
	// 1 gzip, 2 snappy, 3 lz4, 4 zstd), applied when a batch is drained.
	Codec int8
	// Leader maps a partition to the node id of its leader (from metadata);
	// ok is false while the leader is unknown. Required.
	Leader func(topic string, partition int32) (node int32, ok bool)
}

func (c Config) internal() accum.Config {
	return accum.Config{
		BatchSize:               c.BatchSize,
		BufferMemory:            c.BufferMemory,
		MaxBlock:                c.MaxBlock,
		Linger:                  c.Linger,
		MaxRequestSize:          c.MaxRequestSize,
		MaxInFlightPerPartition: c.MaxInFlightPerPartition,
		Codec:                   c.Codec,
		Leader:                  c.Leader,
	}
}

func fromInternal(c accum.Config, leader func(string, int32) (int32, bool)) Config {
	return Config{
		BatchSize:               c.BatchSize,
		BufferMemory:            c.BufferMemory,
		MaxBlock:                c.MaxBlock,
		Linger:                  c.Linger,
		MaxRequestSize:          c.MaxRequestSize,
		MaxInFlightPerPartition: c.MaxInFlightPerPartition,
		Codec:                   c.Codec,
		Leader:                  leader,
	}
}

package compress

import (
	"fmt"
	"strconv"
	"strings"
)

// Codec is a Kafka compression codec: the value of bits 0-2 of a record
// batch's attributes, and of the compression.type topic/producer config.
type Codec int8

const (
	None   Codec = iota // 0: records stored as is
	Gzip                // 1: RFC 1952 gzip
	Snappy              // 2: snappy (raw block written; raw or xerial framing read)
	LZ4                 // 3: LZ4 frame format
	Zstd                // 4: zstd frame format (Kafka 2.1+, Produce v7+)
)

// codecNames is indexed by Codec; the names are Kafka's compression.type values.
var codecNames = [...]string{None: "none", Gzip: "gzip", Snappy: "snappy", LZ4: "lz4", Zstd: "zstd"}

// String returns Kafka's compression.type name of c, or "Codec(n)" for
// values Kafka never assigned.
func (c Codec) String() string {
	if c.valid() {
		return codecNames[c]
	}
	return "Codec(" + strconv.Itoa(int(c)) + ")"
}

func (c Codec) valid() bool { return c >= None && c <= Zstd }

// ParseCodec parses a compression.type name, case-insensitively. The empty
// string means None, like an unset config.
func ParseCodec(s string) (Codec, error) {
	if s == "" {
		return None, nil
	}
	for c, name := range codecNames {
		if strings.EqualFold(s, name) {
			return Codec(c), nil
		}
	}
	return None, fmt.Errorf("compress: %w %q (want none, gzip, snappy, lz4 or zstd)", ErrUnknownCodec, s)
}

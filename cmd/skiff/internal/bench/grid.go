package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/skiffkit/skiff/internal/compress"
)

// Acks is the producer's acks setting: AcksAll (-1), AcksLeader (1) or AcksNone (0).
type Acks int16

const (
	AcksAll    Acks = -1 // acks=all: the leader waits for the full ISR
	AcksNone   Acks = 0  // acks=0: no response at all
	AcksLeader Acks = 1  // acks=1: the leader's own write
)

// String returns the Kafka config spelling: "all", "0" or "1".
func (a Acks) String() string {
	if a == AcksAll {
		return "all"
	}
	return strconv.Itoa(int(a))
}

// ParseAcks accepts Kafka's spellings: all, -1, 0, 1.
func ParseAcks(s string) (Acks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all", "-1":
		return AcksAll, nil
	case "0":
		return AcksNone, nil
	case "1":
		return AcksLeader, nil
	}
	return 0, fmt.Errorf("acks %q: want all, -1, 0 or 1", s)
}

// Point is one producer setting to measure.
type Point struct {
	Linger      time.Duration  // linger.ms
	BatchSize   int            // batch.size in bytes
	Compression compress.Codec // compression.type
	Acks        Acks           // acks
}

// Label is a compact name for charts and progress lines, e.g. "linger=5ms batch=64KiB lz4 acks=all".
func (p Point) Label() string {
	return fmt.Sprintf("linger=%s batch=%s %s acks=%s", FormatDuration(p.Linger), FormatSize(p.BatchSize), p.Compression, p.Acks)
}

// Grid is the cross product of settings a sweep measures. Every list must be non-empty.
type Grid struct {
	Lingers      []time.Duration
	BatchSizes   []int
	Compressions []compress.Codec
	Acks         []Acks
}

// DefaultGrid is linger {0, 1ms, 5ms, 20ms} × batch.size {16, 64, 256 KiB, 1 MiB}
// × compression {none, lz4, zstd} at acks=all: 48 points.
func DefaultGrid() Grid {
	return Grid{
		Lingers:      []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond},
		BatchSizes:   []int{16 << 10, 64 << 10, 256 << 10, 1 << 20},
		Compressions: []compress.Codec{compress.None, compress.LZ4, compress.Zstd},
		Acks:         []Acks{AcksAll},
	}
}

// Validate reports every problem with g at once.
func (g Grid) Validate() error {
	var errs []error
	if len(g.Lingers) == 0 {
		errs = append(errs, errors.New("grid: no linger values"))
	}
	for _, l := range g.Lingers {
		if l < 0 {
			errs = append(errs, fmt.Errorf("grid: negative linger %s", l))
		}
	}
	if len(g.BatchSizes) == 0 {
		errs = append(errs, errors.New("grid: no batch.size values"))
	}
	for _, b := range g.BatchSizes {
		if b <= 0 {
			errs = append(errs, fmt.Errorf("grid: batch.size %d must be positive", b))
		}
	}
	if len(g.Compressions) == 0 {
		errs = append(errs, errors.New("grid: no compression values"))
	}
	if len(g.Acks) == 0 {
		errs = append(errs, errors.New("grid: no acks values"))
	}
	return errors.Join(errs...)
}

// Points expands g in a stable order: compression outermost, then acks,
// linger and batch.size, so neighbouring rows of the table differ in the
// settings people compare most.
func (g Grid) Points() []Point {
	pts := make([]Point, 0, len(g.Lingers)*len(g.BatchSizes)*len(g.Compressions)*len(g.Acks))
	for _, c := range g.Compressions {
		for _, a := range g.Acks {
			for _, l := range g.Lingers {
				for _, b := range g.BatchSizes {
					pts = append(pts, Point{Linger: l, BatchSize: b, Compression: c, Acks: a})
				}
			}
		}
	}
	return pts
}

// ParseDurations parses a comma-separated list of durations; a bare number
// is milliseconds, as in linger.ms ("0,5,20ms" → 0, 5ms, 20ms).
func ParseDurations(s string) ([]time.Duration, error) {
	return parseList(s, func(f string) (time.Duration, error) {
		d, err := time.ParseDuration(f)
		if n, ferr := strconv.ParseFloat(f, 64); ferr == nil {
			d, err = time.Duration(n*float64(time.Millisecond)), nil
			if math.IsNaN(n) || math.Abs(n) > float64(math.MaxInt64/int64(time.Millisecond)) {
				err = errors.New("out of range")
			}
		}
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 0, 5ms or 1s", f)
		}
		return d, nil
	})
}

// ParseSizes parses a comma-separated list of byte sizes: plain numbers or
// with a KiB/MiB suffix (also k/K/KB, m/M/MB as binary units, like batch.size docs).
func ParseSizes(s string) ([]int, error) {
	return parseList(s, ParseSize)
}

// ParseSize parses one byte size, e.g. 16384, 16k, 16KiB, 1MiB.
func ParseSize(f string) (int, error) {
	num, mult := f, 1
	lower := strings.ToLower(f)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			num, mult = f[:len(f)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 || n > math.MaxInt32/mult {
		// Kafka's size configs are int32s.
		return 0, fmt.Errorf("size %q: want bytes up to 2GiB, e.g. 16384, 64KiB or 1MiB", f)
	}
	return n * mult, nil
}

// ParseCodecs parses a comma-separated list of compression.type names.
func ParseCodecs(s string) ([]compress.Codec, error) {
	return parseList(s, compress.ParseCodec)
}

// ParseAcksList parses a comma-separated list of acks values.
func ParseAcksList(s string) ([]Acks, error) {
	return parseList(s, ParseAcks)
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list %q", s)
	}
	return out, nil
}

// FormatSize prints a byte count in the largest binary unit that divides it: 16KiB, 1MiB, 1000B.
func FormatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// FormatDuration prints a linger compactly: "0", "1ms", "500µs", "1.5ms".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// FlagValues spells g's lists the way the Parse functions read them, for
// flag defaults: "0,1ms,5ms,20ms", "16KiB,64KiB", "none,lz4", "all".
func (g Grid) FlagValues() (lingers, batchSizes, compressions, acks string) {
	return joinList(g.Lingers, FormatDuration), joinList(g.BatchSizes, FormatSize),
		joinList(g.Compressions, compress.Codec.String), joinList(g.Acks, Acks.String)
}

func joinList[T any](vs []T, format func(T) string) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = format(v)
	}
	return strings.Join(s, ",")
}

package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/compress"
)

func TestDefaultGrid(t *testing.T) {
	g := DefaultGrid()
	require.NoError(t, g.Validate())
	pts := g.Points()
	assert.Len(t, pts, 48)
	assert.Equal(t, Point{Linger: 0, BatchSize: 16 << 10, Compression: compress.None, Acks: AcksAll}, pts[0])
	assert.Equal(t, Point{Linger: 20 * time.Millisecond, BatchSize: 1 << 20, Compression: compress.Zstd, Acks: AcksAll}, pts[47])
	seen := map[Point]bool{}
	for _, p := range pts {
		assert.False(t, seen[p], "duplicate %v", p)
		seen[p] = true
	}
}

func TestGridValidate(t *testing.T) {
	err := Grid{Lingers: []time.Duration{-1}, BatchSizes: []int{0}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"negative linger", "batch.size 0", "no compression", "no acks"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestParseDurations(t *testing.T) {
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{"0,1ms,5ms,20ms", []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}, false},
		{"0, 5", []time.Duration{0, 5 * time.Millisecond}, false},
		{"0.5", []time.Duration{500 * time.Microsecond}, false},
		{"1s", []time.Duration{time.Second}, false},
		{"5ms,,", []time.Duration{5 * time.Millisecond}, false},
		{"fast", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseDurations(tt.in)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"16384,65536", []int{16384, 65536}, false},
		{"16k,64KiB,1MiB,2m,512KB,100b", []int{16 << 10, 64 << 10, 1 << 20, 2 << 20, 512 << 10, 100}, false},
		{"-1", nil, true},
		{"1.5MiB", nil, true},
		{"2048MiB", nil, true},
		{"2047MiB", []int{2047 << 20}, false},
		{"lots", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSizes(tt.in)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseCodecsAndAcks(t *testing.T) {
	c, err := ParseCodecs("none,LZ4, zstd")
	require.NoError(t, err)
	assert.Equal(t, []compress.Codec{compress.None, compress.LZ4, compress.Zstd}, c)
	_, err = ParseCodecs("none,brotli")
	assert.Error(t, err)

	a, err := ParseAcksList("all,1,0,-1")
	require.NoError(t, err)
	assert.Equal(t, []Acks{AcksAll, AcksLeader, AcksNone, AcksAll}, a)
	_, err = ParseAcksList("2")
	assert.Error(t, err)
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "16KiB", FormatSize(16384))
	assert.Equal(t, "1MiB", FormatSize(1<<20))
	assert.Equal(t, "1000B", FormatSize(1000))
	assert.Equal(t, "1536KiB", FormatSize(1536<<10))
	assert.Equal(t, "0", FormatDuration(0))
	assert.Equal(t, "5ms", FormatDuration(5*time.Millisecond))
	assert.Equal(t, "linger=5ms batch=64KiB lz4 acks=all",
		Point{Linger: 5 * time.Millisecond, BatchSize: 64 << 10, Compression: compress.LZ4, Acks: AcksAll}.Label())
	assert.Equal(t, "1", AcksLeader.String())
}

func TestFlagValuesRoundTrip(t *testing.T) {
	g := DefaultGrid()
	l, b, c, a := g.FlagValues()
	assert.Equal(t, "0,1ms,5ms,20ms", l)
	assert.Equal(t, "16KiB,64KiB,256KiB,1MiB", b)
	assert.Equal(t, "none,lz4,zstd", c)
	assert.Equal(t, "all", a)
	var back Grid
	var err error
	back.Lingers, err = ParseDurations(l)
	require.NoError(t, err)
	back.BatchSizes, err = ParseSizes(b)
	require.NoError(t, err)
	back.Compressions, err = ParseCodecs(c)
	require.NoError(t, err)
	back.Acks, err = ParseAcksList(a)
	require.NoError(t, err)
	assert.Equal(t, g, back)
}

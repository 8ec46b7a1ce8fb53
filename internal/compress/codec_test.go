package compress

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodecString(t *testing.T) {
	for c, want := range map[Codec]string{None: "none", Gzip: "gzip", Snappy: "snappy", LZ4: "lz4", Zstd: "zstd", 5: "Codec(5)", -1: "Codec(-1)"} {
		assert.Equal(t, want, c.String())
	}
	// The values are Kafka's attribute bits; pin them.
	assert.Equal(t, []Codec{0, 1, 2, 3, 4}, allCodecs)
}

func TestParseCodec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Codec
	}{
		{"", None}, {"none", None}, {"NONE", None}, {"gzip", Gzip}, {"GZip", Gzip},
		{"snappy", Snappy}, {"lz4", LZ4}, {"LZ4", LZ4}, {"zstd", Zstd}, {"Zstd", Zstd},
	} {
		got, err := ParseCodec(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"zip", "producer", " gzip", "lz4 ", "1"} {
		_, err := ParseCodec(bad)
		assert.ErrorIs(t, err, ErrUnknownCodec, bad)
		assert.ErrorContains(t, err, "want none, gzip, snappy, lz4 or zstd")
	}
	for _, c := range allCodecs {
		got, err := ParseCodec(c.String())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
}

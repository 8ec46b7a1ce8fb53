package bench

import (
	"testing"
)

// The list parsers read command-line input: they must reject, never panic,
// and never return a negative size.
func FuzzParseSizes(f *testing.F) {
	for _, s := range []string{"16384", "16KiB,1MiB", "9223372036854775807MiB", "-1", "2047MiB", "2048MiB", ",,", "1b,2k,3m", "KiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sizes, err := ParseSizes(s)
		if err != nil {
			return
		}
		for _, n := range sizes {
			if n < 0 {
				t.Fatalf("ParseSizes(%q) returned %d", s, n)
			}
		}
	})
}

func FuzzParseDurations(f *testing.F) {
	for _, s := range []string{"0,1ms,5ms", "1e300", "NaN", "-5", "1.5", "3h", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDurations(s)
		_, _ = ParseCodecs(s)
		_, _ = ParseAcksList(s)
	})
}

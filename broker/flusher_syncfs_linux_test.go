package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSyncfsReportsErrors: kernels before 5.8, whose syncfs(2) returns 0
// whatever writeback failed, keep per-file fsyncs.
func TestSyncfsReportsErrors(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.0":                             true,
		"5.8.0-63-generic":                   true,
		"5.15.153.1-microsoft-standard-WSL2": true,
		"5.7.19":                             false,
		"4.19.0-26-amd64":                    false,
		"6":                                  false,
		"":                                   false,
		"x.y":                                false,
	} {
		assert.Equal(t, want, syncfsReportsErrors(release), release)
	}
}

package main

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun runs the example against its own bundled broker and checks the
// lag and reset it reports.
func TestRun(t *testing.T) {
	if os.Getenv("SKIFF_BROKERS") != "" {
		t.Setenv("SKIFF_BROKERS", "") // the expected numbers need a fresh broker
	}
	var out bytes.Buffer
	require.NoError(t, run(&out))
	s := out.String()
	assert.Contains(t, s, "created topic orders with 3 partitions")
	assert.Contains(t, s, "group billing is Stable")
	rows := regexp.MustCompile(`(?m)^billing +orders +(\d) +10 +14 +4 +billing-app$`).FindAllStringSubmatch(s, -1)
	assert.Len(t, rows, 3, "lag with the member:\n%s", s)
	assert.Contains(t, s, "total lag 12")
	assert.Regexp(t, `reset refused while the member is in the group:\n  .*NON_EMPTY_GROUP`, s)
	plan := regexp.MustCompile(`(?m)^billing +orders +\d +10 +0$`).FindAllString(s, -1)
	assert.Len(t, plan, 3, "dry-run plan:\n%s", s)
	after := regexp.MustCompile(`(?m)^billing +orders +\d +0 +14 +14 +-$`).FindAllString(s, -1)
	assert.Len(t, after, 3, "lag after the reset:\n%s", s)
	assert.Contains(t, s, "group billing is Empty")
	assert.Contains(t, s, "total lag 42")
}

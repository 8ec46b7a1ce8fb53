package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMainHelp runs the built binary: the top-level help, "skiff help
// CMD", and an unknown command.
func TestMainHelp(t *testing.T) {
	bin := skiffBinary(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, "usage: skiff <command> [flags]", ""},
		{[]string{"-h"}, 0, "run 'skiff <command> --help'", ""},
		{[]string{"help", "produce"}, 0, "usage: skiff produce --topic T [flags] < records", ""},
		{[]string{"topics", "--help"}, 0, "usage: skiff topics <list|create|delete|describe|alter-config|add-partitions> [flags]", ""},
		{[]string{"frob"}, 2, "", "skiff: unknown command \"frob\"\nrun 'skiff --help' for the list of commands\n"},
		{nil, 2, "", "usage: skiff <command> [flags]"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.code == 0 {
				require.NoError(t, err, stderr.String())
			} else {
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, tc.code, ee.ExitCode())
			}
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Contains(t, stderr.String(), tc.stderr)
		})
	}
}

// Package examples_test builds every example and runs it against the
// bundled broker, as a user's `go run ./examples/<name>` would.
package examples_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
)

// buildExamples compiles every example once into a temporary directory.
func buildExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator), "./...")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./examples/...: %s", out)
	return dir
}

// runExample runs one example binary with SKIFF_BROKERS unset, so it starts
// its own broker, and returns its stdout.
func runExample(t *testing.T, dir, name string) string {
	t.Helper()
	return runExampleOn(t, dir, name, "")
}

// runExampleOn runs one example with SKIFF_BROKERS=brokers (unset if empty).
func runExampleOn(t *testing.T, dir, name, brokers string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name))
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SKIFF_BROKERS=") })
	if brokers != "" {
		cmd.Env = append(cmd.Env, "SKIFF_BROKERS="+brokers)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s: stdout:\n%s\nstderr:\n%s", name, stdout.String(), stderr.String())
	return stdout.String()
}

func TestExamples(t *testing.T) {
	dir := buildExamples(t)

	t.Run("hello", func(t *testing.T) {
		t.Parallel()
		out := runExample(t, dir, "hello")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 10, out)
		for i, l := range lines {
			assert.Regexp(t, `^hello\[\d+\]@\d+: hello `+strconv.Itoa(i)+`$`, l)
		}
	})

	t.Run("keyed-orders", func(t *testing.T) {
		t.Parallel()
		out := runExample(t, dir, "keyed-orders")
		orders := regexp.MustCompile(`(?m)^order +\d+ +(\w+) +→ partition (\d+) offset \d+$`).FindAllStringSubmatch(out, -1)
		require.Len(t, orders, 20, out)
		partitionOf := map[string]string{}
		for _, o := range orders {
			if p, ok := partitionOf[o[1]]; ok {
				assert.Equal(t, p, o[2], "customer %s changed partition", o[1])
			}
			partitionOf[o[1]] = o[2]
		}
		assert.Len(t, partitionOf, 5)
		for c, p := range partitionOf {
			assert.Contains(t, out, c+": every order on partition "+p)
		}
	})

	t.Run("batching", func(t *testing.T) {
		t.Parallel()
		out := runExample(t, dir, "batching")
		rows := regexp.MustCompile(`(?m)^linger=\S+ +batch\.size= *\d+KiB: +(\d+) records/s, +([\d.]+) records/batch$`).FindAllStringSubmatch(out, -1)
		require.Len(t, rows, 3, out)
		var perBatch []float64
		for _, r := range rows {
			rps, _ := strconv.ParseFloat(r[1], 64)
			pb, _ := strconv.ParseFloat(r[2], 64)
			assert.Positive(t, rps)
			perBatch = append(perBatch, pb)
		}
		assert.Greater(t, perBatch[2], perBatch[0], "longer linger and bigger batches must fill batches more")
	})

	t.Run("consumer-group", func(t *testing.T) {
		t.Parallel()
		out := runExample(t, dir, "consumer-group")
		assert.Contains(t, out, "group consumed 1000 of 1000 records")
		assert.Regexp(t, `member-1 assigned \[.+\]`, out)
		assert.Regexp(t, `member-2 assigned \[.+\]`, out)
		consumed := regexp.MustCompile(`(?m)^(member-\d) consumed (\d+) records$`).FindAllStringSubmatch(out, -1)
		require.Len(t, consumed, 2, out)
		sum := 0
		for _, c := range consumed {
			n, _ := strconv.Atoi(c[2])
			sum += n
		}
		assert.Equal(t, 1000, sum)
	})
}

// TestExamplesAgainstACluster runs the examples with SKIFF_BROKERS set, as
// against any cluster: they create the topics they need (so keyed-orders
// really spreads keys over partitions) and leave no consumer group behind.
func TestExamplesAgainstACluster(t *testing.T) {
	dir := buildExamples(t)
	ctx, cancel := context.WithCancel(t.Context())
	b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		GroupInitialRebalanceDelay: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		b.Close(cctx)
	})

	out := runExampleOn(t, dir, "keyed-orders", b.Addr())
	parts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)→ partition (\d+) `).FindAllStringSubmatch(out, -1) {
		parts[m[1]] = true
	}
	assert.Greater(t, len(parts), 1, "keys spread over the 4 partitions the example created:\n%s", out)

	out = runExampleOn(t, dir, "consumer-group", b.Addr())
	assert.Contains(t, out, "group consumed 1000 of 1000 records")
	assert.Empty(t, listGroups(t, b.Addr()), "the example deletes its group")

	// A second run in the same cluster (topics exist now) works too.
	out = runExampleOn(t, dir, "consumer-group", b.Addr())
	assert.Contains(t, out, "group consumed 1000 of 1000 records")
	assert.Empty(t, listGroups(t, b.Addr()))
}

func listGroups(t *testing.T, addr string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(t.Context(), cl)
	require.NoError(t, err)
	var out []string
	for _, g := range resp.Groups {
		out = append(out, g.Group)
	}
	return out
}

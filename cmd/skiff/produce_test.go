package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runProduceCLI(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := produceMain(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stderr.String()
}

func readAll(t *testing.T, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d", len(out), n)
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceCommand(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(3, "lines"))
	input := "a:1\nb:2\nno-delimiter\n\nc:3:with:colons\r\n"
	code, stderr := runProduceCLI(t, input, "--brokers", brokersArg(c), "--topic", "lines", "--key-delimiter", ":", "--compression", "zstd", "--linger", "0")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "produced 5 records\n", stderr)

	recs := readAll(t, c.ListenAddrs(), "lines", 5)
	got := map[string]*kgo.Record{}
	for _, r := range recs {
		got[string(r.Value)] = r
	}
	assert.Equal(t, "a", string(got["1"].Key))
	assert.Equal(t, "c", string(got["3:with:colons"].Key))
	assert.Nil(t, got["no-delimiter"].Key, "no delimiter: null key")
	require.Contains(t, got, "")
	assert.Nil(t, got[""].Key)
}

func TestProduceCommandPartitionAndAcks(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(3, "p"))
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "line-%d\n", i)
	}
	code, stderr := runProduceCLI(t, in.String(), "--brokers", brokersArg(c), "--topic", "p", "--partition", "2", "--acks", "1")
	require.Equal(t, 0, code, stderr)
	recs := readAll(t, c.ListenAddrs(), "p", 100)
	for i, r := range recs {
		assert.Equal(t, int32(2), r.Partition)
		assert.Equal(t, fmt.Sprintf("line-%d", i), string(r.Value), "order kept")
	}
}

func TestProduceCommandErrors(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(1, "e"))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no topic", []string{"--brokers", brokersArg(c)}, 2, "missing required flag --topic"},
		{"bad acks", []string{"--brokers", brokersArg(c), "--topic", "e", "--acks", "2"}, 2, "--acks: "},
		{"bad codec", []string{"--brokers", brokersArg(c), "--topic", "e", "--compression", "brotli"}, 2, "unknown compression codec"},
		{"bad partition", []string{"--brokers", brokersArg(c), "--topic", "e", "--partition", "7"}, 1, "partition out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runProduceCLI(t, "x\n", tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, stderr, tc.want)
			if tc.code == 1 {
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one-line error: %q", stderr)
			}
		})
	}
}

// TestProduceBinary runs the built command the way a user would.
func TestProduceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	c := cliCluster(t, 1, kfake.SeedTopics(1, "bin"))
	bin := filepath.Join(t.TempDir(), "skiff")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	cmd := exec.Command(bin, "produce", "--topic", "bin")
	cmd.Env = append(os.Environ(), "SKIFF_BROKERS="+brokersArg(c))
	cmd.Stdin = strings.NewReader("one\ntwo\nthree\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Equal(t, "produced 3 records\n", stderr.String())
	assert.Len(t, readAll(t, c.ListenAddrs(), "bin", 3), 3)
}

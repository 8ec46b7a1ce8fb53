package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// skiffBinary builds the command once per test run and returns its path.
func skiffBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "skiff")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestProduceBinary runs the built command the way a user would.
func TestProduceBinary(t *testing.T) {
	bin := skiffBinary(t)
	c := cliCluster(t, 1, kfake.SeedTopics(1, "bin"))
	cmd := exec.Command(bin, "produce", "--topic", "bin")
	cmd.Env = append(os.Environ(), "SKIFF_BROKERS="+brokersArg(c))
	cmd.Stdin = strings.NewReader("one\ntwo\nthree\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Equal(t, "produced 3 records\n", stderr.String())
	assert.Len(t, readAll(t, c.ListenAddrs(), "bin", 3), 3)
}

// runningProduce is the built binary producing from a pipe that the test
// keeps open, as a terminal would be.
type runningProduce struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	done   chan error
}

func startProduce(t *testing.T, brokers string, args ...string) *runningProduce {
	t.Helper()
	cmd := exec.Command(skiffBinary(t), append([]string{"produce", "--brokers", brokers}, args...)...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	rp := &runningProduce{cmd: cmd, stdin: stdin, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = rp.stderr
	require.NoError(t, cmd.Start())
	go func() { rp.done <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-rp.done
		}
	})
	return rp
}

// exit waits up to within for the process to end and returns its code.
func (rp *runningProduce) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-rp.done:
		return rp.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("produce still running %v after the signal; stderr: %s", within, rp.stderr.String())
		return -1
	}
}

// TestProduceSignals: SIGINT or SIGTERM with stdin still open stops
// reading, flushes what was accepted and says what was and was not
// acknowledged; when acknowledgements do not come, --flush-timeout bounds
// the wait, and a second SIGINT aborts it.
func TestProduceSignals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		blackhole bool // the broker never answers Produce
		args      []string
		signals   []os.Signal
		within    time.Duration
		want      string
	}{
		{name: "SIGINT flushes", signals: []os.Signal{os.Interrupt}, within: 10 * time.Second,
			want: "skiff produce: interrupted after reading 3 lines; flushed: 3 of 3 records acknowledged\n"},
		{name: "SIGTERM flushes", signals: []os.Signal{syscall.SIGTERM}, within: 10 * time.Second,
			want: "interrupted after reading 3 lines; flushed: 3 of 3 records acknowledged\n"},
		{name: "flush bounded by --flush-timeout", blackhole: true, args: []string{"--flush-timeout", "1s"},
			signals: []os.Signal{os.Interrupt}, within: 10 * time.Second,
			want: "interrupted after reading 3 lines; flush gave up after --flush-timeout (1s): 0 of 3 records acknowledged, 3 not acknowledged\n"},
		{name: "second SIGINT aborts", blackhole: true, args: []string{"--flush-timeout", "5m"},
			signals: []os.Signal{os.Interrupt, os.Interrupt}, within: 10 * time.Second,
			want: "interrupted after reading 3 lines; flush aborted by a second signal: 0 of 3 records acknowledged, 3 not acknowledged\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cliCluster(t, 1, kfake.SeedTopics(1, "sig"))
			produced := make(chan struct{}, 16)
			c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				produced <- struct{}{}
				// nil, nil, true: swallow the request, never answer.
				return nil, nil, tc.blackhole
			})
			rp := startProduce(t, brokersArg(c), append([]string{"--topic", "sig", "--linger", "0"}, tc.args...)...)
			_, err := io.WriteString(rp.stdin, "a\nb\nc\n")
			require.NoError(t, err)
			if tc.blackhole {
				select { // the records reached the broker: they were accepted
				case <-produced:
				case <-time.After(10 * time.Second):
					t.Fatal("no Produce request")
				}
			} else {
				readAll(t, c.ListenAddrs(), "sig", 3)
			}
			require.Eventually(t, func() bool { return rp.cmd.Process != nil }, time.Second, time.Millisecond)
			for i, sig := range tc.signals {
				if i > 0 {
					// The second signal comes once the first was handled
					// (the flush started), as a person's would.
					require.Eventually(t, func() bool { return strings.Contains(rp.stderr.String(), "signal again to abort") },
						10*time.Second, 5*time.Millisecond)
				}
				require.NoError(t, rp.cmd.Process.Signal(sig))
			}
			assert.Equal(t, 130, rp.exit(t, tc.within), rp.stderr.String())
			assert.Contains(t, rp.stderr.String(), "skiff produce: stopping: waiting up to ")
			assert.Contains(t, rp.stderr.String(), tc.want)
		})
	}
}

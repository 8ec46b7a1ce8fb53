package eos_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/eos"
	"github.com/skiffkit/skiff/producer"
)

// Exactly-once through SIGKILLs of the pipeline process, against the
// bundled broker: the consume-transform-produce loop (skiff group consumer,
// transactional skiff producer, eos.SendOffsets) runs in a child process,
// the test binary running only TestPipelineChildProcess (os/exec's
// helper-process pattern, as the broker's SIGKILL tests), and is killed
// in the middle of transactions and started again. Nothing of a killed
// process is closed or flushed; its open transaction is aborted and its
// producer fenced by the next process's InitTransactions, and the next
// consumer resumes at the offsets committed with the last committed
// transaction.
const (
	childEnvBroker = "SKIFF_EOS_CHILD_BROKER"      // the broker's address; set only for the child
	childEnvTotal  = "SKIFF_EOS_CHILD_TOTAL"       // input records: the child exits once all are committed
	childEnvPause  = "SKIFF_EOS_CHILD_PAUSE_AFTER" // commits after which the next transaction pauses before its commit

	// Lines the child prints.
	childReady     = "ready"
	childCommitted = "committed " // + records in the transaction
	childPaused    = "paused"     // output flushed and offsets sent, not committed; waits to be killed
	childDone      = "done"

	crashGroup    = "eos-crash"
	crashTxnID    = "eos-crash-txn"
	crashInstance = "eos-crash-0" // static member: the restart takes the killed member's place at once (KIP-345)
)

// TestPipelineChildProcess is the pipeline process of
// TestExactlyOnceThroughProcessKill when the parent's environment names a
// broker; run by itself it has nothing to do and returns.
func TestPipelineChildProcess(t *testing.T) {
	addr := os.Getenv(childEnvBroker)
	if addr == "" {
		return
	}
	total, err := strconv.Atoi(os.Getenv(childEnvTotal))
	require.NoError(t, err)
	pauseAfter := -1
	if v := os.Getenv(childEnvPause); v != "" {
		pauseAfter, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	c, err := consumer.New(consumer.Config{
		Brokers: []string{addr}, GroupID: crashGroup, GroupInstanceID: crashInstance, Topics: []string{"in"}, Logger: quiet,
		DisableAutoCommit: true, IsolationLevel: consumer.ReadCommitted, AutoOffsetReset: "earliest", MaxPollRecords: 25,
	})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: []string{addr}, TransactionalID: crashTxnID, Linger: producer.NoLinger, Logger: quiet})
	require.NoError(t, err)
	initCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	require.NoError(t, p.InitTransactions(initCtx))
	cancel()
	fmt.Println(childReady)

	commits := 0
	for {
		sum := int64(0)
		for _, o := range c.Positions() {
			sum += o.Offset
		}
		if sum == int64(total) {
			break
		}
		recs, err := c.Poll(ctx)
		require.NoError(t, err)
		if len(recs) == 0 {
			continue
		}
		require.NoError(t, p.BeginTransaction())
		for _, r := range recs {
			require.NoError(t, p.Send(ctx, producer.Record{Topic: "out", Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil))
		}
		require.NoError(t, eos.SendOffsets(ctx, p, c))
		if commits == pauseAfter {
			require.NoError(t, p.Flush(ctx)) // the output is in the log, to be aborted
			fmt.Println(childPaused)
			_, _ = io.Copy(io.Discard, os.Stdin) // until killed (or the parent is gone)
			os.Exit(1)
		}
		require.NoError(t, p.CommitTransaction(ctx))
		commits++
		fmt.Println(childCommitted + strconv.Itoa(len(recs)))
	}
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, p.Close(closeCtx))
	require.NoError(t, c.Close(closeCtx))
	fmt.Println(childDone)
}

// pipelineProcess is one run of the child.
type pipelineProcess struct {
	cmd   *exec.Cmd
	stdin io.Closer
	lines chan string // the child's stdout; closed when it ends
}

func startPipelineProcess(t testing.TB, addr string, total, pauseAfter int) *pipelineProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineChildProcess$")
	cmd.Env = append(os.Environ(), childEnvBroker+"="+addr, childEnvTotal+"="+strconv.Itoa(total))
	if pauseAfter >= 0 {
		cmd.Env = append(cmd.Env, childEnvPause+"="+strconv.Itoa(pauseAfter))
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	pp := &pipelineProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(pp.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			pp.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(pp.kill)
	return pp
}

// next returns the child's next line other than the test framework's.
func (pp *pipelineProcess) next(t testing.TB) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-pp.lines:
			require.True(t, ok, "the pipeline process ended unexpectedly")
			if l == childReady || l == childPaused || l == childDone || strings.HasPrefix(l, childCommitted) {
				return l
			}
		case <-timeout:
			t.Fatal("the pipeline process printed nothing for 60s")
		}
	}
}

// await skips lines up to want and returns the records committed meanwhile.
func (pp *pipelineProcess) await(t testing.TB, want string) (committed int) {
	t.Helper()
	for {
		l := pp.next(t)
		if n, ok := strings.CutPrefix(l, childCommitted); ok {
			k, err := strconv.Atoi(n)
			require.NoError(t, err)
			committed += k
		}
		if l == want {
			return committed
		}
	}
}

// kill SIGKILLs the child: no Close, no flush, no abort.
func (pp *pipelineProcess) kill() {
	if pp.cmd == nil {
		return
	}
	_ = pp.cmd.Process.Kill()
	for range pp.lines {
	}
	_ = pp.cmd.Wait()
	_ = pp.stdin.Close()
	pp.cmd = nil
}

// wait waits for the child to exit by itself and checks it succeeded.
func (pp *pipelineProcess) wait(t testing.TB) {
	t.Helper()
	for range pp.lines {
	}
	require.NoError(t, pp.cmd.Wait(), "the pipeline process failed")
	_ = pp.stdin.Close()
	pp.cmd = nil
}

// TestExactlyOnceThroughProcessKill: the pipeline process is SIGKILLed
// three times (twice paused inside a transaction whose output is in the
// log and whose offsets were sent, once at whatever point it reached right
// after a commit) and started again; under read_committed every input
// record appears in the output exactly once, while the log holds the
// killed transactions' output.
func TestExactlyOnceThroughProcessKill(t *testing.T) {
	const n = 500
	b, err := broker.Start(context.Background(), broker.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NumPartitions: 2, GroupInitialRebalanceDelay: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, b.Close(ctx))
	})
	require.NoError(t, b.CreateTopic("in", 2, nil))
	require.NoError(t, b.CreateTopic("out", 1, nil)) // one partition: the sentinel "end" comes after all output
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i)})
	}
	require.NoError(t, cl.ProduceSync(testCtx(t), recs...).FirstErr())

	done := 0
	// Paused in the 4th transaction: output flushed, offsets sent.
	pp := startPipelineProcess(t, b.Addr(), n, 3)
	done += pp.await(t, childPaused)
	pp.kill()
	// Killed right after its 2nd commit: inside the next transaction, or
	// between two, wherever it got to.
	pp = startPipelineProcess(t, b.Addr(), n, -1)
	pp.await(t, childReady)
	for range 2 {
		l := pp.next(t)
		require.True(t, strings.HasPrefix(l, childCommitted), "line %q", l)
	}
	pp.kill()
	// Paused again, in its 3rd transaction.
	pp = startPipelineProcess(t, b.Addr(), n, 2)
	pp.await(t, childPaused)
	pp.kill()
	// The last run finishes the input and exits.
	pp = startPipelineProcess(t, b.Addr(), n, -1)
	pp.await(t, childDone)
	pp.wait(t)
	require.Positive(t, done)

	require.NoError(t, cl.ProduceSync(testCtx(t), &kgo.Record{Topic: "out", Value: []byte("end")}).FirstErr())
	seen := map[string]int{}
	for _, v := range readOutAt(t, b.Addr(), true) {
		seen[v]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[fmt.Sprintf("out-v%d", i)], "out-v%d", i)
	}
	assert.Len(t, seen, n, "nothing but the transformed input")
	all := readOutAt(t, b.Addr(), false)
	assert.Greater(t, len(all), n, "read_uncommitted also sees the killed transactions' output")
	t.Logf("%d input records: %d committed by the first run before its kill, %d output records in the log", n, done, len(all))
}

// readOutAt reads "out" from addr at the given isolation level up to the
// sentinel "end" and returns the values before it.
func readOutAt(tb testing.TB, addr string, committed bool) []string {
	tb.Helper()
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	r, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(tb, err)
	defer r.Close()
	ctx := testCtx(tb)
	var out []string
	for {
		fs := r.PollFetches(ctx)
		require.NoError(tb, ctx.Err(), "read %d values, never saw the end", len(out))
		fs.EachError(func(t string, p int32, err error) { tb.Fatalf("fetch %s[%d]: %v", t, p, err) })
		for _, rec := range fs.Records() {
			if string(rec.Value) == "end" {
				return out
			}
			out = append(out, string(rec.Value))
		}
	}
}

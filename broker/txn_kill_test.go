package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// The broker SIGKILLed in the middle of a transaction and started again on
// the same data directory: the transaction either completes or aborts,
// nothing committed is lost and nothing aborted reaches read_committed
// (issue 11). The broker runs in a child process, the test binary running
// only TestTxnKillChildBroker, as the group SIGKILL tests do
// (group_restart_test.go); a SIGKILL is a process crash, so what the
// broker wrote is in the page cache and survives, what it had not written
// is gone.
const (
	txnChildEnvDir    = "SKIFF_TXN_KILL_BROKER_DIR"
	txnChildEnvListen = "SKIFF_TXN_KILL_BROKER_LISTEN"
	txnChildReady     = "skiff txn-kill broker listening on "
	// Commands the child reads on stdin, each answered by a line on stdout
	// once in force.
	txnChildFailWrites = "fail-writes " // + partition directory: its writes and syncs fail (EIO)
	txnChildHoldEndTxn = "hold-endtxn"  // every EndTxn is parked, never handled
	txnChildDone       = "done"
	txnChildEndTxnHeld = "endtxn-held" // printed when an EndTxn is parked
)

// TestTxnKillChildBroker is the child broker of the SIGKILL transaction
// tests when the parent's environment names a data directory; run by
// itself it has no broker to be and returns.
func TestTxnKillChildBroker(t *testing.T) {
	dir := os.Getenv(txnChildEnvDir)
	if dir == "" {
		return
	}
	var holdEndTxn atomic.Bool
	fsys := errorfs.Wrap(vfs.Default)
	cfg := Config{
		Listen: os.Getenv(txnChildEnvListen), DataDir: dir, NumPartitions: 2, Logger: discardLogger(),
		// The tests' transactions time out after a second or two; the
		// abort after a restart comes at most one interval later.
		TransactionAbortCheckInterval: 50 * time.Millisecond,
		Faults: func(key, _ int16) Fault {
			if key == endTxnKey && holdEndTxn.Load() {
				fmt.Println(txnChildEndTxnHeld)
				return Fault{Delay: time.Hour} // until killed
			}
			return Fault{}
		},
	}
	cfg.logFS = fsys
	b, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child broker:", err)
		os.Exit(2)
	}
	fmt.Println(txnChildReady + b.Addr())
	// Until killed; if the parent dies first, its end of stdin closes.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch line := sc.Text(); {
		case strings.HasPrefix(line, txnChildFailWrites):
			fsys.Inject(errorfs.Fault{Ops: errorfs.OpWrite | errorfs.OpSync,
				Path: errorfs.Under(filepath.Join(dir, strings.TrimPrefix(line, txnChildFailWrites))), Err: errorfs.EIO})
		case line == txnChildHoldEndTxn:
			holdEndTxn.Store(true)
		}
		fmt.Println(txnChildDone)
	}
	os.Exit(0)
}

// txnChild is a child broker process of TestTxnKillChildBroker.
type txnChild struct {
	dir, listen string
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	lines       chan string // the child's stdout after the ready line; closed at its end
}

func newTxnChild(t testing.TB) *txnChild {
	c := &txnChild{dir: t.TempDir(), listen: "127.0.0.1:0"}
	c.start(t)
	t.Cleanup(c.kill)
	return c
}

func (c *txnChild) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTxnKillChildBroker$")
	cmd.Env = append(os.Environ(), txnChildEnvDir+"="+c.dir, txnChildEnvListen+"="+c.listen)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c.cmd, c.stdin, c.lines = cmd, stdin, make(chan string, 16)
	sc := bufio.NewScanner(stdout)
	addr := ""
	for addr == "" && sc.Scan() {
		addr, _ = strings.CutPrefix(sc.Text(), txnChildReady)
	}
	// The rest of stdout answers commands; kill waits for the end.
	go func() {
		defer close(c.lines)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if addr == "" {
		c.kill()
		t.Fatalf("child broker exited before listening: %v", sc.Err())
	}
	c.listen = addr
}

// command sends the child a command and waits for it to be in force.
func (c *txnChild) command(t testing.TB, cmd string) {
	t.Helper()
	_, err := io.WriteString(c.stdin, cmd+"\n")
	require.NoError(t, err)
	c.await(t, txnChildDone)
}

// await waits for the child to print line.
func (c *txnChild) await(t testing.TB, line string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			require.True(t, ok, "child broker exited before printing %q", line)
			if l == line {
				return
			}
		case <-timeout:
			t.Fatalf("child broker did not print %q in 20s", line)
		}
	}
}

// kill SIGKILLs the child: no Close, no flush, no marker retried.
func (c *txnChild) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	for range c.lines {
	}
	_ = c.cmd.Wait()
	_ = c.stdin.Close()
	c.cmd = nil
}

// client is a kgo client of the child that retries fast, so it finds the
// restarted child at once.
func (c *txnChild) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.listen),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond })}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// txnKillTopic has two partitions, so a transaction has two markers and a
// crash can fall between them.
const (
	txnKillTopic      = "kill"
	txnKillPartitions = 2
	txnKillN          = 20 // records per transaction, half on each partition
	txnKillTimeout    = 2 * time.Second
)

// producer is a transactional kgo producer of the child with a short
// transaction timeout, placing records by their Partition field.
func (c *txnChild) producer(t testing.TB, id string) *kgo.Client {
	return c.client(t, kgo.TransactionalID(id), kgo.DefaultProduceTopic(txnKillTopic),
		kgo.TransactionTimeout(txnKillTimeout), kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// produceOpen begins a transaction and writes txnKillN records, half on
// each partition, acknowledged (in the log) on return.
func produceOpen(t testing.TB, cl *kgo.Client, prefix string) {
	t.Helper()
	require.NoError(t, cl.BeginTransaction())
	var recs []*kgo.Record
	for i := range txnKillN {
		recs = append(recs, &kgo.Record{Partition: int32(i % txnKillPartitions), Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
}

func produceCommitted(t testing.TB, cl *kgo.Client, prefix string) {
	t.Helper()
	produceOpen(t, cl, prefix)
	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
}

// consumeChild reads n records of the topic from the start.
func (c *txnChild) consume(t testing.TB, n int, opts ...kgo.Opt) map[string]int {
	t.Helper()
	cl := c.client(t, append([]kgo.Opt{kgo.ConsumeTopics(txnKillTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)...)
	defer cl.Close()
	cx := ctx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(cx)
		require.NoError(t, cx.Err(), "got %d of %d records: %v", len(out), n, valuesByPrefix(out))
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return valuesByPrefix(out)
}

func (c *txnChild) waitState(t testing.TB, admin *kgo.Client, id, state string) {
	t.Helper()
	// The coordinator's completion and timeout run in the background of
	// another process; no event crosses to the test, so poll.
	require.Eventually(t, func() bool {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		resp, err := req.RequestWith(ctx(t), admin)
		return err == nil && len(resp.TransactionStates) == 1 && resp.TransactionStates[0].ErrorCode == 0 &&
			resp.TransactionStates[0].State == state
	}, 20*time.Second, 20*time.Millisecond, "transaction %s never reached %s", id, state)
}

// TestTxnBrokerSIGKILL: per case, a committed transaction "kept", then a
// transaction "open" in some state when the broker is SIGKILLed; after the
// restart "open" completes (committed) or times out (aborted) as the case
// says, a new producer of the same id commits "after", and a read_committed
// consumer sees exactly "kept", "after" and "open" when it committed, a
// read_uncommitted one all three (the aborted records are in the log,
// filtered).
func TestTxnBrokerSIGKILL(t *testing.T) {
	tests := []struct {
		name string
		// crash brings "open" to the moment of the kill.
		crash func(t *testing.T, c *txnChild, cl *kgo.Client)
		// committed says whether "open" must be visible after the restart.
		committed bool
	}{
		{
			// Records written, no EndTxn: the restart leaves it Ongoing and
			// the timeout aborts it.
			name:  "ongoing",
			crash: func(t *testing.T, c *txnChild, cl *kgo.Client) { produceOpen(t, cl, "open") },
		},
		{
			// EndTxn sent and never handled (parked until the kill): no
			// decision was logged, so the transaction is Ongoing after the
			// restart and the timeout aborts it.
			name: "endtxn-unhandled",
			crash: func(t *testing.T, c *txnChild, cl *kgo.Client) {
				produceOpen(t, cl, "open")
				c.command(t, txnChildHoldEndTxn)
				cx, cancel := context.WithCancel(context.Background())
				ended := make(chan error, 1)
				go func() { ended <- cl.EndTransaction(cx, kgo.TryCommit) }()
				c.await(t, txnChildEndTxnHeld)
				c.kill()
				cancel()
				assert.Error(t, <-ended, "EndTxn was never answered")
			},
		},
		{
			// EndTxn answered (PrepareCommit durable); the marker reached
			// partition 0 but partition 1's disk failed: markers partial.
			// The restart finishes the commit.
			name:      "markers-partial",
			committed: true,
			crash: func(t *testing.T, c *txnChild, cl *kgo.Client) {
				produceOpen(t, cl, "open")
				c.command(t, txnChildFailWrites+txnKillTopic+"-1")
				require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
				admin := kadm.NewClient(c.client(t))
				// Partition 0's marker moves its last stable offset to its
				// end; no event crosses the process boundary, so poll.
				require.Eventually(t, func() bool {
					end, err1 := admin.ListEndOffsets(ctx(t), txnKillTopic)
					stable, err2 := admin.ListCommittedOffsets(ctx(t), txnKillTopic)
					if err1 != nil || err2 != nil {
						return false
					}
					e0, _ := end.Lookup(txnKillTopic, 0)
					s0, _ := stable.Lookup(txnKillTopic, 0)
					return e0.Err == nil && s0.Err == nil && s0.Offset == e0.Offset
				}, 20*time.Second, 20*time.Millisecond, "partition 0's marker")
				end, err := admin.ListEndOffsets(ctx(t), txnKillTopic)
				require.NoError(t, err)
				stable, err := admin.ListCommittedOffsets(ctx(t), txnKillTopic)
				require.NoError(t, err)
				e1, _ := end.Lookup(txnKillTopic, 1)
				s1, _ := stable.Lookup(txnKillTopic, 1)
				require.Less(t, s1.Offset, e1.Offset, "partition 1 has no marker: the crash finds the markers partial")
				c.waitState(t, c.client(t), "tx-kill", "PrepareCommit")
			},
		},
		{
			// Killed right after the commit was acknowledged, whatever the
			// markers' progress.
			name:      "commit-acknowledged",
			committed: true,
			crash: func(t *testing.T, c *txnChild, cl *kgo.Client) {
				produceOpen(t, cl, "open")
				require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTxnChild(t)
			admin := c.client(t)
			createTopic(t, admin, txnKillTopic, txnKillPartitions, nil)
			cl := c.producer(t, "tx-kill")
			produceCommitted(t, cl, "kept")
			tt.crash(t, c, cl)
			// The old producer goes before the restart: it must not end
			// the transaction for the broker.
			c.kill()
			cl.Close()
			c.start(t)

			admin = c.client(t)
			if tt.committed {
				c.waitState(t, admin, "tx-kill", "CompleteCommit")
			} else {
				c.waitState(t, admin, "tx-kill", "CompleteAbort")
			}
			// The new producer fences any zombie and commits after it.
			produceCommitted(t, c.producer(t, "tx-kill"), "after")

			want := map[string]int{"kept": txnKillN, "after": txnKillN}
			if tt.committed {
				want["open"] = txnKillN
			}
			n := 0
			for _, v := range want {
				n += v
			}
			assert.Equal(t, want, c.consume(t, n, readCommitted()), "read_committed: nothing committed lost, nothing aborted visible")
			assert.Equal(t, map[string]int{"kept": txnKillN, "open": txnKillN, "after": txnKillN}, c.consume(t, 3*txnKillN),
				"read_uncommitted: every record written survived the kill")
		})
	}
}

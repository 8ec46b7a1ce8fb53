package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
	"github.com/skiffkit/skiff/kerr"
)

// withAIO runs fn with Linux AIO on and off: the Appender must answer the
// same either way.
func withAIO(t *testing.T, fn func(t *testing.T, aio bool)) {
	for _, aio := range []bool{true, false} {
		t.Run(fmt.Sprintf("aio=%v", aio), func(t *testing.T) {
			aioDisabled.Store(!aio)
			t.Cleanup(func() { aioDisabled.Store(false) })
			fn(t, aio)
		})
	}
}

// appendStep is one record set a test request carries.
type appendStep struct {
	log  int
	spec batchSpec
	bad  bool // CRC broken
}

// TestAppenderMatchesAppend feeds the same requests to logs through an
// Appender and to twin logs through Append, one set at a time: every
// answer, every error code and every byte read back must match. The
// requests roll tiny segments, repeat a log within one request, retry an
// idempotent batch (a duplicate), break a sequence and a CRC.
func TestAppenderMatchesAppend(t *testing.T) {
	withAIO(t, func(t *testing.T, aio bool) {
		const logs = 6
		cfg := Config{SegmentBytes: 900, IndexIntervalBytes: 100}
		var viaAppender, viaAppend []*Log
		for i := 0; i < logs; i++ {
			viaAppender = append(viaAppender, openLog(t, filepath.Join(t.TempDir(), fmt.Sprintf("a-%d", i)), cfg))
			viaAppend = append(viaAppend, openLog(t, filepath.Join(t.TempDir(), fmt.Sprintf("b-%d", i)), cfg))
		}
		seq := make([]int32, logs)
		var requests [][]appendStep
		for r := 0; r < 40; r++ {
			var req []appendStep
			for i := 0; i < logs; i++ {
				n := 1 + (r+i)%4
				req = append(req, appendStep{log: i, spec: batchSpec{records: n, valueSize: 20 + r%30, pid: int64(100 + i), seq: seq[i]}})
				seq[i] += int32(n)
			}
			switch r % 5 {
			case 1: // the same log twice in one request, in sequence, with
				// other logs' sets after it
				again := appendStep{log: 2, spec: batchSpec{records: 2, pid: 102, seq: seq[2]}}
				seq[2] += 2
				req = append(req[:3], append([]appendStep{again}, req[3:]...)...)
			case 2: // a retry of the batch just sent: a duplicate
				req = append(req, req[3])
			case 3: // a sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER
				req = append(req, appendStep{log: 4, spec: batchSpec{records: 1, pid: 104, seq: seq[4] + 5}})
			case 4: // a broken CRC: CORRUPT_MESSAGE
				req = append(req, appendStep{log: 5, spec: plain(3), bad: true})
			}
			requests = append(requests, req)
		}

		var app Appender
		flushesBefore := aioWrites.Load()
		for r, req := range requests {
			ids := make([]int, len(req))
			want := make([]appendResult, len(req))
			for j, st := range req {
				b := makeBatch(t, st.spec, fmt.Sprintf("r%d-%d", r, j))
				twin := append([]byte(nil), b...)
				if st.bad {
					b[len(b)-1] ^= 1
					twin[len(twin)-1] ^= 1
				}
				ids[j] = app.Add(viaAppender[st.log], b, t0)
				want[j].info, want[j].err = viaAppend[st.log].Append(twin, t0)
			}
			app.Flush()
			for j := range req {
				info, err := app.Result(ids[j])
				assert.Equal(t, want[j].info, info, "request %d set %d", r, j)
				assert.Equal(t, kerr.Code(want[j].err), kerr.Code(err), "request %d set %d: %v / %v", r, j, want[j].err, err)
			}
			app.Reset()
		}
		if aio && aioSupported {
			require.False(t, aioBroken.Load(), "io_setup failed")
			assert.Greater(t, aioWrites.Load(), flushesBefore, "the writes went through AIO")
		}
		for i := 0; i < logs; i++ {
			require.Greater(t, viaAppender[i].NumSegments(), 1, "tiny segments roll")
			a, err := viaAppender[i].Read(0, 1<<20, nil)
			require.NoError(t, err)
			b, err := viaAppend[i].Read(0, 1<<20, nil)
			require.NoError(t, err)
			assert.Equal(t, b, a, "log %d", i)
			assert.Equal(t, viaAppend[i].EndOffset(), viaAppender[i].EndOffset())
		}
		// Nothing is left locked: plain Appends go on.
		for i := 0; i < logs; i++ {
			mustAppend(t, viaAppender[i], makeBatch(t, plain(1), "after"))
		}
	})
}

// TestAppenderConcurrentNoDeadlock has two Appenders take the same logs in
// opposite orders, request after request: each holds logs the other
// wants, which must not deadlock (Add flushes rather than wait while it
// holds any), and every record must land once, in offset order.
func TestAppenderConcurrentNoDeadlock(t *testing.T) {
	withAIO(t, func(t *testing.T, _ bool) {
		const logs, requests = 20, 50
		var ls []*Log
		for i := 0; i < logs; i++ {
			// Not openLog: its Close at cleanup would wait forever for the
			// mutexes of deadlocked Appenders, and the test not fail.
			l, err := Open(filepath.Join(t.TempDir(), fmt.Sprint(i)), Config{})
			require.NoError(t, err)
			ls = append(ls, l)
		}
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Go(func() {
				var app Appender
				for r := 0; r < requests; r++ {
					for k := 0; k < logs; k++ {
						i := k
						if g == 1 {
							i = logs - 1 - k
						}
						app.Add(ls[i], makeBatch(t, plain(2), fmt.Sprintf("g%d-r%d", g, r)), t0)
					}
					app.Flush()
					for id := 0; id < logs; id++ {
						_, err := app.Result(id)
						assert.NoError(t, err)
					}
					app.Reset()
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("the Appenders deadlocked")
		}
		defer func() {
			for _, l := range ls {
				l.Close()
			}
		}()
		for i, l := range ls {
			all, err := l.Read(0, 1<<22, nil)
			require.NoError(t, err)
			recs := decodeAll(t, all)
			require.Len(t, recs, 2*requests*2, "log %d", i)
			for j, rec := range recs {
				require.Equal(t, int64(j), rec.offset)
			}
		}
	})
}

// TestAppenderWriteFailureTakesOneLogOffline fails the write of one log of
// a flush: that log answers KAFKA_STORAGE_ERROR and goes offline, with
// nothing of the set published; the others of the same flush are written.
// Through a fault-injecting vfs (one WriteAt each) and through AIO (a
// descriptor that refuses writes).
func TestAppenderWriteFailureTakesOneLogOffline(t *testing.T) {
	for _, via := range []string{"vfs", "aio"} {
		t.Run(via, func(t *testing.T) {
			efs := errorfs.Wrap(vfs.Default)
			var ls []*Log
			for i := 0; i < 3; i++ {
				cfg := Config{}
				if via == "vfs" {
					cfg.FS = efs
				}
				ls = append(ls, openLog(t, filepath.Join(t.TempDir(), fmt.Sprint(i)), cfg))
				mustAppend(t, ls[i], makeBatch(t, plain(1), "first"))
			}
			victim := ls[1]
			if via == "vfs" {
				efs.Inject(errorfs.Fault{Ops: errorfs.OpWrite, Path: errorfs.Under(victim.Dir()), Err: errors.New("injected EIO")})
			} else {
				if !aioSupported {
					// This build has no AIO path to fail: the vfs case
					// covers the one it has.
					t.Skip("no Linux AIO in this build")
				}
				act := victim.active()
				ro, err := os.Open(fileName(victim.Dir(), act.base, logSuffix))
				require.NoError(t, err)
				t.Cleanup(func() { ro.Close() })
				act.fd = int(ro.Fd()) // writes to it fail with EBADF
			}
			sizeBefore := victim.Size()

			var app Appender
			aioBefore := aioWrites.Load()
			for i := range ls {
				app.Add(ls[i], makeBatch(t, plain(2), "second"), t0)
			}
			app.Flush()
			if via == "aio" {
				require.False(t, aioBroken.Load(), "io_setup failed")
				require.Greater(t, aioWrites.Load(), aioBefore, "the flush went through AIO")
			}
			for i := range ls {
				info, err := app.Result(i)
				if i == 1 {
					require.ErrorIs(t, err, kerr.KafkaStorageError)
					require.ErrorIs(t, err, ErrOffline)
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, int64(1), info.BaseOffset)
				assert.Equal(t, int64(3), ls[i].EndOffset())
			}
			assert.Equal(t, int64(1), victim.EndOffset(), "nothing of the failed set is published")
			assert.Equal(t, sizeBefore, victim.Size())
			_, err := victim.Append(makeBatch(t, plain(1), "third"), t0)
			assert.ErrorIs(t, err, ErrOffline)
		})
	}
}

func TestAIOCompletion(t *testing.T) {
	for _, tc := range []struct {
		res   int64
		want  int
		n     int
		isErr error
	}{
		{res: 100, want: 100, n: 100},
		{res: 40, want: 100, n: 40, isErr: io.ErrShortWrite},
		{res: -5, want: 100, n: 0, isErr: syscall.EIO},
	} {
		n, err := completion(tc.res, tc.want)
		assert.Equal(t, tc.n, n, "res %d", tc.res)
		if tc.isErr == nil {
			assert.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, tc.isErr)
		}
	}
}

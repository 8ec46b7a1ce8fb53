package broker

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// writePaths are the two ways a fetch answer reaches the socket: a frame
// in memory, written with the answers around it, or split around sendfile
// ranges of the segment files (sendfile.go).
var writePaths = []struct {
	name     string
	sendfile bool
}{
	{"frames", false},
	{"sendfile", true},
}

func writePathConfig(sendfile bool) Config {
	return Config{DisableSendfile: !sendfile, sendfileMin: 1}
}

// readCorr reads one answer and returns its correlation id and body.
func readCorr(t *testing.T, rc *rawConn) (int32, []byte) {
	t.Helper()
	body, err := rc.readFrame(10 * time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(body), 4)
	return int32(binary.BigEndian.Uint32(body)), body[4:]
}

// decodeFetch decodes a Fetch v12 answer body (after the correlation id).
func decodeFetch(t *testing.T, body []byte) *kmsg.FetchResponse {
	t.Helper()
	r := kbin.Reader{Src: body}
	kmsg.SkipTags(&r) // v12 has a flexible response header
	require.True(t, r.Ok())
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	require.NoError(t, resp.ReadFrom(r.Src))
	return resp
}

// TestAnswersInRequestOrder pipelines, on one connection, a fetch that
// parks in the purgatory, answers that are ready at once and must wait
// behind it, an acks=0 produce (no answer) whose append completes the
// parked fetch on the worker handling it, and more answers after it: every
// answer must leave in request order (conn.writeLoop's ring), whichever
// goroutine finished it.
func TestAnswersInRequestOrder(t *testing.T) {
	for _, tc := range writePaths {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, writePathConfig(tc.sendfile))
			require.NoError(t, b.CreateTopic("t", 1, nil))
			rc := dialRaw(t, b)

			acks0 := produceReq("t", 0, makeBatch(5, 100, batch.NoProducer))
			acks0.Acks = 0
			var out []byte
			out = append(out, frame(fetchReq("t", 0, 1, 10_000), 12, 0)...)
			for corr := int32(1); corr <= 5; corr++ {
				out = append(out, frame(metadataReq(false, "t"), 12, corr)...)
			}
			out = append(out, frame(acks0, 9, 6)...)
			for corr := int32(7); corr <= 9; corr++ {
				out = append(out, frame(metadataReq(false, "t"), 12, corr)...)
			}
			rc.write(out)

			var got []int32
			for range 9 {
				corr, body := readCorr(t, rc)
				got = append(got, corr)
				if corr == 0 {
					f := decodeFetch(t, body)
					require.Len(t, f.Topics, 1)
					require.Len(t, f.Topics[0].Partitions, 1)
					assert.NotEmpty(t, f.Topics[0].Partitions[0].RecordBatches, "the fetch answered with the acks=0 produce's records")
				}
			}
			assert.Equal(t, []int32{0, 1, 2, 3, 4, 5, 7, 8, 9}, got)
		})
	}
}

// dialSmallWindow connects with a 4 KiB receive buffer, set before the
// handshake: shrunk afterwards, the window the broker was already offered
// would be withdrawn, and its retransmissions back off for seconds.
func dialSmallWindow(t *testing.T, b *Broker) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", b.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// TestStalledClientKeepsWorkerFree: with a single I/O worker, a client that
// pipelines large fetches and does not read must not hold that worker:
// only the connection's writer goroutine waits for the socket (under the
// write deadline), so another connection is served meanwhile. Once the
// stalled client reads, it gets every answer, whole and in order. This
// guards any change that lets workers write answers themselves (issue 14
// asked to try it; see conn.writeLoop).
func TestStalledClientKeepsWorkerFree(t *testing.T) {
	for _, tc := range writePaths {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writePathConfig(tc.sendfile)
			cfg.NumIOThreads = 1
			b := startBroker(t, cfg)
			require.NoError(t, b.CreateTopic("t", 1, nil))
			rc := dialRaw(t, b)
			for range 4 {
				code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(64, 1000, batch.NoProducer)), 7)
				require.Zero(t, code)
			}
			// A small receive window fills after a few ~260 KiB answers;
			// the broker's send buffer (up to 4 MiB) after some more.
			stalled := dialSmallWindow(t, b)
			const requests = 4 * maxInFlight
			stalledNow, wrote := stallConn(t, b, stalled.c, requests)

			// The one worker still serves others.
			for range 10 {
				rc.roundTrip(metadataReq(false, "t"), 12)
				code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(1, 10, batch.NoProducer)), 7)
				require.Zero(t, code)
			}
			assert.True(t, stalledNow(), "the other connection was served while this one stayed stalled")

			for i := range int32(requests) {
				corr, body := readCorr(t, stalled)
				require.Equal(t, i, corr, "answers in request order")
				f := decodeFetch(t, body)
				require.Len(t, f.Topics, 1)
				require.Len(t, f.Topics[0].Partitions, 1)
				require.Zero(t, f.Topics[0].Partitions[0].ErrorCode)
				require.NotEmpty(t, f.Topics[0].Partitions[0].RecordBatches)
			}
			require.NoError(t, <-wrote)
			sc := serverConn(t, b, stalled.c)
			assert.Eventually(t, func() bool { return sc.unwritten.Load() == 0 }, 5*time.Second, time.Millisecond,
				"every answer written")
		})
	}
}

// TestMutedConnectionHoldsNextRequest: a request read while a throttled
// one was handled (the client pipelined it) waits in the connection's
// turn ring; the worker ending the turn must not serve it before the
// KIP-219 mute ends, as the reader would not have read it until then.
func TestMutedConnectionHoldsNextRequest(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("q", 1, nil))
	produce := frame(produceReq("q", 0, makeBatch(200, 1000, batch.NoProducer)), 9, 1)
	rc := dialRaw(t, b) // client id "raw" (frame)
	rc.write(produce)
	corr, body := readCorr(t, rc)
	require.Equal(t, int32(1), corr)

	const throttle = 700.0
	size := len(produce) - 4 // Kafka's sizeInBytes: the frame without its size
	bound := boundFor(size, throttle)
	setQuota(t, quotaAdmin(t, b), ent("client-id", "raw"), "producer_byte_rate", bound)
	want := time.Duration(freshThrottle(size, bound)) * time.Millisecond

	start := time.Now()
	// The produce, and a Metadata pipelined behind it in the same write.
	rc.write(append(slices.Clone(produce), frame(metadataReq(false, "q"), 12, 2)...))
	corr, body = readCorr(t, rc)
	require.Equal(t, int32(1), corr)
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(9)
	r := kbin.Reader{Src: body}
	kmsg.SkipTags(&r) // v9 has a flexible response header
	require.True(t, r.Ok())
	require.NoError(t, resp.ReadFrom(r.Src))
	require.Equal(t, int32(want/time.Millisecond), resp.ThrottleMillis)
	assert.Less(t, time.Since(start), want, "KIP-219: the throttled produce is answered at once")
	corr, _ = readCorr(t, rc)
	require.Equal(t, int32(2), corr)
	assert.GreaterOrEqual(t, time.Since(start), want, "the pipelined request waited out the mute")
}

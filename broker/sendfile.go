package broker

import (
	"net"
	"slices"
	"syscall"
	"time"
)

// Zero-copy fetch. On PLAINTEXT and SASL_PLAINTEXT listeners the record
// batches of a Fetch response go from the segment files to the socket with
// sendfile(2), as Kafka sends FileRecords with FileChannel.transferTo: the
// fetch pins byte ranges of the segments (sendfile_fetch.go), the response
// is encoded around them (sendfile_encode.go), and the writer interleaves
// vectored writes of the in-memory parts with sendfile of the ranges
// (writeFetchFrame). TLS listeners copy, as Kafka's do: the bytes must be
// encrypted in user space. Config.DisableSendfile makes every listener copy.
//
// Not Go's (*net.TCPConn).ReadFrom: on Linux it sends from the source
// file's current position, which every connection reading the same
// segment shares; sendfile with an explicit offset leaves the position
// alone, as pread does.

// zeroCopyConn is the raw socket of a connection that fetches with
// sendfile, nil when it must copy.
func zeroCopyConn(b *Broker, nc net.Conn, l *listener) syscall.RawConn {
	// A test filesystem (faults.go) keeps the copying path, where a read
	// it fails becomes the partition's error code instead of a cut
	// connection.
	if !sendfileSupported || b.cfg.DisableSendfile || l.tls != nil || b.cfg.logFS != nil {
		return nil
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// sendFetchFrame is send for a response holding pinned segments: once the
// writer is gone nobody would unpin them, so the frame is released here
// instead of queued.
func (c *conn) sendFetchFrame(r response) {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	if c.writerGone {
		r.fetch.release()
		return
	}
	select {
	case c.respCh <- r:
	default:
		c.b.log.Error("bug: response channel full", "remote", c.remote)
		r.fetch.release()
		c.shutdown()
	}
}

// dropUnwritten runs when the writer returns: it unpins the segments of
// every fetch answer that will never be written, those waiting in the
// ring and those still in respCh, and makes later ones release themselves
// (sendFetchFrame).
func (c *conn) dropUnwritten(ring *[maxInFlight]*response) {
	c.fetchMu.Lock()
	c.writerGone = true
	c.fetchMu.Unlock()
	for i, r := range ring {
		if r != nil && r.fetch != nil {
			r.fetch.release()
		}
		ring[i] = nil
	}
	for {
		select {
		case r := <-c.respCh:
			if r.fetch != nil {
				r.fetch.release()
			}
		default:
			return
		}
	}
}

// defaultSendfileMin is the smallest record range sent with sendfile. A
// range sent with sendfile splits the answer into a vectored write before
// it, the sendfile, and the write of what follows, and on loopback each of
// those writes wakes the reading client, which then waits for the rest: a
// consumer keeping up with a producer gets a few KiB per fetch, and its
// end-to-end latency paid for three wake-ups per answer. Below this size
// one pread into memory costs less than the two extra syscalls, and the
// whole answer leaves in one write (bench/latency.sh, p50 lower by about
// 40 µs in alternating rounds against --sendfile=false). Large ranges, a
// consumer catching up, still go with sendfile, where the copy it saves
// matters (bench/fetch-zerocopy.sh).
const defaultSendfileMin = 32 << 10

// writeFetchFrame writes f after whatever bufs holds: each in-memory run
// goes into bufs, bufs is written before each file range of
// sendfileMin or more, and the range is sent from its segment file;
// smaller ranges are read into f.copied and go into bufs like the runs.
// The frame's last run stays in bufs, to go out with the answers after it;
// f must not be released before bufs is written.
func (c *conn) writeFetchFrame(bufs *net.Buffers, f *fetchFrame) error {
	minSend := c.b.cfg.sendfileMin
	if minSend <= 0 {
		minSend = defaultSendfileMin
	}
	// Sized once for every small range, so reading one never moves the
	// bytes of those already in bufs.
	var small int
	for i := range f.splices {
		if n := f.splices[i].sl.Len; n < minSend {
			small += int(n)
		}
	}
	var copied []byte
	if small > 0 {
		f.copied = fetchDataPool.get()
		copied = slices.Grow((*f.copied)[:0], small)
	}
	buf := *f.buf
	prev := 0
	for i := range f.splices {
		sp := &f.splices[i]
		if sp.at > prev {
			*bufs = append(*bufs, buf[prev:sp.at])
			prev = sp.at
		}
		if sp.sl.Len < minSend {
			start := len(copied)
			var err error
			if copied, err = sp.sl.AppendTo(copied); err != nil {
				return err
			}
			*bufs = append(*bufs, copied[start:])
			continue
		}
		if err := c.flush(bufs); err != nil {
			return err
		}
		if err := c.sendSlice(sp); err != nil {
			return err
		}
	}
	if f.copied != nil {
		*f.copied = copied
	}
	*bufs = append(*bufs, buf[prev:])
	return nil
}

// flush writes bufs in one vectored write and empties it.
func (c *conn) flush(bufs *net.Buffers) error {
	if len(*bufs) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.b.cfg.ConnectionsMaxIdle))
	// WriteTo consumes the slice it is called on; a copy of the header
	// keeps bufs' backing array for the next round.
	out := *bufs
	_, err := out.WriteTo(c.nc)
	clear(*bufs)
	*bufs = (*bufs)[:0]
	return err
}

// sendSlice sends one file range: with sendfile when the segment is an
// *os.File, else (a test filesystem) by reading it.
func (c *conn) sendSlice(sp *fetchSplice) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.b.cfg.ConnectionsMaxIdle))
	if f := sp.sl.File(); f != nil {
		n, err := sendfile(c.zc, f, sp.sl.Pos, sp.sl.Len)
		c.b.sendfileBytes.Add(n)
		return err
	}
	bp := fetchDataPool.get()
	defer fetchDataPool.put(bp)
	b, err := sp.sl.AppendTo(*bp)
	*bp = b
	if err != nil {
		return err
	}
	_, err = c.nc.Write(b)
	return err
}

package compress

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipEncoder bundles a pooled gzip writer with the appendWriter it writes
// to, so a call allocates neither.
type gzipEncoder struct {
	w   *gzip.Writer
	out appendWriter
}

var gzipEncoders = sync.Pool{New: func() any {
	e := new(gzipEncoder)
	// DefaultCompression (6), as Java's GZIPOutputStream and franz-go use.
	e.w, _ = gzip.NewWriterLevel(&e.out, gzip.DefaultCompression)
	return e
}}

func appendGzip(dst, src []byte) ([]byte, error) {
	e := gzipEncoders.Get().(*gzipEncoder)
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	dst = e.out.b
	e.out.b = nil // do not pin the caller's buffer in the pool
	gzipEncoders.Put(e)
	return dst, err
}

// gzipDecoder bundles a pooled reader with its source.
type gzipDecoder struct {
	r   gzip.Reader
	src bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func appendUngzip(dst, src []byte, maxSize int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil) // do not pin src in the pool
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return dst, err
	}
	// Multistream (the default) reads concatenated members, as Java's
	// GZIPInputStream does.
	// The trailer's ISIZE is the input size mod 2^32 of the last member: a
	// good guess for the usual single member, and only a hint.
	var hint int
	if len(src) >= 18 {
		hint = int(binary.LittleEndian.Uint32(src[len(src)-4:]))
	}
	return readAppend(dst, &d.r, maxSize, hint)
}

package compress

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// AppendCompress appends src compressed with codec c to dst and returns the
// extended slice. None appends src unchanged. The codec's encoder comes from
// a pool, so a call allocates only when dst must grow.
//
// Safe for concurrent use.
func AppendCompress(dst, src []byte, c Codec) ([]byte, error) {
	switch c {
	case None:
		return append(dst, src...), nil
	case Gzip:
		return appendGzip(dst, src)
	case Snappy:
		return appendSnappy(dst, src), nil
	case LZ4:
		return appendLZ4(dst, src)
	case Zstd:
		return appendZstd(dst, src), nil
	}
	return dst, fmt.Errorf("compress: %w %s", ErrUnknownCodec, c)
}

// AppendDecompress appends src decompressed with codec c to dst and returns
// the extended slice.
//
// maxSize bounds the number of bytes appended (not counting what dst already
// holds); input that would decompress to more fails with ErrTooLarge, and
// the work done before noticing is bounded by maxSize too (for zstd by at
// most twice maxSize). maxSize must be positive. Input that is not a valid
// stream of the codec fails with an error wrapping ErrCorrupt.
//
// On error the returned slice is dst with its original length; bytes in
// its spare capacity may have been overwritten.
//
// Safe for concurrent use.
func AppendDecompress(dst, src []byte, c Codec, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		return dst, fmt.Errorf("decompress %s: maxSize %d must be positive", c, maxSize)
	}
	// Keep len(dst)+maxSize+1 representable; no slice gets that large anyway.
	maxSize = min(maxSize, math.MaxInt-1-len(dst))
	start := len(dst)
	var err error
	if !c.valid() {
		return dst, fmt.Errorf("decompress: %w %s", ErrUnknownCodec, c)
	}
	if len(src) == 0 && c != None {
		// Every codec writes a header even for no input, so an empty
		// blob is a broken batch, not an empty one.
		return dst, fmt.Errorf("decompress %s: %w: empty input", c, ErrCorrupt)
	}
	switch c {
	case None:
		if len(src) > maxSize {
			return dst, fmt.Errorf("decompress %s: %d bytes: %w (%d)", c, len(src), ErrTooLarge, maxSize)
		}
		return append(dst, src...), nil
	case Gzip:
		dst, err = appendUngzip(dst, src, maxSize)
	case Snappy:
		dst, err = appendUnsnappy(dst, src, maxSize)
	case LZ4:
		dst, err = appendUnlz4(dst, src, maxSize)
	case Zstd:
		dst, err = appendUnzstd(dst, src, maxSize)
	}
	if err != nil {
		return dst[:start], decompressError(c, maxSize, err)
	}
	return dst, nil
}

// decompressError classifies a codec error: anything that is not the size
// limit is the input's fault.
func decompressError(c Codec, maxSize int, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("decompress %s: %w (%d bytes)", c, ErrTooLarge, maxSize)
	}
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("decompress %s: %w", c, err)
	}
	return fmt.Errorf("decompress %s: %w: %w", c, ErrCorrupt, err)
}

// appendWriter is an io.Writer appending to a slice, so the streaming
// encoders (gzip, lz4) write straight into the caller's dst.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readAppend reads r to EOF, appending to dst, and fails with ErrTooLarge
// as soon as more than maxSize bytes arrive: reads never ask for more than
// one byte past the limit, so a bomb costs at most maxSize+1 bytes of
// output. hint is the expected output size (0 if unknown); it sizes the
// first growth so a well-formed input usually needs one.
func readAppend(dst []byte, r io.Reader, maxSize, hint int) ([]byte, error) {
	limit := len(dst) + maxSize // largest acceptable len(dst)
	if hint > 0 {
		// One byte beyond the hint lets the read that reports EOF land
		// without forcing a growth.
		dst = slices.Grow(dst, min(hint, maxSize)+1)
	}
	zeroReads := 0
	for {
		if len(dst) == cap(dst) {
			// Double what has been appended so far, starting at 4 KiB.
			dst = slices.Grow(dst, min(max(4<<10, len(dst)), limit+1-len(dst)))
		}
		room := dst[len(dst):cap(dst)]
		if over := len(dst) + len(room) - (limit + 1); over > 0 {
			room = room[:len(room)-over]
		}
		n, err := r.Read(room)
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, ErrTooLarge
		}
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		case n == 0:
			if zeroReads++; zeroReads > 100 {
				return dst, io.ErrNoProgress
			}
		default:
			zeroReads = 0
		}
	}
}

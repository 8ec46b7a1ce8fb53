package compress

import (
	"bytes"
	"sync"

	"github.com/pierrec/lz4/v4"
)

type lz4Encoder struct {
	w   *lz4.Writer
	out appendWriter
}

var lz4Encoders = sync.Pool{New: func() any {
	e := new(lz4Encoder)
	e.w = lz4.NewWriter(&e.out)
	// Mirror Java's KafkaLZ4BlockOutputStream: 64 KiB independent blocks,
	// no content checksum (the batch CRC32C already covers the bytes),
	// fast level. Synchronous: one batch is too small to split over
	// goroutines, and a pooled writer must not own any.
	if err := e.w.Apply(
		lz4.BlockSizeOption(lz4.Block64Kb),
		lz4.ChecksumOption(false),
		lz4.CompressionLevelOption(lz4.Fast),
		lz4.ConcurrencyOption(1),
	); err != nil {
		panic("compress: lz4 options: " + err.Error()) // constant options; cannot fail
	}
	return e
}}

func appendLZ4(dst, src []byte) ([]byte, error) {
	e := lz4Encoders.Get().(*lz4Encoder)
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	dst = e.out.b
	e.out.b = nil
	lz4Encoders.Put(e)
	return dst, err
}

type lz4Decoder struct {
	r   *lz4.Reader
	src bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any {
	d := new(lz4Decoder)
	d.r = lz4.NewReader(nil)
	if err := d.r.Apply(lz4.ConcurrencyOption(1)); err != nil {
		panic("compress: lz4 options: " + err.Error()) // constant options; cannot fail
	}
	return d
}}

func appendUnlz4(dst, src []byte, maxSize int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.src.Reset(nil)
		d.r.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.r.Reset(&d.src)
	// Concatenated frames are read in sequence, like the reference lz4
	// tool; Java reads the first frame only, but never writes more.
	return readAppend(dst, d.r, maxSize, len(src)*2)
}

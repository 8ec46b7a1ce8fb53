//go:build !linux || !(amd64 || arm64)

package log

// Without Linux native AIO (or on an architecture aio_linux.go does not
// lay its iocb out for) the Appender writes with one pwrite per batch.

const aioSupported = false

type aioContext struct{}

func getAIO() *aioContext                 { return nil }
func putAIO(*aioContext)                  {}
func (c *aioContext) writeAll([]aioWrite) {}

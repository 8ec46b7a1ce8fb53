//go:build !linux

package log

// Without Linux native AIO the Appender writes with one pwrite per batch.

type aioContext struct{}

func getAIO() *aioContext                 { return nil }
func putAIO(*aioContext)                  {}
func (c *aioContext) writeAll([]aioWrite) {}

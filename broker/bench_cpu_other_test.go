//go:build !unix

package broker

// processCPUTime is not measured off Unix.
func processCPUTime() int64 { return 0 }

//go:build !linux

package broker

import "os"

// openSyncfs: syncfs(2) is Linux's; elsewhere the flusher fsyncs each
// partition.
func openSyncfs(string) (func() error, *os.File, error) { return nil, nil, nil }

func onDataFilesystem(string, string) bool { return false }

//go:build !linux

package log

import "errors"

var errNoPrealloc = errors.New("preallocation not available")

// fallocateKeepSize has no portable equivalent: other systems write as
// before.
func fallocateKeepSize(f any, off, n int64) error { return errNoPrealloc }

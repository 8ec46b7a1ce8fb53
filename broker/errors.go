package broker

import "errors"

var (
	// ErrInvalidConfig is returned by Start when the Config is unusable; the
	// wrapped errors name every problem.
	ErrInvalidConfig = errors.New("broker: invalid config")
	// ErrDataDirLocked is returned by Start when another broker (in this
	// process or another) runs on the same DataDir: stop it first, or give
	// this one its own directory.
	ErrDataDirLocked = errors.New("broker: data directory locked")
	// ErrClosed is returned by CreateTopic once Close has begun.
	ErrClosed = errors.New("broker: closed")
	// errBadRequest marks request bytes that do not parse: the connection
	// that sent them is closed, every other connection keeps working.
	errBadRequest = errors.New("broker: malformed request")
)

package consumer

import (
	"context"
	"errors"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// Ping checks that the cluster can be reached: it tries the brokers (any
// learned from metadata, then the seeds) each once, each connect bounded
// by DialTimeout and ctx, and asks one for the cluster's brokers. When
// none answers it returns at once an error wrapping ErrNoBrokers that
// names every address with its OS error. Poll, like Kafka's consumer,
// keeps retrying an unreachable cluster (the client logs that at Warn
// once, see Config.Logger); Ping is for callers that would rather fail
// fast, such as a command-line tool or a readiness check.
func (c *Consumer) Ping(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return c.cl.ping(ctx)
}

// logRetry logs a failure the consumer retries: at Warn, unless the cause
// is that a broker could not be reached. The connection layer logs that
// state itself on its edges (Warn once when no broker is reachable, Info
// when one is again), so repeating it here would print a Warn per retry,
// every second, for as long as the cluster is away.
func (c *Consumer) logRetry(msg string, err error, args ...any) {
	args = append(args, "err", err)
	if wire.Unreachable(err) {
		c.log.Debug(msg, args...)
		return
	}
	c.log.Warn(msg, args...)
}

// topicCause is the Kafka error behind a failed topic lookup, without the
// lookup's "gave up after 1s" context: the consumer goes on waiting, so
// only the broker's answer (UNKNOWN_TOPIC_OR_PARTITION, ...) is news.
func topicCause(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return err
}

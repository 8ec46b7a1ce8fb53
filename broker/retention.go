package broker

import (
	"errors"
	"time"

	"github.com/skiffkit/skiff/internal/log"
)

// retentionLoop deletes old segments every log.retention.check.interval.ms,
// as Kafka's LogManager cleanup task does.
func (b *Broker) retentionLoop() {
	t := time.NewTicker(b.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stopping:
			return
		case now := <-t.C:
			b.enforceRetention(now)
		}
	}
}

func (b *Broker) enforceRetention(now time.Time) {
	for _, t := range b.topics.all() {
		for _, p := range t.parts {
			if _, err := p.log.EnforceRetention(now); err != nil && !errors.Is(err, log.ErrClosed) {
				b.log.Warn("retention failed", "topic", t.name, "partition", p.index, "err", err)
			}
		}
	}
}

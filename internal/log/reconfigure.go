package log

import "fmt"

// Reconfigure applies new topic-level settings to an open log, as Kafka's
// LogManager.updateTopicConfig does after AlterConfigs: rolls, retention,
// index intervals, timestamps and the size limits follow cfg from the next
// call on. Segments already written are not rewritten. FS and Logger are
// kept from Open.
func (l *Log) Reconfigure(cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("log %s: reconfigure: %w", l.dir, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	cfg.FS, cfg.Logger = l.cfg.FS, l.cfg.Logger
	l.cfg = cfg
	l.publishLimits()
	return nil
}

// publishLimits copies the limits Append checks without mu; mu is held or
// l is not yet shared.
func (l *Log) publishLimits() {
	l.segmentBytes.Store(l.cfg.SegmentBytes)
	l.maxMessageBytes.Store(int64(l.cfg.MaxMessageBytes))
}

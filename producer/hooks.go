package producer

import "time"

// Hook is a value implementing one or more of the Hook* interfaces below,
// passed in Config.Hooks. Hooks run synchronously on producer goroutines
// and must be fast and safe for concurrent use.
type Hook any

// HookRecordBuffered is called for every record accepted by Send.
type HookRecordBuffered interface {
	OnRecordBuffered(topic string, partition int32, bytes int)
}

// HookBatchSent is called when a batch goes into a Produce request.
type HookBatchSent interface {
	OnBatchSent(topic string, partition int32, records, bytes int)
}

// HookProduceResponse is called per Produce request answered or failed.
type HookProduceResponse interface {
	OnProduceResponse(node int32, latency time.Duration, err error)
}

// HookBatchDone is called when a batch's records are acknowledged (err
// nil) or failed for good, before its callbacks run.
type HookBatchDone interface {
	OnBatchDone(topic string, partition int32, records int, err error)
}

func isHook(h Hook) bool {
	switch h.(type) {
	case HookRecordBuffered, HookBatchSent, HookProduceResponse, HookBatchDone:
		return true
	}
	return false
}

// hooks holds the Config.Hooks sorted by interface, so the hot path checks
// a slice length instead of type-asserting.
type hooks struct {
	buffered []HookRecordBuffered
	sent     []HookBatchSent
	response []HookProduceResponse
	done     []HookBatchDone
}

func newHooks(hs []Hook) hooks {
	var h hooks
	for _, x := range hs {
		if v, ok := x.(HookRecordBuffered); ok {
			h.buffered = append(h.buffered, v)
		}
		if v, ok := x.(HookBatchSent); ok {
			h.sent = append(h.sent, v)
		}
		if v, ok := x.(HookProduceResponse); ok {
			h.response = append(h.response, v)
		}
		if v, ok := x.(HookBatchDone); ok {
			h.done = append(h.done, v)
		}
	}
	return h
}

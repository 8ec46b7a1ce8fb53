package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// OffsetSpec says which offset ListOffsets looks up.
type OffsetSpec struct{ ts int64 }

var (
	// Earliest is the log start offset (timestamp -2 in ListOffsets).
	Earliest = OffsetSpec{-2}
	// Latest is the high watermark, the offset the next record gets
	// (timestamp -1 in ListOffsets).
	Latest = OffsetSpec{-1}
)

// AtTime is the offset of the first record whose timestamp is at or after
// t (kafka-consumer-groups --to-datetime, the Java consumer's
// offsetsForTimes).
func AtTime(t time.Time) OffsetSpec { return OffsetSpec{t.UnixMilli()} }

func (s OffsetSpec) String() string {
	switch s.ts {
	case -2:
		return "earliest"
	case -1:
		return "latest"
	}
	return time.UnixMilli(s.ts).UTC().Format(time.RFC3339Nano)
}

// ListedOffset is one partition's offset from ListOffsets.
type ListedOffset struct {
	Topic     string
	Partition int32
	// Offset is the offset found; -1 for AtTime when no record has a
	// timestamp at or after the time asked.
	Offset int64
	// Timestamp is the found record's timestamp for AtTime, -1 otherwise.
	Timestamp   int64
	LeaderEpoch int32
	// Err is the partition's error. A topic that does not exist has one
	// entry with Partition -1 and Err kerr.UnknownTopicOrPartition.
	Err error
}

// ListedOffsets is a list of partition offsets, sorted by topic and
// partition.
type ListedOffsets []ListedOffset

// Lookup returns a partition's entry.
func (ls ListedOffsets) Lookup(topic string, partition int32) (ListedOffset, bool) {
	for _, l := range ls {
		if l.Topic == topic && l.Partition == partition {
			return l, true
		}
	}
	return ListedOffset{}, false
}

// Error joins the errors of every partition that failed, nil if none did.
func (ls ListedOffsets) Error() error {
	var errs []error
	for _, l := range ls {
		if l.Err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", l.Topic, l.Partition, l.Err))
		}
	}
	return errors.Join(errs...)
}

// ListOffsets looks up an offset of every partition of topics in the
// partition leader's log: the earliest, the latest, or the first at a time.
func (c *Client) ListOffsets(ctx context.Context, spec OffsetSpec, topics ...string) (ListedOffsets, error) {
	parts, missing, err := c.partitionsOf(ctx, topics)
	if err != nil {
		return nil, err
	}
	got, err := c.listOffsets(ctx, parts, spec)
	if err != nil {
		return nil, err
	}
	out := make(ListedOffsets, 0, len(got)+len(missing))
	for _, l := range got {
		out = append(out, l)
	}
	for t, e := range missing {
		out = append(out, ListedOffset{Topic: t, Partition: -1, Offset: -1, Timestamp: -1, LeaderEpoch: -1, Err: e})
	}
	sortTP(out, func(l ListedOffset) tp { return tp{l.Topic, l.Partition} })
	return out, nil
}

// listOffsets looks spec up for parts, each at its leader.
func (c *Client) listOffsets(ctx context.Context, parts []tp, spec OffsetSpec) (map[tp]ListedOffset, error) {
	out := make(map[tp]ListedOffset, len(parts))
	errs, err := c.perLeader(ctx, parts, func(ctx context.Context, node int32, parts []tp) (map[tp]error, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		req.TimeoutMillis = c.timeoutMillis()
		for topic, ps := range groupByTopic(parts) {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			for _, p := range ps {
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Partition = p
				rp.CurrentLeaderEpoch = -1
				rp.Timestamp = spec.ts
				rp.MaxNumOffsets = 1 // v0 only
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		// v1 replaced v0's list of offsets with one offset and its
		// timestamp; every broker since 0.10.1 has it.
		kresp, err := c.node(ctx, node, wire.MinVersion(req, 1), true)
		if err != nil {
			return nil, err
		}
		resp, ok := kresp.(*kmsg.ListOffsetsResponse)
		if !ok {
			return nil, fmt.Errorf("%w: got %T", ErrMalformedResponse, kresp)
		}
		errs := make(map[tp]error, len(parts))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				k := tp{t.Topic, p.Partition}
				e := itemErr(p.ErrorCode, nil)
				errs[k] = e
				out[k] = ListedOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, Timestamp: p.Timestamp, LeaderEpoch: p.LeaderEpoch, Err: e}
			}
		}
		return errs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin: list offsets: %w", err)
	}
	for k, e := range errs {
		if e != nil {
			out[k] = ListedOffset{Topic: k.topic, Partition: k.partition, Offset: -1, Timestamp: -1, LeaderEpoch: -1, Err: e}
		}
	}
	return out, nil
}

// DeleteRecordsResult is the outcome for one partition of DeleteRecords.
type DeleteRecordsResult struct {
	Topic     string
	Partition int32
	// LowWatermark is the partition's new log start offset.
	LowWatermark int64
	// Err is the partition's error: kerr.OffsetOutOfRange for an offset
	// above the high watermark, kerr.UnknownTopicOrPartition, ...
	Err error
}

// DeleteRecordsResults is sorted by topic and partition.
type DeleteRecordsResults []DeleteRecordsResult

// Error joins the errors of every partition that failed, nil if none did.
func (rs DeleteRecordsResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", r.Topic, r.Partition, r.Err))
		}
	}
	return errors.Join(errs...)
}

// DeleteRecords deletes the records before the given offsets (topic →
// partition → offset; -1 means the high watermark, deleting everything),
// by moving each partition's log start offset, as kafka-delete-records
// does.
func (c *Client) DeleteRecords(ctx context.Context, before map[string]map[int32]int64) (DeleteRecordsResults, error) {
	var parts []tp
	for t, ps := range before {
		for p := range ps {
			parts = append(parts, tp{t, p})
		}
	}
	got := make(map[tp]DeleteRecordsResult, len(parts))
	errs, err := c.perLeader(ctx, parts, func(ctx context.Context, node int32, parts []tp) (map[tp]error, error) {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = c.timeoutMillis()
		for topic, ps := range groupByTopic(parts) {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = topic
			for _, p := range ps {
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				rp.Partition = p
				rp.Offset = before[topic][p]
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		// Deleting up to an offset twice deletes nothing more, so the
		// request is safe to resend after a lost connection.
		kresp, err := c.node(ctx, node, req, true)
		if err != nil {
			return nil, err
		}
		resp, ok := kresp.(*kmsg.DeleteRecordsResponse)
		if !ok {
			return nil, fmt.Errorf("%w: got %T", ErrMalformedResponse, kresp)
		}
		errs := make(map[tp]error, len(parts))
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				k := tp{t.Topic, p.Partition}
				errs[k] = itemErr(p.ErrorCode, nil)
				got[k] = DeleteRecordsResult{Topic: t.Topic, Partition: p.Partition, LowWatermark: p.LowWatermark, Err: errs[k]}
			}
		}
		return errs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin: delete records: %w", err)
	}
	out := make(DeleteRecordsResults, 0, len(parts))
	for _, k := range parts {
		r, ok := got[k]
		if e := errs[k]; e != nil || !ok {
			r = DeleteRecordsResult{Topic: k.topic, Partition: k.partition, LowWatermark: -1, Err: e}
		}
		out = append(out, r)
	}
	sortTP(out, func(r DeleteRecordsResult) tp { return tp{r.Topic, r.Partition} })
	return out, nil
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func groupByTopic(parts []tp) map[string][]int32 {
	out := map[string][]int32{}
	for _, p := range parts {
		out[p.topic] = append(out[p.topic], p.partition)
	}
	return out
}

func sortTP[T any](s []T, key func(T) tp) {
	sort.Slice(s, func(i, j int) bool {
		a, b := key(s[i]), key(s[j])
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		return a.partition < b.partition
	})
}

// partitionsOf returns every partition of topics, and the topics that could
// not be described with their errors.
func (c *Client) partitionsOf(ctx context.Context, topics []string) ([]tp, map[string]error, error) {
	if len(topics) == 0 {
		return nil, nil, nil
	}
	resp, err := c.metadata(ctx, topics)
	if err != nil {
		return nil, nil, err
	}
	var parts []tp
	missing := map[string]error{}
	for _, td := range topicDetails(resp, topics) {
		if td.Err != nil {
			missing[td.Topic] = td.Err
			continue
		}
		for _, p := range td.Partitions {
			parts = append(parts, tp{td.Topic, p.Partition})
		}
	}
	return parts, missing, nil
}

// perLeader sends, for each broker, one request about the partitions it
// leads (fn builds, sends and reads it) and returns each partition's error.
// Partitions that come back with a retriable error (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE, a leader that moved) are sent again to the leader
// named by fresh metadata, as the Java AdminClient does.
func (c *Client) perLeader(ctx context.Context, parts []tp, fn func(ctx context.Context, node int32, parts []tp) (map[tp]error, error)) (map[tp]error, error) {
	result := make(map[tp]error, len(parts))
	pending := slices.Clone(parts)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, c.cfg.RetryBackoff); err != nil {
				break // the retriable errors stand
			}
		}
		topics := make([]string, 0, len(pending))
		for t := range groupByTopic(pending) {
			topics = append(topics, t)
		}
		resp, err := c.metadata(ctx, topics)
		if err != nil {
			return nil, err
		}
		leaders := map[tp]int32{}
		for _, td := range topicDetails(resp, topics) {
			for _, p := range td.Partitions {
				leaders[tp{td.Topic, p.Partition}] = p.Leader
			}
			if td.Err != nil {
				for _, k := range pending {
					if k.topic == td.Topic {
						result[k] = td.Err
					}
				}
			}
		}
		byNode := map[int32][]tp{}
		for _, k := range pending {
			if result[k] != nil && !retriableLeaderErr(result[k]) {
				continue
			}
			leader, ok := leaders[k]
			switch {
			case !ok && result[k] == nil:
				result[k] = kerr.UnknownTopicOrPartition
			case ok && leader < 0:
				result[k] = kerr.LeaderNotAvailable
			case ok:
				byNode[leader] = append(byNode[leader], k)
			}
		}
		for node, ps := range byNode {
			errs, err := fn(ctx, node, ps)
			if err != nil {
				if !retriableConn(err) {
					return nil, err
				}
				for _, k := range ps {
					result[k] = err
				}
				continue
			}
			for _, k := range ps {
				e, ok := errs[k]
				if !ok {
					e = fmt.Errorf("%w: partition missing from response", ErrMalformedResponse)
				}
				result[k] = e
			}
		}
		pending = pending[:0]
		if attempt+1 < maxAttempts {
			for _, k := range parts {
				if e := result[k]; e != nil && retriableLeaderErr(e) {
					pending = append(pending, k)
				}
			}
		}
	}
	return result, nil
}

// retriableLeaderErr reports whether a partition's error may go away with
// fresh metadata or a new connection. UNKNOWN_TOPIC_OR_PARTITION is
// retriable for producers (the topic may be being created) but final for
// an admin call about a topic that does not exist.
func retriableLeaderErr(err error) bool {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return false
	}
	return kerr.IsRetriable(err) || retriableConn(err)
}

package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// ResetSpec says where PlanResetOffsets moves a group's offsets, with the
// options of kafka-consumer-groups --reset-offsets.
type ResetSpec struct {
	kind resetKind
	n    int64
	t    time.Time
}

type resetKind int8

const (
	resetEarliest resetKind = iota + 1
	resetLatest
	resetTime
	resetOffset
	resetShift
)

// ToEarliest resets to each partition's log start offset (--to-earliest).
func ToEarliest() ResetSpec { return ResetSpec{kind: resetEarliest} }

// ToLatest resets to each partition's high watermark (--to-latest).
func ToLatest() ResetSpec { return ResetSpec{kind: resetLatest} }

// ToTime resets to the first offset whose record timestamp is at or after
// t, or to the high watermark when there is none (--to-datetime).
func ToTime(t time.Time) ResetSpec { return ResetSpec{kind: resetTime, t: t} }

// ToOffset resets to offset n, moved into [log start, high watermark] where
// it lies outside (--to-offset).
func ToOffset(n int64) ResetSpec { return ResetSpec{kind: resetOffset, n: n} }

// ShiftBy moves the committed offset by n (negative: back), kept within
// [log start, high watermark] (--shift-by). Partitions without a committed
// offset get ErrNoCommittedOffset, as in Kafka's tool.
func ShiftBy(n int64) ResetSpec { return ResetSpec{kind: resetShift, n: n} }

func (s ResetSpec) String() string {
	switch s.kind {
	case resetEarliest:
		return "to-earliest"
	case resetLatest:
		return "to-latest"
	case resetTime:
		return "to-datetime " + s.t.Format(time.RFC3339Nano)
	case resetOffset:
		return fmt.Sprintf("to-offset %d", s.n)
	case resetShift:
		return fmt.Sprintf("shift-by %d", s.n)
	}
	return "invalid"
}

// ErrNoCommittedOffset is a partition's error in a ShiftBy plan when the
// group has no committed offset to shift.
var ErrNoCommittedOffset = errors.New("admin: no committed offset to shift")

// PartitionReset is one partition of a reset plan.
type PartitionReset struct {
	Topic     string
	Partition int32
	// Current is the committed offset before the reset, -1 if none.
	Current int64
	// Target is the offset the reset commits.
	Target int64
	// Err is set for a partition that cannot be reset (no such partition,
	// offsets unreadable, nothing to shift) and, after ResetOffsets, for a
	// commit the coordinator refused. Such partitions are left as they are.
	Err error
}

// PartitionResets is sorted by topic and partition.
type PartitionResets []PartitionReset

// Error joins the errors of every partition that failed, nil if none did.
func (rs PartitionResets) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", r.Topic, r.Partition, r.Err))
		}
	}
	return errors.Join(errs...)
}

// ResetPlan is what ResetOffsets will commit for a group, computed by
// PlanResetOffsets. Showing it first and applying it with a separate call
// is Kafka's dry run (--reset-offsets without --execute).
type ResetPlan struct {
	Group      string
	Spec       ResetSpec
	Partitions PartitionResets
}

// PlanResetOffsets computes new committed offsets for a group without
// changing anything. topics maps each topic to reset to its partitions; a
// nil or empty partition list means every partition of the topic, and a nil
// map means every topic the group has committed offsets for (--all-topics).
//
// It fails with an error wrapping ErrGroupNotEmpty (and kerr.NonEmptyGroup)
// while the group has members, as Kafka's tool refuses: the members would
// overwrite the reset with their next commit.
func (c *Client) PlanResetOffsets(ctx context.Context, group string, spec ResetSpec, topics map[string][]int32) (ResetPlan, error) {
	if spec.kind == 0 {
		return ResetPlan{}, errors.New("admin: reset offsets: zero ResetSpec; use ToEarliest, ToLatest, ToTime, ToOffset or ShiftBy")
	}
	if err := c.checkInactive(ctx, group); err != nil {
		return ResetPlan{}, err
	}
	committed, err := c.FetchOffsets(ctx, group)
	if err != nil {
		return ResetPlan{}, err
	}
	if topics == nil {
		topics = map[string][]int32{}
		for _, co := range committed {
			topics[co.Topic] = nil
		}
	}

	// Resolve the partitions to reset: every partition of a topic given
	// without a list, and the listed ones checked against metadata.
	names := sortedKeys(topics)
	var (
		parts []tp
		plan  = ResetPlan{Group: group, Spec: spec}
	)
	if len(names) > 0 {
		resp, err := c.metadata(ctx, names)
		if err != nil {
			return ResetPlan{}, err
		}
		details := topicDetails(resp, names)
		for _, name := range names {
			td, _ := details.Topic(name)
			if td.Err != nil {
				for _, p := range topics[name] {
					plan.Partitions = append(plan.Partitions, PartitionReset{Topic: name, Partition: p, Current: -1, Target: -1, Err: td.Err})
				}
				if len(topics[name]) == 0 {
					plan.Partitions = append(plan.Partitions, PartitionReset{Topic: name, Partition: -1, Current: -1, Target: -1, Err: td.Err})
				}
				continue
			}
			want := topics[name]
			if len(want) == 0 {
				for _, p := range td.Partitions {
					want = append(want, p.Partition)
				}
			}
			for _, p := range want {
				if !slices.ContainsFunc(td.Partitions, func(pd PartitionDetail) bool { return pd.Partition == p }) {
					plan.Partitions = append(plan.Partitions, PartitionReset{Topic: name, Partition: p, Current: -1, Target: -1,
						Err: fmt.Errorf("topic %q has %d partitions: %w", name, len(td.Partitions), kerr.UnknownTopicOrPartition)})
					continue
				}
				parts = append(parts, tp{name, p})
			}
		}
	}

	starts, err := c.listOffsets(ctx, parts, Earliest)
	if err != nil {
		return ResetPlan{}, err
	}
	ends, err := c.listOffsets(ctx, parts, Latest)
	if err != nil {
		return ResetPlan{}, err
	}
	var atTime map[tp]ListedOffset
	if spec.kind == resetTime {
		if atTime, err = c.listOffsets(ctx, parts, AtTime(spec.t)); err != nil {
			return ResetPlan{}, err
		}
	}
	for _, k := range parts {
		pr := PartitionReset{Topic: k.topic, Partition: k.partition, Current: -1, Target: -1}
		if co, ok := committed.Lookup(k.topic, k.partition); ok && co.Err == nil {
			pr.Current = co.Offset
		}
		start, end := starts[k], ends[k]
		if pr.Err = errors.Join(start.Err, end.Err); pr.Err != nil {
			plan.Partitions = append(plan.Partitions, pr)
			continue
		}
		clamp := func(o int64) int64 { return min(max(o, start.Offset), end.Offset) }
		switch spec.kind {
		case resetEarliest:
			pr.Target = start.Offset
		case resetLatest:
			pr.Target = end.Offset
		case resetTime:
			// Kafka's tool falls back to the log end when no record is
			// that recent.
			at := atTime[k]
			switch {
			case at.Err != nil:
				pr.Err = at.Err
			case at.Offset < 0:
				pr.Target = end.Offset
			default:
				pr.Target = at.Offset
			}
		case resetOffset:
			pr.Target = clamp(spec.n)
		case resetShift:
			if pr.Current < 0 {
				pr.Err = ErrNoCommittedOffset
			} else {
				pr.Target = clamp(pr.Current + spec.n)
			}
		}
		plan.Partitions = append(plan.Partitions, pr)
	}
	sortTP(plan.Partitions, func(p PartitionReset) tp { return tp{p.Topic, p.Partition} })
	return plan, nil
}

// ResetOffsets commits a plan from PlanResetOffsets as an admin commit
// (generation -1, no member id, as Kafka's tool commits). Partitions with
// an error in the plan are skipped. It checks again that the group has no
// members, and fails with an error wrapping ErrGroupNotEmpty if one joined
// since the plan was made. The result is the plan with each partition's
// commit error.
func (c *Client) ResetOffsets(ctx context.Context, plan ResetPlan) (PartitionResets, error) {
	if err := c.checkInactive(ctx, plan.Group); err != nil {
		return nil, err
	}
	out := slices.Clone(plan.Partitions)
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = plan.Group
	req.Generation = -1 // an admin commit, accepted only by an empty group
	req.MemberID = ""
	req.RetentionTimeMillis = -1 // v2-v4: the broker's retention
	idx := map[tp]int{}
	for i, pr := range out {
		if pr.Err != nil {
			continue
		}
		idx[tp{pr.Topic, pr.Partition}] = i
	}
	if len(idx) == 0 {
		return out, nil
	}
	for topic, ps := range groupByTopic(mapKeys(idx)) {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		slices.Sort(ps)
		for _, p := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition = p
			rp.Offset = out[idx[tp{topic, p}]].Target
			rp.LeaderEpoch = -1
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	code := func(r kmsg.Response) int16 {
		// OffsetCommit has no group-level code: NOT_COORDINATOR comes
		// back on every partition.
		for _, t := range r.(*kmsg.OffsetCommitResponse).Topics {
			for _, p := range t.Partitions {
				return p.ErrorCode
			}
		}
		return 0
	}
	// v10 (KIP-848) names topics by id only.
	kresp, _, err := c.coordinator(ctx, plan.Group, wire.MaxVersion(req, 9), false, code)
	if err != nil {
		return nil, fmt.Errorf("admin: reset offsets of group %q: %w", plan.Group, err)
	}
	seen := map[tp]bool{}
	for _, t := range kresp.(*kmsg.OffsetCommitResponse).Topics {
		for _, p := range t.Partitions {
			k := tp{t.Topic, p.Partition}
			if i, ok := idx[k]; ok {
				out[i].Err = itemErr(p.ErrorCode, nil)
				seen[k] = true
			}
		}
	}
	for k, i := range idx {
		if !seen[k] {
			out[i].Err = fmt.Errorf("%w: partition missing from OffsetCommit response", ErrMalformedResponse)
		}
	}
	return out, nil
}

// checkInactive fails while group has members. A group the coordinator
// does not know (Dead, or GROUP_ID_NOT_FOUND) is inactive: resetting it
// creates its offsets, as Kafka's tool does.
func (c *Client) checkInactive(ctx context.Context, group string) error {
	dg, err := c.describeGroup(ctx, group)
	if err != nil {
		return err
	}
	if dg.Err != nil && !errors.Is(dg.Err, kerr.GroupIDNotFound) {
		return fmt.Errorf("admin: reset offsets of group %q: %w", group, dg.Err)
	}
	if dg.Err == nil && (len(dg.Members) > 0 || (dg.State != StateEmpty && dg.State != StateDead && dg.State != "")) {
		return fmt.Errorf("%w: group %q is %s with %d members; offsets can only be reset while it is inactive: %w",
			ErrGroupNotEmpty, group, dg.State, len(dg.Members), kerr.NonEmptyGroup)
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

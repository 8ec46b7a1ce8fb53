package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// Group states as Kafka names them (classic protocol).
const (
	StateEmpty               = "Empty"
	StateStable              = "Stable"
	StatePreparingRebalance  = "PreparingRebalance"
	StateCompletingRebalance = "CompletingRebalance"
	StateDead                = "Dead"
)

// ListedGroup is one group from ListGroups.
type ListedGroup struct {
	Group string
	// ProtocolType is "consumer" for consumer groups, "connect" for
	// Connect workers, ...
	ProtocolType string
	// State is the group's state (ListGroups v4+, else empty).
	State string
	// Type is "classic" or "consumer" (ListGroups v5+, else empty).
	Type string
	// Coordinator is the node that listed the group.
	Coordinator int32
}

// ListGroups lists the groups of every broker, sorted by name, as
// kafka-consumer-groups --list does: each broker only knows the groups it
// coordinates.
func (c *Client) ListGroups(ctx context.Context) ([]ListedGroup, error) {
	md, err := c.cl.Metadata(ctx, []string{})
	if err != nil {
		return nil, fmt.Errorf("admin: list groups: %w", err)
	}
	var out []ListedGroup
	for _, b := range md.Brokers {
		req := kmsg.NewPtrListGroupsRequest()
		kresp, err := c.node(ctx, b.NodeID, req, true)
		if err != nil {
			return nil, fmt.Errorf("admin: list groups on node %d: %w", b.NodeID, err)
		}
		resp, ok := kresp.(*kmsg.ListGroupsResponse)
		if !ok {
			return nil, fmt.Errorf("admin: list groups: %w: got %T", ErrMalformedResponse, kresp)
		}
		if err := itemErr(resp.ErrorCode, nil); err != nil {
			return nil, fmt.Errorf("admin: list groups on node %d: %w", b.NodeID, err)
		}
		for _, g := range resp.Groups {
			out = append(out, ListedGroup{Group: g.Group, ProtocolType: g.ProtocolType, State: g.GroupState, Type: g.GroupType, Coordinator: b.NodeID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}

// GroupMember is one member of a described group.
type GroupMember struct {
	MemberID string
	// InstanceID is group.instance.id for static members (KIP-345).
	InstanceID *string
	ClientID   string
	ClientHost string
	// Subscribed is the member's subscription, decoded from its
	// ConsumerProtocol metadata (consumer groups only).
	Subscribed []string
	// Assigned is the member's assignment (topic → sorted partitions),
	// decoded from its ConsumerProtocol assignment bytes (consumer groups
	// only; empty while a rebalance is in progress).
	Assigned map[string][]int32
	// Err is set when the member's ConsumerProtocol bytes do not decode.
	Err error
}

// DescribedGroup is one group from DescribeGroups.
type DescribedGroup struct {
	Group string
	// State is Empty, Stable, PreparingRebalance, CompletingRebalance or
	// Dead (a group that does not exist).
	State        string
	ProtocolType string
	// Protocol is the assignor the group chose ("range",
	// "cooperative-sticky", ...).
	Protocol    string
	Coordinator int32
	Members     []GroupMember
	// Err is the group's error (kerr.GroupIDNotFound from brokers that
	// report unknown groups so, kerr.GroupAuthorizationFailed, ...).
	Err error
}

// Exists reports whether the broker knows the group.
func (g DescribedGroup) Exists() bool {
	return g.Err == nil && g.State != StateDead && g.State != ""
}

// DescribedGroups holds one result per requested group, in request order.
type DescribedGroups []DescribedGroup

// Error joins the errors of every group that failed, nil if none did.
func (gs DescribedGroups) Error() error {
	var errs []error
	for _, g := range gs {
		if g.Err != nil {
			errs = append(errs, fmt.Errorf("group %q: %w", g.Group, g.Err))
		}
	}
	return errors.Join(errs...)
}

// DescribeGroups describes groups: state, protocol and members with their
// subscriptions and assignments, each asked of the group's coordinator.
func (c *Client) DescribeGroups(ctx context.Context, groups ...string) (DescribedGroups, error) {
	out := make(DescribedGroups, 0, len(groups))
	for _, g := range groups {
		dg, err := c.describeGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, dg)
	}
	return out, nil
}

func (c *Client) describeGroup(ctx context.Context, group string) (DescribedGroup, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	kresp, node, err := c.coordinator(ctx, group, req, true, func(r kmsg.Response) int16 {
		resp := r.(*kmsg.DescribeGroupsResponse)
		if len(resp.Groups) != 1 {
			return 0
		}
		return resp.Groups[0].ErrorCode
	})
	if err != nil {
		return DescribedGroup{}, fmt.Errorf("admin: describe group %q: %w", group, err)
	}
	resp := kresp.(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 1 || resp.Groups[0].Group != group {
		return DescribedGroup{}, fmt.Errorf("admin: describe group %q: %w: %d groups in response", group, ErrMalformedResponse, len(resp.Groups))
	}
	g := resp.Groups[0]
	dg := DescribedGroup{
		Group: group, State: g.State, ProtocolType: g.ProtocolType, Protocol: g.Protocol,
		Coordinator: node, Err: itemErr(g.ErrorCode, g.ErrorMessage),
	}
	for _, m := range g.Members {
		gm := GroupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if g.ProtocolType == "consumer" {
			gm.Subscribed, gm.Assigned, gm.Err = decodeConsumerProtocol(m.ProtocolMetadata, m.MemberAssignment)
		}
		dg.Members = append(dg.Members, gm)
	}
	return dg, nil
}

// decodeConsumerProtocol decodes a consumer group member's subscription
// and assignment (Kafka's ConsumerProtocol, versions 0-3). Either may be
// empty: the subscription once the group is stable on some brokers, the
// assignment during a rebalance. The bytes come from the network: bad
// input is an error, never a panic.
func decodeConsumerProtocol(metadata, assignment []byte) (subscribed []string, assigned map[string][]int32, err error) {
	var errs []error
	if len(metadata) > 0 {
		var md kmsg.ConsumerMemberMetadata
		if e := md.ReadFrom(metadata); e != nil {
			errs = append(errs, fmt.Errorf("subscription: %w", e))
		} else {
			subscribed = slices.Clone(md.Topics)
			slices.Sort(subscribed)
		}
	}
	if len(assignment) > 0 {
		var as kmsg.ConsumerMemberAssignment
		if e := as.ReadFrom(assignment); e != nil {
			errs = append(errs, fmt.Errorf("assignment: %w", e))
		} else {
			assigned = make(map[string][]int32, len(as.Topics))
			for _, t := range as.Topics {
				assigned[t.Topic] = append(assigned[t.Topic], t.Partitions...)
			}
			for _, ps := range assigned {
				slices.Sort(ps)
			}
		}
	}
	if len(errs) > 0 {
		return subscribed, assigned, fmt.Errorf("%w: ConsumerProtocol: %w", ErrMalformedResponse, errors.Join(errs...))
	}
	return subscribed, assigned, nil
}

// DeleteGroupResult is the outcome for one group of DeleteGroups.
type DeleteGroupResult struct {
	Group string
	// Err is the group's error: kerr.NonEmptyGroup while it has members,
	// kerr.GroupIDNotFound for a group that does not exist.
	Err error
}

// DeleteGroupResults holds one result per requested group, in request order.
type DeleteGroupResults []DeleteGroupResult

// Error joins the errors of every group that failed, nil if none did.
func (rs DeleteGroupResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("group %q: %w", r.Group, r.Err))
		}
	}
	return errors.Join(errs...)
}

// DeleteGroups deletes empty groups and their committed offsets.
func (c *Client) DeleteGroups(ctx context.Context, groups ...string) (DeleteGroupResults, error) {
	out := make(DeleteGroupResults, 0, len(groups))
	for _, g := range groups {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{g}
		code := func(r kmsg.Response) int16 {
			resp := r.(*kmsg.DeleteGroupsResponse)
			if len(resp.Groups) != 1 {
				return 0
			}
			return resp.Groups[0].ErrorCode
		}
		kresp, _, err := c.coordinator(ctx, g, req, false, code)
		if err != nil {
			return nil, fmt.Errorf("admin: delete group %q: %w", g, err)
		}
		resp := kresp.(*kmsg.DeleteGroupsResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].Group != g {
			return nil, fmt.Errorf("admin: delete group %q: %w: %d groups in response", g, ErrMalformedResponse, len(resp.Groups))
		}
		out = append(out, DeleteGroupResult{Group: g, Err: itemErr(resp.Groups[0].ErrorCode, resp.Groups[0].ErrorMessage)})
	}
	return out, nil
}

// CommittedOffset is one partition's committed offset.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// CommittedOffsets is sorted by topic and partition.
type CommittedOffsets []CommittedOffset

// Lookup returns a partition's committed offset.
func (cs CommittedOffsets) Lookup(topic string, partition int32) (CommittedOffset, bool) {
	for _, c := range cs {
		if c.Topic == topic && c.Partition == partition {
			return c, true
		}
	}
	return CommittedOffset{}, false
}

// FetchOffsets returns every offset the group has committed; none for a
// group that does not exist.
func (c *Client) FetchOffsets(ctx context.Context, group string) (CommittedOffsets, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group // v0-v7; nil Topics means all (v2+)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group // v8+
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	groupCode := func(r kmsg.Response) int16 {
		resp := r.(*kmsg.OffsetFetchResponse)
		if resp.Version >= 8 {
			if len(resp.Groups) != 1 {
				return 0
			}
			return resp.Groups[0].ErrorCode
		}
		return resp.ErrorCode
	}
	// v2 is the first to fetch every partition of a group with null
	// topics; v10 (KIP-848) names topics by id only.
	kresp, _, err := c.coordinator(ctx, group, wire.MaxVersion(wire.MinVersion(req, 2), 9), true, groupCode)
	if err != nil {
		return nil, fmt.Errorf("admin: fetch offsets of group %q: %w", group, err)
	}
	resp := kresp.(*kmsg.OffsetFetchResponse)
	if err := kerr.ForCode(groupCode(resp)); err != nil {
		// Kafka 4's coordinator (and kfake) answer GROUP_ID_NOT_FOUND
		// for a group that never committed; older brokers return no
		// offsets. Both mean the same thing here.
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("admin: fetch offsets of group %q: %w", group, err)
	}
	var out CommittedOffsets
	add := func(topic string, p int32, off int64, epoch int32, meta *string, code int16) {
		if off < 0 && code == 0 {
			return // no commit for this partition
		}
		co := CommittedOffset{Topic: topic, Partition: p, Offset: off, LeaderEpoch: epoch, Err: itemErr(code, nil)}
		if meta != nil {
			co.Metadata = *meta
		}
		out = append(out, co)
	}
	if resp.Version >= 8 {
		if len(resp.Groups) != 1 {
			return nil, fmt.Errorf("admin: fetch offsets of group %q: %w: %d groups in response", group, ErrMalformedResponse, len(resp.Groups))
		}
		for _, t := range resp.Groups[0].Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
			}
		}
	} else {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
			}
		}
	}
	sortTP(out, func(c CommittedOffset) tp { return tp{c.Topic, c.Partition} })
	return out, nil
}

// PartitionLag is one partition's position in a group's lag report.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset, -1 if it has none.
	Committed int64
	// Start and End are the log start offset and the high watermark.
	Start, End int64
	// Lag is End − Committed (never negative); for a partition without a
	// commit it is End − Start, the whole log, as kadm counts it.
	Lag int64
	// MemberID, ClientID and Host name the member the partition is
	// assigned to, empty if none is.
	MemberID, ClientID, Host string
	// Err is set when the offsets could not be read (a deleted topic, a
	// leaderless partition); Lag is then -1 and left out of the totals.
	Err error
}

// GroupLag is a group's lag, as kafka-consumer-groups --describe shows it.
type GroupLag struct {
	Group string
	State string
	// Partitions is every partition the group has committed or is assigned,
	// sorted by topic and partition.
	Partitions []PartitionLag
	// Total is the sum of the partitions' lag.
	Total int64
}

// TopicTotals returns the lag summed per topic.
func (g GroupLag) TopicTotals() map[string]int64 {
	out := map[string]int64{}
	for _, p := range g.Partitions {
		if p.Err == nil {
			out[p.Topic] += p.Lag
		}
	}
	return out
}

// Lag computes a group's lag: its committed offsets against each
// partition's high watermark, for every partition it has committed or its
// members are assigned.
func (c *Client) Lag(ctx context.Context, group string) (GroupLag, error) {
	dg, err := c.describeGroup(ctx, group)
	if err != nil {
		return GroupLag{}, err
	}
	if dg.Err != nil && !errors.Is(dg.Err, kerr.GroupIDNotFound) {
		return GroupLag{}, fmt.Errorf("admin: lag of group %q: %w", group, dg.Err)
	}
	committed, err := c.FetchOffsets(ctx, group)
	if err != nil {
		return GroupLag{}, err
	}
	rows := map[tp]*PartitionLag{}
	row := func(k tp) *PartitionLag {
		r, ok := rows[k]
		if !ok {
			r = &PartitionLag{Topic: k.topic, Partition: k.partition, Committed: -1}
			rows[k] = r
		}
		return r
	}
	for _, co := range committed {
		r := row(tp{co.Topic, co.Partition})
		r.Committed, r.Err = co.Offset, co.Err
	}
	for _, m := range dg.Members {
		for t, ps := range m.Assigned {
			for _, p := range ps {
				r := row(tp{t, p})
				r.MemberID, r.ClientID, r.Host = m.MemberID, m.ClientID, m.ClientHost
			}
		}
	}
	parts := make([]tp, 0, len(rows))
	for k := range rows {
		parts = append(parts, k)
	}
	starts, err := c.listOffsets(ctx, parts, Earliest)
	if err != nil {
		return GroupLag{}, err
	}
	ends, err := c.listOffsets(ctx, parts, Latest)
	if err != nil {
		return GroupLag{}, err
	}
	gl := GroupLag{Group: group, State: dg.State}
	for _, k := range parts {
		r := rows[k]
		s, e := starts[k], ends[k]
		r.Start, r.End = s.Offset, e.Offset
		if r.Err == nil {
			r.Err = errors.Join(s.Err, e.Err)
		}
		switch {
		case r.Err != nil:
			r.Lag = -1
		case r.Committed >= 0:
			r.Lag = max(0, r.End-r.Committed)
		default:
			r.Lag = max(0, r.End-r.Start)
		}
		if r.Err == nil {
			gl.Total += r.Lag
		}
		gl.Partitions = append(gl.Partitions, *r)
	}
	sortTP(gl.Partitions, func(p PartitionLag) tp { return tp{p.Topic, p.Partition} })
	return gl, nil
}

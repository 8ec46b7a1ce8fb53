package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/kerr"
	"github.com/skiffkit/skiff/internal/wire"
)

func init() {
	register("groups", "list consumer groups or describe one (members, assignments, offsets, lag)", runGroups)
}

func runGroups(ctx context.Context, args []string) int {
	return groupsMain(ctx, args, os.Stdout, os.Stderr)
}

var groupsForms = []usageText{
	{synopsis: []string{"skiff groups list [flags]"}, about: "list consumer groups with their state",
		examples: []string{"skiff groups list"}},
	{synopsis: []string{"skiff groups describe GROUP..."}, about: "members, assignments, committed offsets and lag",
		examples: []string{"skiff groups describe billing"}},
}

func groupsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff groups"
	if len(args) == 0 {
		subcommandUsage(stderr, cmd, groupsForms)
		return 2
	}
	if isHelpArg(args[0]) {
		subcommandUsage(stdout, cmd, groupsForms)
		return 0
	}
	sub, args := args[0], args[1:]
	form, ok := findForm(groupsForms, sub)
	if !ok {
		return usageErr(stderr, cmd, "unknown subcommand %q (want %s)", sub, strings.Join(subNames(groupsForms), ", "))
	}
	name := cmd + " " + sub
	fs := newFlagSet(name, form, stdout, stderr)
	cf := addClusterFlags(fs)
	names, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case sub == "list" && len(names) > 0:
		return usageErr(stderr, name, "takes no arguments, got %q", names[0])
	case sub == "describe" && len(names) == 0:
		return usageErr(stderr, name, "missing GROUP")
	}
	acfg, err := cf.config(stderr)
	if err != nil {
		return usageErr(stderr, name, "%v", err)
	}
	cl, err := cf.connect(ctx, acfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, humanError(err))
		return 1
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, *cf.timeout)
	defer cancel()
	if sub == "list" {
		err = groupsList(ctx, cl, stdout)
	} else {
		var errs []error
		for _, g := range names {
			errs = append(errs, groupsDescribe(ctx, cl, g, stdout))
		}
		err = errors.Join(errs...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, humanError(err))
		return 1
	}
	return 0
}

// errNoSuchGroup is returned by describe for a group the coordinator does
// not know. DescribeGroups answers such a group with no error, state Dead
// and no members (Kafka's GroupCoordinator does the same), so a typo would
// otherwise print an empty table and exit 0.
var errNoSuchGroup = errors.New("group does not exist")

// groupsList asks every broker: each lists only the groups it coordinates.
func groupsList(ctx context.Context, cl *wire.Client, stdout io.Writer) error {
	if _, err := cl.Metadata(ctx, []string{}); err != nil {
		return err
	}
	type row struct{ group, protocolType, state string }
	var rows []row
	var errs []error
	for _, b := range cl.Brokers() {
		kresp, err := cl.RequestNode(ctx, b.NodeID, kmsg.NewPtrListGroupsRequest())
		if err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", b.NodeID, err))
			continue
		}
		resp := kresp.(*kmsg.ListGroupsResponse)
		if err := kerr.ForCode(resp.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", b.NodeID, err))
			continue
		}
		for _, g := range resp.Groups {
			rows = append(rows, row{g.Group, g.ProtocolType, g.GroupState})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.group, b.group) })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPROTOCOL-TYPE\tSTATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.group, r.protocolType, r.state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// groupsDescribe prints the group's state and members with their
// assignments, then every committed offset with the partition's end offset
// and the lag.
func groupsDescribe(ctx context.Context, cl *wire.Client, group string, stdout io.Writer) error {
	coord, err := cl.Coordinator(ctx, group, wire.CoordinatorGroup)
	if err != nil {
		return err
	}
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	kresp, err := cl.RequestNode(ctx, coord, dreq)
	if err != nil {
		return err
	}
	dresp := kresp.(*kmsg.DescribeGroupsResponse)
	if len(dresp.Groups) != 1 {
		return fmt.Errorf("group %s: %d groups in the DescribeGroups response", group, len(dresp.Groups))
	}
	dg := dresp.Groups[0]
	if err := kerr.ForCode(dg.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("%s: %w (%w); 'skiff groups list' shows the groups there are", group, errNoSuchGroup, err)
		}
		return fmt.Errorf("group %s: %w", group, err)
	}
	if dg.State == "Dead" && len(dg.Members) == 0 {
		// A Dead group may still hold committed offsets (a group that only
		// ever committed, through the admin API): then it exists.
		committed, err := fetchGroupOffsets(ctx, cl, coord, group)
		if err == nil && len(committed) == 0 {
			return fmt.Errorf("%s: %w (no members, no committed offsets); 'skiff groups list' shows the groups there are", group, errNoSuchGroup)
		}
	}
	fmt.Fprintf(stdout, "GROUP %s  STATE %s  PROTOCOL %s/%s  MEMBERS %d\n", group, dg.State, dg.ProtocolType, dg.Protocol, len(dg.Members))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tINSTANCE\tCLIENT\tHOST\tASSIGNMENT")
	for _, m := range dg.Members {
		inst := "-"
		if m.InstanceID != nil {
			inst = *m.InstanceID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, inst, m.ClientID, m.ClientHost, describeAssignment(dg.ProtocolType, m.MemberAssignment))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	committed, err := fetchGroupOffsets(ctx, cl, coord, group)
	if err != nil {
		return err
	}
	topics := map[string][]int32{}
	for tp := range committed {
		topics[tp.topic] = append(topics[tp.topic], tp.partition)
	}
	var errs []error
	ends := map[groupTP]int64{}
	for topic, ps := range topics {
		info, err := cl.Topic(ctx, topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var parts []wire.PartitionInfo
		for _, p := range info.Partitions {
			if slices.Contains(ps, p.Partition) {
				parts = append(parts, p)
			}
		}
		got, err := listOffsets(ctx, cl, topic, parts, -1)
		if err != nil {
			errs = append(errs, err)
		}
		for p, off := range got {
			ends[groupTP{topic, p}] = off
		}
	}
	keys := make([]groupTP, 0, len(committed))
	for tp := range committed {
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, func(a, b groupTP) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG")
	for _, tp := range keys {
		end, ok := ends[tp]
		lag := "-"
		endS := "-"
		if ok {
			endS = fmt.Sprint(end)
			lag = fmt.Sprint(max(end-committed[tp], 0))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", tp.topic, tp.partition, committed[tp], endS, lag)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

type groupTP struct {
	topic     string
	partition int32
}

// describeAssignment renders a member's assignment: decoded as the consumer
// protocol's ConsumerProtocolAssignment when the group is a consumer group.
func describeAssignment(protocolType string, b []byte) string {
	if protocolType != "consumer" || len(b) == 0 {
		return "-"
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		return fmt.Sprintf("(undecodable: %v)", err)
	}
	var parts []string
	for _, t := range a.Topics {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		parts = append(parts, fmt.Sprintf("%s%v", t.Topic, ps))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// fetchGroupOffsets returns every committed offset of the group.
func fetchGroupOffsets(ctx context.Context, cl *wire.Client, coord int32, group string) (map[groupTP]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group // v0-v7; nil Topics means all
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group // v8+; nil Topics means all
	req.Groups = append(req.Groups, rg)
	kresp, err := cl.RequestNode(ctx, coord, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.OffsetFetchResponse)
	out := map[groupTP]int64{}
	add := func(topic string, p int32, off int64, code int16) error {
		if err := kerr.ForCode(code); err != nil {
			return fmt.Errorf("%s[%d]: %w", topic, p, err)
		}
		if off >= 0 {
			out[groupTP{topic, p}] = off
		}
		return nil
	}
	var errs []error
	if resp.Version >= 8 {
		for _, g := range resp.Groups {
			if err := kerr.ForCode(g.ErrorCode); err != nil {
				return nil, fmt.Errorf("offsets of group %s: %w", group, err)
			}
			for _, t := range g.Topics {
				name := t.Topic
				if name == "" {
					name = topicNameByID(ctx, cl, t.TopicID)
				}
				for _, p := range t.Partitions {
					errs = append(errs, add(name, p.Partition, p.Offset, p.ErrorCode))
				}
			}
		}
	} else {
		if err := kerr.ForCode(resp.ErrorCode); err != nil {
			return nil, fmt.Errorf("offsets of group %s: %w", group, err)
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				errs = append(errs, add(t.Topic, p.Partition, p.Offset, p.ErrorCode))
			}
		}
	}
	return out, errors.Join(errs...)
}

// topicNameByID maps an OffsetFetch v10 topic id back to its name.
func topicNameByID(ctx context.Context, cl *wire.Client, id [16]byte) string {
	md, err := cl.Metadata(ctx, nil)
	if err == nil {
		for n, t := range md.Topics {
			if t.ID == id {
				return n
			}
		}
	}
	return fmt.Sprintf("%x", id)
}

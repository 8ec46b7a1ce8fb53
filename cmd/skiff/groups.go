package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/kerr"
)

func init() {
	register("groups", "list, describe (members, assignments, lag), reset offsets of or delete consumer groups", runGroups)
}

func runGroups(ctx context.Context, args []string) int {
	return groupsMain(ctx, args, os.Stdout, os.Stderr)
}

var groupsForms = []usageText{
	{synopsis: []string{"skiff groups list [--json]"}, about: "list consumer groups with their state",
		examples: []string{"skiff groups list"}},
	{synopsis: []string{"skiff groups describe GROUP... [--json]"}, about: "members, assignments, committed offsets and lag",
		examples: []string{"skiff groups describe billing"}},
	{synopsis: []string{"skiff groups reset-offsets GROUP (--topic T[:P,P] | --all-topics) --to-... [--execute]"}, about: "move committed offsets (a dry run without --execute)",
		examples: []string{
			"skiff groups reset-offsets billing --topic orders --to-earliest",
			"skiff groups reset-offsets billing --topic orders:0,1 --shift-by -100 --execute",
			"skiff groups reset-offsets billing --all-topics --to-datetime 2026-12-01T00:00:00Z --execute",
		}},
	{synopsis: []string{"skiff groups delete GROUP..."}, about: "delete empty groups and their committed offsets",
		examples: []string{"skiff groups delete billing"}},
}

// resetFlags are the flags of groups reset-offsets, named as in
// kafka-consumer-groups --reset-offsets.
type resetFlags struct {
	topics     listFlag
	allTopics  *bool
	toEarliest *bool
	toLatest   *bool
	toDatetime *string
	toOffset   *string
	shiftBy    *string
	execute    *bool
}

func groupsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, fs, args, code, ok := chooseSubcommand("skiff groups", groupsForms, args, stdout, stderr)
	if !ok {
		return code
	}
	name := fs.Name()
	cf := addClusterFlags(fs)
	var asJSON *bool
	var rf resetFlags
	switch sub {
	case "list", "describe":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	case "reset-offsets":
		asJSON = fs.Bool("json", false, "print the plan (or the result) as JSON instead of a table")
		fs.Var(&rf.topics, "topic", "`topic` to reset, optionally with partitions: orders or orders:0,2 (repeatable)")
		rf.allTopics = fs.Bool("all-topics", false, "reset every topic the group has committed offsets for")
		rf.toEarliest = fs.Bool("to-earliest", false, "to each partition's log start offset")
		rf.toLatest = fs.Bool("to-latest", false, "to each partition's end offset (high watermark)")
		rf.toDatetime = fs.String("to-datetime", "", "to the first offset at or after `TIME` (RFC 3339, or YYYY-MM-DDTHH:MM:SS[.sss] in local time, as Kafka's tool)")
		rf.toOffset = fs.String("to-offset", "", "to offset `N` (moved into the log's range)")
		rf.shiftBy = fs.String("shift-by", "", "move the committed offset by `N` (negative: back)")
		rf.execute = fs.Bool("execute", false, "commit the plan; without it the plan is only printed (a dry run)")
	}
	names, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case sub == "list" && len(names) > 0:
		return usageErr(stderr, name, "takes no arguments, got %q", names[0])
	case sub != "list" && len(names) == 0:
		return usageErr(stderr, name, "missing GROUP")
	case sub == "reset-offsets" && len(names) > 1:
		return usageErr(stderr, name, "resets one group at a time, got %d", len(names))
	}
	var spec admin.ResetSpec
	var topics map[string][]int32
	if sub == "reset-offsets" {
		var err error
		if spec, err = rf.spec(); err == nil {
			topics, err = rf.topicMap()
		}
		if err != nil {
			return usageErr(stderr, name, "%v", err)
		}
	}
	return cf.run(ctx, name, stderr, func(ctx context.Context, adm *admin.Client) error {
		switch sub {
		case "list":
			return groupsList(ctx, adm, *asJSON, stdout)
		case "describe":
			return groupsDescribe(ctx, adm, names, *asJSON, stdout)
		case "reset-offsets":
			return groupsReset(ctx, adm, names[0], spec, topics, *rf.execute, *asJSON, stdout, stderr)
		default: // delete
			return groupsDelete(ctx, adm, names, stdout)
		}
	})
}

// errNoSuchGroup is returned by describe for a group the coordinator does
// not know. DescribeGroups answers such a group with no error, state Dead
// and no members (Kafka's GroupCoordinator does the same), so a typo would
// otherwise print an empty table and exit 0.
var errNoSuchGroup = errors.New("group does not exist")

type groupJSON struct {
	Group        string `json:"group"`
	ProtocolType string `json:"protocol_type"`
	State        string `json:"state"`
	Coordinator  int32  `json:"coordinator"`
}

// groupsList asks every broker: each lists only the groups it coordinates.
func groupsList(ctx context.Context, adm *admin.Client, asJSON bool, stdout io.Writer) error {
	gs, err := adm.ListGroups(ctx)
	if err != nil {
		return err
	}
	rows := []groupJSON{}
	for _, g := range gs {
		rows = append(rows, groupJSON{g.Group, g.ProtocolType, g.State, g.Coordinator})
	}
	if asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPROTOCOL-TYPE\tSTATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Group, r.ProtocolType, dash(r.State))
	}
	return tw.Flush()
}

type describedGroupJSON struct {
	Group        string              `json:"group"`
	State        string              `json:"state"`
	ProtocolType string              `json:"protocol_type"`
	Protocol     string              `json:"protocol"`
	Coordinator  int32               `json:"coordinator"`
	Members      []memberJSON        `json:"members"`
	Partitions   []partitionLagJSON  `json:"partitions"`
	TotalLag     int64               `json:"total_lag"`
	TopicLag     map[string]int64    `json:"topic_lag"`
	assigned     map[string][]string // member id → "t[0 1]" for the table
}

type memberJSON struct {
	MemberID   string             `json:"member_id"`
	InstanceID *string            `json:"instance_id"`
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assigned   map[string][]int32 `json:"assignment"`
}

type partitionLagJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is -1 when the group has no committed offset there.
	Committed int64  `json:"current_offset"`
	End       int64  `json:"log_end_offset"`
	Lag       int64  `json:"lag"`
	MemberID  string `json:"consumer_id,omitempty"`
	Host      string `json:"host,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Err       string `json:"error,omitempty"`
}

// groupsDescribe shows each group as kafka-consumer-groups --describe
// --members and --offsets together: its state, its members with their
// assignments, then every partition it has committed or is assigned with
// the committed offset, the end offset, the lag and the owning member.
func groupsDescribe(ctx context.Context, adm *admin.Client, groups []string, asJSON bool, stdout io.Writer) error {
	dgs, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return err
	}
	var errs []error
	out := []describedGroupJSON{}
	for _, dg := range dgs {
		g, err := describeOne(ctx, adm, dg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, g)
	}
	if asJSON {
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	for i, g := range out {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := writeGroupTable(stdout, g); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

func describeOne(ctx context.Context, adm *admin.Client, dg admin.DescribedGroup) (describedGroupJSON, error) {
	group := dg.Group
	if dg.Err != nil {
		if errors.Is(dg.Err, kerr.GroupIDNotFound) {
			return describedGroupJSON{}, fmt.Errorf("%s: %w (%w); 'skiff groups list' shows the groups there are", group, errNoSuchGroup, dg.Err)
		}
		return describedGroupJSON{}, fmt.Errorf("group %s: %w", group, dg.Err)
	}
	lag, err := adm.Lag(ctx, group)
	if err != nil {
		return describedGroupJSON{}, fmt.Errorf("group %s: %w", group, err)
	}
	// A Dead group may still hold committed offsets (a group that only
	// ever committed, through the admin API): then it exists.
	if !dg.Exists() && len(dg.Members) == 0 && len(lag.Partitions) == 0 {
		return describedGroupJSON{}, fmt.Errorf("%s: %w (no members, no committed offsets); 'skiff groups list' shows the groups there are", group, errNoSuchGroup)
	}
	g := describedGroupJSON{Group: group, State: dg.State, ProtocolType: dg.ProtocolType, Protocol: dg.Protocol,
		Coordinator: dg.Coordinator, Members: []memberJSON{}, Partitions: []partitionLagJSON{}, TotalLag: lag.Total,
		TopicLag: lag.TopicTotals(), assigned: map[string][]string{}}
	for _, m := range dg.Members {
		g.Members = append(g.Members, memberJSON{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: m.Assigned})
		topics := make([]string, 0, len(m.Assigned))
		for t := range m.Assigned {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		for _, t := range topics {
			g.assigned[m.MemberID] = append(g.assigned[m.MemberID], fmt.Sprintf("%s%v", t, m.Assigned[t]))
		}
		if m.Err != nil {
			g.assigned[m.MemberID] = []string{fmt.Sprintf("(undecodable: %v)", m.Err)}
		}
	}
	for _, p := range lag.Partitions {
		r := partitionLagJSON{Topic: p.Topic, Partition: p.Partition, Committed: p.Committed, End: p.End, Lag: p.Lag,
			MemberID: p.MemberID, Host: p.Host, ClientID: p.ClientID}
		if p.Err != nil {
			r.Err = humanError(p.Err)
		}
		g.Partitions = append(g.Partitions, r)
	}
	return g, nil
}

func writeGroupTable(w io.Writer, g describedGroupJSON) error {
	protocol := g.ProtocolType
	if g.Protocol != "" {
		protocol += "/" + g.Protocol
	}
	fmt.Fprintf(w, "GROUP %s  STATE %s  PROTOCOL %s  MEMBERS %d  LAG %d\n", g.Group, g.State, dash(protocol), len(g.Members), g.TotalLag)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(g.Members) > 0 {
		fmt.Fprintln(tw, "MEMBER\tINSTANCE\tCLIENT\tHOST\tASSIGNMENT")
		for _, m := range g.Members {
			inst := "-"
			if m.InstanceID != nil {
				inst = *m.InstanceID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, inst, m.ClientID, m.Host, dash(strings.Join(g.assigned[m.MemberID], " ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	// The columns of kafka-consumer-groups --describe; "-" where Kafka's
	// tool shows it: no committed offset, no owning member.
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, p := range g.Partitions {
		cur, end, lag := offsetText(p.Committed), offsetText(p.End), fmt.Sprint(p.Lag)
		if p.Committed < 0 || p.Err != "" {
			lag = "-"
		}
		if p.Err != "" {
			end = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Topic, p.Partition, cur, end, lag, dash(p.MemberID), dash(p.Host), dash(p.ClientID))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// spec returns the one --to-*/--shift-by option given.
func (f resetFlags) spec() (admin.ResetSpec, error) {
	var specs []admin.ResetSpec
	var named []string
	if *f.toEarliest {
		specs, named = append(specs, admin.ToEarliest()), append(named, "--to-earliest")
	}
	if *f.toLatest {
		specs, named = append(specs, admin.ToLatest()), append(named, "--to-latest")
	}
	if *f.toDatetime != "" {
		t, err := parseResetTime(*f.toDatetime)
		if err != nil {
			return admin.ResetSpec{}, err
		}
		specs, named = append(specs, admin.ToTime(t)), append(named, "--to-datetime")
	}
	if *f.toOffset != "" {
		n, err := strconv.ParseInt(*f.toOffset, 10, 64)
		if err != nil || n < 0 {
			return admin.ResetSpec{}, fmt.Errorf("--to-offset %q: want a non-negative offset", *f.toOffset)
		}
		specs, named = append(specs, admin.ToOffset(n)), append(named, "--to-offset")
	}
	if *f.shiftBy != "" {
		n, err := strconv.ParseInt(*f.shiftBy, 10, 64)
		if err != nil {
			return admin.ResetSpec{}, fmt.Errorf("--shift-by %q: want a whole number such as -100 or 50", *f.shiftBy)
		}
		specs, named = append(specs, admin.ShiftBy(n)), append(named, "--shift-by")
	}
	switch len(specs) {
	case 0:
		return admin.ResetSpec{}, errors.New("say where to: --to-earliest, --to-latest, --to-datetime TIME, --to-offset N or --shift-by N")
	case 1:
		return specs[0], nil
	}
	return admin.ResetSpec{}, fmt.Errorf("pass one of %s, not all of them", strings.Join(named, ", "))
}

// topicMap turns --topic T[:P,P] and --all-topics into PlanResetOffsets'
// topics argument (nil: every topic the group committed).
func (f resetFlags) topicMap() (map[string][]int32, error) {
	switch {
	case *f.allTopics && len(f.topics) > 0:
		return nil, errors.New("pass --topic or --all-topics, not both")
	case *f.allTopics:
		return nil, nil
	case len(f.topics) == 0:
		return nil, errors.New("say which offsets: --topic T (repeatable, T:0,1 for some partitions) or --all-topics")
	}
	m := map[string][]int32{}
	for _, t := range f.topics {
		name, parts, hasParts := strings.Cut(t, ":")
		if name == "" {
			return nil, fmt.Errorf("--topic %q: missing topic name", t)
		}
		if _, seen := m[name]; !seen {
			m[name] = nil
		}
		if !hasParts {
			continue
		}
		for _, p := range strings.Split(parts, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--topic %q: %q is not a partition number", t, p)
			}
			m[name] = append(m[name], int32(n))
		}
	}
	return m, nil
}

// parseResetTime accepts RFC 3339 and the zone-less forms of
// kafka-consumer-groups --to-datetime, which it reads in local time.
func parseResetTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--to-datetime %q: want RFC 3339 (2026-12-01T09:00:00Z) or YYYY-MM-DDTHH:MM:SS[.sss] (local time)", s)
}

type resetJSON struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current_offset"`
	New       int64  `json:"new_offset"`
	Err       string `json:"error,omitempty"`
}

// groupsReset prints the plan and, with execute, commits it. Both steps
// refuse a group with members (admin.ErrGroupNotEmpty), as Kafka's tool.
func groupsReset(ctx context.Context, adm *admin.Client, group string, spec admin.ResetSpec, topics map[string][]int32, execute, asJSON bool, stdout, stderr io.Writer) error {
	plan, err := adm.PlanResetOffsets(ctx, group, spec, topics)
	if errors.Is(err, admin.ErrGroupNotEmpty) {
		return fmt.Errorf("group %s has active members; stop its consumers first (they would overwrite the reset with their next commit)", group)
	}
	if err != nil {
		return err
	}
	if len(plan.Partitions) == 0 {
		return fmt.Errorf("group %s: nothing to reset (no committed offsets for the topics given)", group)
	}
	rows := plan.Partitions
	if execute {
		rows, err = adm.ResetOffsets(ctx, plan)
		if errors.Is(err, admin.ErrGroupNotEmpty) {
			return fmt.Errorf("group %s gained members since the plan was made; nothing was committed", group)
		}
		if err != nil {
			return err
		}
	}
	out := []resetJSON{}
	for _, r := range rows {
		j := resetJSON{Group: group, Topic: r.Topic, Partition: r.Partition, Current: r.Current, New: r.Target}
		if r.Err != nil {
			j.Err = humanError(r.Err)
		}
		out = append(out, j)
	}
	if asJSON {
		err = writeJSON(stdout, out)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET\tERROR")
		for _, r := range out {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Group, r.Topic, r.Partition, offsetText(r.Current), offsetText(r.New), dash(r.Err))
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	failed := rows.Error()
	switch {
	case !execute:
		fmt.Fprintf(stderr, "dry run: nothing committed; add --execute to reset %s of group %s (%s)\n", plural(len(rows), "partition"), group, spec)
	case failed == nil:
		fmt.Fprintf(stderr, "reset %s of group %s (%s)\n", plural(len(rows), "partition"), group, spec)
	}
	return failed
}

func groupsDelete(ctx context.Context, adm *admin.Client, groups []string, stdout io.Writer) error {
	rs, err := adm.DeleteGroups(ctx, groups...)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		switch {
		case r.Err == nil:
			fmt.Fprintf(stdout, "deleted group %s\n", r.Group)
		case errors.Is(r.Err, kerr.NonEmptyGroup):
			errs = append(errs, fmt.Errorf("%s: has active members; stop its consumers first (%w)", r.Group, r.Err))
		default:
			errs = append(errs, fmt.Errorf("%s: %w", r.Group, r.Err))
		}
	}
	return errors.Join(errs...)
}

package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/properties"
)

func init() {
	register("topics", "list, create, delete, describe or alter topics", runTopics)
}

func runTopics(ctx context.Context, args []string) int {
	return topicsMain(ctx, args, os.Stdout, os.Stderr)
}

// Topic configs are given with --set k=v, not Kafka's --config k=v:
// every client subcommand's --config names a client properties file (the
// kcat/librdkafka and i10 convention, so one file works for produce,
// consume, topics and groups alike), and one flag cannot mean both.
var topicsForms = []usageText{
	{synopsis: []string{"skiff topics list [--json]"}, about: "list topics, their partition counts and replication",
		examples: []string{"skiff topics list", "skiff topics list --config client.properties --json"}},
	{synopsis: []string{"skiff topics create NAME [--partitions N] [--replication-factor R] [--set k=v]..."}, about: "create a topic",
		examples: []string{"skiff topics create orders --partitions 6 --set retention.ms=86400000"}},
	{synopsis: []string{"skiff topics delete NAME..."}, about: "delete topics",
		examples: []string{"skiff topics delete orders payments"}},
	{synopsis: []string{"skiff topics describe NAME... [--json]"}, about: "partitions, leaders, replicas, offsets and config overrides",
		examples: []string{"skiff topics describe orders"}},
	{synopsis: []string{"skiff topics alter-config NAME [--set k=v]... [--delete k]..."}, about: "change topic configs (the rest stay)",
		examples: []string{"skiff topics alter-config orders --set retention.ms=3600000 --delete cleanup.policy"}},
	{synopsis: []string{"skiff topics add-partitions NAME --partitions N"}, about: "raise the partition count to N (the new total)",
		examples: []string{"skiff topics add-partitions orders --partitions 12"}},
}

func topicsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, fs, args, code, ok := chooseSubcommand("skiff topics", topicsForms, args, stdout, stderr)
	if !ok {
		return code
	}
	name := fs.Name()
	cf := addClusterFlags(fs)
	var (
		partitions  *int
		replication *int
		sets        configFlag
		deletes     listFlag
		asJSON      *bool
	)
	switch sub {
	case "create":
		partitions = fs.Int("partitions", 1, "number of partitions (-1: the broker's num.partitions)")
		replication = fs.Int("replication-factor", 1, "replication factor (-1: the broker's default.replication.factor)")
		fs.Var(&sets, "set", "topic config `k=v` (repeatable), e.g. --set retention.ms=86400000")
	case "alter-config":
		fs.Var(&sets, "set", "set topic config `k=v` (repeatable)")
		fs.Var(&deletes, "delete", "return topic config `k` to its default (repeatable)")
	case "add-partitions":
		partitions = fs.Int("partitions", 0, "the new total number of partitions (required; Kafka never removes partitions)")
	case "list", "describe":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	}
	names, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case sub == "list" && len(names) > 0:
		return usageErr(stderr, name, "takes no arguments, got %q", names[0])
	case sub != "list" && len(names) == 0:
		return usageErr(stderr, name, "missing topic NAME")
	case (sub == "create" || sub == "alter-config" || sub == "add-partitions") && len(names) > 1:
		return usageErr(stderr, name, "takes one topic at a time, got %d names", len(names))
	case sub == "create" && (*partitions == 0 || *partitions < -1):
		// Kafka takes -1 as "use the broker's default" (KIP-464); anything
		// else below 1 is INVALID_PARTITIONS.
		return usageErr(stderr, name, "--partitions must be at least 1 (or -1 for the broker's default), got %d", *partitions)
	case sub == "create" && (*replication == 0 || *replication < -1):
		return usageErr(stderr, name, "--replication-factor must be at least 1 (or -1 for the broker's default), got %d", *replication)
	case sub == "alter-config" && len(sets) == 0 && len(deletes) == 0:
		return usageErr(stderr, name, "nothing to change: pass --set k=v or --delete k")
	case sub == "add-partitions" && *partitions < 1:
		return usageErr(stderr, name, "--partitions N (the new total, at least 1) is required")
	}
	return cf.run(ctx, name, stderr, func(ctx context.Context, adm *admin.Client) error {
		switch sub {
		case "list":
			return topicsList(ctx, adm, *asJSON, stdout)
		case "create":
			return topicsCreate(ctx, adm, names[0], int32(*partitions), int16(*replication), sets, stdout)
		case "delete":
			return topicsDelete(ctx, adm, names, stdout)
		case "describe":
			return topicsDescribe(ctx, adm, names, *asJSON, stdout)
		case "alter-config":
			return topicsAlterConfig(ctx, adm, names[0], sets, deletes, stdout)
		default: // add-partitions
			return topicsAddPartitions(ctx, adm, names[0], int32(*partitions), stdout)
		}
	})
}

func findForm(forms []usageText, sub string) (usageText, bool) {
	for _, f := range forms {
		if strings.Fields(f.synopsis[0])[2] == sub {
			return f, true
		}
	}
	return usageText{}, false
}

// clusterFlags are the flags of the admin commands (topics, groups).
type clusterFlags struct {
	fs      *cmdFlags
	brokers *string
	timeout *time.Duration
	wait    *bool
	verbose *bool
	props   *propsFlags
}

func addClusterFlags(fs *cmdFlags) clusterFlags {
	return clusterFlags{
		fs:      fs,
		brokers: fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers (bootstrap.servers)"),
		timeout: fs.Duration("timeout", 30*time.Second, "how long to wait for the cluster's answers (and, with --wait, for a broker)"),
		wait:    fs.Bool("wait", false, "when no broker is reachable, keep trying for --timeout instead of failing at once"),
		verbose: fs.Bool("v", false, "log the client's connection events to stderr"),
		props:   addPropsFlags(fs),
	}
}

// config builds the admin configuration from --config, -X and --brokers
// (see propsFlags). Its errors are usage errors.
func (f clusterFlags) config(stderr io.Writer) (admin.Config, error) {
	props, err := f.props.merge(baseProps("skiff-cli"))
	if err != nil {
		return admin.Config{}, err
	}
	cfg, err := properties.Admin(props)
	if err != nil {
		return admin.Config{}, err
	}
	if givenFlags(f.fs.FlagSet)["brokers"] {
		cfg.Brokers = splitBrokers(*f.brokers)
	}
	cfg.Logger = quietLogger(stderr, *f.verbose)
	return cfg, nil
}

// connect checks that a seed broker answers, then returns an admin client.
func (f clusterFlags) connect(ctx context.Context, cfg admin.Config, stderr io.Writer) (*admin.Client, error) {
	if err := reachSeeds(ctx, cfg.Brokers, *f.wait, *f.timeout, stderr); err != nil {
		return nil, err
	}
	return admin.New(cfg)
}

// run connects an admin client as the flags say and calls fn with it,
// under --timeout, and returns the exit code of the subcommand name:
// 2 for a configuration mistake, 1 when the cluster or fn failed.
func (f clusterFlags) run(ctx context.Context, name string, stderr io.Writer, fn func(context.Context, *admin.Client) error) int {
	acfg, err := f.config(stderr)
	if err != nil {
		return usageErr(stderr, name, "%v", err)
	}
	adm, err := f.connect(ctx, acfg, stderr)
	if err == nil {
		defer adm.Close(context.Background())
		ctx, cancel := context.WithTimeout(ctx, *f.timeout)
		defer cancel()
		err = fn(ctx, adm)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, humanError(err))
		return 1
	}
	return 0
}

// topicJSON is one topic in --json output.
type topicJSON struct {
	Topic             string            `json:"topic"`
	ID                string            `json:"id,omitempty"`
	Partitions        int               `json:"partitions"`
	ReplicationFactor int               `json:"replication_factor"`
	Details           []partitionJSON   `json:"partition_details,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
}

type partitionJSON struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	Start       int64   `json:"start_offset"`
	End         int64   `json:"end_offset"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func topicsList(ctx context.Context, adm *admin.Client, asJSON bool, stdout io.Writer) error {
	ts, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	rows := []topicJSON{}
	for _, t := range ts {
		if t.Err == nil {
			rows = append(rows, topicJSON{Topic: t.Topic, Partitions: len(t.Partitions), ReplicationFactor: t.ReplicationFactor()})
		}
	}
	slices.SortFunc(rows, func(a, b topicJSON) int { return strings.Compare(a.Topic, b.Topic) })
	if asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", r.Topic, r.Partitions, r.ReplicationFactor)
	}
	return tw.Flush()
}

func topicsCreate(ctx context.Context, adm *admin.Client, name string, partitions int32, replication int16, sets configFlag, stdout io.Writer) error {
	nt := admin.NewTopic{Name: name, Partitions: partitions, ReplicationFactor: replication}
	if len(sets) > 0 {
		nt.Configs = map[string]string{}
		for _, kv := range sets {
			nt.Configs[kv[0]] = kv[1]
		}
	}
	rs, err := adm.CreateTopics(ctx, nt)
	if err != nil {
		return err
	}
	if err := rs.Error(); err != nil {
		return err
	}
	// Report what the broker made, not what was asked for: with -1 the
	// broker picks num.partitions (CreateTopics v5+ returns it).
	made := partitions
	if len(rs) == 1 && rs[0].Partitions > 0 {
		made = rs[0].Partitions
	}
	if made <= 0 {
		if ds, err := adm.DescribeTopics(ctx, name); err == nil && len(ds) == 1 && ds[0].Err == nil {
			made = int32(len(ds[0].Partitions))
		}
	}
	if made > 0 {
		fmt.Fprintf(stdout, "created topic %s with %s\n", name, plural(int(made), "partition"))
	} else {
		fmt.Fprintf(stdout, "created topic %s\n", name)
	}
	return nil
}

func topicsDelete(ctx context.Context, adm *admin.Client, names []string, stdout io.Writer) error {
	rs, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err == nil {
			fmt.Fprintf(stdout, "deleted topic %s\n", r.Topic)
		}
	}
	return rs.Error()
}

func topicsDescribe(ctx context.Context, adm *admin.Client, names []string, asJSON bool, stdout io.Writer) error {
	ds, err := adm.DescribeTopics(ctx, names...)
	if err != nil {
		return err
	}
	var errs []error
	var found []string
	for _, d := range ds {
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Topic, d.Err))
			continue
		}
		found = append(found, d.Topic)
	}
	var starts, ends admin.ListedOffsets
	var overrides admin.ResourceConfigs
	if len(found) > 0 {
		var err1, err2 error
		starts, err1 = adm.ListOffsets(ctx, admin.Earliest, found...)
		ends, err2 = adm.ListOffsets(ctx, admin.Latest, found...)
		errs = append(errs, err1, err2, starts.Error(), ends.Error())
		// Config overrides are extra: a broker without DescribeConfigs
		// still gets its partitions described.
		overrides, err = adm.DescribeConfigs(ctx, admin.ResourceTopic, found...)
		if err != nil && !errors.Is(err, kerr.UnsupportedVersion) {
			errs = append(errs, err)
		}
	}
	offset := func(ls admin.ListedOffsets, t string, p int32) int64 {
		if o, ok := ls.Lookup(t, p); ok && o.Err == nil {
			return o.Offset
		}
		return -1
	}
	rows := []topicJSON{}
	for _, d := range ds {
		if d.Err != nil {
			continue
		}
		r := topicJSON{Topic: d.Topic, ID: hex.EncodeToString(d.ID[:]), Partitions: len(d.Partitions), ReplicationFactor: d.ReplicationFactor()}
		for _, p := range d.Partitions {
			r.Details = append(r.Details, partitionJSON{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), Start: offset(starts, d.Topic, p.Partition), End: offset(ends, d.Topic, p.Partition)})
		}
		for _, rc := range overrides {
			if rc.Name != d.Topic || rc.Err != nil {
				continue
			}
			for _, e := range rc.Configs {
				if e.Source == admin.SourceDynamicTopic && e.Value != nil {
					if r.Configs == nil {
						r.Configs = map[string]string{}
					}
					r.Configs[e.Name] = *e.Value
				}
			}
		}
		rows = append(rows, r)
	}
	if asJSON {
		if err := writeJSON(stdout, rows); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND")
	for _, r := range rows {
		for _, p := range r.Details {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%s\t%s\n", r.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, offsetText(p.Start), offsetText(p.End))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Overrides as kafka-topics --describe lists them: only the configs
	// set on the topic, not the broker's defaults.
	for _, r := range rows {
		if len(r.Configs) == 0 {
			continue
		}
		keys := make([]string, 0, len(r.Configs))
		for k := range r.Configs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var kvs []string
		for _, k := range keys {
			kvs = append(kvs, k+"="+r.Configs[k])
		}
		fmt.Fprintf(stdout, "%s configs: %s\n", r.Topic, strings.Join(kvs, ","))
	}
	return errors.Join(errs...)
}

// offsetText is an offset, or "-" when it could not be read.
func offsetText(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func topicsAlterConfig(ctx context.Context, adm *admin.Client, name string, sets configFlag, deletes listFlag, stdout io.Writer) error {
	ch := admin.IncrementalAlterConfig{Type: admin.ResourceTopic, Name: name}
	for _, kv := range sets {
		ch.Changes = append(ch.Changes, admin.ConfigChange{Name: kv[0], Op: admin.OpSet, Value: kv[1]})
	}
	for _, k := range deletes {
		ch.Changes = append(ch.Changes, admin.ConfigChange{Name: k, Op: admin.OpDelete})
	}
	rs, err := adm.IncrementalAlterConfigs(ctx, ch)
	if err != nil {
		return err
	}
	if err := rs.Error(); err != nil {
		return err
	}
	for _, kv := range sets {
		fmt.Fprintf(stdout, "set %s=%s on topic %s\n", kv[0], kv[1], name)
	}
	for _, k := range deletes {
		fmt.Fprintf(stdout, "reset %s to its default on topic %s\n", k, name)
	}
	return nil
}

func topicsAddPartitions(ctx context.Context, adm *admin.Client, name string, total int32, stdout io.Writer) error {
	rs, err := adm.CreatePartitions(ctx, total, name)
	if err != nil {
		return err
	}
	if err := rs.Error(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "topic %s now has %s\n", name, plural(int(total), "partition"))
	return nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// parseInterleaved parses flags that may come after positional arguments
// (skiff topics create NAME --partitions 3), returning the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// configFlag collects repeated --config k=v.
type configFlag [][2]string

func (c *configFlag) String() string { return fmt.Sprint(*c) }

func (c *configFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*c = append(*c, [2]string{k, v})
	return nil
}

// listFlag collects a repeated flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

var _ flag.Value = (*listFlag)(nil)

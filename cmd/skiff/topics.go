package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/internal/kerr"
	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/properties"
	"github.com/skiffkit/skiff/sasl"
)

func init() {
	register("topics", "list, create, delete or describe topics", runTopics)
}

func runTopics(ctx context.Context, args []string) int {
	return topicsMain(ctx, args, os.Stdout, os.Stderr)
}

var topicsForms = []usageText{
	{synopsis: []string{"skiff topics list [flags]"}, about: "list topics and their partition counts",
		examples: []string{"skiff topics list"}},
	{synopsis: []string{"skiff topics create NAME [--partitions N] [--replication-factor R] [--config k=v]..."}, about: "create a topic",
		examples: []string{"skiff topics create orders --partitions 6 --config retention.ms=86400000"}},
	{synopsis: []string{"skiff topics delete NAME..."}, about: "delete topics",
		examples: []string{"skiff topics delete orders payments"}},
	{synopsis: []string{"skiff topics describe NAME..."}, about: "show partitions, leaders, replicas and offsets",
		examples: []string{"skiff topics describe orders"}},
}

func topicsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff topics"
	if len(args) == 0 {
		subcommandUsage(stderr, cmd, topicsForms)
		return 2
	}
	if isHelpArg(args[0]) {
		subcommandUsage(stdout, cmd, topicsForms)
		return 0
	}
	sub, args := args[0], args[1:]
	form, ok := findForm(topicsForms, sub)
	if !ok {
		return usageErr(stderr, cmd, "unknown subcommand %q (want %s)", sub, strings.Join(subNames(topicsForms), ", "))
	}
	name := cmd + " " + sub
	fs := newFlagSet(name, form, stdout, stderr)
	cf := addClusterFlags(fs)
	var (
		partitions  *int
		replication *int
		configs     configFlag
	)
	if sub == "create" {
		partitions = fs.Int("partitions", 1, "number of partitions (-1: the broker's num.partitions)")
		replication = fs.Int("replication-factor", 1, "replication factor (-1: the broker's default.replication.factor)")
		fs.Var(&configs, "set", "topic config k=v (repeatable), e.g. --set retention.ms=86400000")
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
	case sub == "create" && len(names) > 1:
		return usageErr(stderr, name, "creates one topic at a time, got %d names", len(names))
	case sub == "create" && (*partitions == 0 || *partitions < -1):
		// Kafka takes -1 as "use the broker's default" (KIP-464); anything
		// else below 1 is INVALID_PARTITIONS.
		return usageErr(stderr, name, "--partitions must be at least 1 (or -1 for the broker's default), got %d", *partitions)
	case sub == "create" && (*replication == 0 || *replication < -1):
		return usageErr(stderr, name, "--replication-factor must be at least 1 (or -1 for the broker's default), got %d", *replication)
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
	switch sub {
	case "list":
		err = topicsList(ctx, cl, stdout)
	case "create":
		err = topicsCreate(ctx, cl, names[0], int32(*partitions), int16(*replication), configs, stdout)
	case "delete":
		err = topicsDelete(ctx, cl, names, stdout)
	case "describe":
		err = topicsDescribe(ctx, cl, names, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, humanError(err))
		return 1
	}
	return 0
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

// connect checks that a seed broker answers, then returns a client.
func (f clusterFlags) connect(ctx context.Context, cfg admin.Config, stderr io.Writer) (*wire.Client, error) {
	if err := reachSeeds(ctx, cfg.Brokers, *f.wait, *f.timeout, stderr); err != nil {
		return nil, err
	}
	return wire.NewClient(wire.Config{SeedBrokers: cfg.Brokers, ClientID: cfg.ClientID, Logger: cfg.Logger,
		TLS: cfg.TLS, SASL: wire.SASLFrom[sasl.Session](cfg.SASL)})
}

func topicsList(ctx context.Context, cl *wire.Client, stdout io.Writer) error {
	md, err := cl.Metadata(ctx, nil)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(md.Topics))
	for n, t := range md.Topics {
		if t.Err == nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%d\n", n, len(md.Topics[n].Partitions))
	}
	return tw.Flush()
}

func topicsCreate(ctx context.Context, cl *wire.Client, name string, partitions int32, replication int16, configs configFlag, stdout io.Writer) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = partitions
	t.ReplicationFactor = replication
	for _, kv := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = kv[0]
		v := kv[1]
		c.Value = &v
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	kresp, err := requestController(ctx, cl, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.CreateTopicsResponse)
	for _, rt := range resp.Topics {
		if err := kerr.ForCode(rt.ErrorCode); err != nil {
			return fmt.Errorf("%s: %w%s", rt.Topic, err, errMessage(rt.ErrorMessage))
		}
	}
	// Report what the broker made, not what was asked for: with -1 the
	// broker picks num.partitions (CreateTopics v5+ returns it).
	made := partitions
	for _, rt := range resp.Topics {
		if rt.Topic == name && rt.NumPartitions > 0 {
			made = rt.NumPartitions
		}
	}
	if made <= 0 {
		if ti, err := cl.Topic(ctx, name); err == nil {
			made = int32(len(ti.Partitions))
		}
	}
	if made > 0 {
		fmt.Fprintf(stdout, "created topic %s with %s\n", name, plural(int(made), "partition"))
	} else {
		fmt.Fprintf(stdout, "created topic %s\n", name)
	}
	return nil
}

func topicsDelete(ctx context.Context, cl *wire.Client, names []string, stdout io.Writer) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.TopicNames = names // v0-v5
	for _, n := range names {
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = &n // v6+
		req.Topics = append(req.Topics, t)
	}
	kresp, err := requestController(ctx, cl, req)
	if err != nil {
		return err
	}
	var errs []error
	for _, rt := range kresp.(*kmsg.DeleteTopicsResponse).Topics {
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		}
		if err := kerr.ForCode(rt.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w%s", name, err, errMessage(rt.ErrorMessage)))
			continue
		}
		fmt.Fprintf(stdout, "deleted topic %s\n", name)
	}
	return errors.Join(errs...)
}

func topicsDescribe(ctx context.Context, cl *wire.Client, names []string, stdout io.Writer) error {
	md, err := cl.Metadata(ctx, names)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tSTART\tEND")
	var errs []error
	for _, n := range names {
		t, ok := md.Topics[n]
		if !ok || t.Err != nil {
			err := t.Err
			if !ok {
				err = kerr.UnknownTopicOrPartition
			}
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		parts := slices.Clone(t.Partitions)
		slices.SortFunc(parts, func(a, b wire.PartitionInfo) int { return int(a.Partition - b.Partition) })
		starts, err := listOffsets(ctx, cl, n, parts, -2)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s start offsets: %w", n, err))
		}
		ends, err := listOffsets(ctx, cl, n, parts, -1)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s end offsets: %w", n, err))
		}
		for _, p := range parts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%d\t%d\n", n, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, starts[p.Partition], ends[p.Partition])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// listOffsets asks each partition's leader for an offset (-1 end, -2 start).
func listOffsets(ctx context.Context, cl *wire.Client, topic string, parts []wire.PartitionInfo, ts int64) (map[int32]int64, error) {
	byLeader := map[int32][]int32{}
	for _, p := range parts {
		byLeader[p.Leader] = append(byLeader[p.Leader], p.Partition)
	}
	out := map[int32]int64{}
	var errs []error
	for leader, ps := range byLeader {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = topic
		for _, p := range ps {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = ts
			rp.MaxNumOffsets = 1
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
		kresp, err := cl.RequestNode(ctx, leader, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rt := range kresp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ForCode(rp.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s[%d]: %w", topic, rp.Partition, err))
					continue
				}
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out, errors.Join(errs...)
}

// requestController sends an admin request to the controller when the
// metadata names one (Kafka requires it for CreateTopics/DeleteTopics on
// ZooKeeper clusters), else to any broker.
func requestController(ctx context.Context, cl *wire.Client, req kmsg.Request) (kmsg.Response, error) {
	if _, err := cl.Metadata(ctx, []string{}); err != nil {
		return nil, err
	}
	if id := cl.ControllerID(); id >= 0 {
		return cl.RequestNode(ctx, id, req)
	}
	return cl.Request(ctx, req)
}

func newAdminClient(brokers []string, logger *slog.Logger) (*wire.Client, error) {
	return wire.NewClient(wire.Config{SeedBrokers: brokers, ClientID: "skiff-cli", Logger: logger})
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

func errMessage(msg *string) string {
	if msg == nil || *msg == "" {
		return ""
	}
	return " (" + *msg + ")"
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

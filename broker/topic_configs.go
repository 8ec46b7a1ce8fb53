package broker

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfig is one topic-level property CreateTopics accepts and
// DescribeConfigs reports. Properties that a single node has no use for
// (min.insync.replicas, unclean.leader.election.enable) are accepted and
// reported so tools that always send them work, but change nothing.
type topicConfig struct {
	name string
	// def returns the broker-level default as Kafka prints it.
	def   func(c *Config) string
	check func(v string) error
	typ   kmsg.ConfigType
	// list marks Kafka's LIST configs, the only ones
	// IncrementalAlterConfigs may APPEND to or SUBTRACT from.
	list bool
}

func intAtLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min {
			return fmt.Errorf("must be an integer >= %d", min)
		}
		return nil
	}
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, x := range vals {
			if v == x {
				return nil
			}
		}
		return fmt.Errorf("must be one of %v", vals)
	}
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

var topicConfigs = []topicConfig{
	// Only delete: compaction is not implemented, and accepting it would
	// silently keep every version of every key.
	{name: "cleanup.policy", def: func(*Config) string { return "delete" }, check: oneOf("delete"), typ: kmsg.ConfigTypeList, list: true},
	{name: "compression.type", def: func(*Config) string { return "producer" }, check: oneOf("producer"), typ: kmsg.ConfigTypeString},
	{name: "max.message.bytes", def: func(c *Config) string { return strconv.Itoa(int(c.MessageMaxBytes)) }, check: intAtLeast(0), typ: kmsg.ConfigTypeInt},
	{name: "message.timestamp.type", def: func(*Config) string { return "CreateTime" }, check: oneOf("CreateTime", "LogAppendTime"), typ: kmsg.ConfigTypeString},
	{name: "min.insync.replicas", def: func(*Config) string { return "1" }, check: intAtLeast(1), typ: kmsg.ConfigTypeInt},
	{name: "retention.bytes", def: func(c *Config) string { return strconv.FormatInt(c.RetentionBytes, 10) }, check: intAtLeast(-1), typ: kmsg.ConfigTypeLong},
	{name: "retention.ms", def: func(c *Config) string { return ms(c.RetentionMs) }, check: intAtLeast(-1), typ: kmsg.ConfigTypeLong},
	{name: "segment.bytes", def: func(c *Config) string { return strconv.FormatInt(c.SegmentBytes, 10) }, check: intAtLeast(14), typ: kmsg.ConfigTypeInt},
	{name: "segment.index.bytes", def: func(*Config) string { return "10485760" }, check: intAtLeast(4), typ: kmsg.ConfigTypeInt},
	{name: "segment.ms", def: func(c *Config) string { return ms(c.SegmentMs) }, check: intAtLeast(1), typ: kmsg.ConfigTypeLong},
	{name: "index.interval.bytes", def: func(c *Config) string { return strconv.Itoa(int(c.IndexIntervalBytes)) }, check: intAtLeast(0), typ: kmsg.ConfigTypeInt},
	{name: "unclean.leader.election.enable", def: func(*Config) string { return "false" }, check: oneOf("true", "false"), typ: kmsg.ConfigTypeBoolean},
}

func findTopicConfig(name string) *topicConfig {
	for i := range topicConfigs {
		if topicConfigs[i].name == name {
			return &topicConfigs[i]
		}
	}
	return nil
}

// validateTopicConfigs checks CreateTopics configs; INVALID_CONFIG names
// the first bad one.
func validateTopicConfigs(cfgs map[string]string) error {
	names := make([]string, 0, len(cfgs))
	for k := range cfgs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		tc := findTopicConfig(k)
		if tc == nil {
			return fmt.Errorf("%w: unknown or unsupported topic config %s", kerr.InvalidConfig, k)
		}
		if err := tc.check(cfgs[k]); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", kerr.InvalidConfig, k, cfgs[k], err)
		}
	}
	return nil
}

// logConfig is a partition's log configuration: the broker defaults with
// the topic's own configs over them.
func (b *Broker) logConfig(topicCfgs map[string]string) (log.Config, error) {
	c := &b.cfg
	lc := log.Config{
		SegmentBytes:       c.SegmentBytes,
		SegmentMs:          c.SegmentMs,
		RetentionMs:        c.RetentionMs,
		RetentionBytes:     c.RetentionBytes,
		IndexIntervalBytes: int(c.IndexIntervalBytes),
		MaxMessageBytes:    int(c.MessageMaxBytes),
		Logger:             b.log,
		FS:                 c.logFS,
	}
	for k, v := range topicCfgs {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "segment.bytes":
			lc.SegmentBytes = n
		case "segment.ms":
			lc.SegmentMs = time.Duration(n) * time.Millisecond
		case "retention.ms":
			lc.RetentionMs = time.Duration(n) * time.Millisecond
			if n == 0 {
				lc.RetentionMs = time.Nanosecond // zero would mean the default
			}
		case "retention.bytes":
			lc.RetentionBytes = n
			if n == 0 {
				lc.RetentionBytes = 1 // Kafka: keep only the active segment
			}
		case "max.message.bytes":
			lc.MaxMessageBytes = int(n)
		case "index.interval.bytes":
			lc.IndexIntervalBytes = int(n)
		case "message.timestamp.type":
			lc.LogAppendTime = v == "LogAppendTime"
		}
	}
	return lc, nil
}

// maxMessageBytes is the topic's max.message.bytes.
func (b *Broker) maxMessageBytes(t *topic) int {
	if v, ok := t.cfgs()["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return int(b.cfg.MessageMaxBytes)
}

// alterTopicConfigs is the part AlterConfigs and IncrementalAlterConfigs
// share for one topic resource: change computes the new set of explicit
// configs from the current one, which is validated as CreateTopics
// validates (INVALID_CONFIG names the first bad entry) and, unless
// validateOnly, stored durably and applied to every partition log.
func (b *Broker) alterTopicConfigs(name string, validateOnly bool, change func(cur map[string]string) (map[string]string, error)) error {
	t := b.topics.byName(name)
	if t == nil {
		if isInternalTopic(name) {
			return fmt.Errorf("%w: %s is kept by the group coordinator and has no topic configs here", kerr.InvalidRequest, name)
		}
		return fmt.Errorf("%w: unknown topic %s", kerr.UnknownTopicOrPartition, name)
	}
	next, err := change(t.cfgs())
	if err != nil {
		return err
	}
	if err := validateTopicConfigs(next); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	return b.topics.alterConfigs(t, next)
}

// configResourceError is the answer to a resource AlterConfigs cannot
// change here: broker configs come from Config at start (Kafka would
// change its dynamic ones; none are dynamic on this broker), and other
// resource types have no configs a single node keeps.
func (b *Broker) configResourceError(typ kmsg.ConfigResourceType, name string) error {
	switch typ {
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if name != "" && name != strconv.Itoa(int(b.nodeID())) {
			return fmt.Errorf("%w: this is node %d, not %s", kerr.InvalidRequest, b.nodeID(), name)
		}
		return fmt.Errorf("%w: broker configs are static on this broker: set them in its Config (or flags) and restart", kerr.InvalidRequest)
	}
	return fmt.Errorf("%w: resource type %v has no configs to alter here", kerr.InvalidRequest, typ)
}

// configResourceKey identifies a resource for duplicate detection: Kafka
// answers every copy of a resource named twice in one request with
// INVALID_REQUEST.
type configResourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// alterEachConfigResource runs the checks AlterConfigs and
// IncrementalAlterConfigs share for each of n resources (named twice in
// the request, not a topic), then alter for a topic, and returns each
// resource's error in request order.
func (b *Broker) alterEachConfigResource(n int, resource func(i int) (kmsg.ConfigResourceType, string), alter func(i int) error) []error {
	seen := make(map[configResourceKey]int, n)
	for i := range n {
		typ, name := resource(i)
		seen[configResourceKey{typ, name}]++
	}
	errs := make([]error, n)
	for i := range n {
		typ, name := resource(i)
		switch {
		case seen[configResourceKey{typ, name}] > 1:
			errs[i] = fmt.Errorf("%w: resource %s appears more than once", kerr.InvalidRequest, name)
		case typ != kmsg.ConfigResourceTypeTopic:
			errs[i] = b.configResourceError(typ, name)
		default:
			errs[i] = alter(i)
		}
	}
	return errs
}

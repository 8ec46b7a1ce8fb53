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
	{name: "cleanup.policy", def: func(*Config) string { return "delete" }, check: oneOf("delete"), typ: kmsg.ConfigTypeString},
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
	if v, ok := t.configs["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return int(b.cfg.MessageMaxBytes)
}

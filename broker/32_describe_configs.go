package broker

import (
	"strconv"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeConfigs reports topic configs (the topic's own values over
// the broker defaults) and the broker's configs (read-only: they come from
// Config at start).
func handleDescribeConfigs(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		want := func(name string) bool {
			if res.ConfigNames == nil {
				return true
			}
			for _, n := range res.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, src kmsg.ConfigSource, typ kmsg.ConfigType, readOnly bool) {
			if !want(name) {
				return
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.Source, c.ConfigType, c.ReadOnly = name, kmsg.StringPtr(value), src, typ, readOnly
			c.IsDefault = src == kmsg.ConfigSourceDefaultConfig
			if req.IncludeSynonyms {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				syn.Name, syn.Value, syn.Source = name, c.Value, src
				c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
			}
			rr.Configs = append(rr.Configs, c)
		}
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.topics.byName(res.ResourceName)
			if t == nil {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rr.ErrorMessage = kmsg.StringPtr("unknown topic " + res.ResourceName)
				break
			}
			for _, tc := range topicConfigs {
				if v, ok := t.cfgs()[tc.name]; ok {
					add(tc.name, v, kmsg.ConfigSourceDynamicTopicConfig, tc.typ, false)
				} else {
					add(tc.name, tc.def(&b.cfg), kmsg.ConfigSourceDefaultConfig, tc.typ, false)
				}
			}
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName != "" && res.ResourceName != strconv.Itoa(int(b.nodeID())) {
				rr.ErrorCode = kerr.InvalidRequest.Code
				rr.ErrorMessage = kmsg.StringPtr("this is node " + strconv.Itoa(int(b.nodeID())))
				break
			}
			for _, bc := range b.brokerConfigs() {
				add(bc.name, bc.value, kmsg.ConfigSourceStaticBrokerConfig, bc.typ, true)
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			rr.ErrorMessage = kmsg.StringPtr("only topic and broker configs can be described")
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

type brokerConfig struct {
	name, value string
	typ         kmsg.ConfigType
}

// brokerConfigs are the broker properties Config sets, as Kafka names them.
func (b *Broker) brokerConfigs() []brokerConfig {
	c := &b.cfg
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []brokerConfig{
		{"auto.create.topics.enable", strconv.FormatBool(!c.DisableAutoCreateTopics), kmsg.ConfigTypeBoolean},
		{"connections.max.idle.ms", i64(c.ConnectionsMaxIdle.Milliseconds()), kmsg.ConfigTypeLong},
		{"default.replication.factor", "1", kmsg.ConfigTypeInt},
		{"log.dirs", c.DataDir, kmsg.ConfigTypeString},
		{"log.flush.interval.ms", i64(c.FlushInterval.Milliseconds()), kmsg.ConfigTypeLong},
		{"log.index.interval.bytes", i64(int64(c.IndexIntervalBytes)), kmsg.ConfigTypeInt},
		{"log.retention.bytes", i64(c.RetentionBytes), kmsg.ConfigTypeLong},
		{"log.retention.check.interval.ms", i64(c.RetentionCheckInterval.Milliseconds()), kmsg.ConfigTypeLong},
		{"log.retention.ms", ms(c.RetentionMs), kmsg.ConfigTypeLong},
		{"log.roll.ms", ms(c.SegmentMs), kmsg.ConfigTypeLong},
		{"log.segment.bytes", i64(c.SegmentBytes), kmsg.ConfigTypeInt},
		{"max.connections", i64(int64(c.MaxConnections)), kmsg.ConfigTypeInt},
		{"message.max.bytes", i64(int64(c.MessageMaxBytes)), kmsg.ConfigTypeInt},
		{"min.insync.replicas", "1", kmsg.ConfigTypeInt},
		{"node.id", i64(int64(*c.NodeID)), kmsg.ConfigTypeInt},
		{"num.io.threads", i64(int64(c.NumIOThreads)), kmsg.ConfigTypeInt},
		{"num.partitions", i64(int64(c.NumPartitions)), kmsg.ConfigTypeInt},
		{"offsets.topic.replication.factor", "1", kmsg.ConfigTypeShort},
		{"queued.max.requests", i64(int64(c.QueuedMaxRequests)), kmsg.ConfigTypeInt},
		{"socket.request.max.bytes", i64(int64(c.SocketRequestMaxBytes)), kmsg.ConfigTypeInt},
	}
}

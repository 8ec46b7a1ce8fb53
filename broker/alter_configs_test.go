package broker

import (
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr" // kadm and kgo report franz-go's error values
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newAdm returns a kadm client (a client we did not write) for b.
func newAdm(t testing.TB, b *Broker) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, b))
}

// topicConfig returns the value kadm describes for topic's config key,
// and whether it is explicitly set on the topic.
func describedConfig(t testing.TB, adm *kadm.Client, topic, key string) (string, bool) {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx(t), topic)
	require.NoError(t, err)
	rc, err := rcs.On(topic, nil)
	require.NoError(t, err)
	require.NoError(t, rc.Err)
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue(), c.Source == kmsg.ConfigSourceDynamicTopicConfig
		}
	}
	t.Fatalf("config %s not described", key)
	return "", false
}

func TestIncrementalAlterConfigsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, map[string]string{"segment.ms": "3600000"}))
	adm := newAdm(t, b)
	set := func(k, v string) kadm.AlterConfig {
		return kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)}
	}
	for _, tc := range []struct {
		name     string
		topic    string
		validate bool
		ops      []kadm.AlterConfig
		wantErr  error
		check    map[string]string // key → value; "" = back to the default (not set)
	}{
		{name: "set", topic: "t", ops: []kadm.AlterConfig{set("retention.ms", "60000")}, check: map[string]string{"retention.ms": "60000", "segment.ms": "3600000"}},
		{name: "validate only", topic: "t", validate: true, ops: []kadm.AlterConfig{set("retention.ms", "1")}, check: map[string]string{"retention.ms": "60000"}},
		{name: "delete", topic: "t", ops: []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "segment.ms"}}, check: map[string]string{"segment.ms": ""}},
		{name: "append existing list value", topic: "t", ops: []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("delete")}}, check: map[string]string{"cleanup.policy": "delete"}},
		{name: "append unsupported list value", topic: "t", ops: []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, wantErr: kerr.InvalidConfig},
		{name: "append to a scalar", topic: "t", ops: []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: kadm.StringPtr("5")}}, wantErr: kerr.InvalidConfig},
		{name: "invalid value", topic: "t", ops: []kadm.AlterConfig{set("retention.ms", "soon")}, wantErr: kerr.InvalidConfig},
		{name: "unknown config", topic: "t", ops: []kadm.AlterConfig{set("no.such.config", "1")}, wantErr: kerr.InvalidConfig},
		{name: "all or nothing", topic: "t", ops: []kadm.AlterConfig{set("retention.bytes", "1000"), set("segment.bytes", "1")}, wantErr: kerr.InvalidConfig, check: map[string]string{"retention.bytes": ""}},
		{name: "unknown topic", topic: "nope", ops: []kadm.AlterConfig{set("retention.ms", "1")}, wantErr: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alter := adm.AlterTopicConfigs
			if tc.validate {
				alter = adm.ValidateAlterTopicConfigs
			}
			rs, err := alter(ctx(t), tc.ops, tc.topic)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			if tc.wantErr != nil {
				assert.ErrorIs(t, rs[0].Err, tc.wantErr, rs[0].ErrMessage)
			} else {
				require.NoError(t, rs[0].Err, rs[0].ErrMessage)
			}
			for k, want := range tc.check {
				v, explicit := describedConfig(t, adm, "t", k)
				if want == "" {
					assert.False(t, explicit, "%s should be back to its default, is %s", k, v)
				} else {
					assert.True(t, explicit, k)
					assert.Equal(t, want, v, k)
				}
			}
		})
	}
}

// TestAlterConfigsLegacyKadm: AlterConfigs replaces the whole set.
func TestAlterConfigsLegacyKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, map[string]string{"retention.ms": "60000"}))
	adm := newAdm(t, b)
	rs, err := adm.ValidateAlterTopicConfigsState(ctx(t), []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("1000")}}, "t")
	require.NoError(t, err)
	require.NoError(t, rs[0].Err)
	_, explicit := describedConfig(t, adm, "t", "segment.ms")
	assert.False(t, explicit, "validate only changed nothing")

	rs, err = adm.AlterTopicConfigsState(ctx(t), []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("3600000")}}, "t")
	require.NoError(t, err)
	require.NoError(t, rs[0].Err, rs[0].ErrMessage)
	v, explicit := describedConfig(t, adm, "t", "segment.ms")
	assert.True(t, explicit)
	assert.Equal(t, "3600000", v)
	_, explicit = describedConfig(t, adm, "t", "retention.ms")
	assert.False(t, explicit, "left out: back to the default")

	rs, err = adm.AlterTopicConfigsState(ctx(t), []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("-5")}}, "t")
	require.NoError(t, err)
	assert.ErrorIs(t, rs[0].Err, kerr.InvalidConfig)

	// Broker configs are static here.
	brs, err := adm.AlterBrokerConfigsState(ctx(t), []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("1")}}, 1)
	require.NoError(t, err)
	require.Len(t, brs, 1)
	assert.ErrorIs(t, brs[0].Err, kerr.InvalidRequest)
}

// TestAlterConfigsDurableAndApplied: an altered max.message.bytes is
// enforced by the log at once and survives a restart.
func TestAlterConfigsDurableAndApplied(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, Config{DataDir: dir})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	adm := newAdm(t, b)
	rs, err := adm.AlterTopicConfigs(ctx(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("200")}}, "t")
	require.NoError(t, err)
	require.NoError(t, rs[0].Err)

	cl := newClient(t, b, kgo.DefaultProduceTopic("t"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))
	big := make([]byte, 400)
	err = cl.ProduceSync(ctx(t), &kgo.Record{Value: big}).FirstErr()
	assert.ErrorIs(t, err, kerr.MessageTooLarge)
	require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("small")}).FirstErr())

	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	v, explicit := describedConfig(t, newAdm(t, b2), "t", "max.message.bytes")
	assert.True(t, explicit)
	assert.Equal(t, "200", v)
}

// TestKafkaGoAlterConfigs: kafka-go's Client.AlterConfigs.
func TestKafkaGoAlterConfigs(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("kg", 1, nil))
	c := &kafkago.Client{Addr: kafkago.TCP(b.Addr()), Timeout: 10 * time.Second}
	resp, err := c.AlterConfigs(ctx(t), &kafkago.AlterConfigsRequest{Resources: []kafkago.AlterConfigRequestResource{
		{ResourceType: kafkago.ResourceTypeTopic, ResourceName: "kg", Configs: []kafkago.AlterConfigRequestConfig{{Name: "retention.ms", Value: "120000"}}},
		{ResourceType: kafkago.ResourceTypeTopic, ResourceName: "missing", Configs: []kafkago.AlterConfigRequestConfig{{Name: "retention.ms", Value: "1"}}},
	}})
	require.NoError(t, err)
	assert.NoError(t, resp.Errors[kafkago.AlterConfigsResponseResource{Type: int8(kafkago.ResourceTypeTopic), Name: "kg"}])
	assert.ErrorIs(t, resp.Errors[kafkago.AlterConfigsResponseResource{Type: int8(kafkago.ResourceTypeTopic), Name: "missing"}], kafkago.UnknownTopicOrPartition)
	v, explicit := describedConfig(t, newAdm(t, b), "kg", "retention.ms")
	assert.True(t, explicit)
	assert.Equal(t, "120000", v)
}

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTopicsLifecycle(t *testing.T) {
	c := cliCluster(t, 3)
	b := brokersArg(c)

	code, out, errOut := runCLI(t, topicsCmd, "create", "orders", "--partitions", "4", "--set", "retention.ms=60000", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "created topic orders with 4 partitions")

	code, _, errOut = runCLI(t, topicsCmd, "create", "orders", "--brokers", b)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "TOPIC_ALREADY_EXISTS")

	code, out, errOut = runCLI(t, topicsCmd, "list", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `orders\s+4`, out)

	produceRecords(t, c.ListenAddrs(),
		&kgo.Record{Topic: "orders", Partition: 2, Value: []byte("a")},
		&kgo.Record{Topic: "orders", Partition: 2, Value: []byte("b")})
	code, out, errOut = runCLI(t, topicsCmd, "describe", "orders", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `orders\s+2\s+\d+\s+\d+\s+\[\d+\]\s+\[\d+\]\s+0\s+2`, out)
	assert.Regexp(t, `orders\s+3\s+\d+\s+\d+\s+\[\d+\]\s+\[\d+\]\s+0\s+0`, out)

	code, out, errOut = runCLI(t, topicsCmd, "delete", "orders", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted topic orders")

	code, _, errOut = runCLI(t, topicsCmd, "describe", "orders", "--brokers", b)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "UNKNOWN_TOPIC_OR_PARTITION")
}

func TestTopicsBadArgs(t *testing.T) {
	for _, args := range [][]string{{}, {"frob"}, {"create"}, {"create", "a", "b"}, {"list", "x"}, {"describe"}} {
		code, _, _ := runCLI(t, topicsCmd, args...)
		assert.Equal(t, 2, code, "%q", args)
	}
	for _, args := range [][]string{{}, {"describe"}, {"list", "x"}} {
		code, _, _ := runCLI(t, groupsCmd, args...)
		assert.Equal(t, 2, code, "%q", args)
	}
}

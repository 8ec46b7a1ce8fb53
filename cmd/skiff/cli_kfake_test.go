package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cliCluster starts a kfake cluster for the client command tests.
func cliCluster(t *testing.T, brokers int, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(brokers)}, opts...)
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// runCLI runs a command's main function in-process and returns its exit
// code, stdout and stderr.
func runCLI(t *testing.T, main func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := main(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func consumeCmd(ctx context.Context, args []string, o, e *bytes.Buffer) int {
	return consumeMain(ctx, args, o, e)
}
func topicsCmd(ctx context.Context, args []string, o, e *bytes.Buffer) int {
	return topicsMain(ctx, args, o, e)
}
func groupsCmd(ctx context.Context, args []string, o, e *bytes.Buffer) int {
	return groupsMain(ctx, args, o, e)
}

func produceRecords(t *testing.T, addrs []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

func brokersArg(c *kfake.Cluster) string { return strings.Join(c.ListenAddrs(), ",") }

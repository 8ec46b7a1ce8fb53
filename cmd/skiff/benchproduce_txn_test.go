package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/broker"
)

// TestBenchProduceTxnRecords runs `skiff bench-produce --txn-records`
// for both clients against the bundled broker: the records arrive in
// committed transactions, so a read_committed consumer sees every one of
// them (the timed ones and the warm-up), and nothing is left open.
func TestBenchProduceTxnRecords(t *testing.T) {
	b, err := broker.Start(context.Background(), broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NumPartitions: 2,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, b.Close(ctx))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, client := range []string{"skiff", "kgo"} {
		t.Run(client, func(t *testing.T) {
			topic := "txn-bench-" + client
			require.NoError(t, b.CreateTopic(topic, 2, nil))
			var out, errOut bytes.Buffer
			code := benchProduceMain(ctx, []string{"--client", client, "--brokers", b.Addr(), "--topic", topic,
				"--records", "1050", "--txn-records", "100"}, &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			assert.Contains(t, out.String(), "client="+client+" records=1050 ")

			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
			require.NoError(t, err)
			defer cl.Close()
			n := 0
			for n < 1051 { // the last, partial transaction (50) and the warm-up included
				fs := cl.PollFetches(ctx)
				require.NoError(t, ctx.Err(), "read_committed saw %d of 1051 records", n)
				n += fs.NumRecords()
			}
			assert.Equal(t, 1051, n)
		})
	}
	var errOut bytes.Buffer
	assert.Equal(t, 2, benchProduceMain(ctx, []string{"--txn-records", "10", "--idempotent=false", "--acks", "1", "--brokers", b.Addr()}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "--txn-records must not be negative, and needs --idempotent")
}

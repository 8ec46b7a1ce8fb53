package producer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUrgentSendsEveryPartitionAtOnce: a young batch waits its own linger
// (TestLingerDeadlinesWithoutWakeups), but Flush sends every partition's
// batch at once, and with NoLinger a batch leaves as soon as it exists.
func TestUrgentSendsEveryPartitionAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
		flush  bool
	}{
		{"flush", time.Minute, true},
		{"no linger", NoLinger, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const partitions = 3
				usePipeBroker(t, "urgent", partitions)
				p, err := New(Config{Brokers: []string{"pipe:9092"}, Linger: tc.linger})
				require.NoError(t, err)
				defer func() { require.NoError(t, p.Close(context.Background())) }()
				require.NoError(t, p.Send(context.Background(), Record{Topic: "urgent", Value: []byte("w")}, nil))
				require.NoError(t, p.Flush(context.Background()))
				synctest.Wait()

				start := time.Now()
				acked := make(chan time.Duration, partitions)
				for i := range partitions {
					require.NoError(t, p.Send(context.Background(), Record{Topic: "urgent", Partition: ToPartition(int32(i)), Value: []byte("v")},
						func(_ RecordMetadata, err error) {
							assert.NoError(t, err)
							acked <- time.Since(start)
						}))
				}
				if tc.flush {
					require.NoError(t, p.Flush(context.Background()))
				}
				for range partitions {
					select {
					case d := <-acked:
						assert.Zero(t, d, "sent without lingering")
					case <-time.After(30 * time.Second): // virtual time, before the linger
						t.Fatal("a batch was not sent at once")
					}
				}
			})
		})
	}
}

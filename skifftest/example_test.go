package skifftest_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/skifftest"
)

// Testing code that must survive a leader change: the broker fails the next
// two produce requests with NOT_LEADER_OR_FOLLOWER, and the client is
// expected to retry until it succeeds.
func ExampleBroker_FailNext() {
	testOrders := func(t *testing.T) {
		b := skifftest.NewBroker(t, skifftest.WithTopic("orders", 3))
		b.FailNext(skifftest.Produce, 2, kerr.NotLeaderForPartition.Code)

		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("o-1")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	_ = testOrders // a func TestOrders(t *testing.T) in your _test.go file
}

func ExampleNewBroker() {
	testEvents := func(t *testing.T) {
		b := skifftest.NewBroker(t,
			skifftest.WithTopic("events", 1),
			skifftest.WithTopicConfigs("audit", 1, map[string]string{"retention.ms": "3600000"}),
		)
		_ = b.Addr() // point any Kafka client here; the broker stops with the test
	}
	_ = testEvents
}

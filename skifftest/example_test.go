package skifftest_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/skifftest"
)

// Testing code that must survive a leader change: the broker fails the next
// two produce requests with NOT_LEADER_OR_FOLLOWER, and the client is
// expected to retry until it succeeds.
func ExampleBroker_FailNext() {
	t, done := exampleT() // in your test: the *testing.T of func TestOrders
	defer done()

	b := skifftest.NewBroker(t, skifftest.WithTopic("orders", 3))
	b.FailNext(skifftest.Produce, 2, kerr.NotLeaderForPartition.Code)

	// NOT_LEADER_OR_FOLLOWER makes a client refresh metadata before it
	// retries; a short minimum age lets it do so at once (default 5s).
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec, err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("o-1")}).First()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("produced %s at offset %d after the injected failures; %d left\n", rec.Value, rec.Offset, b.Pending(skifftest.Produce))
	// Output:
	// produced o-1 at offset 0 after the injected failures; 0 left
}

func ExampleNewBroker() {
	t, done := exampleT() // in your test: the *testing.T of func TestEvents
	defer done()

	// The broker stops, and its data directory goes, with the test.
	b := skifftest.NewBroker(t,
		skifftest.WithTopic("events", 1),
		skifftest.WithTopicConfigs("audit", 2, map[string]string{"retention.ms": "3600000"}),
	)

	// Point any Kafka client at b.Addr(); here, franz-go asks what exists.
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(md.Topics, func(a, b kmsg.MetadataResponseTopic) int { return strings.Compare(*a.Topic, *b.Topic) })
	for _, topic := range md.Topics {
		if topic.IsInternal {
			continue // __consumer_offsets, as Kafka lists it
		}
		fmt.Printf("%s: %d partitions\n", *topic.Topic, len(topic.Partitions))
	}
	// Output:
	// audit: 2 partitions
	// events: 1 partitions
}

// exampleT stands in for the *testing.T an example does not have: NewBroker
// needs only its temporary directory, cleanups and failure reporting. done
// runs the cleanups, as the end of a test does.
func exampleT() (testing.TB, func()) {
	t := &exT{}
	return t, t.done
}

type exT struct {
	testing.TB // methods not defined below are not used by NewBroker
	cleanups   []func()
}

func (t *exT) Helper()                   {}
func (t *exT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exT) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *exT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exT) Fatal(a ...any)            { panic(fmt.Sprint(a...)) }
func (t *exT) TempDir() string {
	dir, err := os.MkdirTemp("", "skifftest-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *exT) done() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
}

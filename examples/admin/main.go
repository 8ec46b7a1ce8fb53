// Command admin shows the admin package at work: it creates a topic,
// produces to it, lets a consumer group read part of it, shows the group's
// lag as kafka-consumer-groups --describe does, and resets the group's
// offsets with a dry run first, as kafka-consumer-groups --reset-offsets
// does.
//
//	go run ./examples/admin
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory; with SKIFF_BROKERS=host:port it uses that cluster, with a topic
// and group named after the run so that nothing existing is touched.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
)

const partitions = 3

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, suffix, stop, err := cluster(ctx)
	if err != nil {
		return err
	}
	defer stop()
	topic, group := "orders"+suffix, "billing"+suffix

	adm, err := admin.New(admin.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	defer adm.Close(ctx)

	// 1. Create the topic.
	rs, err := adm.CreateTopics(ctx, admin.NewTopic{Name: topic, Partitions: partitions, Configs: map[string]string{"retention.ms": "3600000"}})
	if err != nil {
		return err
	}
	if err := rs.Error(); err != nil {
		return err
	}
	fmt.Fprintf(out, "created topic %s with %d partitions\n", topic, rs[0].Partitions)

	// 2. Produce ten records to each partition.
	if err := produce(ctx, brokers, topic, 10); err != nil {
		return err
	}

	// 3. A group member reads all thirty and commits; then ten more arrive.
	c, err := consumer.New(consumer.Config{
		Brokers: brokers, ClientID: "billing-app", GroupID: group, Topics: []string{topic},
		AutoOffsetReset: "earliest", DisableAutoCommit: true,
	})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for n := 0; n < 10*partitions; {
		recs, err := c.Poll(ctx)
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		n += len(recs)
	}
	if err := c.CommitSync(ctx); err != nil {
		return err
	}
	if err := produce(ctx, brokers, topic, 4); err != nil {
		return err
	}

	// 4. The group's lag, with its member.
	if err := describe(ctx, out, adm, group); err != nil {
		return err
	}

	// 5. Resetting a group with members is refused, as Kafka's tool does.
	_, err = adm.PlanResetOffsets(ctx, group, admin.ToEarliest(), map[string][]int32{topic: nil})
	if !errors.Is(err, admin.ErrGroupNotEmpty) {
		return fmt.Errorf("reset of an active group: got %v, want ErrGroupNotEmpty", err)
	}
	fmt.Fprintf(out, "\nreset refused while the member is in the group:\n  %v\n", err)

	// 6. The member leaves; plan a reset to the earliest offsets (the dry
	// run), then execute it.
	if err := c.Close(ctx); err != nil {
		return err
	}
	plan, err := adm.PlanResetOffsets(ctx, group, admin.ToEarliest(), map[string][]int32{topic: nil})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nplan (%s):\n", plan.Spec)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, p := range plan.Partitions {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", group, p.Topic, p.Partition, p.Current, p.Target)
	}
	tw.Flush()
	res, err := adm.ResetOffsets(ctx, plan)
	if err != nil {
		return err
	}
	if err := res.Error(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nexecuted; the group now reads from the start:\n")
	return describe(ctx, out, adm, group)
}

// describe prints the group's partitions as kafka-consumer-groups
// --describe does.
func describe(ctx context.Context, out io.Writer, adm *admin.Client, group string) error {
	lag, err := adm.Lag(ctx, group)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ngroup %s is %s\n", group, lag.State)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCLIENT-ID")
	for _, p := range lag.Partitions {
		client := p.ClientID
		if client == "" {
			client = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", group, p.Topic, p.Partition, p.Committed, p.End, p.Lag, client)
	}
	tw.Flush()
	fmt.Fprintf(out, "total lag %d\n", lag.Total)
	return nil
}

// produce writes n records to each partition of topic.
func produce(ctx context.Context, brokers []string, topic string, n int) error {
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	for part := range int32(partitions) {
		for i := range n {
			rec := producer.Record{Topic: topic, Partition: producer.ToPartition(part), Value: fmt.Append(nil, "order ", i)}
			if err := p.Send(ctx, rec, nil); err != nil {
				return err
			}
		}
	}
	return p.Close(ctx)
}

// cluster returns $SKIFF_BROKERS with a name suffix unique to this run, or
// the bundled broker started in a temporary directory; stop shuts it down
// and deletes its data.
func cluster(ctx context.Context) (brokers []string, suffix string, stop func(), err error) {
	if env := os.Getenv("SKIFF_BROKERS"); env != "" {
		return strings.Split(env, ","), fmt.Sprintf("-%d", time.Now().UnixNano()), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "skiff-example-")
	if err != nil {
		return nil, "", nil, err
	}
	b, err := broker.Start(ctx, broker.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		GroupInitialRebalanceDelay: -1, // one member: no need to wait for more
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return []string{b.Addr()}, "", func() { b.Close(context.Background()); os.RemoveAll(dir) }, nil
}

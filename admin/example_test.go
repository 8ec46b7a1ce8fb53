package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/producer"
)

// exampleBroker starts the bundled broker in a temporary directory.
func exampleBroker() (string, func()) {
	dir, err := os.MkdirTemp("", "skiff-admin-example-")
	if err != nil {
		panic(err)
	}
	b, err := broker.Start(context.Background(), broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	return b.Addr(), func() { _ = b.Close(context.Background()); _ = os.RemoveAll(dir) }
}

// Create a topic, fill it, and see a group's lag before and after resetting
// its offsets.
func Example() {
	addr, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	adm, err := admin.New(admin.Config{Brokers: []string{addr}})
	if err != nil {
		panic(err)
	}
	defer adm.Close(ctx)

	rs, err := adm.CreateTopics(ctx, admin.NewTopic{Name: "orders", Partitions: 2})
	if err != nil || rs.Error() != nil {
		panic(fmt.Sprint(err, rs.Error()))
	}

	p, err := producer.New(producer.Config{Brokers: []string{addr}})
	if err != nil {
		panic(err)
	}
	for i := range 10 {
		rec := producer.Record{Topic: "orders", Partition: producer.ToPartition(int32(i % 2)), Value: fmt.Append(nil, "order ", i)}
		if err := p.Send(ctx, rec, nil); err != nil {
			panic(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		panic(err)
	}

	// Point the (empty) group "billing" at the start of both partitions.
	plan, err := adm.PlanResetOffsets(ctx, "billing", admin.ToEarliest(), map[string][]int32{"orders": nil})
	if err != nil {
		panic(err)
	}
	for _, pr := range plan.Partitions {
		fmt.Printf("plan %s[%d]: %d -> %d\n", pr.Topic, pr.Partition, pr.Current, pr.Target)
	}
	if res, err := adm.ResetOffsets(ctx, plan); err != nil || res.Error() != nil {
		panic(fmt.Sprint(err, res.Error()))
	}

	lag, err := adm.Lag(ctx, "billing")
	if err != nil {
		panic(err)
	}
	for _, pl := range lag.Partitions {
		fmt.Printf("%s[%d] committed %d end %d lag %d\n", pl.Topic, pl.Partition, pl.Committed, pl.End, pl.Lag)
	}
	fmt.Println("total lag", lag.Total)

	// Skip the first three records of each partition.
	plan, err = adm.PlanResetOffsets(ctx, "billing", admin.ShiftBy(3), nil)
	if err != nil {
		panic(err)
	}
	if _, err := adm.ResetOffsets(ctx, plan); err != nil {
		panic(err)
	}
	lag, err = adm.Lag(ctx, "billing")
	if err != nil {
		panic(err)
	}
	fmt.Println("total lag after shift-by 3:", lag.Total)
	// Output:
	// plan orders[0]: -1 -> 0
	// plan orders[1]: -1 -> 0
	// orders[0] committed 0 end 5 lag 5
	// orders[1] committed 0 end 5 lag 5
	// total lag 10
	// total lag after shift-by 3: 4
}

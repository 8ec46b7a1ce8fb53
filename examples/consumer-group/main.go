// Command consumer-group runs two members of one consumer group on a
// 4-partition topic: the group coordinator splits the partitions between
// them, and each member reads only its own.
//
//	go run ./examples/consumer-group
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory (examples/internal/cluster); with SKIFF_BROKERS=host:port it uses
// that cluster, creating the topic if needed. Either way the group is deleted
// at the end, and on failure the consumers' log is printed.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/examples/internal/cluster"
	"github.com/skiffkit/skiff/producer"
)

const records = 1000

func main() {
	var clientLog cluster.Log
	if err := run(&clientLog); err != nil {
		clientLog.WriteTo(os.Stderr)
		log.Fatal(err)
	}
}

func run(clientLog *cluster.Log) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, stop, err := cluster.Start(ctx, "payments", 4)
	if err != nil {
		return err
	}
	defer stop()

	// Records of this run carry its id, so leftovers in a reused topic are not counted.
	run := fmt.Sprint(time.Now().UnixNano())
	group := "payments-" + run
	// Deferred before the members' Close (defers run last-in first-out):
	// a group can be deleted only once it has no members.
	defer func() {
		if err := cluster.DeleteGroup(context.Background(), brokers, group); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}()
	var (
		total   atomic.Int64
		owned   [2]atomic.Int64          // partitions each member holds now
		changed = make(chan struct{}, 1) // an assignment changed
		wg      sync.WaitGroup
	)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	defer wg.Wait()
	pctx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	for i, name := range []string{"member-1", "member-2"} {
		c, err := consumer.New(consumer.Config{
			Brokers: brokers, GroupID: group, Topics: []string{"payments"}, AutoOffsetReset: "earliest",
			Logger: clientLog.Logger(),
			Rebalance: consumer.RebalanceFuncs{
				Assigned: func(_ context.Context, _ *consumer.Consumer, ps []consumer.TopicPartition) {
					fmt.Printf("%s assigned %v\n", name, ps)
					owned[i].Add(int64(len(ps)))
					notify()
				},
				Revoked: func(_ context.Context, _ *consumer.Consumer, ps []consumer.TopicPartition) {
					fmt.Printf("%s revoked %v\n", name, ps)
					owned[i].Add(-int64(len(ps)))
					notify()
				},
			},
		})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close(context.Background())
			n := 0
			for {
				recs, err := c.Poll(pctx)
				if err != nil {
					fmt.Printf("%s consumed %d records\n", name, n)
					return
				}
				for _, r := range recs {
					if strings.HasPrefix(string(r.Value), run) {
						n++
						if total.Add(1) == records {
							stopPolling()
						}
					}
				}
			}
		}()
	}
	// Produce once the two members share the four partitions.
	shared := time.After(30 * time.Second)
	for owned[0].Load() == 0 || owned[1].Load() == 0 || owned[0].Load()+owned[1].Load() != 4 {
		select {
		case <-changed:
		case <-shared:
			return fmt.Errorf("the members did not share the partitions within 30s (the consumers' log is above)")
		}
	}

	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	for i := range records {
		if err := p.Send(ctx, producer.Record{Topic: "payments", Key: fmt.Append(nil, i), Value: fmt.Append(nil, run, " payment ", i)}, nil); err != nil {
			return err
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	wg.Wait()
	fmt.Printf("group consumed %d of %d records\n", total.Load(), records)
	return nil
}

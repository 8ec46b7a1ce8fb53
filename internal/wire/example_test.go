package wire_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
)

func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "orders"))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()

	cl, err := wire.NewClient(wire.Config{SeedBrokers: cluster.ListenAddrs()})
	if err != nil {
		panic(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Metadata: waits for the topic, then hot-path reads are lock-free.
	ti, err := cl.Topic(ctx, "orders")
	if err != nil {
		panic(err)
	}
	leader, _, _ := cl.Leader("orders", 0)
	fmt.Println("partitions:", len(ti.Partitions), "leader known:", leader == cluster.LeaderFor("orders", 0))

	// A request to a partition's leader over the shared pipelined conn.
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "orders"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.RequestNode(ctx, leader, req)
	if err != nil {
		panic(err)
	}
	fmt.Println("end offset:", resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset)
	// Output:
	// partitions: 3 leader known: true
	// end offset: 0
}

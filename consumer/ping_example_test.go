package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/skiffkit/skiff/consumer"
)

// A command-line tool fails fast when the cluster is not there, instead of
// letting Poll wait for the cluster.
func ExampleConsumer_Ping() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now

	c, err := consumer.New(consumer.Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"orders"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		// err reads "no broker reachable: 127.0.0.1:PORT: connection refused".
		fmt.Println("no broker:", errors.Is(err, consumer.ErrNoBrokers))
		fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))
	}
	// Output:
	// no broker: true
	// refused: true
}

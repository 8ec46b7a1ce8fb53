package producer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/skiffkit/skiff/producer"
)

// A command-line tool fails fast when the cluster is not there, instead of
// letting the first Send retry for max.block.
func ExampleProducer_Ping() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now

	p, err := producer.New(producer.Config{Brokers: []string{addr}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		// err reads "no broker reachable: 127.0.0.1:PORT: connection refused".
		fmt.Println("no broker:", errors.Is(err, producer.ErrNoBrokers))
		fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))
	}
	// Output:
	// no broker: true
	// refused: true
}

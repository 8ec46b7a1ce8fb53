// Package cluster gives every example the Kafka cluster it runs against, so
// the examples themselves show only what they teach.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/skiffkit/skiff/broker"
)

// Start returns the brokers listed in $SKIFF_BROKERS (comma-separated), where
// the topic must already exist (skiff topics create <topic> --partitions N);
// stop is then a no-op.
//
// Without SKIFF_BROKERS it starts the bundled broker on 127.0.0.1 in a new
// temporary directory and creates the topic with the given partitions; stop
// shuts the broker down and deletes the directory.
func Start(ctx context.Context, topic string, partitions int32) (brokers []string, stop func(), err error) {
	if env := os.Getenv("SKIFF_BROKERS"); env != "" {
		return strings.Split(env, ","), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "skiff-example-")
	if err != nil {
		return nil, nil, fmt.Errorf("bundled broker: %w", err)
	}
	b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("bundled broker: %w", err), os.RemoveAll(dir))
	}
	stop = func() {
		// Bounded so an example never hangs on its way out.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
		os.RemoveAll(dir)
	}
	if err := b.CreateTopic(topic, partitions, nil); err != nil {
		stop()
		return nil, nil, fmt.Errorf("create topic %s: %w", topic, err)
	}
	return []string{b.Addr()}, stop, nil
}

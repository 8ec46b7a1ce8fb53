// Package cluster gives every example the Kafka cluster it runs against, so
// the examples themselves show only what they teach.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/kerr"
)

// Start returns a cluster with the topic in it, created with the given
// partitions.
//
// With $SKIFF_BROKERS (comma-separated host:port) it uses that cluster: it
// creates the topic there, or checks that an existing one has at least
// the partitions the example needs (an example about keys and partitions
// proves nothing on one partition); stop is then a no-op.
//
// Without SKIFF_BROKERS it starts the bundled broker on 127.0.0.1 in a new
// temporary directory; stop shuts the broker down and deletes the directory.
func Start(ctx context.Context, topic string, partitions int32) (brokers []string, stop func(), err error) {
	if env := os.Getenv("SKIFF_BROKERS"); env != "" {
		brokers = strings.Split(env, ",")
		if err := ensureTopic(ctx, brokers, topic, partitions); err != nil {
			return nil, nil, err
		}
		return brokers, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "skiff-example-")
	if err != nil {
		return nil, nil, fmt.Errorf("bundled broker: %w", err)
	}
	b, err := broker.Start(ctx, broker.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		// No group.initial.rebalance.delay.ms (3 s in Kafka): an example's
		// group members all start at once, as in Kafka's own quickstarts.
		GroupInitialRebalanceDelay: -1,
	})
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

// CreateTopic creates one more topic on the cluster Start returned (or
// accepts an existing one with at least that many partitions), for
// examples that need two.
func CreateTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	return ensureTopic(ctx, brokers, topic, partitions)
}

// ensureTopic creates topic with partitions on the cluster, or accepts an
// existing one with at least that many, through skiff's admin client.
func ensureTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	adm, err := admin.New(admin.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	defer adm.Close(ctx)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// Replication factor zero: the cluster's default.replication.factor.
	rs, err := adm.CreateTopics(ctx, admin.NewTopic{Name: topic, Partitions: partitions})
	if err != nil {
		return fmt.Errorf("create topic %s on %s: %w", topic, strings.Join(brokers, ","), err)
	}
	switch err := rs.Error(); {
	case err == nil:
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	// It exists: it must have enough partitions for what the example shows.
	ts, err := adm.DescribeTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	for _, t := range ts {
		if t.Err != nil {
			return fmt.Errorf("topic %s: %w", topic, t.Err)
		}
		if n := int32(len(t.Partitions)); n < partitions {
			have := fmt.Sprintf("%d partitions", n)
			if n == 1 {
				have = "1 partition"
			}
			return fmt.Errorf("topic %s exists with %s; this example needs %d (skiff topics delete %s, or use another cluster)", topic, have, partitions, topic)
		}
	}
	return nil
}

// DeleteGroup removes a consumer group the example created, so runs against
// a shared cluster leave nothing behind. The group must be empty (its
// members closed).
func DeleteGroup(ctx context.Context, brokers []string, group string) error {
	adm, err := admin.New(admin.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	defer adm.Close(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rs, err := adm.DeleteGroups(ctx, group)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		return fmt.Errorf("delete group %s: %w", group, err)
	}
	return nil
}

// Log is a logger for the example's clients that keeps what they log, to
// be printed only when the example fails: a working example prints only
// what it teaches, a failing one shows why.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Logger returns a debug-level logger writing into l.
func (l *Log) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// WriteTo writes what was logged so far to w, under a header line.
func (l *Log) WriteTo(w io.Writer) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := fmt.Fprintln(w, "--- the consumer's log ---")
	if err != nil {
		return int64(n), err
	}
	m, err := w.Write(l.buf.Bytes())
	return int64(n + m), err
}

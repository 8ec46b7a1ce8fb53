// Command exactly-once is a consume → transform → produce pipeline with
// transactions (Kafka's exactly-once, KIP-98 and KIP-447): it reads words
// from one topic, writes them in upper case to another, and commits its
// input offsets inside the same transaction, so a crash never loses or
// duplicates a word in what read_committed readers see. To prove it, the
// first pipeline "crashes" in the middle of a transaction it has already
// written, and a second one with the same transactional id and group
// finishes the job.
//
//	go run ./examples/exactly-once
//
// With SKIFF_BROKERS=host:port it uses that cluster, which must serve
// transactions (Kafka does); without it, the bundled broker, which runs a
// transaction coordinator of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/eos"
	"github.com/skiffkit/skiff/examples/internal/cluster"
	"github.com/skiffkit/skiff/producer"
)

const words = 200

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
	brokers, stop, err := brokers(ctx)
	if err != nil {
		return err
	}
	defer stop()
	// Names carry this run's id, so leftovers in a reused cluster do not count.
	run := fmt.Sprint(time.Now().UnixNano())
	cfg := config{brokers: brokers, group: "shouter-" + run, txnID: "shouter-" + run, log: clientLog}

	in, err := producer.New(producer.Config{Brokers: brokers, Logger: clientLog.Logger()})
	if err != nil {
		return err
	}
	for i := range words {
		if err := in.Send(ctx, producer.Record{Topic: "words", Value: fmt.Appendf(nil, "word-%d-%s", i, run)}, nil); err != nil {
			return err
		}
	}
	if err := in.Close(ctx); err != nil {
		return err
	}

	// The first pipeline stops, uncommitted, in the middle of a transaction
	// once it has done about half: its output is in the log, but aborted
	// when the second pipeline's InitTransactions fences it.
	done, err := pipeline(ctx, cfg, words/2, true)
	if err != nil {
		return err
	}
	fmt.Printf("first pipeline committed %d words, then crashed mid-transaction\n", done)
	rest, err := pipeline(ctx, cfg, words-done, false)
	if err != nil {
		return err
	}
	fmt.Printf("second pipeline committed the other %d words\n", rest)

	got, err := readCommitted(ctx, cfg, run)
	if err != nil {
		return err
	}
	dups := 0
	seen := map[string]bool{}
	for _, w := range got {
		if seen[w] {
			dups++
		}
		seen[w] = true
	}
	fmt.Printf("read_committed sees %d words in shouts, %d distinct, %d duplicates\n", len(got), len(seen), dups)
	if len(seen) != words || dups != 0 {
		return fmt.Errorf("not exactly once: %d distinct of %d, %d duplicates", len(seen), words, dups)
	}
	return nil
}

type config struct {
	brokers      []string
	group, txnID string
	log          *cluster.Log
}

// pipeline consumes, transforms and produces, one transaction per Poll,
// until it has committed want words. With crash set it instead returns
// after writing (but not committing) the transaction that passes want,
// closing its clients as a killed process would leave them.
func pipeline(ctx context.Context, cfg config, want int, crash bool) (int, error) {
	c, err := consumer.New(consumer.Config{
		Brokers: cfg.brokers, GroupID: cfg.group, Topics: []string{"words"}, AutoOffsetReset: "earliest",
		DisableAutoCommit: true,                   // offsets go only through transactions
		IsolationLevel:    consumer.ReadCommitted, // input from transactional producers: only committed
		MaxPollRecords:    20, Logger: cfg.log.Logger(),
	})
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	p, err := producer.New(producer.Config{Brokers: cfg.brokers, TransactionalID: cfg.txnID, Logger: cfg.log.Logger()})
	if err != nil {
		return 0, err
	}
	defer p.Close(context.Background()) // no commit: a crash looks the same
	if err := p.InitTransactions(ctx); err != nil {
		return 0, err
	}
	done := 0
	for done < want {
		recs, err := c.Poll(ctx)
		if err != nil {
			return done, err
		}
		if len(recs) == 0 {
			continue
		}
		if err := p.BeginTransaction(); err != nil {
			return done, err
		}
		for _, r := range recs {
			out := producer.Record{Topic: "shouts", Value: []byte(strings.ToUpper(string(r.Value)))}
			if err := p.Send(ctx, out, nil); err != nil {
				return done, err
			}
		}
		if err := eos.SendOffsets(ctx, p, c); err != nil {
			return done, err
		}
		if crash && done+len(recs) >= want {
			return done, p.Flush(ctx) // written, never committed
		}
		if err := p.CommitTransaction(ctx); err != nil {
			if !errors.Is(err, producer.ErrAbortableTxn) {
				return done, err // fenced or fatal: this process must stop
			}
			// Abort, and read the batch again from the committed offsets.
			if err := p.AbortTransaction(ctx); err != nil {
				return done, err
			}
			for _, tp := range c.Assignment() {
				if err := c.Seek(tp.Topic, tp.Partition, consumer.OffsetCommitted); err != nil {
					return done, err
				}
			}
			continue
		}
		done += len(recs)
	}
	return done, nil
}

// readCommitted reads shouts with read_committed up to a marker written
// after both pipelines, and returns this run's words.
func readCommitted(ctx context.Context, cfg config, run string) ([]string, error) {
	p, err := producer.New(producer.Config{Brokers: cfg.brokers, Logger: cfg.log.Logger()})
	if err != nil {
		return nil, err
	}
	_, err = p.SendSync(ctx, producer.Record{Topic: "shouts", Value: []byte("END-" + run)})
	if err := errors.Join(err, p.Close(ctx)); err != nil {
		return nil, err
	}
	c, err := consumer.New(consumer.Config{
		Brokers: cfg.brokers, IsolationLevel: consumer.ReadCommitted, Logger: cfg.log.Logger(),
		Assign: map[string][]consumer.TopicPartitionOffset{"shouts": {{Partition: 0, Offset: consumer.OffsetEarliest}}},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	suffix := strings.ToUpper("-" + run)
	var out []string
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			switch v := string(r.Value); {
			case v == "END-"+run:
				return out, nil
			case strings.HasSuffix(v, suffix):
				out = append(out, v)
			}
		}
	}
}

// brokers is $SKIFF_BROKERS or the bundled broker, with both topics.
func brokers(ctx context.Context) ([]string, func(), error) {
	b, stop, err := cluster.Start(ctx, "words", 3)
	if err != nil {
		return nil, nil, err
	}
	if err := cluster.CreateTopic(ctx, b, "shouts", 1); err != nil {
		stop()
		return nil, nil, err
	}
	return b, stop, nil
}

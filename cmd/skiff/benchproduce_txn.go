package main

import (
	"context"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/producer"
)

// bench-produce --txn-records N: the same records, sent in transactions of
// N records each (issue 11's transactional vs idempotent comparison, across
// processes; BenchmarkTxnVsIdempotentProduce in broker/ is the in-process
// one). Needs a broker with a transaction coordinator (the bundled broker,
// not `skiff sink`). The timed part includes every BeginTransaction and
// CommitTransaction; the warm-up record is its own transaction.

// benchTxnID is the transactional.id of one bench-produce process: unique,
// so two runs against one broker do not fence each other.
func benchTxnID(client string) string {
	return fmt.Sprintf("skiff-bench-produce-%s-%d", client, os.Getpid())
}

// txnBatches wraps a timed send and flush so that every txnRecords records
// form one transaction: begin before the first record of each, commit
// before the next begins and before the final flush. With txnRecords 0 it
// returns send and flush unchanged.
func txnBatches(txnRecords int, begin, commit func() error, send func(int) error, flush func() error) (func(int) error, func() error) {
	if txnRecords <= 0 {
		return send, flush
	}
	open := false
	return func(i int) error {
			if i%txnRecords == 0 {
				if open {
					if err := commit(); err != nil {
						return fmt.Errorf("commit: %w", err)
					}
				}
				if err := begin(); err != nil {
					return fmt.Errorf("begin: %w", err)
				}
				open = true
			}
			return send(i)
		}, func() error {
			if open {
				if err := commit(); err != nil {
					return fmt.Errorf("commit: %w", err)
				}
				open = false
			}
			return flush()
		}
}

// skiffTxn returns the begin and commit of a skiff producer for
// --txn-records (InitTransactions done), or no-ops without it.
func skiffTxn(ctx context.Context, p *producer.Producer, s benchProduceSettings) (begin, commit func() error, err error) {
	if s.txnRecords <= 0 {
		nop := func() error { return nil }
		return nop, nop, nil
	}
	if err := p.InitTransactions(ctx); err != nil {
		return nil, nil, fmt.Errorf("InitTransactions: %w", err)
	}
	return p.BeginTransaction, func() error { return p.CommitTransaction(ctx) }, nil
}

// kgoTxn is skiffTxn for a kgo client made with kgo.TransactionalID.
func kgoTxn(ctx context.Context, cl *kgo.Client, s benchProduceSettings) (begin, commit func() error) {
	if s.txnRecords <= 0 {
		nop := func() error { return nil }
		return nop, nop
	}
	// kgo's EndTransaction does not flush (skiff's and Java's commit do).
	return cl.BeginTransaction, func() error {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
}

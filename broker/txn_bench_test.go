package broker

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/skiffkit/skiff/producer"
)

// txnBenchRecords is the size of one transaction, and of one idempotent
// round, in BenchmarkTxnVsIdempotentProduce.
const txnBenchRecords = 1000

// BenchmarkTxnVsIdempotentProduce measures what transactions cost a
// producer: each iteration is one round of txnBenchRecords idempotent
// records (Send, then Flush) and one transaction of txnBenchRecords
// records (BeginTransaction, Send, CommitTransaction), alternating which
// goes first, by two skiff producers into the bundled broker running in
// the benchmark's process (fsync interval, the default; 3 partitions;
// 100-byte random values; acks=all; linger 5 ms). It reports both rates
// and their ratio. A transaction adds AddPartitionsToTxn for each new
// partition, EndTxn (answered once PrepareCommit is fsynced in the
// transaction log) and the markers, which the next transaction may wait
// for (CONCURRENT_TRANSACTIONS while the previous one completes).
//
//	go test -run '^$' -bench TxnVsIdempotent -benchtime 20x -count 3 ./broker/
func BenchmarkTxnVsIdempotentProduce(b *testing.B) {
	br := startBroker(b, Config{NumPartitions: 3, Logger: discardLogger()})
	if err := br.CreateTopic("txn-bench", 3, nil); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	newProducer := func(txnID string) *producer.Producer {
		p, err := producer.New(producer.Config{Brokers: []string{br.Addr()}, TransactionalID: txnID, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = p.Close(c)
		})
		return p
	}
	idem, txn := newProducer(""), newProducer("txn-bench")
	if err := txn.InitTransactions(ctx); err != nil {
		b.Fatal(err)
	}
	values := make([][]byte, txnBenchRecords)
	for i := range values {
		values[i] = make([]byte, 100)
		_, _ = rand.Read(values[i])
	}
	send := func(p *producer.Producer) {
		for _, v := range values {
			if err := p.Send(ctx, producer.Record{Topic: "txn-bench", Value: v}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	idemRound := func() time.Duration {
		start := time.Now()
		send(idem)
		if err := idem.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	txnRound := func() time.Duration {
		start := time.Now()
		if err := txn.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		send(txn)
		if err := txn.CommitTransaction(ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// One round of each before timing: connections, metadata, producer ids.
	idemRound()
	txnRound()
	b.ResetTimer()
	var idemTime, txnTime time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			idemTime += idemRound()
			txnTime += txnRound()
		} else {
			txnTime += txnRound()
			idemTime += idemRound()
		}
		i++
	}
	records := float64(i * txnBenchRecords)
	idemRate, txnRate := records/idemTime.Seconds(), records/txnTime.Seconds()
	b.ReportMetric(idemRate, "idem-records/s")
	b.ReportMetric(txnRate, "txn-records/s")
	b.ReportMetric(txnRate/idemRate, "txn/idem")
	b.ReportMetric(float64(txnTime.Microseconds())/float64(i)/1000, "ms/txn")
}

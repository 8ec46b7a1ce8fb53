package producer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/skiffkit/skiff/kerr"
)

// TestRetryWait pins the transactional retry backoff: a transaction's
// first AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS (the previous
// transaction's markers are being written) retries every 20 ms, as Java's
// ADD_PARTITIONS_RETRY_BACKOFF_MS, instead of waiting RetryBackoff and
// doubling it; every other retry doubles up to a second. Before, each
// transaction right after a commit waited 100 ms (the benchmark
// BenchmarkTxnVsIdempotentProduce in broker/ showed 100 ms per 1,000-record
// transaction).
func TestRetryWait(t *testing.T) {
	concurrent := fmt.Errorf("AddPartitionsToTxn: %w", kerr.ConcurrentTransactions)
	tests := []struct {
		name              string
		err               error
		backoff, short    time.Duration
		wantWait, wantNxt time.Duration
	}{
		{"first AddPartitions, concurrent", concurrent, 100 * time.Millisecond, firstAddPartitionsBackoff, 20 * time.Millisecond, 100 * time.Millisecond},
		{"first AddPartitions, other retriable", kerr.CoordinatorLoadInProgress, 100 * time.Millisecond, firstAddPartitionsBackoff, 100 * time.Millisecond, 200 * time.Millisecond},
		{"later request, concurrent", concurrent, 100 * time.Millisecond, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{"doubling stops at a second", concurrent, 800 * time.Millisecond, 0, 800 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, next := retryWait(tt.err, tt.backoff, tt.short)
			assert.Equal(t, tt.wantWait, wait)
			assert.Equal(t, tt.wantNxt, next)
		})
	}
}

package txncoord

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stateEntry(id string, state State) []logEntry {
	return []logEntry{{kind: entryState, txnID: id, rec: txnRecord{producerID: 1, epoch: 1, state: state}}}
}

// openTestStore opens the transaction log in dir and returns it with the
// ids whose entries it replayed, in order.
func openTestStore(t *testing.T, dir string) (*txnStore, []string) {
	t.Helper()
	var ids []string
	s, err := openTxnStore(dir, slog.New(slog.DiscardHandler), func(e *logEntry) { ids = append(ids, e.txnID) })
	require.NoError(t, err)
	return s, ids
}

// holdSyncs makes s's fsync rounds wait on release; entered receives one
// value as each round starts.
func holdSyncs(s *txnStore, err error) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 16), make(chan struct{})
	s.mu.Lock()
	s.beforeSync = func() error {
		entered <- struct{}{}
		<-release
		return err
	}
	s.mu.Unlock()
	return entered, release
}

// TestGroupCommitSharesFsyncs: appends for different ids made while an
// fsync runs are written at once and made durable together by the next
// round: four appends, two fsyncs. Everything survives a reopen, in write
// order.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTestStore(t, dir)
	entered, release := holdSyncs(s, nil)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { errs[0] = s.append(stateEntry("t0", Ongoing)) })
	<-entered // round 1 runs for t0 alone
	for i := 1; i < 4; i++ {
		wg.Go(func() { errs[i] = s.append(stateEntry(fmt.Sprintf("t%d", i), Ongoing)) })
	}
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.written == 4
	}, 10*time.Second, time.Millisecond, "the three later appends write while round 1 runs")
	release <- struct{}{} // round 1 ends
	<-entered             // round 2, for t1..t3 together
	release <- struct{}{}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "append %d", i)
	}
	assert.Equal(t, 2, s.syncs, "four appends, two fsyncs")
	require.NoError(t, s.close())

	s, ids := openTestStore(t, dir)
	defer s.close()
	assert.Len(t, ids, 4)
	assert.Equal(t, "t0", ids[0])
	assert.ElementsMatch(t, []string{"t0", "t1", "t2", "t3"}, ids)
}

// TestGroupCommitFailedFsync: a failed fsync fails every append it was to
// cover and every append written after it, truncates their frames, and
// fails the store until it is reopened: a later fsync could succeed without
// the lost pages. What was durable before stays.
func TestGroupCommitFailedFsync(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTestStore(t, dir)
	require.NoError(t, s.append(stateEntry("durable", Ongoing)))
	st, err := os.Stat(s.path)
	require.NoError(t, err)
	durableSize := st.Size()

	disk := errors.New("injected EIO")
	entered, release := holdSyncs(s, disk)
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { errA = s.append(stateEntry("a", Ongoing)) })
	<-entered
	wg.Go(func() { errB = s.append(stateEntry("b", Ongoing)) })
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.written == 3
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.ErrorIs(t, errA, disk)
	assert.ErrorIs(t, errB, disk, "written after the failed round began: not durable either")
	assert.ErrorIs(t, s.append(stateEntry("c", Ongoing)), disk, "the store stays failed")
	st, err = os.Stat(s.path)
	require.NoError(t, err)
	assert.Equal(t, durableSize, st.Size(), "the frames not known durable are truncated")
	require.NoError(t, s.close())

	s, ids := openTestStore(t, dir)
	defer s.close()
	assert.Equal(t, []string{"durable"}, ids)
	require.NoError(t, s.append(stateEntry("d", Ongoing)), "a reopened store appends again")
}

// TestGroupCommitCloseWaits: close waits for an append whose fsync is
// running, which then succeeds; appends after close fail with ErrClosed.
func TestGroupCommitCloseWaits(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTestStore(t, dir)
	entered, release := holdSyncs(s, nil)
	var wg sync.WaitGroup
	var appendErr, closeErr error
	wg.Go(func() { appendErr = s.append(stateEntry("a", Ongoing)) })
	<-entered
	closed := make(chan struct{})
	wg.Go(func() { closeErr = s.close(); close(closed) })
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closed
	}, 10*time.Second, time.Millisecond)
	select {
	case <-closed:
		t.Fatal("close returned while an append was in its fsync")
	default:
	}
	close(release)
	wg.Wait()
	require.NoError(t, appendErr)
	require.NoError(t, closeErr)
	assert.ErrorIs(t, s.append(stateEntry("b", Ongoing)), ErrClosed)
	s, ids := openTestStore(t, dir)
	defer s.close()
	assert.Equal(t, []string{"a"}, ids)
}

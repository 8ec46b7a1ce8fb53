package coordinator

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TxnOffset is one offset a committed transaction makes visible
// (TxnOffsetCommit, staged by the transaction coordinator).
type TxnOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 when the client sent none
	Metadata    *string
}

// ValidateTxnOffsetCommit checks the member and generation of a
// TxnOffsetCommit as an OffsetCommit's are checked (KIP-447). As Kafka's
// GroupCoordinator.validateOffsetCommit with isTransactional, a commit that
// names no member, instance or generation (TxnOffsetCommit before v3) is not
// checked against the group's membership.
func (c *Coordinator) ValidateTxnOffsetCommit(group, memberID string, groupInstanceID *string, generation int32) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.InstanceID, req.Generation = group, memberID, groupInstanceID, generation
	var code int16
	c.locked(func() {
		switch {
		case c.closed:
			code = kerr.NotCoordinator.Code
		case generation < 0 && memberID == "" && groupInstanceID == nil:
			if len(group) > maxNameLen {
				code = kerr.InvalidGroupID.Code
			}
		default:
			code = c.commitGroupCode(req)
		}
	})
	if code != 0 {
		e, _ := kerr.Lookup(code)
		return fmt.Errorf("%w: txn offset commit for group %q", e, group)
	}
	return nil
}

// CommitTxnOffsets makes offsets visible to OffsetFetch, all of them in one
// frame of the offsets log (so atomically, crash or not), and returns once
// that frame is fsynced. Committing the same offsets again rewrites the same
// values, so a transaction coordinator replaying a commit after a restart is
// harmless.
func (c *Coordinator) CommitTxnOffsets(group string, offsets []TxnOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	entries := make([]logEntry, len(offsets))
	for i, o := range offsets {
		v := offsetValue{offset: o.Offset, leaderEpoch: o.LeaderEpoch, commitTime: now, expireTime: -1}
		if o.Metadata != nil {
			md := *o.Metadata
			v.metadata = &md
		}
		entries[i] = logEntry{kind: entryCommit, key: offsetKey{group, o.Topic, o.Partition}, value: v}
	}
	done := make(chan error, 1)
	c.store.submit(&storeOp{entries: entries, done: func(err error) { done <- err }})
	if err := <-done; err != nil {
		return fmt.Errorf("coordinator: commit txn offsets of group %q: %w", group, err)
	}
	return nil
}

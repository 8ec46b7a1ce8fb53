// Package eos joins a skiff consumer and a transactional skiff producer
// for exactly-once consume-transform-produce (Kafka's EOS, KIP-98 and
// KIP-447).
//
// It lives apart from both because neither may import the other (the
// consume and send paths are independent, see docs/architecture.md); this
// small package imports the two, as a user's program would.
//
// The loop, as in Java:
//
//	p.InitTransactions(ctx)
//	for {
//		recs, _ := c.Poll(ctx)   // consumer with DisableAutoCommit, ReadCommitted
//		p.BeginTransaction()
//		... p.Produce the transformed records ...
//		eos.SendOffsets(ctx, p, c)
//		p.CommitTransaction(ctx)  // on an abortable error: AbortTransaction, then rewind c
//	}
package eos

import (
	"context"
	"errors"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
)

// Transactional is what SendOffsets needs of a producer: both
// *producer.Producer and *producer.Typed have it.
type Transactional interface {
	SendOffsetsToTransaction(ctx context.Context, offsets map[string]map[int32]producer.Offset, group producer.GroupMetadata) error
}

// ErrAutoCommit is returned by SendOffsets for a consumer that commits on
// its own: its auto-commits would commit input whose output a later abort
// throws away, so Kafka requires enable.auto.commit=false for EOS.
var ErrAutoCommit = errors.New("eos: the consumer must have DisableAutoCommit set")

// SendOffsets commits, inside p's open transaction, the positions of the
// records c has returned so far (the next offset of each owned partition)
// for c's group, with c's current generation and member id so that the
// coordinator refuses a member that lost its partitions (KIP-447). The
// offsets become the group's committed offsets only if the transaction
// commits. With nothing positioned yet it sends nothing.
func SendOffsets(ctx context.Context, p Transactional, c *consumer.Consumer) error {
	if !c.Config().DisableAutoCommit {
		return ErrAutoCommit
	}
	md := c.GroupMetadata()
	if md.GroupID == "" {
		return consumer.ErrNoGroup
	}
	pos := c.Positions()
	if len(pos) == 0 {
		return nil
	}
	offsets := make(map[string]map[int32]producer.Offset)
	for tp, o := range pos {
		parts := offsets[tp.Topic]
		if parts == nil {
			parts = make(map[int32]producer.Offset)
			offsets[tp.Topic] = parts
		}
		parts[tp.Partition] = producer.Offset{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata}
	}
	// The two GroupMetadata types share their fields, so this is a
	// conversion, not a copy by hand that a new field could miss.
	return p.SendOffsetsToTransaction(ctx, offsets, producer.GroupMetadata(md))
}

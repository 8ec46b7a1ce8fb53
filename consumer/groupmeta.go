package consumer

// GroupMetadata is the consumer's group membership (Java's
// ConsumerGroupMetadata), handed to a transactional producer's
// SendOffsetsToTransaction so that the group coordinator can fence a zombie
// that lost its partitions in a rebalance (KIP-447).
//
// Its fields are those of producer.GroupMetadata, in the same order and
// with the same types, so producer.GroupMetadata(c.GroupMetadata()) is a
// plain Go conversion: the consumer and the producer stay independent
// packages (neither imports the other) and no third package has to own the
// type. The eos package does the conversion for the usual loop.
type GroupMetadata struct {
	GroupID         string
	GenerationID    int32  // -1 while not in a generation (or without a group)
	MemberID        string // "" until the coordinator assigned one
	GroupInstanceID string // group.instance.id of a static member, "" if none
}

// GroupMetadata returns the consumer's current group id, generation,
// member id and group instance id. Java reads it after each poll, since a
// rebalance changes the generation: read it right before
// SendOffsetsToTransaction, not once at start. Without a group (Assign
// only) GroupID is "" and GenerationID -1.
func (c *Consumer) GroupMetadata() GroupMetadata {
	md := GroupMetadata{GroupID: c.cfg.GroupID, GenerationID: -1, GroupInstanceID: c.cfg.GroupInstanceID}
	if c.g != nil {
		md.GenerationID, md.MemberID = c.g.identity()
	}
	return md
}

// Positions returns, for every owned partition whose position is known,
// the next offset Poll will return with the leader epoch of the record
// before it: what CommitSync would commit. A transactional pipeline sends
// these with SendOffsetsToTransaction instead of committing them, so that
// the commit of its input is atomic with its output.
func (c *Consumer) Positions() map[TopicPartition]TopicPartitionOffset {
	return c.positions(false, false)
}

// Config returns the consumer's configuration with its defaults filled in,
// so that code given a consumer (such as the eos package, which requires
// DisableAutoCommit) can check how it was built.
func (c *Consumer) Config() Config { return c.cfg }

package admin

import (
	"errors"

	"github.com/skiffkit/skiff/internal/wire"
)

// Sentinel errors of the admin package. Kafka error codes come back as
// kerr values (kerr.UnknownTopicOrPartition, kerr.InvalidPartitions,
// kerr.InvalidConfig, kerr.UnsupportedVersion, ...), usable with errors.Is;
// per-item errors sit in each result's Err field, wrapped with the broker's
// error message when it sent one.
var (
	// ErrClosed is returned by every method after Close, including calls
	// that were already under way when Close ran.
	ErrClosed = wire.ErrClientClosed

	// ErrGroupNotEmpty is returned by PlanResetOffsets and ResetOffsets
	// when the group still has members: as with kafka-consumer-groups
	// --reset-offsets, offsets are only reset while the group is inactive
	// (Empty or unknown), because active members would overwrite the reset
	// with their next commit. Stop the consumers and retry. The error also
	// wraps kerr.NonEmptyGroup.
	ErrGroupNotEmpty = errors.New("admin: group has active members")

	// ErrConnClosed is wrapped when a request's connection died before
	// its response arrived (a broker that went away, a request timeout,
	// Close). Read-only calls are sent again before this surfaces; for a
	// call that changes something (CreateTopics, AlterConfigs,
	// ResetOffsets, ...) it means the change may or may not have been
	// applied: describe before retrying.
	ErrConnClosed = wire.ErrConnClosed

	// ErrMalformedResponse is wrapped when a broker's response does not
	// match its request (a missing topic, an unexpected type).
	ErrMalformedResponse = errors.New("admin: malformed response")
)

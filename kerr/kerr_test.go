package kerr

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForCodeRoundTrip(t *testing.T) {
	require.Nil(t, ForCode(0))
	for _, e := range All() {
		got := ForCode(e.Code)
		require.NotNil(t, got, "code %d", e.Code)
		assert.Same(t, e, got, "code %d", e.Code)
		assert.Equal(t, e.Code, Code(got))
		l, ok := Lookup(e.Code)
		assert.True(t, ok)
		assert.Same(t, e, l)
	}
}

func TestTableUnique(t *testing.T) {
	codes := map[int16]string{}
	names := map[string]int16{}
	for _, e := range known {
		_, dup := codes[e.Code]
		require.False(t, dup, "duplicate code %d", e.Code)
		_, dup = names[e.Message]
		require.False(t, dup, "duplicate name %s", e.Message)
		codes[e.Code], names[e.Message] = e.Message, e.Code
		assert.NotEmpty(t, e.Description, e.Message)
	}
	// Every code from -1 through the highest known one is present: the
	// protocol allocates codes densely, so a gap means a missing entry.
	for c := int16(-1); c <= known[len(known)-1].Code; c++ {
		if c == 0 {
			continue
		}
		_, ok := codes[c]
		assert.True(t, ok, "code %d missing", c)
	}
	assert.Len(t, All(), len(known))
}

// Expected values are pinned from Kafka's published protocol error table,
// not from this package, so a typo in the table fails here.
func TestKnownCodes(t *testing.T) {
	tests := []struct {
		err       *Error
		code      int16
		name      string
		retriable bool
	}{
		{UnknownServerError, -1, "UNKNOWN_SERVER_ERROR", false},
		{OffsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE", false},
		{CorruptMessage, 2, "CORRUPT_MESSAGE", true},
		{UnknownTopicOrPartition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true},
		{LeaderNotAvailable, 5, "LEADER_NOT_AVAILABLE", true},
		{NotLeaderForPartition, 6, "NOT_LEADER_OR_FOLLOWER", true},
		{RequestTimedOut, 7, "REQUEST_TIMED_OUT", true},
		{MessageTooLarge, 10, "MESSAGE_TOO_LARGE", false},
		{NetworkException, 13, "NETWORK_EXCEPTION", true},
		{CoordinatorLoadInProgress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true},
		{CoordinatorNotAvailable, 15, "COORDINATOR_NOT_AVAILABLE", true},
		{NotCoordinator, 16, "NOT_COORDINATOR", true},
		{RecordListTooLarge, 18, "RECORD_LIST_TOO_LARGE", false},
		{NotEnoughReplicas, 19, "NOT_ENOUGH_REPLICAS", true},
		{NotEnoughReplicasAfterAppend, 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true},
		{IllegalGeneration, 22, "ILLEGAL_GENERATION", false},
		{InconsistentGroupProtocol, 23, "INCONSISTENT_GROUP_PROTOCOL", false},
		{UnknownMemberID, 25, "UNKNOWN_MEMBER_ID", false},
		{RebalanceInProgress, 27, "REBALANCE_IN_PROGRESS", false},
		{UnsupportedVersion, 35, "UNSUPPORTED_VERSION", false},
		{TopicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS", false},
		{NotController, 41, "NOT_CONTROLLER", true},
		{OutOfOrderSequenceNumber, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false},
		{DuplicateSequenceNumber, 46, "DUPLICATE_SEQUENCE_NUMBER", false},
		{InvalidProducerEpoch, 47, "INVALID_PRODUCER_EPOCH", false},
		{KafkaStorageError, 56, "KAFKA_STORAGE_ERROR", true},
		{UnknownProducerID, 59, "UNKNOWN_PRODUCER_ID", false},
		{FencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH", true},
		{UnknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH", true},
		{OffsetNotAvailable, 78, "OFFSET_NOT_AVAILABLE", true},
		{InvalidRecord, 87, "INVALID_RECORD", false},
		{UnstableOffsetCommit, 88, "UNSTABLE_OFFSET_COMMIT", true},
		{ThrottlingQuotaExceeded, 89, "THROTTLING_QUOTA_EXCEEDED", true},
		{ProducerFenced, 90, "PRODUCER_FENCED", false},
		{UnknownTopicID, 100, "UNKNOWN_TOPIC_ID", true},
		{TransactionAbortable, 120, "TRANSACTION_ABORTABLE", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.code, tt.err.Code)
			assert.Equal(t, tt.name, tt.err.Message)
			assert.Equal(t, tt.retriable, tt.err.Retriable)
			assert.Equal(t, tt.retriable, IsRetriable(ForCode(tt.code)))
		})
	}
	assert.Same(t, NotLeaderForPartition, NotLeaderOrFollower)
}

func TestErrorString(t *testing.T) {
	assert.Equal(t, "NOT_LEADER_OR_FOLLOWER: "+NotLeaderForPartition.Description, NotLeaderForPartition.Error())
	assert.Equal(t, "X", (&Error{Message: "X"}).Error())
}

func TestWrapping(t *testing.T) {
	err := fmt.Errorf("produce orders[3]: %w", ForCode(6))
	err = fmt.Errorf("send: %w", err)
	assert.ErrorIs(t, err, NotLeaderForPartition)
	assert.NotErrorIs(t, err, LeaderNotAvailable)
	assert.True(t, IsRetriable(err))
	assert.Equal(t, int16(6), Code(err))

	var ke *Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, int16(6), ke.Code)

	fatal := fmt.Errorf("commit: %w", ForCode(UnknownMemberID.Code))
	assert.False(t, IsRetriable(fatal))
	// Joined errors: errors.Is and IsRetriable look through them too.
	assert.True(t, IsRetriable(errors.Join(io.EOF, ForCode(7))))
}

func TestUnknownCodesAndNonKafkaErrors(t *testing.T) {
	for _, code := range []int16{-2, -32768, 32767, 1000} {
		err := ForCode(code)
		require.Error(t, err)
		var ke *Error
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, code, ke.Code)
		assert.False(t, ke.Retriable)
		assert.Contains(t, err.Error(), fmt.Sprint(code))
		_, ok := Lookup(code)
		assert.False(t, ok)
		for _, e := range All() {
			assert.NotErrorIs(t, err, e)
		}
	}
	_, ok := Lookup(0)
	assert.False(t, ok)
	assert.False(t, IsRetriable(nil))
	assert.False(t, IsRetriable(io.EOF))
	assert.Equal(t, int16(0), Code(nil))
	assert.Equal(t, int16(-1), Code(io.EOF))
}

func BenchmarkForCode(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ForCode(int16(i%130)+1) == nil {
			b.Fatal("nil")
		}
	}
}

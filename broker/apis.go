package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// API keys the broker itself answers (one file each, named by key).
const (
	produceKey                    int16 = 0
	fetchKey                      int16 = 1
	listOffsetsKey                int16 = 2
	metadataKey                   int16 = 3
	apiVersionsKey                int16 = 18
	createTopicsKey               int16 = 19
	deleteTopicsKey               int16 = 20
	deleteRecordsKey              int16 = 21
	initProducerIDKey             int16 = 22
	offsetForLeaderEpochKey       int16 = 23
	addPartitionsToTxnKey         int16 = 24
	addOffsetsToTxnKey            int16 = 25
	endTxnKey                     int16 = 26
	txnOffsetCommitKey            int16 = 28
	describeAclsKey               int16 = 29
	createAclsKey                 int16 = 30
	deleteAclsKey                 int16 = 31
	describeConfigsKey            int16 = 32
	alterConfigsKey               int16 = 33
	describeLogDirsKey            int16 = 35
	createPartitionsKey           int16 = 37
	electLeadersKey               int16 = 43
	incrementalAlterConfigsKey    int16 = 44
	alterPartitionAssignmentsKey  int16 = 45
	listPartitionReassignmentsKey int16 = 46
	describeClientQuotasKey       int16 = 48
	alterClientQuotasKey          int16 = 49
	describeUserScramKey          int16 = 50
	alterUserScramKey             int16 = 51
	describeClusterKey            int16 = 60
	describeProducersKey          int16 = 61
	describeTransactionsKey       int16 = 65
	listTransactionsKey           int16 = 66
)

// api is one implemented request kind. The broker answers versions
// min..max and ApiVersions advertises exactly those (every one is tested by
// TestEveryAdvertisedVersionAnswered), except where advertiseV0 says
// otherwise (Produce, see below). Every version must parse in kmsg.
type api struct {
	key      int16
	min, max int16
	// advertiseV0 advertises versions 0..min-1 too, answered with
	// UNSUPPORTED_VERSION.
	advertiseV0 bool
	// handle answers r: it returns the response, or nil when it answered
	// (or will answer) through r itself.
	handle func(b *Broker, w *worker, r *request) kmsg.Response
}

// apis is indexed by key; nil means not implemented here. It is filled in
// init because ApiVersions' handler reads it.
var apis []*api

func init() {
	t := make([]*api, 100)
	for _, a := range []*api{
		// Produce is answered from v3 (only record batch v2 is stored) but
		// advertised from v0, as Kafka 4.0 does after KAFKA-18659:
		// librdkafka derives its message-format features from Produce v2
		// being in the broker's range, and without it sends compressed
		// batches uncompressed (TestConfluentKafkaPython/group stores lz4
		// batches as "none" when v0-v2 are not advertised). Clients pick
		// the highest common version, so v0-v2 are never chosen by one
		// that speaks v3.
		{key: produceKey, advertiseV0: true, min: 3, max: 13, handle: handleProduce},
		{key: fetchKey, min: 4, max: 18, handle: handleFetch},
		{key: listOffsetsKey, min: 1, max: 8, handle: handleListOffsets},
		{key: metadataKey, min: 0, max: 13, handle: handleMetadata},
		{key: apiVersionsKey, min: 0, max: 4, handle: handleAPIVersions},
		{key: createTopicsKey, min: 0, max: 7, handle: handleCreateTopics},
		{key: deleteTopicsKey, min: 0, max: 6, handle: handleDeleteTopics},
		{key: initProducerIDKey, min: 0, max: 5, handle: handleInitProducerID},
		{key: offsetForLeaderEpochKey, min: 0, max: 4, handle: handleOffsetForLeaderEpoch},
		// Transactions (txn.go): the versions before KIP-890's
		// transactions v2, which the coordinator does not implement.
		{key: addPartitionsToTxnKey, min: 0, max: 3, handle: handleAddPartitionsToTxn},
		{key: addOffsetsToTxnKey, min: 0, max: 3, handle: handleAddOffsetsToTxn},
		{key: endTxnKey, min: 0, max: 4, handle: handleEndTxn},
		{key: txnOffsetCommitKey, min: 0, max: 4, handle: handleTxnOffsetCommit},
		{key: describeTransactionsKey, min: 0, max: 0, handle: handleDescribeTransactions},
		{key: listTransactionsKey, min: 0, max: 1, handle: handleListTransactions},
		{key: describeConfigsKey, min: 0, max: 4, handle: handleDescribeConfigs},
		{key: alterConfigsKey, min: 0, max: 2, handle: handleAlterConfigs},
		{key: createPartitionsKey, min: 0, max: 3, handle: handleCreatePartitions},
		{key: deleteRecordsKey, min: 0, max: 2, handle: handleDeleteRecords},
		{key: describeLogDirsKey, min: 0, max: 5, handle: handleDescribeLogDirs},
		{key: electLeadersKey, min: 0, max: 2, handle: handleElectLeaders},
		{key: alterPartitionAssignmentsKey, min: 0, max: 1, handle: handleAlterPartitionAssignments},
		{key: listPartitionReassignmentsKey, min: 0, max: 0, handle: handleListPartitionReassignments},
		{key: describeClusterKey, min: 0, max: 2, handle: handleDescribeCluster},
		{key: describeProducersKey, min: 0, max: 0, handle: handleDescribeProducers},
		{key: describeAclsKey, min: 0, max: 3, handle: handleDescribeAcls},
		{key: createAclsKey, min: 0, max: 3, handle: handleCreateAcls},
		{key: deleteAclsKey, min: 0, max: 3, handle: handleDeleteAcls},
		{key: describeClientQuotasKey, min: 0, max: 1, handle: handleDescribeClientQuotas},
		{key: alterClientQuotasKey, min: 0, max: 1, handle: handleAlterClientQuotas},
		{key: describeUserScramKey, min: 0, max: 0, handle: handleDescribeUserScramCredentials},
		{key: alterUserScramKey, min: 0, max: 0, handle: handleAlterUserScramCredentials},
		{key: incrementalAlterConfigsKey, min: 0, max: 1, handle: handleIncrementalAlterConfigs},
	} {
		t[a.key] = a
	}
	apis = t
}

// advertisedMin is the lowest version ApiVersions names.
func (a *api) advertisedMin() int16 {
	if a.advertiseV0 {
		return 0
	}
	return a.min
}

func apiFor(key int16) *api {
	if key < 0 || int(key) >= len(apis) {
		return nil
	}
	return apis[key]
}

package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// API keys the broker itself answers (one file each, named by key).
const (
	produceKey                 int16 = 0
	fetchKey                   int16 = 1
	listOffsetsKey             int16 = 2
	metadataKey                int16 = 3
	apiVersionsKey             int16 = 18
	createTopicsKey            int16 = 19
	deleteTopicsKey            int16 = 20
	initProducerIDKey          int16 = 22
	offsetForLeaderEpochKey    int16 = 23
	describeConfigsKey         int16 = 32
	alterConfigsKey            int16 = 33
	incrementalAlterConfigsKey int16 = 44
)

// api is one implemented request kind. The broker answers versions
// min..max and ApiVersions advertises exactly those (every one is tested by
// TestEveryAdvertisedVersionAnswered). Every version must parse in kmsg.
type api struct {
	key      int16
	min, max int16
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
		// Produce from v3 only: record batch v2 is all that is stored, and
		// ApiVersions advertises exactly what is answered (KIP-896, Kafka
		// 4). Advertising v0-v2 and refusing them made clients that pick
		// the lowest common version fail instead of choosing v3.
		{key: produceKey, min: 3, max: 13, handle: handleProduce},
		{key: fetchKey, min: 4, max: 18, handle: handleFetch},
		{key: listOffsetsKey, min: 1, max: 8, handle: handleListOffsets},
		{key: metadataKey, min: 0, max: 13, handle: handleMetadata},
		{key: apiVersionsKey, min: 0, max: 4, handle: handleAPIVersions},
		{key: createTopicsKey, min: 0, max: 7, handle: handleCreateTopics},
		{key: deleteTopicsKey, min: 0, max: 6, handle: handleDeleteTopics},
		{key: initProducerIDKey, min: 0, max: 5, handle: handleInitProducerID},
		{key: offsetForLeaderEpochKey, min: 0, max: 4, handle: handleOffsetForLeaderEpoch},
		{key: describeConfigsKey, min: 0, max: 4, handle: handleDescribeConfigs},
		{key: alterConfigsKey, min: 0, max: 2, handle: handleAlterConfigs},
		{key: incrementalAlterConfigsKey, min: 0, max: 1, handle: handleIncrementalAlterConfigs},
	} {
		t[a.key] = a
	}
	apis = t
}

func apiFor(key int16) *api {
	if key < 0 || int(key) >= len(apis) {
		return nil
	}
	return apis[key]
}

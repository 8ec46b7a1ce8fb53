package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// API keys the broker itself answers (one file each, named by key).
const (
	produceKey              int16 = 0
	fetchKey                int16 = 1
	listOffsetsKey          int16 = 2
	metadataKey             int16 = 3
	apiVersionsKey          int16 = 18
	createTopicsKey         int16 = 19
	deleteTopicsKey         int16 = 20
	initProducerIDKey       int16 = 22
	offsetForLeaderEpochKey int16 = 23
	describeConfigsKey      int16 = 32
)

// api is one implemented request kind. The broker answers versions
// min..max; ApiVersions advertises advMin..max (see Produce for why they
// differ). Every version advertised must parse in kmsg.
type api struct {
	key      int16
	advMin   int16
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
		// Kafka 4.0 still advertises Produce v0-v2 (KAFKA-18659: librdkafka
		// refuses a broker without them) but answers them with
		// UNSUPPORTED_VERSION: only record batch v2 is stored.
		{key: produceKey, advMin: 0, min: 3, max: 13, handle: handleProduce},
		{key: fetchKey, advMin: 4, min: 4, max: 18, handle: handleFetch},
		{key: listOffsetsKey, advMin: 1, min: 1, max: 8, handle: handleListOffsets},
		{key: metadataKey, advMin: 0, min: 0, max: 13, handle: handleMetadata},
		{key: apiVersionsKey, advMin: 0, min: 0, max: 4, handle: handleAPIVersions},
		{key: createTopicsKey, advMin: 0, min: 0, max: 7, handle: handleCreateTopics},
		{key: deleteTopicsKey, advMin: 0, min: 0, max: 6, handle: handleDeleteTopics},
		{key: initProducerIDKey, advMin: 0, min: 0, max: 5, handle: handleInitProducerID},
		{key: offsetForLeaderEpochKey, advMin: 0, min: 0, max: 4, handle: handleOffsetForLeaderEpoch},
		{key: describeConfigsKey, advMin: 0, min: 0, max: 4, handle: handleDescribeConfigs},
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

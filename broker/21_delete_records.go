package broker

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteRecords moves each partition's log start offset (KIP-107):
// offset -1 means the high watermark, an offset above it is
// OFFSET_OUT_OF_RANGE, one below the current start changes nothing, and
// segments wholly below the new start are deleted. The answer's low
// watermark is the log start offset afterwards. Kafka waits for replicas
// up to the timeout; a single node answers at once.
func handleDeleteRecords(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			low, err := b.deleteRecords(rt.Topic, rp.Partition, rp.Offset)
			if err != nil {
				sp.ErrorCode = kerr.Code(err)
				sp.LowWatermark = -1
			} else {
				sp.LowWatermark = low
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) deleteRecords(topic string, partition int32, offset int64) (int64, error) {
	if isInternalTopic(topic) {
		// Kafka: records of internal topics cannot be deleted.
		return 0, fmt.Errorf("%w: cannot delete records of internal topic %s", kerr.InvalidTopicException, topic)
	}
	p := b.topics.partition(topic, partition)
	if p == nil || p.deleted.Load() {
		return 0, fmt.Errorf("%w: %s[%d]", kerr.UnknownTopicOrPartition, topic, partition)
	}
	if offset == -1 {
		offset = p.log.EndOffset()
	}
	low, err := p.log.DeleteRecordsBefore(offset)
	switch {
	case err == nil:
		return low, nil
	case errors.Is(err, kerr.OffsetOutOfRange):
		return 0, err
	case errors.Is(err, log.ErrClosed):
		return 0, fmt.Errorf("%w: %s[%d] is closing", kerr.NotLeaderForPartition, topic, partition)
	}
	b.log.Warn("delete records failed", "topic", topic, "partition", partition, "offset", offset, "err", err)
	return 0, err
}

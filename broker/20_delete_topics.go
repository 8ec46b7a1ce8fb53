package broker

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteTopics deletes topics by name (v0-v5) or by name or id (v6+):
// the metadata first, then the partition directories.
func handleDeleteTopics(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	quota := b.newMutationQuota(r, deleteTopicsStrictVersion)
	one := func(name *string, id [16]byte) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = name, id
		var t *topic
		var err error
		switch {
		case name != nil:
			if t = b.topics.byName(*name); t == nil {
				err = fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, *name)
			}
		case id != [16]byte{}:
			if t = b.topics.byID(id); t == nil {
				err = fmt.Errorf("%w: %x", kerr.UnknownTopicID, id)
			}
		default:
			err = fmt.Errorf("%w: neither a topic name nor a topic id", kerr.InvalidRequest)
		}
		if err == nil {
			st.Topic, st.TopicID = kmsg.StringPtr(t.name), t.id
			if err = quota.record(int32(len(t.parts))); err == nil {
				err = b.topics.delete(t)
			}
		}
		if err != nil {
			st.ErrorCode = kerr.Code(err)
			if r.version >= 5 {
				st.ErrorMessage = kmsg.StringPtr(err.Error())
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.version < 6 {
		for _, name := range req.TopicNames {
			one(&name, [16]byte{})
		}
	} else {
		for _, t := range req.Topics {
			one(t.Topic, t.TopicID)
		}
	}
	d := quota.throttle(r, deleteTopicsClientThrottle, func(ms int32) { resp.ThrottleMillis = ms })
	return b.holdAnswer(r, resp, d)
}

package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeLogDirs reports the one log directory (DataDir) and the
// size of each requested partition there; null topics means all.
// Partitions this node does not have are left out, as Kafka leaves them
// out. OffsetLag is 0: no future replica ever catches up here. Total and
// usable bytes (v4+) are -1, Kafka's "unknown".
func handleDescribeLogDirs(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.cfg.DataDir
	dir.TotalBytes, dir.UsableBytes = -1, -1
	add := func(t *topic, parts []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.name
		for _, i := range parts {
			if i < 0 || int(i) >= len(t.parts) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size = i, t.parts[i].log.Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	if req.Topics == nil {
		for _, t := range b.topics.all() {
			all := make([]int32, len(t.parts))
			for i := range all {
				all[i] = int32(i)
			}
			add(t, all)
		}
	} else {
		for _, rt := range req.Topics {
			if t := b.topics.byName(rt.Topic); t != nil {
				add(t, rt.Partitions)
			}
		}
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return resp
}

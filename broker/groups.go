package broker

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/coordinator"
	"github.com/skiffkit/skiff/kerr"
)

// coordinatorDir holds the group coordinator's committed-offsets log, named
// after the internal topic Kafka keeps them in.
const coordinatorDir = "__consumer_offsets"

// groupAPIs are the consumer group keys routed to the coordinator
// (internal/coordinator), which answers every version kmsg knows.
var groupAPIs = func() []api {
	var as []api
	for _, key := range []int16{8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47} {
		as = append(as, api{key: key, max: kmsg.RequestForKey(key).MaxVersion()})
	}
	return as
}()

func groupAPIFor(key int16) *api {
	if !coordinator.Handles(key) {
		return nil
	}
	for i := range groupAPIs {
		if groupAPIs[i].key == key {
			return &groupAPIs[i]
		}
	}
	return nil
}

// startCoordinator starts the group coordinator once the advertised address
// is known (FindCoordinator answers with it).
func (b *Broker) startCoordinator() error {
	co, err := coordinator.New(coordinator.Config{
		DataDir:               filepath.Join(b.cfg.DataDir, coordinatorDir),
		InitialRebalanceDelay: b.cfg.GroupInitialRebalanceDelay,
		MinSessionTimeout:     b.cfg.GroupMinSessionTimeout,
		MaxSessionTimeout:     b.cfg.GroupMaxSessionTimeout,
		NodeID:                b.nodeID(),
		Host:                  b.advHost,
		Port:                  b.advPort,
		TopicID:               b.topicID,
		TopicName:             b.topicName,
		Logger:                b.log,
	})
	if err != nil {
		return fmt.Errorf("broker: group coordinator: %w", err)
	}
	b.groups = co
	return nil
}

func (b *Broker) closeCoordinator() error {
	if b.groups == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.groups.Close(ctx)
}

// handleGroup routes a group request to the coordinator, which answers
// through r.respond, possibly later (a JoinGroup waits for the rebalance).
func (b *Broker) handleGroup(r *request) {
	host, _, _ := net.SplitHostPort(r.c.remote)
	respond := r.respond
	if r.key == coordinatorLookupKey && r.c.ln != b.listeners[0] {
		// The coordinator knows the first listener's address; a client
		// of another listener must be sent back to its own.
		respond = func(resp kmsg.Response) {
			b.readvertise(r.c, resp)
			r.respond(resp)
		}
	}
	if of, ok := r.kreq.(*kmsg.OffsetFetchRequest); ok && of.RequireStable && b.txns != nil {
		inner := respond
		respond = func(resp kmsg.Response) {
			b.markUnstableOffsets(of, resp.(*kmsg.OffsetFetchResponse))
			inner(resp)
		}
	}
	if !b.groups.Handle(coordinator.Client{ID: r.clientID, Host: host}, r.kreq, respond) {
		b.answerError(r, kerr.UnsupportedVersion.Code) // not reached: only coordinator keys are routed
	}
}

// topicID and topicName translate for the coordinator's OffsetCommit and
// OffsetFetch v10+, which carry topic IDs only.
func (b *Broker) topicID(name string) ([16]byte, bool) {
	t := b.topics.byName(name)
	if t == nil {
		return [16]byte{}, false
	}
	return t.id, true
}

func (b *Broker) topicName(id [16]byte) (string, bool) {
	t := b.topics.byID(id)
	if t == nil {
		return "", false
	}
	return t.name, true
}

// markUnstableOffsets answers UNSTABLE_OFFSET_COMMIT (KIP-447) for every
// partition of an OffsetFetch with require_stable for which a transaction
// that has not completed staged an offset: the consumer retries instead of
// starting from an offset the transaction is about to replace, which would
// process records twice. The offsets are staged in the transaction
// coordinator, not the group coordinator, so the check is made here.
func (b *Broker) markUnstableOffsets(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	mark := func(group, topic string, topicID [16]byte, code *int16, offset *int64, partition int32) {
		if topic == "" {
			topic, _ = b.topicName(topicID)
		}
		if *code == 0 && b.txns.PendingOffsets(group, topic, partition) {
			*code, *offset = kerr.UnstableOffsetCommit.Code, -1
		}
	}
	if req.Version < 8 {
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				mark(req.Group, rt.Topic, [16]byte{}, &rp.ErrorCode, &rp.Offset, rp.Partition)
			}
		}
		return
	}
	for g := range resp.Groups {
		rg := &resp.Groups[g]
		for i := range rg.Topics {
			rt := &rg.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				mark(rg.Group, rt.Topic, rt.TopicID, &rp.ErrorCode, &rp.Offset, rp.Partition)
			}
		}
	}
}

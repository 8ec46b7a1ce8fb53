package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Coordinator types of FindCoordinator (KIP-98, KIP-932).
const (
	CoordinatorGroup       int8 = 0
	CoordinatorTransaction int8 = 1
	CoordinatorShare       int8 = 2
)

type coordKey struct {
	typ int8
	key string
}

// Coordinator returns the node id of the coordinator for a group id
// (typ CoordinatorGroup) or transactional id (CoordinatorTransaction),
// cached until InvalidateCoordinator. It uses batched FindCoordinator (v4+)
// or the single-key form, whichever the broker negotiates, and retries
// retriable errors (COORDINATOR_NOT_AVAILABLE while __consumer_offsets is
// being created, connection loss) with backoff until ctx ends.
func (c *Client) Coordinator(ctx context.Context, key string, typ int8) (int32, error) {
	ck := coordKey{typ, key}
	c.mu.Lock()
	node, ok := c.coords[ck]
	c.mu.Unlock()
	if ok {
		return node, nil
	}
	backoff := c.cfg.RetryBackoff
	for {
		node, err := c.findCoordinator(ctx, ck)
		if err == nil {
			return node, nil
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, ErrConnClosed) {
			return -1, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return -1, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

func (c *Client) findCoordinator(ctx context.Context, ck coordKey) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = ck.typ
	req.CoordinatorKey = ck.key            // v0-v3
	req.CoordinatorKeys = []string{ck.key} // v4+
	var kreq kmsg.Request = req
	if ck.typ != CoordinatorGroup {
		kreq = MinVersion(req, 1) // v0 has no CoordinatorType
	}
	kresp, err := c.Request(ctx, kreq)
	if err != nil {
		return -1, fmt.Errorf("find coordinator %q: %w", ck.key, err)
	}
	resp, ok := kresp.(*kmsg.FindCoordinatorResponse)
	if !ok {
		return -1, fmt.Errorf("find coordinator: %w: got %T", ErrMalformedResponse, kresp)
	}
	node, host, port, code, msg := resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage
	if resp.Version >= 4 {
		if len(resp.Coordinators) != 1 || resp.Coordinators[0].Key != ck.key {
			return -1, fmt.Errorf("find coordinator %q: %w: %d coordinators in response", ck.key, ErrMalformedResponse, len(resp.Coordinators))
		}
		co := resp.Coordinators[0]
		node, host, port, code, msg = co.NodeID, co.Host, co.Port, co.ErrorCode, co.ErrorMessage
	}
	if err := kerr.ForCode(code); err != nil {
		if msg != nil && *msg != "" {
			return -1, fmt.Errorf("find coordinator %q: %w (%s)", ck.key, err, *msg)
		}
		return -1, fmt.Errorf("find coordinator %q: %w", ck.key, err)
	}
	if node < 0 {
		return -1, fmt.Errorf("find coordinator %q: node %d: %w", ck.key, node, kerr.CoordinatorNotAvailable)
	}
	c.mu.Lock()
	if _, known := c.meta.Load().brokers[node]; !known {
		c.extraBrokers[node] = BrokerInfo{NodeID: node, Host: host, Port: port}
	}
	c.coords[ck] = node
	c.mu.Unlock()
	return node, nil
}

// InvalidateCoordinator drops the cached coordinator of key (every type),
// after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE from it.
func (c *Client) InvalidateCoordinator(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ck := range c.coords {
		if ck.key == key {
			delete(c.coords, ck)
		}
	}
}

// connPurpose says which of a broker's two connections a request uses.
type connPurpose int8

const (
	purposeData        connPurpose = iota // produce, fetch, metadata, offsets
	purposeCoordinator                    // group and transaction coordinator traffic
)

func (p connPurpose) String() string {
	if p == purposeCoordinator {
		return "coordinator"
	}
	return "data"
}

// connKey names one connection: a broker and what it carries.
type connKey struct {
	node    int32
	purpose connPurpose
}

// IsCoordinatorRequest reports whether req is addressed to a group or
// transaction coordinator, so that RequestNode sends it on the broker's
// coordinator connection (CoordinatorConn) rather than behind fetches and
// produces on the data connection.
func IsCoordinatorRequest(req kmsg.Request) bool {
	req, _, _ = unwrapRequest(req)
	switch kmsg.Key(req.Key()) {
	case kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup,
		kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.OffsetDelete,
		kmsg.ConsumerGroupHeartbeat, kmsg.ShareGroupHeartbeat,
		kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.EndTxn, kmsg.TxnOffsetCommit:
		return true
	}
	return false
}

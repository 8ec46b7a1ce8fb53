package coordinator

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Coordinator key types of FindCoordinator (v1+).
const (
	keyTypeGroup       int8 = 0
	keyTypeTransaction int8 = 1
)

// findCoordinator answers with this broker for every group and
// transactional id: on a single node it coordinates everything. v0-v3 carry
// one key, v4+ (KIP-699) a batch.
func (c *Coordinator) findCoordinator(req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	answer := func(key string) (code int16, msg *string) {
		switch {
		case closed:
			code = kerr.CoordinatorNotAvailable.Code
		case req.CoordinatorType != keyTypeGroup && req.CoordinatorType != keyTypeTransaction:
			code = kerr.InvalidRequest.Code
		default:
			return 0, nil
		}
		e, _ := kerr.Lookup(code)
		m := e.Description
		return code, &m
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key = key
			rc.ErrorCode, rc.ErrorMessage = answer(key)
			if rc.ErrorCode == 0 {
				rc.NodeID, rc.Host, rc.Port = c.cfg.NodeID, c.cfg.Host, c.cfg.Port
			} else {
				rc.NodeID, rc.Port = -1, -1
			}
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp
	}
	resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorKey)
	if resp.ErrorCode == 0 {
		resp.NodeID, resp.Host, resp.Port = c.cfg.NodeID, c.cfg.Host, c.cfg.Port
	} else {
		resp.NodeID, resp.Port = -1, -1
	}
	return resp
}

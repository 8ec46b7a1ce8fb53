package coordinator

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// deleteGroups mirrors Kafka's handleDeleteGroups: only a group without
// members can be deleted (NON_EMPTY_GROUP otherwise); its committed offsets
// get a group tombstone in the offsets log, and the response waits until
// every tombstone of the request is durable. Callers hold mu.
func (c *Coordinator) deleteGroups(req *kmsg.DeleteGroupsRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Groups = make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	var (
		mu      sync.Mutex // guards pending and the codes the ops fill
		pending = 1        // one for this function, released at the end
	)
	finish := func() {
		mu.Lock()
		pending--
		last := pending == 0
		mu.Unlock()
		if last {
			respond(resp)
		}
	}
	for i, name := range req.Groups {
		rg := &resp.Groups[i]
		rg.Default()
		rg.Group = name
		code := c.deleteGroupCode(name)
		if code != 0 {
			rg.ErrorCode = code
			continue
		}
		delete(c.groups, name)
		c.log.Info("deleting group", "group", name)
		mu.Lock()
		pending++
		mu.Unlock()
		c.store.submit(&storeOp{
			entries: []logEntry{{kind: entryGroupDelete, key: offsetKey{group: name}}},
			done: func(err error) {
				if err != nil {
					mu.Lock()
					rg.ErrorCode = kerr.NotCoordinator.Code
					mu.Unlock()
				}
				finish()
			},
		})
	}
	// The response is sent by whoever finishes last: this function if
	// nothing was queued, else the log writer. Sending it from here with mu
	// held is avoided by going through the outbox in that case.
	mu.Lock()
	pending--
	last := pending == 0
	mu.Unlock()
	if last {
		c.reply(respond, resp)
	}
}

func (c *Coordinator) deleteGroupCode(name string) int16 {
	if c.closed {
		return kerr.NotCoordinator.Code
	}
	if len(name) > maxNameLen {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[name]
	if g == nil {
		if c.store.hasGroup(name) {
			return 0
		}
		return kerr.GroupIDNotFound.Code
	}
	if len(g.members) > 0 || len(g.pending) > 0 || g.state != stateEmpty {
		return kerr.NonEmptyGroup.Code
	}
	return 0
}

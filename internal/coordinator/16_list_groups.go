package coordinator

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// groupType is what ListGroups v5+ (KIP-848) reports: skiff runs only the
// classic protocol.
const groupType = "classic"

// listGroups lists every group, including groups that only hold committed
// offsets (Empty, as in Kafka). StatesFilter (v4+) and TypesFilter (v5+)
// match case-insensitively, as Kafka does. Callers hold mu.
func (c *Coordinator) listGroups(req *kmsg.ListGroupsRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	defer c.reply(respond, resp)
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return
	}
	for _, info := range c.groupInfos() {
		if !matchesFilter(req.StatesFilter, info.State) || !matchesFilter(req.TypesFilter, groupType) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = info.Name, info.ProtocolType, info.State, groupType
		resp.Groups = append(resp.Groups, rg)
	}
}

func matchesFilter(filter []string, v string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, v) {
			return true
		}
	}
	return false
}

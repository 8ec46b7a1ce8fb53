package broker

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterConfigs is the legacy AlterConfigs: each topic resource's
// configs replace the topic's whole set of explicit configs, so a config
// left out returns to its default (Kafka's semantics, which is why
// IncrementalAlterConfigs exists). ValidateOnly checks without changing.
func handleAlterConfigs(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	seen := make(map[configResourceKey]int, len(req.Resources))
	for _, res := range req.Resources {
		seen[configResourceKey{res.ResourceType, res.ResourceName}]++
	}
	for _, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		switch {
		case seen[configResourceKey{res.ResourceType, res.ResourceName}] > 1:
			err = fmt.Errorf("%w: resource %s appears more than once", kerr.InvalidRequest, res.ResourceName)
		case res.ResourceType != kmsg.ConfigResourceTypeTopic:
			err = b.configResourceError(res.ResourceType, res.ResourceName)
		default:
			err = b.alterTopicConfigs(res.ResourceName, req.ValidateOnly, func(map[string]string) (map[string]string, error) {
				next := make(map[string]string, len(res.Configs))
				for _, c := range res.Configs {
					if c.Value == nil {
						return nil, fmt.Errorf("%w: null value not supported for %s", kerr.InvalidRequest, c.Name)
					}
					if _, dup := next[c.Name]; dup {
						return nil, fmt.Errorf("%w: config %s given twice", kerr.InvalidRequest, c.Name)
					}
					next[c.Name] = *c.Value
				}
				return next, nil
			})
		}
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

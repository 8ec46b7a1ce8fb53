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
	errs := b.alterEachConfigResource(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	}, func(i int) error {
		res := &req.Resources[i]
		return b.alterTopicConfigs(res.ResourceName, req.ValidateOnly, func(map[string]string) (map[string]string, error) {
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
	})
	for i, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		if err := errs[i]; err != nil {
			rr.ErrorCode, rr.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

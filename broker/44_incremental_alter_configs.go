package broker

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleIncrementalAlterConfigs (KIP-339) changes only the named configs of
// each topic: SET a value, DELETE back to the default, and APPEND to or
// SUBTRACT from a LIST config (cleanup.policy here). The operations of one
// resource apply together or not at all; ValidateOnly checks without
// changing.
func handleIncrementalAlterConfigs(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	errs := b.alterEachConfigResource(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	}, func(i int) error {
		res := &req.Resources[i]
		return b.alterTopicConfigs(res.ResourceName, req.ValidateOnly, func(cur map[string]string) (map[string]string, error) {
			return applyConfigOps(&b.cfg, cur, res.Configs)
		})
	})
	for i, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		if err := errs[i]; err != nil {
			rr.ErrorCode, rr.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// applyConfigOps returns cur with ops applied, following Kafka's
// ConfigAdminManager: a key named twice is INVALID_REQUEST, a null SET
// value INVALID_REQUEST, APPEND/SUBTRACT on a non-list config
// INVALID_CONFIG, an unknown operation INVALID_REQUEST. Unknown config
// names are left to validateTopicConfigs (INVALID_CONFIG).
func applyConfigOps(c *Config, cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	next := maps.Clone(cur)
	named := make(map[string]bool, len(ops))
	for _, op := range ops {
		if named[op.Name] {
			return nil, fmt.Errorf("%w: config %s is named more than once", kerr.InvalidRequest, op.Name)
		}
		named[op.Name] = true
		tc := findTopicConfig(op.Name)
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				return nil, fmt.Errorf("%w: null value not supported for %s", kerr.InvalidRequest, op.Name)
			}
			next[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			if tc == nil {
				return nil, fmt.Errorf("%w: unknown or unsupported topic config %s", kerr.InvalidConfig, op.Name)
			}
			delete(next, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if tc == nil {
				return nil, fmt.Errorf("%w: unknown or unsupported topic config %s", kerr.InvalidConfig, op.Name)
			}
			if !tc.list {
				return nil, fmt.Errorf("%w: config value append/subtract is not allowed for config key %s, which is not a list", kerr.InvalidConfig, op.Name)
			}
			v, ok := next[op.Name]
			if !ok {
				v = tc.def(c)
			}
			var items []string
			if v != "" {
				items = strings.Split(v, ",")
			}
			var arg []string
			if op.Value != nil && *op.Value != "" {
				arg = strings.Split(*op.Value, ",")
			}
			for _, a := range arg {
				if op.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(items, a) {
						items = append(items, a)
					}
				} else {
					items = slices.DeleteFunc(items, func(s string) bool { return s == a })
				}
			}
			next[op.Name] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("%w: unknown config operation %d for %s", kerr.InvalidRequest, op.Op, op.Name)
		}
	}
	return next, nil
}

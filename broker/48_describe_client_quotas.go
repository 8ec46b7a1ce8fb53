package broker

import (
	"sort"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeClientQuotas (KIP-546) lists the stored quotas of the
// entities the components match (see quotaStore.describe).
func handleDescribeClientQuotas(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	var fs []quotaFilter
	for _, c := range req.Components {
		fs = append(fs, quotaFilter{typ: c.EntityType, match: int8(c.MatchType), name: c.Match})
	}
	entries, err := b.quotas.describe(fs, req.Strict)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		return resp
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	for _, e := range entries {
		re := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, c := range e.Entity {
			re.Entity = append(re.Entity, kmsg.DescribeClientQuotasResponseEntryEntity{Type: c.Type, Name: c.Name})
		}
		keys := make([]string, 0, len(e.Values))
		for k := range e.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			re.Values = append(re.Values, kmsg.DescribeClientQuotasResponseEntryValue{Key: k, Value: e.Values[k]})
		}
		resp.Entries = append(resp.Entries, re)
	}
	return resp
}

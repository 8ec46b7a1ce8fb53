package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterClientQuotas (KIP-546) sets or removes quota values per
// entity, stored durably; ValidateOnly checks without storing. Errors are
// Kafka's: INVALID_REQUEST for a bad entity, key or value.
func handleAlterClientQuotas(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		var ent []quotaEntity
		for _, c := range e.Entity {
			ent = append(ent, quotaEntity{Type: c.Type, Name: c.Name})
			re.Entity = append(re.Entity, kmsg.AlterClientQuotasResponseEntryEntity{Type: c.Type, Name: c.Name})
		}
		var ops []quotaOp
		for _, op := range e.Ops {
			ops = append(ops, quotaOp{key: op.Key, value: op.Value, remove: op.Remove})
		}
		if err := b.quotas.alter(ent, ops, req.ValidateOnly); err != nil {
			re.ErrorCode, re.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Entries = append(resp.Entries, re)
	}
	return resp
}

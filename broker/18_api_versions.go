package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAPIVersions advertises exactly the keys and versions implemented.
func handleAPIVersions(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = b.advertised()
	if r.c != nil && r.c.sasl != nil {
		resp.ApiKeys = withSASLAPIs(resp.ApiKeys) // sasl.go
	}
	return resp
}

// advertised lists our version ranges in key order.
func (b *Broker) advertised() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for key := range apis {
		a := apis[key]
		if a == nil && b.groups != nil {
			a = groupAPIFor(int16(key))
		}
		if a == nil {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.advertisedMin(), a.max
		keys = append(keys, k)
	}
	return keys
}

// apiVersionsUnsupported is the KIP-511 answer to an ApiVersions version we
// do not speak: a v0 response (every client can read it) with
// UNSUPPORTED_VERSION and our ranges, from which the client picks a version
// and asks again.
func apiVersionsUnsupported(b *Broker) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = b.advertised()
	return resp
}

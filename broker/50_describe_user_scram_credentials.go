package broker

import (
	"fmt"
	"sort"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeUserScramCredentials (KIP-554) lists each user's SCRAM
// mechanisms and iterations, never the keys: null or no users means every
// user with credentials; a named user without any is RESOURCE_NOT_FOUND,
// and a user named twice DUPLICATE_RESOURCE, as Kafka answers.
func handleDescribeUserScramCredentials(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	var names []string
	count := map[string]int{}
	for _, u := range req.Users {
		if count[u.Name] == 0 {
			names = append(names, u.Name)
		}
		count[u.Name]++
	}
	found := b.scram.describe(names)
	if len(names) == 0 {
		for u := range found {
			names = append(names, u)
		}
		sort.Strings(names)
	}
	for _, u := range names {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		mechs, ok := found[u]
		switch {
		case count[u] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("cannot describe SCRAM credentials for the same user twice in a single request: %s", u))
		case !ok:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("attempt to describe a user credential that does not exist: %s", u))
		default:
			for _, mech := range []int8{scramSHA256, scramSHA512} {
				if it, ok := mechs[mech]; ok {
					res.CredentialInfos = append(res.CredentialInfos, kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{Mechanism: mech, Iterations: it})
				}
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

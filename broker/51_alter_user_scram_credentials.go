package broker

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterUserScramCredentials (KIP-554) deletes and upserts SCRAM
// credentials, stored durably as stored and server keys. Each user's
// changes apply together or not at all, with Kafka's errors:
// UNSUPPORTED_SASL_MECHANISM, UNACCEPTABLE_CREDENTIAL (empty name, too few
// or too many iterations, empty salt or password), RESOURCE_NOT_FOUND for
// deleting a credential that does not exist, DUPLICATE_RESOURCE for a user
// and mechanism named twice.
func handleAlterUserScramCredentials(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var order []string
	errs := map[string]error{}
	changes := map[string]*scramChange{}
	seen := map[string]map[int8]bool{}
	change := func(user string, mech int8) *scramChange {
		if _, ok := changes[user]; !ok {
			if _, failed := errs[user]; !failed {
				order = append(order, user)
			}
			changes[user] = &scramChange{upsertions: map[int8]scramCredential{}}
		}
		if seen[user] == nil {
			seen[user] = map[int8]bool{}
		}
		if seen[user][mech] {
			fail(errs, user, fmt.Errorf("%w: a user credential cannot be altered twice in the same request", kerr.DuplicateResource))
		}
		seen[user][mech] = true
		return changes[user]
	}
	check := func(user string, mech int8) error {
		switch {
		case user == "" || len(user) > scramMaxUserName:
			return fmt.Errorf("%w: username must not be empty", kerr.UnacceptableCredential)
		case scramHash(mech) == nil:
			return fmt.Errorf("%w: unknown SCRAM mechanism %d", kerr.UnsupportedSaslMechanism, mech)
		}
		return nil
	}
	for _, d := range req.Deletions {
		ch := change(d.Name, d.Mechanism)
		if err := check(d.Name, d.Mechanism); err != nil {
			fail(errs, d.Name, err)
			continue
		}
		if _, ok := b.scram.lookup(d.Name, d.Mechanism); !ok {
			fail(errs, d.Name, fmt.Errorf("%w: attempt to delete a user credential that does not exist", kerr.ResourceNotFound))
			continue
		}
		ch.deletions = append(ch.deletions, d.Mechanism)
	}
	for _, u := range req.Upsertions {
		ch := change(u.Name, u.Mechanism)
		if err := check(u.Name, u.Mechanism); err != nil {
			fail(errs, u.Name, err)
			continue
		}
		switch {
		case u.Iterations < scramMinIter:
			fail(errs, u.Name, fmt.Errorf("%w: too few iterations (%d < %d)", kerr.UnacceptableCredential, u.Iterations, scramMinIter))
		case u.Iterations > scramMaxIter:
			fail(errs, u.Name, fmt.Errorf("%w: too many iterations (%d > %d)", kerr.UnacceptableCredential, u.Iterations, scramMaxIter))
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			fail(errs, u.Name, fmt.Errorf("%w: empty salt or salted password", kerr.UnacceptableCredential))
		default:
			ch.upsertions[u.Mechanism] = deriveSCRAM(u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword)
		}
	}
	for u := range errs {
		delete(changes, u)
	}
	applyErr := b.scram.apply(changes)
	for _, u := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = u
		err := errs[u]
		if err == nil {
			err = applyErr
		}
		if err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Results = append(resp.Results, res)
	}
	if applyErr == nil && len(changes) > 0 {
		b.log.Info("SCRAM credentials altered", "users", len(changes))
	}
	return resp
}

// fail keeps the first error of a user.
func fail(errs map[string]error, user string, err error) {
	if _, ok := errs[user]; !ok {
		errs[user] = err
	}
}

package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/kerr"
)

// quotasFile holds the client quotas AlterClientQuotas set, rewritten whole
// on every change as the topic metadata is.
const quotasFile = "skiff-quotas.json"

// quotaEntity is one entity component: type user, client-id or ip; a nil
// name is the type's default entity.
type quotaEntity struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// quotaEntry is the quota values of one entity (a set of components
// sorted by type).
type quotaEntry struct {
	Entity []quotaEntity      `json:"entity"`
	Values map[string]float64 `json:"values"`
}

// quotaStore keeps the client quotas durably. They are stored, described
// and altered with Kafka's semantics, and all are enforced: the byte rates
// (throttle.go), controller_mutation_rate (throttle_mutation.go),
// request_percentage (throttle_request.go) and connection_creation_rate
// (throttle_conn_rate.go).
type quotaStore struct {
	dir     string
	mu      sync.Mutex // guards entries and the file
	entries []quotaEntry

	// tables is what the request paths read: each kind's quotas, rebuilt
	// from entries on every change, so a quota altered live applies to
	// the next request.
	tables atomic.Pointer[[numQuotaKinds]*quotaTable]
	// ips is the connection_creation_rate quotas, nil when none
	// (throttle_conn_rate.go).
	ips atomic.Pointer[ipQuotaTable]
	th  throttler
}

// publish makes entries the enforced quotas. s.mu is held (or s is not
// shared yet).
func (s *quotaStore) publish() {
	t := newQuotaTables(s.entries)
	s.tables.Store(&t)
	s.ips.Store(newIPQuotaTable(s.entries))
}

// table returns kind k's quotas, nil when none is configured: the fast
// path of every produce and fetch.
func (s *quotaStore) table(k quotaKind) *quotaTable {
	if s == nil {
		return nil
	}
	if t := s.tables.Load(); t != nil {
		return t[k]
	}
	return nil
}

func openQuotas(dir string) (*quotaStore, error) {
	s := &quotaStore{dir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, quotasFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("broker: read %s: %w", quotasFile, err)
	}
	if err := json.Unmarshal(raw, &s.entries); err != nil {
		return nil, fmt.Errorf("broker: parse %s: %w", quotasFile, err)
	}
	for _, e := range s.entries {
		if err := validateQuotaEntity(e.Entity); err != nil {
			return nil, fmt.Errorf("broker: %s: %w", quotasFile, err)
		}
	}
	s.publish()
	return s, nil
}

// quotaKeys are Kafka's client quota keys, by the entity types they apply
// to, and whether their value must be a whole number (a LONG config).
var quotaKeys = map[string]struct {
	ip, whole bool
}{
	"producer_byte_rate":       {whole: true},
	"consumer_byte_rate":       {whole: true},
	"request_percentage":       {},
	"controller_mutation_rate": {},
	"connection_creation_rate": {ip: true, whole: true},
}

// validateQuotaEntity applies Kafka's rules: each type at most once, and
// ip only alone; user and client-id alone or together.
func validateQuotaEntity(ent []quotaEntity) error {
	if len(ent) == 0 {
		return fmt.Errorf("%w: the entity is empty", kerr.InvalidRequest)
	}
	seen := map[string]bool{}
	for _, c := range ent {
		switch c.Type {
		case "user", "client-id", "ip":
		default:
			return fmt.Errorf("%w: unknown entity type %q", kerr.InvalidRequest, c.Type)
		}
		if seen[c.Type] {
			return fmt.Errorf("%w: entity type %s given twice", kerr.InvalidRequest, c.Type)
		}
		seen[c.Type] = true
		if c.Type == "ip" && c.Name != nil && net.ParseIP(*c.Name) == nil {
			return fmt.Errorf("%w: %q is not an IP address", kerr.InvalidRequest, *c.Name)
		}
	}
	if seen["ip"] && len(ent) > 1 {
		return fmt.Errorf("%w: an ip quota entity cannot be combined with user or client-id", kerr.InvalidRequest)
	}
	return nil
}

// quotaOp is one AlterClientQuotas operation.
type quotaOp struct {
	key    string
	value  float64
	remove bool
}

// alter applies ops to the entity, durably unless validateOnly; an entity
// left with no value is forgotten.
func (s *quotaStore) alter(ent []quotaEntity, ops []quotaOp, validateOnly bool) error {
	if err := validateQuotaEntity(ent); err != nil {
		return err
	}
	ip := ent[0].Type == "ip"
	for _, op := range ops {
		k, ok := quotaKeys[op.key]
		if !ok || k.ip != ip {
			return fmt.Errorf("%w: invalid configuration key %s for this entity", kerr.InvalidRequest, op.key)
		}
		if op.remove {
			continue
		}
		if math.IsNaN(op.value) || math.IsInf(op.value, 0) || op.value <= 0 {
			return fmt.Errorf("%w: %s must be positive, got %v", kerr.InvalidRequest, op.key, op.value)
		}
		if k.whole && op.value != math.Trunc(op.value) {
			return fmt.Errorf("%w: %s must be a whole number, got %v", kerr.InvalidRequest, op.key, op.value)
		}
	}
	ent = sortedEntity(ent)
	s.mu.Lock()
	defer s.mu.Unlock()
	next := slices.Clone(s.entries)
	i := slices.IndexFunc(next, func(e quotaEntry) bool { return sameEntity(e.Entity, ent) })
	var values map[string]float64
	if i >= 0 {
		values = make(map[string]float64, len(next[i].Values))
		for k, v := range next[i].Values {
			values[k] = v
		}
	} else {
		values = map[string]float64{}
	}
	for _, op := range ops {
		if op.remove {
			delete(values, op.key)
		} else {
			values[op.key] = op.value
		}
	}
	switch {
	case i >= 0 && len(values) == 0:
		next = slices.Delete(next, i, i+1)
	case i >= 0:
		next[i] = quotaEntry{Entity: ent, Values: values}
	case len(values) > 0:
		next = append(next, quotaEntry{Entity: ent, Values: values})
	}
	if validateOnly {
		return nil
	}
	raw, err := json.MarshalIndent(append([]quotaEntry{}, next...), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.dir, quotasFile, raw); err != nil {
		return fmt.Errorf("%w: persist client quotas: %v", kerr.KafkaStorageError, err)
	}
	s.entries = next
	s.publish()
	return nil
}

// quotaFilter is one DescribeClientQuotas component.
type quotaFilter struct {
	typ   string
	match int8 // 0 exact, 1 default, 2 any
	name  *string
}

// describe returns the entries the filters match: each filter's type must
// be in the entity and match; strict also requires the entity to have no
// other type.
func (s *quotaStore) describe(fs []quotaFilter, strict bool) ([]quotaEntry, error) {
	seen := map[string]bool{}
	for _, f := range fs {
		switch {
		case f.typ != "user" && f.typ != "client-id" && f.typ != "ip":
			return nil, fmt.Errorf("%w: unknown entity type %q", kerr.InvalidRequest, f.typ)
		case seen[f.typ]:
			return nil, fmt.Errorf("%w: entity type %s filtered twice", kerr.InvalidRequest, f.typ)
		case f.match < 0 || f.match > 2:
			return nil, fmt.Errorf("%w: unknown match type %d", kerr.InvalidRequest, f.match)
		case f.match == 0 && f.name == nil:
			return nil, fmt.Errorf("%w: an exact match needs a name", kerr.InvalidRequest)
		}
		seen[f.typ] = true
	}
	if seen["ip"] && len(fs) > 1 {
		return nil, fmt.Errorf("%w: ip cannot be filtered with user or client-id", kerr.InvalidRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []quotaEntry
	for _, e := range s.entries {
		if strict && len(e.Entity) != len(fs) {
			continue
		}
		ok := true
		for _, f := range fs {
			i := slices.IndexFunc(e.Entity, func(c quotaEntity) bool { return c.Type == f.typ })
			if i < 0 {
				ok = false
				break
			}
			n := e.Entity[i].Name
			switch f.match {
			case 0:
				ok = n != nil && *n == *f.name
			case 1:
				ok = n == nil
			}
			if !ok {
				break
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func sortedEntity(ent []quotaEntity) []quotaEntity {
	out := slices.Clone(ent)
	slices.SortFunc(out, func(a, b quotaEntity) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func sameEntity(a, b []quotaEntity) bool {
	return slices.EqualFunc(a, b, func(x, y quotaEntity) bool {
		return x.Type == y.Type && (x.Name == nil) == (y.Name == nil) && (x.Name == nil || *x.Name == *y.Name)
	})
}

package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// aclsFile holds the ACLs CreateAcls stored, rewritten whole (write, fsync,
// rename, fsync the directory) on every change, as the topic metadata is.
const aclsFile = "skiff-acls.json"

// acl is one ACL binding, with Kafka's numeric codes (kmsg's ACL enums).
type acl struct {
	ResourceType int8   `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

// aclStore keeps the ACLs, kept, listed and deleted with Kafka's
// semantics; the authorizer (authz.go) enforces them through idx.
type aclStore struct {
	dir string
	mu  sync.Mutex // guards acls and the file
	// acls in creation order, without duplicates.
	acls []acl
	// idx is acls indexed for the authorizer, replaced (never changed)
	// with acls, so request checks read it without the lock.
	idx atomic.Pointer[aclIndex]
}

func openACLs(dir string) (s *aclStore, err error) {
	s = &aclStore{dir: dir}
	defer func() {
		if err == nil {
			s.idx.Store(buildACLIndex(s.acls))
		}
	}()
	raw, err := os.ReadFile(filepath.Join(dir, aclsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("broker: read %s: %w", aclsFile, err)
	}
	if err := json.Unmarshal(raw, &s.acls); err != nil {
		return nil, fmt.Errorf("broker: parse %s: %w", aclsFile, err)
	}
	for _, a := range s.acls {
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("broker: %s: %w", aclsFile, err)
		}
	}
	return s, nil
}

func (s *aclStore) persistLocked(acls []acl) error {
	if acls == nil {
		acls = []acl{}
	}
	raw, err := json.MarshalIndent(acls, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.dir, aclsFile, raw); err != nil {
		return fmt.Errorf("%w: persist ACLs: %v", kerr.KafkaStorageError, err)
	}
	return nil
}

// create stores a, durably; an ACL already there is not duplicated (Kafka
// treats creating it again as success).
func (s *aclStore) create(a acl) error {
	if err := a.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.acls, a) {
		return nil
	}
	next := append(slices.Clip(s.acls), a)
	if err := s.persistLocked(next); err != nil {
		return err
	}
	s.acls = next
	s.idx.Store(buildACLIndex(next))
	return nil
}

// matching returns the ACLs f matches.
func (s *aclStore) matching(f aclFilter) []acl {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []acl
	for _, a := range s.acls {
		if f.matches(a) {
			out = append(out, a)
		}
	}
	return out
}

// delete removes, durably, every ACL f matches and returns them.
func (s *aclStore) delete(f aclFilter) ([]acl, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone, kept []acl
	for _, a := range s.acls {
		if f.matches(a) {
			gone = append(gone, a)
		} else {
			kept = append(kept, a)
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	if err := s.persistLocked(kept); err != nil {
		return nil, err
	}
	s.acls = kept
	s.idx.Store(buildACLIndex(kept))
	return gone, nil
}

// Kafka's codes: resource types, pattern types, operations, permissions.
const (
	aclAny           = 1 // ANY in every enum
	aclPatternMatch  = 2
	aclPatternLit    = 3
	aclPatternPrefix = 4
	aclResCluster    = 4
	aclOpAll         = 2
)

// validate applies Kafka's AclControlManager.validateNewAcl.
func (a acl) validate() error {
	switch {
	case a.ResourceType < 2 || a.ResourceType > 7:
		return fmt.Errorf("%w: invalid resource type %d", kerr.InvalidRequest, a.ResourceType)
	case a.PatternType != aclPatternLit && a.PatternType != aclPatternPrefix:
		return fmt.Errorf("%w: invalid pattern type %d", kerr.InvalidRequest, a.PatternType)
	case a.Operation < 2 || a.Operation > 14:
		return fmt.Errorf("%w: invalid operation %d", kerr.InvalidRequest, a.Operation)
	case a.Permission != 2 && a.Permission != 3:
		return fmt.Errorf("%w: invalid permission type %d", kerr.InvalidRequest, a.Permission)
	case a.ResourceName == "":
		return fmt.Errorf("%w: resource name should not be empty", kerr.InvalidRequest)
	case a.ResourceType == aclResCluster && a.ResourceName != "kafka-cluster":
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is kafka-cluster", kerr.InvalidRequest)
	case a.Host == "":
		return fmt.Errorf("%w: host should not be empty (use * for any host)", kerr.InvalidRequest)
	}
	if i := strings.IndexByte(a.Principal, ':'); i <= 0 || i == len(a.Principal)-1 {
		return fmt.Errorf("%w: could not parse principal %q: want Type:name, such as User:alice", kerr.InvalidRequest, a.Principal)
	}
	return nil
}

// aclFilter is DescribeAcls' and DeleteAcls' filter: ANY (1) and null
// match everything; the MATCH pattern type matches the ACLs that apply to
// a literal resource name: the same literal name, the literal wildcard
// "*", and prefixes of it (Kafka's ResourcePatternFilter).
type aclFilter struct {
	resourceType int8
	name         *string
	patternType  int8
	principal    *string
	host         *string
	operation    int8
	permission   int8
}

func (f aclFilter) validate() error {
	switch {
	case f.resourceType < 1 || f.resourceType > 7:
		return fmt.Errorf("%w: invalid resource type %d in the filter", kerr.InvalidRequest, f.resourceType)
	case f.patternType < 1 || f.patternType > 4:
		return fmt.Errorf("%w: invalid pattern type %d in the filter", kerr.InvalidRequest, f.patternType)
	case f.operation < 1 || f.operation > 14:
		return fmt.Errorf("%w: invalid operation %d in the filter", kerr.InvalidRequest, f.operation)
	case f.permission < 1 || f.permission > 3:
		return fmt.Errorf("%w: invalid permission type %d in the filter", kerr.InvalidRequest, f.permission)
	}
	return nil
}

func (f aclFilter) matches(a acl) bool {
	if f.resourceType != aclAny && f.resourceType != a.ResourceType {
		return false
	}
	if !f.matchesPattern(a) {
		return false
	}
	if f.principal != nil && *f.principal != a.Principal {
		return false
	}
	if f.host != nil && *f.host != a.Host {
		return false
	}
	if f.operation != aclAny && f.operation != a.Operation {
		return false
	}
	return f.permission == aclAny || f.permission == a.Permission
}

func (f aclFilter) matchesPattern(a acl) bool {
	switch f.patternType {
	case aclAny:
		return f.name == nil || *f.name == a.ResourceName
	case aclPatternMatch:
		if f.name == nil {
			return true
		}
		switch a.PatternType {
		case aclPatternLit:
			return a.ResourceName == *f.name || a.ResourceName == "*"
		case aclPatternPrefix:
			return strings.HasPrefix(*f.name, a.ResourceName)
		}
		return false
	default:
		return f.patternType == a.PatternType && (f.name == nil || *f.name == a.ResourceName)
	}
}

// groupACLs groups acls by resource, in first-seen order, for
// DescribeAcls.
func groupACLs(acls []acl) []kmsg.DescribeACLsResponseResource {
	var out []kmsg.DescribeACLsResponseResource
	index := map[[3]string]int{}
	for _, a := range acls {
		k := [3]string{fmt.Sprint(a.ResourceType), a.ResourceName, fmt.Sprint(a.PatternType)}
		i, ok := index[k]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			r.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			out = append(out, r)
			i = len(out) - 1
			index[k] = i
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host = a.Principal, a.Host
		e.Operation, e.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		out[i].ACLs = append(out[i].ACLs, e)
	}
	return out
}

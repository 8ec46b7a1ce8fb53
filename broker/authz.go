package broker

import (
	"fmt"
	"net"
	"strings"
)

// Authorizer modes of Config.Authorizer.
const (
	// AuthorizerAllowIfNoACL is Kafka's StandardAuthorizer with
	// allow.everyone.if.no.acl.found=true, the default: a resource that
	// no ACL names is open to everyone, as on a broker without ACLs; a
	// resource that has ACLs (for any principal or operation) is open only
	// to what they allow.
	AuthorizerAllowIfNoACL = "allow-if-no-acl"
	// AuthorizerDenyByDefault is Kafka's StandardAuthorizer with
	// allow.everyone.if.no.acl.found=false: only what an ACL allows, and
	// super users, get through.
	AuthorizerDenyByDefault = "deny-by-default"
)

// ACL enum codes beyond acls.go's (kmsg.ACLOperation, ACLResourceType,
// ACLPermissionType): Kafka's numbers.
const (
	aclOpRead            int8 = 3
	aclOpWrite           int8 = 4
	aclOpCreate          int8 = 5
	aclOpDelete          int8 = 6
	aclOpAlter           int8 = 7
	aclOpDescribe        int8 = 8
	aclOpClusterAction   int8 = 9
	aclOpDescribeConfigs int8 = 10
	aclOpAlterConfigs    int8 = 11
	aclOpIdempotentWrite int8 = 12

	aclResTopic int8 = 2
	aclResGroup int8 = 3
	aclResTxnID int8 = 5

	aclDeny  int8 = 2
	aclAllow int8 = 3

	// clusterName is the one CLUSTER resource's name.
	clusterName = "kafka-cluster"
	// anonymous is Kafka's principal of a client that did not
	// authenticate (PLAINTEXT, or SSL without a client certificate).
	anonymous = "User:ANONYMOUS"
)

// validateAuthz checks Authorizer and SuperUsers.
func (c Config) validateAuthz() []error {
	var errs []error
	switch c.Authorizer {
	case "", AuthorizerAllowIfNoACL, AuthorizerDenyByDefault:
	default:
		errs = append(errs, fmt.Errorf("Authorizer %q: want %q or %q", c.Authorizer, AuthorizerAllowIfNoACL, AuthorizerDenyByDefault))
	}
	for _, p := range c.SuperUsers {
		if i := strings.IndexByte(p, ':'); i <= 0 || i == len(p)-1 {
			errs = append(errs, fmt.Errorf("SuperUsers: %q is not a principal (want Type:name, such as User:admin)", p))
		}
	}
	return errs
}

// authorizer decides, per request, what its principal may do: Kafka's
// StandardAuthorizer over the ACLs of aclStore, whose index it reads
// without locks.
type authorizer struct {
	acls *aclStore
	// allowIfNone is allow.everyone.if.no.acl.found.
	allowIfNone bool
	super       map[string]bool // super.users
	log         func(msg string, args ...any)
}

func newAuthorizer(cfg Config, acls *aclStore, log func(string, ...any)) *authorizer {
	a := &authorizer{acls: acls, allowIfNone: cfg.Authorizer != AuthorizerDenyByDefault, super: map[string]bool{}, log: log}
	for _, p := range cfg.SuperUsers {
		a.super[p] = true
	}
	return a
}

// active reports whether any request can be denied. Without ACLs in the
// default mode nothing can, and requests skip the checks altogether: a
// development broker pays one atomic load per request.
func (a *authorizer) active() bool {
	return a != nil && (!a.allowIfNone || a.acls.idx.Load().n > 0)
}

// authzCtx is one request's principal and host, and the ACLs as they were
// when it arrived (one snapshot, so a request is judged consistently).
type authzCtx struct {
	a         *authorizer
	ix        *aclIndex
	principal string // "User:alice"
	wildcard  string // "User:*"
	host      string // the client's IP
	super     bool
}

// principalOf is Kafka's principal of c: its SASL user, else its TLS
// client certificate's subject (DefaultKafkaPrincipalBuilder: the full
// distinguished name, "User:CN=alice,O=example"), else User:ANONYMOUS.
func principalOf(c *conn) string {
	if c.principal == "" {
		return anonymous
	}
	return "User:" + c.principal
}

func (a *authorizer) ctxOf(c *conn) *authzCtx {
	p := principalOf(c)
	host, _, err := net.SplitHostPort(c.remote)
	if err != nil {
		host = c.remote
	}
	typ, _, _ := strings.Cut(p, ":")
	return &authzCtx{a: a, ix: a.acls.idx.Load(), principal: p, wildcard: typ + ":*", host: host, super: a.super[p]}
}

// allowed is Kafka's authorize for one action: super users pass; a DENY
// that matches wins; else an ALLOW that matches; else, when any ACL names
// the resource (literally, by the "*" wildcard or by a prefix), denied;
// else allow.everyone.if.no.acl.found.
func (z *authzCtx) allowed(op, resType int8, name string) bool {
	ok := z.permits(op, resType, name)
	if !ok && z.a.log != nil {
		// Kafka logs denials at INFO (kafka.authorizer.logger); Debug here,
		// since a client retrying a denied fetch would flood the log.
		z.a.log("authorization denied", "principal", z.principal, "host", z.host,
			"operation", aclOpName(op), "resource", aclResName(resType)+":"+name)
	}
	return ok
}

// permits is allowed without the log line, for a first pass whose
// denials are judged again with allowed.
func (z *authzCtx) permits(op, resType int8, name string) bool {
	if z.super {
		return true
	}
	d := z.ix.decide(z, op, resType, name)
	return d == decisionAllow || (d == decisionNone && z.a.allowIfNone)
}

// allowedCluster is allowed on the CLUSTER resource.
func (z *authzCtx) allowedCluster(op int8) bool { return z.allowed(op, aclResCluster, clusterName) }

type decision int8

const (
	decisionNone  decision = iota // no ACL names the resource
	decisionDeny                  // a DENY matched, or ACLs exist and no ALLOW matched
	decisionAllow                 // an ALLOW matched and no DENY
)

// aclIndex is the ACLs by resource type and pattern, rebuilt whole on
// every change (ACLs change rarely; requests read it on every check).
type aclIndex struct {
	n      int
	byType [8]typeACLs
}

type typeACLs struct {
	literal  map[string][]acl // LITERAL names other than "*"
	wildcard []acl            // LITERAL "*"
	prefixed map[string][]acl // PREFIXED, by prefix
	// minPrefix and maxPrefix bound the prefix lengths, so a check looks
	// up only the name's prefixes that some ACL could have.
	minPrefix, maxPrefix int
	all                  []acl // every ACL of the type (authorizeByResourceType)
}

func buildACLIndex(acls []acl) *aclIndex {
	ix := &aclIndex{n: len(acls)}
	for _, a := range acls {
		if a.ResourceType < 0 || int(a.ResourceType) >= len(ix.byType) {
			continue
		}
		t := &ix.byType[a.ResourceType]
		t.all = append(t.all, a)
		switch {
		case a.PatternType == aclPatternLit && a.ResourceName == "*":
			t.wildcard = append(t.wildcard, a)
		case a.PatternType == aclPatternLit:
			if t.literal == nil {
				t.literal = map[string][]acl{}
			}
			t.literal[a.ResourceName] = append(t.literal[a.ResourceName], a)
		case a.PatternType == aclPatternPrefix:
			if t.prefixed == nil {
				t.prefixed = map[string][]acl{}
				t.minPrefix = len(a.ResourceName)
			}
			t.prefixed[a.ResourceName] = append(t.prefixed[a.ResourceName], a)
			t.minPrefix = min(t.minPrefix, len(a.ResourceName))
			t.maxPrefix = max(t.maxPrefix, len(a.ResourceName))
		}
	}
	return ix
}

// decide runs StandardAuthorizerData.findAclRule: every ACL whose
// pattern covers the resource counts as "the resource has ACLs", whatever
// its principal, host or operation.
func (ix *aclIndex) decide(z *authzCtx, op, resType int8, name string) decision {
	if resType < 0 || int(resType) >= len(ix.byType) {
		return decisionNone
	}
	t := &ix.byType[resType]
	var s aclScan
	s.scan(z, op, t.literal[name])
	s.scan(z, op, t.wildcard)
	for l := t.minPrefix; l <= min(t.maxPrefix, len(name)) && t.prefixed != nil; l++ {
		s.scan(z, op, t.prefixed[name[:l]])
	}
	switch {
	case s.deny:
		return decisionDeny
	case s.allow:
		return decisionAllow
	case s.found:
		return decisionDeny
	}
	return decisionNone
}

type aclScan struct{ found, deny, allow bool }

func (s *aclScan) scan(z *authzCtx, op int8, acls []acl) {
	for i := range acls {
		a := &acls[i]
		s.found = true
		if s.deny || !z.matches(a) {
			continue
		}
		if a.Permission == aclDeny {
			s.deny = s.deny || a.Operation == aclOpAll || a.Operation == op
		} else if a.Permission == aclAllow && allowImplies(a.Operation, op) {
			s.allow = true
		}
	}
}

// matches reports whether a's principal and host are z's.
func (z *authzCtx) matches(a *acl) bool {
	if a.Principal != z.principal && a.Principal != z.wildcard {
		return false
	}
	return a.Host == "*" || a.Host == z.host
}

// allowImplies is Kafka's implication of an ALLOW ACL: ALL allows every
// operation; READ, WRITE, DELETE and ALTER allow DESCRIBE; ALTER_CONFIGS
// allows DESCRIBE_CONFIGS. (A DENY implies nothing beyond its operation,
// except DENY ALL.)
func allowImplies(have, want int8) bool {
	switch {
	case have == aclOpAll || have == want:
		return true
	case want == aclOpDescribe:
		return have == aclOpRead || have == aclOpWrite || have == aclOpDelete || have == aclOpAlter
	case want == aclOpDescribeConfigs:
		return have == aclOpAlterConfigs
	}
	return false
}

// allowedAnyOfType is Kafka's Authorizer.authorizeByResourceType (KIP-679):
// whether the principal may do op on at least one resource of the type,
// as InitProducerId without a transactional id asks for WRITE on any
// topic. A super user, or a resource nobody has ACLs for in the default
// mode (checked on the hard-coded name "hardcode", as Kafka does), passes;
// a DENY on the literal "*" fails; else some ALLOW pattern that no DENY
// dominates (the same literal, or a DENY prefix of it) passes.
func (z *authzCtx) allowedAnyOfType(op, resType int8) bool {
	if z.super || z.ix.decide(z, op, resType, "hardcode") == decisionNone && z.a.allowIfNone {
		return true
	}
	if resType < 0 || int(resType) >= len(z.ix.byType) {
		return false
	}
	denyLit, denyPre := map[string]bool{}, map[string]bool{}
	var allowLit, allowPre []string
	for i := range z.ix.byType[resType].all {
		a := &z.ix.byType[resType].all[i]
		if a.Host != z.host && a.Host != "*" {
			continue
		}
		// Kafka compares with the principal and the literal "User:*" only.
		if a.Principal != z.principal && a.Principal != "User:*" {
			continue
		}
		if a.Operation != op && a.Operation != aclOpAll {
			continue
		}
		lit := a.PatternType == aclPatternLit
		switch {
		case a.Permission == aclDeny && lit && a.ResourceName == "*":
			return false
		case a.Permission == aclDeny && lit:
			denyLit[a.ResourceName] = true
		case a.Permission == aclDeny:
			denyPre[a.ResourceName] = true
		case lit && a.ResourceName == "*":
			return true
		case lit:
			allowLit = append(allowLit, a.ResourceName)
		default:
			allowPre = append(allowPre, a.ResourceName)
		}
	}
	dominated := func(name string) bool {
		for l := 1; l <= len(name); l++ {
			if denyPre[name[:l]] {
				return true
			}
		}
		return false
	}
	for _, n := range allowLit {
		if !denyLit[n] && !dominated(n) {
			return true
		}
	}
	for _, n := range allowPre {
		if !dominated(n) {
			return true
		}
	}
	return false
}

// authorizedOps is KIP-430's bit field of the operations z may do on a
// resource, for the authorized_operations fields of Metadata,
// DescribeCluster and DescribeGroups.
func (z *authzCtx) authorizedOps(resType int8, name string) int32 {
	var bits int32
	for _, op := range supportedOps(resType) {
		if d := z.ix.decide(z, op, resType, name); z.super || d == decisionAllow || d == decisionNone && z.a.allowIfNone {
			bits |= 1 << op
		}
	}
	return bits
}

// supportedOps are the operations Kafka's authorizer can grant on a
// resource type (AclEntry.supportedOperations), reported as a bitfield when
// a request asks for authorized operations (KIP-430).
func supportedOps(resType int8) []int8 {
	switch resType {
	case aclResTopic:
		return []int8{aclOpRead, aclOpWrite, aclOpCreate, aclOpDelete, aclOpAlter, aclOpDescribe, aclOpDescribeConfigs, aclOpAlterConfigs}
	case aclResGroup:
		return []int8{aclOpRead, aclOpDescribe, aclOpDelete}
	case aclResCluster:
		return []int8{aclOpCreate, aclOpClusterAction, aclOpDescribeConfigs, aclOpAlterConfigs, aclOpIdempotentWrite, aclOpAlter, aclOpDescribe}
	}
	return nil
}

// allOps is the bitfield of every supported operation: what Kafka reports
// when no authorizer is configured, and what the default mode allows on a
// resource no ACL names.
func allOps(resType int8) int32 {
	var bits int32
	for _, op := range supportedOps(resType) {
		bits |= 1 << op
	}
	return bits
}

func aclOpName(op int8) string {
	names := [...]string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
		"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}
	if op >= 0 && int(op) < len(names) {
		return names[op]
	}
	return fmt.Sprint(op)
}

func aclResName(t int8) string {
	names := [...]string{"Unknown", "Any", "Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User"}
	if t >= 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprint(t)
}

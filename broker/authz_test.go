package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aclOf builds an ACL from Kafka's names, for readable tables.
func aclOf(perm, principal, host, op, res, pattern, name string) acl {
	ops := map[string]int8{"ALL": aclOpAll, "READ": aclOpRead, "WRITE": aclOpWrite, "CREATE": aclOpCreate, "DELETE": aclOpDelete,
		"ALTER": aclOpAlter, "DESCRIBE": aclOpDescribe, "DESCRIBE_CONFIGS": aclOpDescribeConfigs, "ALTER_CONFIGS": aclOpAlterConfigs,
		"IDEMPOTENT_WRITE": aclOpIdempotentWrite}
	resTypes := map[string]int8{"TOPIC": aclResTopic, "GROUP": aclResGroup, "CLUSTER": aclResCluster, "TXN": aclResTxnID}
	a := acl{ResourceType: resTypes[res], ResourceName: name, PatternType: aclPatternLit, Principal: principal, Host: host,
		Operation: ops[op], Permission: aclAllow}
	if pattern == "PREFIXED" {
		a.PatternType = aclPatternPrefix
	}
	if perm == "DENY" {
		a.Permission = aclDeny
	}
	return a
}

func testAuthz(acls []acl, mode string, supers ...string) *authorizer {
	s := &aclStore{acls: acls}
	s.idx.Store(buildACLIndex(acls))
	return newAuthorizer(Config{Authorizer: mode, SuperUsers: supers}, s, nil)
}

func zctx(a *authorizer, principal, host string) *authzCtx {
	return &authzCtx{a: a, ix: a.acls.idx.Load(), principal: principal, wildcard: "User:*", host: host, super: a.super[principal]}
}

// The matcher against Kafka's StandardAuthorizer rules, one table.
func TestAuthzMatcher(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	aliceWritesT := aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "LITERAL", "t")
	cases := []struct {
		name      string
		acls      []acl
		mode      string
		principal string
		host      string
		op        int8
		res       int8
		resource  string
		want      bool
	}{
		{"no ACLs, default: allowed", nil, "", alice, "127.0.0.1", aclOpRead, aclResTopic, "t", true},
		{"no ACLs, deny-by-default", nil, AuthorizerDenyByDefault, alice, "127.0.0.1", aclOpRead, aclResTopic, "t", false},
		{"allowed operation", []acl{aliceWritesT}, "", alice, "127.0.0.1", aclOpWrite, aclResTopic, "t", true},
		{"other operation on a resource with ACLs, default mode", []acl{aliceWritesT}, "", alice, "127.0.0.1", aclOpRead, aclResTopic, "t", false},
		{"other principal on a resource with ACLs, default mode", []acl{aliceWritesT}, "", bob, "127.0.0.1", aclOpWrite, aclResTopic, "t", false},
		{"resource without ACLs, default mode", []acl{aliceWritesT}, "", bob, "127.0.0.1", aclOpWrite, aclResTopic, "u", true},
		{"resource without ACLs, deny-by-default", []acl{aliceWritesT}, AuthorizerDenyByDefault, bob, "127.0.0.1", aclOpWrite, aclResTopic, "u", false},
		{"same name, other resource type", []acl{aliceWritesT}, AuthorizerDenyByDefault, alice, "127.0.0.1", aclOpWrite, aclResGroup, "t", false},
		{"WRITE implies DESCRIBE", []acl{aliceWritesT}, AuthorizerDenyByDefault, alice, "127.0.0.1", aclOpDescribe, aclResTopic, "t", true},
		{"READ implies DESCRIBE", []acl{aclOf("ALLOW", alice, "*", "READ", "GROUP", "LITERAL", "g")}, AuthorizerDenyByDefault, alice, "h", aclOpDescribe, aclResGroup, "g", true},
		{"DESCRIBE implies nothing", []acl{aclOf("ALLOW", alice, "*", "DESCRIBE", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "t", false},
		{"ALTER_CONFIGS implies DESCRIBE_CONFIGS", []acl{aclOf("ALLOW", alice, "*", "ALTER_CONFIGS", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, alice, "h", aclOpDescribeConfigs, aclResTopic, "t", true},
		{"ALL allows everything", []acl{aclOf("ALLOW", alice, "*", "ALL", "CLUSTER", "LITERAL", clusterName)}, AuthorizerDenyByDefault, alice, "h", aclOpAlterConfigs, aclResCluster, clusterName, true},
		{"DENY wins over ALLOW", []acl{aliceWritesT, aclOf("DENY", alice, "*", "WRITE", "TOPIC", "LITERAL", "t")}, "", alice, "h", aclOpWrite, aclResTopic, "t", false},
		{"DENY wins over a wildcard ALLOW", []acl{aclOf("ALLOW", "User:*", "*", "ALL", "TOPIC", "LITERAL", "*"), aclOf("DENY", alice, "*", "READ", "TOPIC", "PREFIXED", "sec")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "secret", false},
		{"a DENY READ does not deny DESCRIBE", []acl{aclOf("ALLOW", alice, "*", "ALL", "TOPIC", "LITERAL", "t"), aclOf("DENY", alice, "*", "READ", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, alice, "h", aclOpDescribe, aclResTopic, "t", true},
		{"DENY ALL denies DESCRIBE", []acl{aliceWritesT, aclOf("DENY", alice, "*", "ALL", "TOPIC", "LITERAL", "t")}, "", alice, "h", aclOpDescribe, aclResTopic, "t", false},
		{"prefixed ALLOW", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "PREFIXED", "logs-")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "logs-eu", true},
		{"prefixed ALLOW, whole name", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "PREFIXED", "logs-")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "logs-", true},
		{"prefix longer than the name", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "PREFIXED", "logs-")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "logs", false},
		{"prefix of another name does not cover it, default mode", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "PREFIXED", "logs-")}, "", bob, "h", aclOpRead, aclResTopic, "metrics", true},
		{"prefixed ACL makes the resource have ACLs", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "PREFIXED", "logs-")}, "", bob, "h", aclOpRead, aclResTopic, "logs-eu", false},
		{"literal * covers every name", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "LITERAL", "*")}, AuthorizerDenyByDefault, alice, "h", aclOpRead, aclResTopic, "anything", true},
		{"principal wildcard", []acl{aclOf("ALLOW", "User:*", "*", "READ", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, bob, "h", aclOpRead, aclResTopic, "t", true},
		{"ANONYMOUS is a principal", []acl{aclOf("ALLOW", anonymous, "*", "READ", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, anonymous, "h", aclOpRead, aclResTopic, "t", true},
		{"host must match", []acl{aclOf("ALLOW", alice, "10.0.0.1", "READ", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, alice, "127.0.0.1", aclOpRead, aclResTopic, "t", false},
		{"host matches", []acl{aclOf("ALLOW", alice, "127.0.0.1", "READ", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, alice, "127.0.0.1", aclOpRead, aclResTopic, "t", true},
		{"certificate principal", []acl{aclOf("ALLOW", "User:CN=carol,O=skiff", "*", "WRITE", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, "User:CN=carol,O=skiff", "h", aclOpWrite, aclResTopic, "t", true},
		{"super user passes a DENY", []acl{aclOf("DENY", "User:admin", "*", "ALL", "TOPIC", "LITERAL", "t")}, AuthorizerDenyByDefault, "User:admin", "h", aclOpWrite, aclResTopic, "t", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := zctx(testAuthz(c.acls, c.mode, "User:admin"), c.principal, c.host)
			assert.Equal(t, c.want, z.allowed(c.op, c.res, c.resource))
		})
	}
}

// KIP-679's authorizeByResourceType, as InitProducerId uses it: WRITE on
// any topic.
func TestAuthzAnyOfType(t *testing.T) {
	const alice = "User:alice"
	cases := []struct {
		name string
		acls []acl
		mode string
		want bool
	}{
		{"no ACLs, default mode", nil, "", true},
		{"no ACLs, deny-by-default", nil, AuthorizerDenyByDefault, false},
		{"a literal ALLOW", []acl{aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "LITERAL", "x")}, AuthorizerDenyByDefault, true},
		{"ALLOW ALL", []acl{aclOf("ALLOW", alice, "*", "ALL", "TOPIC", "PREFIXED", "x")}, AuthorizerDenyByDefault, true},
		{"READ is not WRITE", []acl{aclOf("ALLOW", alice, "*", "READ", "TOPIC", "LITERAL", "x")}, AuthorizerDenyByDefault, false},
		{"literal DENY of the same name", []acl{aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "LITERAL", "x"), aclOf("DENY", alice, "*", "WRITE", "TOPIC", "LITERAL", "x")}, AuthorizerDenyByDefault, false},
		{"prefixed DENY dominates", []acl{aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "PREFIXED", "logs-eu"), aclOf("DENY", alice, "*", "WRITE", "TOPIC", "PREFIXED", "logs")}, AuthorizerDenyByDefault, false},
		{"prefixed DENY elsewhere", []acl{aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "PREFIXED", "logs"), aclOf("DENY", alice, "*", "WRITE", "TOPIC", "PREFIXED", "logs-eu")}, AuthorizerDenyByDefault, true},
		{"wildcard DENY", []acl{aclOf("ALLOW", alice, "*", "WRITE", "TOPIC", "LITERAL", "x"), aclOf("DENY", "User:*", "*", "WRITE", "TOPIC", "LITERAL", "*")}, AuthorizerDenyByDefault, false},
		{"wildcard ALLOW", []acl{aclOf("ALLOW", "User:*", "*", "WRITE", "TOPIC", "LITERAL", "*")}, AuthorizerDenyByDefault, true},
		{"another principal's ALLOW", []acl{aclOf("ALLOW", "User:bob", "*", "WRITE", "TOPIC", "LITERAL", "x")}, AuthorizerDenyByDefault, false},
		{"a prefixed ACL covering hardcode, default mode", []acl{aclOf("DENY", "User:bob", "*", "READ", "TOPIC", "PREFIXED", "hard")}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := zctx(testAuthz(c.acls, c.mode), alice, "127.0.0.1")
			assert.Equal(t, c.want, z.allowedAnyOfType(aclOpWrite, aclResTopic))
		})
	}
}

// The index follows creations and deletions, and without ACLs the default
// mode checks nothing.
func TestAuthzIndexFollowsStore(t *testing.T) {
	s, err := openACLs(t.TempDir())
	require.NoError(t, err)
	a := newAuthorizer(Config{}, s, nil)
	assert.False(t, a.active(), "no ACLs, default mode: no checks")
	assert.True(t, newAuthorizer(Config{Authorizer: AuthorizerDenyByDefault}, s, nil).active())
	require.NoError(t, s.create(aclOf("ALLOW", "User:alice", "*", "READ", "TOPIC", "LITERAL", "t")))
	require.True(t, a.active())
	assert.False(t, zctx(a, "User:bob", "h").allowed(aclOpRead, aclResTopic, "t"))
	_, err = s.delete(aclFilter{resourceType: aclAny, patternType: aclAny, operation: aclAny, permission: aclAny})
	require.NoError(t, err)
	assert.False(t, a.active())
	assert.True(t, zctx(a, "User:bob", "h").allowed(aclOpRead, aclResTopic, "t"))
}

// A check costs no allocation (it runs per topic of every request).
func BenchmarkAuthzCheck(b *testing.B) {
	var acls []acl
	for i := range 100 {
		acls = append(acls, aclOf("ALLOW", "User:alice", "*", "WRITE", "TOPIC", "LITERAL", "topic-"+string(rune('a'+i%26))+string(rune('a'+i/26))))
		acls = append(acls, aclOf("ALLOW", "User:bob", "*", "READ", "TOPIC", "PREFIXED", "p"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	z := zctx(testAuthz(acls, AuthorizerDenyByDefault), "User:alice", "127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		if !z.allowed(aclOpWrite, aclResTopic, "topic-ab") {
			b.Fatal("denied")
		}
	}
}

// The per-request cost of the checks on a produce of ten topics that are
// all allowed: one check per topic, nothing per partition or record.
func BenchmarkAuthorizeProduce(b *testing.B) {
	var acls []acl
	req := produceReq("t0", 0, nil)
	for i := range 10 {
		name := "t" + string(rune('0'+i))
		acls = append(acls, aclOf("ALLOW", "User:alice", "*", "WRITE", "TOPIC", "LITERAL", name))
		if i > 0 {
			req.Topics = append(req.Topics, req.Topics[0])
			req.Topics[i].Topic = name
		}
	}
	br := &Broker{authz: testAuthz(acls, AuthorizerDenyByDefault)}
	c := &conn{remote: "127.0.0.1:40000", principal: "alice"}
	b.ReportAllocs()
	for b.Loop() {
		r := &request{c: c, kreq: req}
		if br.authorize(r) || r.authzDone != nil {
			b.Fatal("denied")
		}
	}
}

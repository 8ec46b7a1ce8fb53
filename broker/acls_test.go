package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestACLsKadm: create, describe (literal, prefixed and MATCH filters),
// delete and the validation errors, with kadm; the ACLs survive a restart.
func TestACLsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	adm := newAdm(t, b)

	created, err := adm.CreateACLs(ctx(t), kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").Operations(kadm.OpRead, kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	require.NoError(t, err)
	require.Len(t, created, 2)
	for _, c := range created {
		assert.NoError(t, c.Err, c.ErrMessage)
	}
	created, err = adm.CreateACLs(ctx(t), kadm.NewACLs().Deny("User:bob").DenyHosts("*").Topics("ord").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))
	require.NoError(t, err)
	require.NoError(t, created[0].Err)
	// Creating the same ACL again is a success and does not duplicate it.
	created, err = adm.CreateACLs(ctx(t), kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	require.NoError(t, err)
	require.NoError(t, created[0].Err)

	describe := func(t *testing.T, bld *kadm.ACLBuilder) kadm.DescribedACLs {
		t.Helper()
		rs, err := adm.DescribeACLs(ctx(t), bld)
		require.NoError(t, err)
		var out kadm.DescribedACLs
		for _, r := range rs {
			require.NoError(t, r.Err, r.ErrMessage)
			out = append(out, r.Described...)
		}
		return out
	}
	anyTopic := func(pattern kadm.ACLPattern, names ...string) *kadm.ACLBuilder {
		return kadm.NewACLs().Topics(names...).ResourcePatternType(pattern).Operations(kadm.OpAny).Allow().Deny().AllowHosts().DenyHosts()
	}
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternLiteral, "orders")), 2, "alice's two literal ACLs")
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternPrefixed, "ord")), 1, "bob's prefixed deny")
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternMatch, "orders")), 3, "MATCH: literal and prefixes of the name")
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternMatch, "other")), 0)
	alice := describe(t, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow("User:alice").AllowHosts())
	assert.Len(t, alice, 2)

	// Invalid: an empty principal type and a cluster named otherwise.
	req := kmsg.NewPtrCreateACLsRequest()
	for _, c := range []kmsg.CreateACLsRequestCreation{
		{ResourceType: 2, ResourceName: "t", ResourcePatternType: 3, Principal: "alice", Host: "*", Operation: 3, PermissionType: 3},
		{ResourceType: 4, ResourceName: "other", ResourcePatternType: 3, Principal: "User:a", Host: "*", Operation: 3, PermissionType: 3},
		{ResourceType: 2, ResourceName: "t", ResourcePatternType: 2, Principal: "User:a", Host: "*", Operation: 3, PermissionType: 3},
	} {
		req.Creations = append(req.Creations, c)
	}
	resp := dialRaw(t, b).roundTrip(req, 3).(*kmsg.CreateACLsResponse)
	require.Len(t, resp.Results, 3)
	for i, r := range resp.Results {
		assert.Equal(t, kerr.InvalidRequest.Code, r.ErrorCode, "creation %d", i)
	}

	// Durable.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	adm = newAdm(t, b2)
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternMatch, "orders")), 3, "after a restart")

	deleted, err := adm.DeleteACLs(ctx(t), kadm.NewACLs().Topics("orders").ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead).Allow("User:alice").AllowHosts("*"))
	require.NoError(t, err)
	require.Len(t, deleted, 1)
	require.NoError(t, deleted[0].Err)
	assert.Len(t, deleted[0].Deleted, 1)
	assert.Len(t, describe(t, anyTopic(kadm.ACLPatternMatch, "orders")), 2)
}

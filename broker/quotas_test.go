package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClientQuotasKadm: set, describe (exact, default, any, strict),
// remove, the validation errors, validate-only and durability, with kadm.
func TestClientQuotasKadm(t *testing.T) {
	b := startBroker(t, Config{})
	adm := newAdm(t, b)
	s := func(v string) *string { return &v }
	user := func(name *string) kadm.ClientQuotaEntity {
		return kadm.ClientQuotaEntity{{Type: "user", Name: name}}
	}
	set := func(k string, v float64) kadm.AlterClientQuotaOp { return kadm.AlterClientQuotaOp{Key: k, Value: v} }

	for _, tc := range []struct {
		name     string
		validate bool
		entry    kadm.AlterClientQuotaEntry
		wantErr  error
	}{
		{name: "user alice", entry: kadm.AlterClientQuotaEntry{Entity: user(s("alice")), Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1024), set("request_percentage", 12.5)}}},
		{name: "default user", entry: kadm.AlterClientQuotaEntry{Entity: user(nil), Ops: []kadm.AlterClientQuotaOp{set("consumer_byte_rate", 2048)}}},
		{name: "user and client", entry: kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: s("alice")}, {Type: "client-id", Name: s("app")}}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 10)}}},
		{name: "ip", entry: kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: s("10.0.0.1")}}, Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 5)}}},
		{name: "validate only", validate: true, entry: kadm.AlterClientQuotaEntry{Entity: user(s("carol")), Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}}},
		{name: "not a whole number", entry: kadm.AlterClientQuotaEntry{Entity: user(s("bob")), Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1.5)}}, wantErr: kerr.InvalidRequest},
		{name: "unknown key", entry: kadm.AlterClientQuotaEntry{Entity: user(s("bob")), Ops: []kadm.AlterClientQuotaOp{set("speed", 1)}}, wantErr: kerr.InvalidRequest},
		{name: "ip key on a user", entry: kadm.AlterClientQuotaEntry{Entity: user(s("bob")), Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 1)}}, wantErr: kerr.InvalidRequest},
		{name: "bad ip", entry: kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: s("nope")}}, Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 1)}}, wantErr: kerr.InvalidRequest},
		{name: "ip with user", entry: kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: s("10.0.0.1")}, {Type: "user", Name: s("a")}}, Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 1)}}, wantErr: kerr.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alter := adm.AlterClientQuotas
			if tc.validate {
				alter = adm.ValidateAlterClientQuotas
			}
			rs, err := alter(ctx(t), []kadm.AlterClientQuotaEntry{tc.entry})
			require.NoError(t, err)
			require.Len(t, rs, 1)
			if tc.wantErr != nil {
				assert.ErrorIs(t, rs[0].Err, tc.wantErr)
			} else {
				assert.NoError(t, rs[0].Err, rs[0].ErrMessage)
			}
		})
	}

	describe := func(t *testing.T, strict bool, cs ...kadm.DescribeClientQuotaComponent) kadm.DescribedClientQuotas {
		t.Helper()
		d, err := adm.DescribeClientQuotas(ctx(t), strict, cs)
		require.NoError(t, err)
		return d
	}
	exact := describe(t, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: s("alice"), MatchType: kmsg.QuotasMatchTypeExact})
	require.Len(t, exact, 1)
	assert.ElementsMatch(t, kadm.ClientQuotaValues{{Key: "producer_byte_rate", Value: 1024}, {Key: "request_percentage", Value: 12.5}}, exact[0].Values)
	assert.Len(t, describe(t, false, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: s("alice"), MatchType: kmsg.QuotasMatchTypeExact}), 2, "non-strict: alice and alice+app")
	def := describe(t, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: kmsg.QuotasMatchTypeDefault})
	require.Len(t, def, 1)
	assert.Nil(t, def[0].Entity[0].Name)
	assert.Len(t, describe(t, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: kmsg.QuotasMatchTypeAny}), 2, "alice and the default; carol was validate-only")
	assert.Len(t, describe(t, false), 4, "no components: everything")

	// Remove alice's values: the entity goes.
	rs, err := adm.AlterClientQuotas(ctx(t), []kadm.AlterClientQuotaEntry{{Entity: user(s("alice")), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}, {Key: "request_percentage", Remove: true}}}})
	require.NoError(t, err)
	require.NoError(t, rs[0].Err)
	assert.Empty(t, describe(t, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchName: s("alice"), MatchType: kmsg.QuotasMatchTypeExact}))

	// Durable.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	adm = newAdm(t, b2)
	assert.Len(t, describe(t, false), 3, "after a restart")
}

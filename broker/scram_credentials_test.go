package broker

import (
	"crypto/sha512"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/skiffkit/skiff/internal/auth"
)

// TestUserScramCredentialsKadm: kadm salts the passwords itself; the
// broker keeps the stored and server keys, which must equal what the SASL
// authenticator's own derivation gives for the same password and salt.
func TestUserScramCredentialsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	adm := newAdm(t, b)
	rs, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "pw-256"},
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "pw-512"},
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 100, Password: "x"},
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 99999, Password: "x"},
	})
	require.NoError(t, err)
	assert.NoError(t, rs["alice"].Err, rs["alice"].ErrMessage)
	assert.ErrorIs(t, rs["bob"].Err, kerr.UnacceptableCredential, "too few iterations")
	assert.ErrorIs(t, rs["carol"].Err, kerr.UnacceptableCredential, "too many iterations")

	// Keys as the authenticator derives them, from a known salt.
	_, err = adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "secret"}})
	require.NoError(t, err)
	got, ok := b.scram.lookup("dave", scramSHA512)
	require.True(t, ok)
	want, err := auth.DeriveCredential(sha512.New, "secret", got.Salt, 4096)
	require.NoError(t, err)
	assert.Equal(t, want.StoredKey, got.StoredKey)
	assert.Equal(t, want.ServerKey, got.ServerKey)

	ds, err := adm.DescribeUserSCRAMs(ctx(t))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"alice", "dave"}, keys(ds))
	assert.ElementsMatch(t, []kadm.CredInfo{{Mechanism: kadm.ScramSha256, Iterations: 4096}, {Mechanism: kadm.ScramSha512, Iterations: 8192}}, ds["alice"].CredInfos)
	ds, err = adm.DescribeUserSCRAMs(ctx(t), "nobody")
	if err == nil {
		assert.ErrorIs(t, ds["nobody"].Err, kerr.ResourceNotFound)
	} else {
		assert.ErrorIs(t, err, kerr.ResourceNotFound)
	}

	// Deleting: a missing credential is RESOURCE_NOT_FOUND; the same user
	// and mechanism twice is DUPLICATE_RESOURCE.
	rs, err = adm.AlterUserSCRAMs(ctx(t), []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}, {User: "dave", Mechanism: kadm.ScramSha256}}, nil)
	require.NoError(t, err)
	assert.NoError(t, rs["alice"].Err)
	assert.ErrorIs(t, rs["dave"].Err, kerr.ResourceNotFound)
	rs, err = adm.AlterUserSCRAMs(ctx(t), []kadm.DeleteSCRAM{{User: "dave", Mechanism: kadm.ScramSha512}},
		[]kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "again"}})
	require.NoError(t, err)
	assert.ErrorIs(t, rs["dave"].Err, kerr.DuplicateResource)
	_, ok = b.scram.lookup("dave", scramSHA512)
	assert.True(t, ok, "a failed user's changes are not applied")

	// Durable.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	after, ok := b2.scram.lookup("dave", scramSHA512)
	require.True(t, ok)
	assert.Equal(t, got, after)
	_, ok = b2.scram.lookup("alice", scramSHA256)
	assert.False(t, ok)
}

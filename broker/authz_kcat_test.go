package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
)

// librdkafka (kcat) against a deny-by-default broker, logging in with a
// SCRAM user created through AlterUserScramCredentials: what its ACLs
// allow works, the rest fails with Kafka's authorization errors.
func TestAuthzKcat(t *testing.T) {
	kcat := kcatBinary(t)
	ab := startAuthz(t)
	admin := ab.as(t, "admin")
	adm := kadm.NewClient(admin)
	createTopic(t, admin, "kc", 1, nil)
	createTopic(t, admin, "kc-secret", 1, nil)
	sc, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: "erin", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "erin-pw"}})
	require.NoError(t, err)
	require.NoError(t, sc["erin"].Err)
	allowACL(t, adm, kadm.NewACLs().Allow("User:erin").AllowHosts("*").Topics("kc").Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))

	base := []string{"-b", ab.ListenerAddr("SASL_PLAINTEXT"), "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=erin", "-X", "sasl.password=erin-pw"}
	runClient(t, "one\ntwo\n", kcat, append([]string{"-P", "-t", "kc"}, base...)...)
	out := runClient(t, "", kcat, append([]string{"-C", "-t", "kc", "-o", "beginning", "-e", "-f", `%s\n`}, base...)...)
	assert.Equal(t, "one\ntwo", strings.TrimSpace(out))

	md := runClient(t, "", kcat, append([]string{"-L"}, base...)...)
	assert.Contains(t, md, `topic "kc"`)
	assert.NotContains(t, md, `topic "kc-secret"`, "no DESCRIBE: not listed")

	msg := filepath.Join(t.TempDir(), "msg")
	require.NoError(t, os.WriteFile(msg, []byte("denied"), 0o600))
	_, stderr, _ := runClientResult(t, nil, kcat, append(append([]string{"-P", "-t", "kc-secret"}, base...), msg)...)
	assert.Contains(t, strings.ToLower(stderr), "authorization failed", "librdkafka's delivery report")
}

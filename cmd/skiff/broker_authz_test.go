package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// skiff broker --authorizer deny-by-default --super-users: the super user
// may do anything, another user nothing without ACLs.
func TestBrokerAuthorizerFlags(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(users, []byte("alice:alice-pw\nadmin:admin-pw\n"), 0o600))
	lines, _ := startBrokerCmd(t, 1, "--listeners", "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-users", users,
		"--authorizer", "deny-by-default", "--super-users", "User:admin; User:CN=ops")
	addr := strings.Fields(lines[0])[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	createAs := func(user string) int16 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: user, Pass: user + "-pw"}.AsMechanism()))
		require.NoError(t, err)
		defer cl.Close()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "by-"+user, 1, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		require.NoError(t, err)
		require.Len(t, resp.Topics, 1)
		return resp.Topics[0].ErrorCode
	}
	assert.Zero(t, createAs("admin"))
	assert.Equal(t, kerr.TopicAuthorizationFailed.Code, createAs("alice"))
}

func TestBrokerAuthorizerFlagErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown authorizer", []string{"--authorizer", "allow-all"}, "--authorizer"},
		{"super user without a type", []string{"--super-users", "admin"}, "not a principal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := brokerMain(context.Background(), append(c.args, "--listen", "127.0.0.1:0", "--data", t.TempDir()), &stdout, &stderr)
			assert.NotZero(t, code)
			assert.Contains(t, stderr.String(), c.want)
		})
	}
}

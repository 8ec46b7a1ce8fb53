package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xdgscram "github.com/xdg-go/scram"
)

// Clients we did not write, against the broker's TLS and SASL listeners:
// kcat (librdkafka), kafka-python, franz-go and sarama.

// runClientResult runs a client that may fail, returning its stdout,
// stderr and whether it exited 0, within clientTimeout.
func runClientResult(t testing.TB, env []string, bin string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.WaitDelay = 2 * time.Second
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	require.NoError(t, c.Err(), "%s timed out; stderr:\n%s", filepath.Base(bin), lastLines(se.String(), 40))
	return so.String(), se.String(), err == nil
}

func TestKcatSecure(t *testing.T) {
	kcat := kcatBinary(t)
	sb := startSecure(t, "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0", nil)
	tlsArgs := []string{"-X", "ssl.ca.location=" + sb.caFile}
	saslArgs := func(mech, user, pw string) []string {
		return []string{"-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=" + user, "-X", "sasl.password=" + pw}
	}
	cases := []struct {
		name  string
		addr  string
		proto string
		args  []string
	}{
		{"SASL_SSL SCRAM-SHA-512", sb.ListenerAddr("SASL_SSL"), "SASL_SSL", append(saslArgs("SCRAM-SHA-512", secUser, secPassword), tlsArgs...)},
		{"SASL_SSL SCRAM-SHA-256", sb.ListenerAddr("SASL_SSL"), "SASL_SSL", append(saslArgs("SCRAM-SHA-256", secUser, secPassword), tlsArgs...)},
		{"SASL_SSL PLAIN", sb.ListenerAddr("SASL_SSL"), "SASL_SSL", append(saslArgs("PLAIN", secUser, secPassword), tlsArgs...)},
		{"SSL", sb.ListenerAddr("SSL"), "SSL", tlsArgs},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := fmt.Sprintf("kcat-secure-%d", i)
			base := append([]string{"-b", c.addr, "-X", "security.protocol=" + c.proto}, c.args...)
			lines := make([]string, 20)
			for j := range lines {
				lines[j] = fmt.Sprintf("%s-%d", c.name, j)
			}
			runClient(t, strings.Join(lines, "\n")+"\n", kcat, append(append([]string{"-P", "-t", topic}, base...), kcatDebug...)...)
			out := runClient(t, "", kcat, append([]string{"-C", "-t", topic, "-o", "beginning", "-e", "-f", `%s\n`}, base...)...)
			assert.Equal(t, lines, strings.Split(strings.TrimSpace(out), "\n"))
		})
	}

	fails := []struct {
		name, addr string
		args       []string
		want       string // in librdkafka's log
	}{
		{"wrong password", sb.ListenerAddr("SASL_SSL"), append(append([]string{"-X", "security.protocol=SASL_SSL"}, saslArgs("SCRAM-SHA-512", secUser, "hunter2-wrong")...), tlsArgs...), "SASL authentication error: authentication failed"},
		{"unknown user", sb.ListenerAddr("SASL_SSL"), append(append([]string{"-X", "security.protocol=SASL_SSL"}, saslArgs("PLAIN", "mallory", "hunter2-wrong")...), tlsArgs...), "SASL authentication error: authentication failed"},
		{"plaintext on the TLS port", sb.ListenerAddr("SASL_SSL"), append([]string{"-X", "security.protocol=SASL_PLAINTEXT"}, saslArgs("PLAIN", secUser, secPassword)...), "Disconnected"},
		{"TLS on the plaintext port", sb.ListenerAddr("SASL_PLAINTEXT"), append(append([]string{"-X", "security.protocol=SASL_SSL"}, saslArgs("PLAIN", secUser, secPassword)...), tlsArgs...), "SSL handshake failed"},
		{"no SASL on a SASL listener", sb.ListenerAddr("SASL_PLAINTEXT"), []string{"-X", "security.protocol=PLAINTEXT"}, "Disconnected"},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			args := append([]string{"-L", "-b", f.addr, "-m", "3", "-d", "security,broker"}, f.args...)
			_, stderr, ok := runClientResult(t, nil, kcat, args...)
			assert.False(t, ok, "kcat -L should fail")
			assert.True(t, strings.Contains(stderr, f.want), "want %q in kcat's log:\n%s", f.want, lastLines(stderr, 15))
		})
	}
	assert.NotContains(t, sb.logs.String(), "hunter2")
}

func TestKafkaPythonSASL(t *testing.T) {
	py := kafkaPython(t)
	sb := startSecure(t, "SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", nil)
	script := filepath.Join("testdata", "clients", "kafka_python_sasl.py")
	type result struct {
		Values []string `json:"values"`
		Error  string   `json:"error"`
	}
	run := func(t *testing.T, pw string, args ...string) result {
		out, stderr, ok := runClientResult(t, []string{"SKIFF_SASL_PASSWORD=" + pw}, py, append([]string{script}, args...)...)
		require.True(t, ok, "stderr:\n%s", lastLines(stderr, 40))
		var r result
		require.NoError(t, json.Unmarshal([]byte(out), &r), "output %q, stderr:\n%s", out, lastLines(stderr, 40))
		return r
	}
	want := make([]string, 10)
	for i := range want {
		want[i] = fmt.Sprintf("v%d", i)
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run("SASL_PLAINTEXT "+mech, func(t *testing.T) {
			r := run(t, secPassword, "--bootstrap", sb.ListenerAddr("SASL_PLAINTEXT"), "--topic", "kp-"+mech, "--mechanism", mech, "--user", secUser)
			require.Empty(t, r.Error)
			assert.Equal(t, want, r.Values)
		})
	}
	t.Run("SASL_SSL SCRAM-SHA-512", func(t *testing.T) {
		r := run(t, secPassword, "--bootstrap", sb.ListenerAddr("SASL_SSL"), "--topic", "kp-ssl", "--protocol", "SASL_SSL",
			"--mechanism", "SCRAM-SHA-512", "--user", secUser, "--cafile", sb.caFile)
		require.Empty(t, r.Error)
		assert.Equal(t, want, r.Values)
	})
	for _, f := range []struct{ name, mech, user string }{
		{"wrong password PLAIN", "PLAIN", secUser},
		{"wrong password SCRAM", "SCRAM-SHA-256", secUser},
		{"unknown user", "SCRAM-SHA-512", "mallory"},
	} {
		t.Run(f.name, func(t *testing.T) {
			logged := "user=" + f.user
			before := strings.Count(sb.logs.String(), logged)
			r := run(t, "hunter2-wrong", "--bootstrap", sb.ListenerAddr("SASL_PLAINTEXT"), "--topic", "kp-fail", "--mechanism", f.mech, "--user", f.user, "--count", "1")
			assert.Empty(t, r.Values)
			assert.NotEmpty(t, r.Error)
			// kafka-python reports NoBrokersAvailable; the broker's log
			// says why.
			assert.Greater(t, strings.Count(sb.logs.String(), logged), before, "a failed login of %s is logged", f.user)
			t.Logf("kafka-python: %s", r.Error)
		})
	}
	assert.NotContains(t, sb.logs.String(), "hunter2")
}

func TestFranzGoSASLSSL(t *testing.T) {
	sb := startSecure(t, "SASL_SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0", nil)
	addr := sb.ListenerAddr("SASL_SSL")
	mechs := map[string]sasl.Mechanism{
		"PLAIN":         plain.Auth{User: secUser, Pass: secPassword}.AsMechanism(),
		"SCRAM-SHA-256": scram.Auth{User: secUser, Pass: secPassword}.AsSha256Mechanism(),
		"SCRAM-SHA-512": scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism(),
	}
	for name, m := range mechs {
		t.Run(name, func(t *testing.T) {
			topic := "kgo-" + name
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(sb.clientTLS.Clone()), kgo.SASL(m),
				kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ConsumerGroup("g-"+name))
			require.NoError(t, err)
			defer cl.Close()
			for i := range 20 {
				require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr())
			}
			got := 0
			for got < 20 {
				fs := cl.PollFetches(ctx(t))
				require.NoError(t, fs.Err0())
				got += fs.NumRecords()
			}
			require.NoError(t, cl.CommitUncommittedOffsets(ctx(t)))
		})
	}
	fails := []struct {
		name string
		opts []kgo.Opt
	}{
		{"wrong password", []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(sb.clientTLS.Clone()), kgo.SASL(scram.Auth{User: secUser, Pass: "hunter2-wrong"}.AsSha512Mechanism())}},
		{"unknown user", []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(sb.clientTLS.Clone()), kgo.SASL(plain.Auth{User: "mallory", Pass: "hunter2-wrong"}.AsMechanism())}},
		{"plaintext on the TLS port", []kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: secUser, Pass: secPassword}.AsMechanism())}},
		{"TLS on the plaintext port", []kgo.Opt{kgo.SeedBrokers(sb.ListenerAddr("PLAINTEXT")), kgo.DialTLSConfig(sb.clientTLS.Clone())}},
		{"no SASL", []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(sb.clientTLS.Clone())}},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			cl, err := kgo.NewClient(append(f.opts, kgo.RequestRetries(0), kgo.RetryTimeout(2*time.Second))...)
			require.NoError(t, err)
			defer cl.Close()
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = kmsg.NewPtrMetadataRequest().RequestWith(c, cl)
			assert.Error(t, err)
			t.Logf("franz-go: %v", err)
		})
	}
	assert.NotContains(t, sb.logs.String(), "hunter2")
}

// xdgSCRAM is sarama's SCRAMClient over github.com/xdg-go/scram, as
// sarama's own examples wire it.
type xdgSCRAM struct {
	hash xdgscram.HashGeneratorFcn
	conv *xdgscram.ClientConversation
}

func (x *xdgSCRAM) Begin(user, pw, authz string) error {
	c, err := x.hash.NewClient(user, pw, authz)
	if err != nil {
		return err
	}
	x.conv = c.NewConversation()
	return nil
}
func (x *xdgSCRAM) Step(challenge string) (string, error) { return x.conv.Step(challenge) }
func (x *xdgSCRAM) Done() bool                            { return x.conv.Done() }

func saramaConfig(sb *secureBroker, mech sarama.SASLMechanism, user, pw string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, sb.clientTLS.Clone()
	cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism = true, mech
	cfg.Net.SASL.User, cfg.Net.SASL.Password = user, pw
	cfg.Net.SASL.Handshake = true
	switch mech {
	case sarama.SASLTypeSCRAMSHA256:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{hash: sha256.New} }
	case sarama.SASLTypeSCRAMSHA512:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{hash: sha512.New} }
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Metadata.Retry.Max = 1
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

func TestSaramaSASLSSL(t *testing.T) {
	sb := startSecure(t, "SASL_SSL://127.0.0.1:0", nil)
	addr := sb.ListenerAddr("SASL_SSL")
	for _, mech := range []sarama.SASLMechanism{sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512} {
		t.Run(string(mech), func(t *testing.T) {
			topic := "sarama-" + string(mech)
			require.NoError(t, sb.CreateTopic(topic, 1, nil))
			cfg := saramaConfig(sb, mech, secUser, secPassword)
			p, err := sarama.NewSyncProducer([]string{addr}, cfg)
			require.NoError(t, err)
			for i := range 10 {
				_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprint(i))})
				require.NoError(t, err)
			}
			require.NoError(t, p.Close())
			c, err := sarama.NewConsumer([]string{addr}, cfg)
			require.NoError(t, err)
			defer c.Close()
			pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
			require.NoError(t, err)
			defer pc.Close()
			for i := range 10 {
				select {
				case m := <-pc.Messages():
					assert.Equal(t, fmt.Sprint(i), string(m.Value))
				case err := <-pc.Errors():
					t.Fatal(err)
				case <-time.After(10 * time.Second):
					t.Fatalf("sarama consumed %d of 10", i)
				}
			}
		})
	}
	for _, f := range []struct {
		name, user string
		mech       sarama.SASLMechanism
	}{{"wrong password", secUser, sarama.SASLTypeSCRAMSHA512}, {"unknown user", "mallory", sarama.SASLTypePlaintext}} {
		t.Run(f.name, func(t *testing.T) {
			_, err := sarama.NewClient([]string{addr}, saramaConfig(sb, f.mech, f.user, "hunter2-wrong"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "SASL", "sarama names the failure: %v", err)
			t.Logf("sarama: %v", err)
		})
	}
}

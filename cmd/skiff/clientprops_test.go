package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/producer"
)

// writeProps writes a client.properties file and returns its path.
func writeProps(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.properties")
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return p
}

// TestCLIPropsErrors: -X and --config mistakes are usage errors (exit 2)
// that name the key or the file, before anything is dialed.
func TestCLIPropsErrors(t *testing.T) {
	javaOnly := writeProps(t, "ssl.truststore.location=/etc/kafka/truststore.jks")
	runCases(t, []cliCase{
		{name: "produce: unknown -X key is named", cmd: "produce", args: []string{"--topic", "t", "-X", "lingr.ms=5"}, code: 2,
			stderr: []string{"skiff produce: ", "lingr.ms: unknown property"}},
		{name: "consume: unknown -X key is named", cmd: "consume", args: []string{"--topic", "t", "-X", "frob=1"}, code: 2,
			stderr: []string{"skiff consume: ", "frob: unknown property"}},
		{name: "topics: unknown -X key is named", cmd: "topics", args: []string{"list", "-X", "frob=1"}, code: 2,
			stderr: []string{"skiff topics list: ", "frob: unknown property"}},
		{name: "groups: unknown -X key is named", cmd: "groups", args: []string{"list", "-X", "frob=1"}, code: 2,
			stderr: []string{"skiff groups list: ", "frob: unknown property"}},
		{name: "-X without =", cmd: "produce", args: []string{"--topic", "t", "-X", "acks"}, code: 2,
			stderr: []string{`want key=value, got "acks"`}},
		{name: "bad -X value is named", cmd: "produce", args: []string{"--topic", "t", "-X", "acks=2"}, code: 2,
			stderr: []string{"acks: "}},
		{name: "--config file that does not exist", cmd: "produce", args: []string{"--topic", "t", "--config", "/nonexistent/client.properties"}, code: 2,
			stderr: []string{"--config: ", "/nonexistent/client.properties"}},
		{name: "Java-only key says what to use instead", cmd: "consume", args: []string{"--topic", "t", "--config", javaOnly}, code: 2,
			stderr: []string{"ssl.truststore.location: Java-only setting", "ssl.ca.location"}},
		{name: "a consumer key given to produce is skipped, as one file serves both", cmd: "produce",
			args: []string{"--topic", "t", "-X", "group.id=g", "--brokers", "127.0.0.1:1"}, code: 1,
			stderr: []string{"no broker reachable"}},
	})
}

// TestCLIPropsPrecedence: --config, then -X, then explicit flags, key by
// key. The loser points at a closed port, so the wrong order fails.
func TestCLIPropsPrecedence(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(1, "t"))
	good := brokersArg(c)
	const bad = "127.0.0.1:1"
	goodFile := writeProps(t, "bootstrap.servers="+good)
	badFile := writeProps(t, "bootstrap.servers="+bad, "# a comment", "linger.ms=0")
	runCases(t, []cliCase{
		{name: "--config alone", cmd: "produce", args: []string{"--topic", "t", "--config", goodFile}, stdin: "a\n", code: 0,
			stderr: []string{"produced 1 record\n"}},
		{name: "-X beats --config", cmd: "produce", args: []string{"--topic", "t", "--config", badFile, "-X", "bootstrap.servers=" + good}, stdin: "a\n", code: 0,
			stderr: []string{"produced 1 record\n"}},
		{name: "--brokers beats -X and --config", cmd: "produce", args: []string{"--topic", "t", "--config", badFile, "-X", "bootstrap.servers=" + bad, "--brokers", good}, stdin: "a\n", code: 0,
			stderr: []string{"produced 1 record\n"}},
		{name: "-X over a good file loses to nothing", cmd: "produce", args: []string{"--topic", "t", "--config", goodFile, "-X", "bootstrap.servers=" + bad}, stdin: "a\n", code: 1,
			stderr: []string{"no broker reachable: " + bad}},
		{name: "the flag's default does not beat --config", cmd: "topics", args: []string{"list", "--config", goodFile}, code: 0,
			stdout: []string{"t "}},
		{name: "consume: --config and -X group.id join a group", cmd: "consume",
			args: []string{"--topic", "t", "--config", goodFile, "-X", "group.id=pg", "-X", "auto.offset.reset=earliest", "--count", "3"}, code: 0,
			stdout: []string{"\ta\t0\t0\n", "\ta\t0\t1\n", "\ta\t0\t2\n"}},
		{name: "the group exists afterwards", cmd: "groups", args: []string{"describe", "pg", "--config", goodFile}, code: 0,
			stdout: []string{"pg"}},
	})
}

// TestCLIProduceMaxRequestSizeProperty: -X max.request.size raises the
// producer's limit exactly as --max-request-size does.
func TestCLIProduceMaxRequestSizeProperty(t *testing.T) {
	b := startBundledBroker(t, func(c *broker.Config) { c.MessageMaxBytes = 8 << 20 })
	big := strings.Repeat("x", 2<<20)
	runCases(t, []cliCase{
		{name: "default limit refuses 2 MiB", cmd: "produce", code: 1,
			args: []string{"--brokers", b, "--topic", "m1", "--max-line", "4MiB"}, stdin: big + "\n",
			stderr: []string{"raise --max-request-size"}},
		{name: "-X max.request.size raises it", cmd: "produce", code: 0,
			args: []string{"--brokers", b, "--topic", "m2", "--max-line", "4MiB", "-X", "max.request.size=4194304"}, stdin: big + "\n",
			stderr: []string{"produced 1 record\n"}},
		{name: "--max-request-size beats -X", cmd: "produce", code: 1,
			args:  []string{"--brokers", b, "--topic", "m3", "--max-line", "4MiB", "-X", "max.request.size=4194304", "--max-request-size", "1MiB"},
			stdin: big + "\n", stderr: []string{"raise --max-request-size"}},
	})
}

// TestCLISASL: every client command logs in with SASL from --config or
// -X against kfake; a wrong password is one line, exit 1, and never shows
// the password.
func TestCLISASL(t *testing.T) {
	const user, pass = "alice", "s3cret-pw"
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := cliCluster(t, 1, kfake.SeedTopics(1, "t"), kfake.EnableSASL(), kfake.Superuser(mech, user, pass))
			b := brokersArg(c)
			file := writeProps(t, "bootstrap.servers="+b, "security.protocol=SASL_PLAINTEXT", "sasl.mechanism="+mech,
				"sasl.username="+user, "sasl.password="+pass)
			jaas := "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + user + "\" password=\"" + pass + "\";"
			if mech != "PLAIN" {
				jaas = strings.Replace(jaas, "plain.PlainLoginModule", "scram.ScramLoginModule", 1)
			}
			wrongPass := "wrong-" + pass
			runCases(t, []cliCase{
				{name: "produce with --config", cmd: "produce", args: []string{"--topic", "t", "--config", file}, stdin: "a\nb\n", code: 0,
					stderr: []string{"produced 2 records\n"}},
				{name: "produce with -X and a JAAS line", cmd: "produce",
					args:  []string{"--topic", "t", "--brokers", b, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=" + mech, "-X", jaas},
					stdin: "c\n", code: 0, stderr: []string{"produced 1 record\n"}},
				{name: "consume with --config", cmd: "consume", args: []string{"--topic", "t", "--config", file, "--from-beginning", "--exit-at-end"}, code: 0,
					stdout: []string{"\ta\t0\t0\n", "\tb\t0\t1\n", "\tc\t0\t2\n"}},
				{name: "topics list with --config", cmd: "topics", args: []string{"list", "--config", file}, code: 0,
					stdout: []string{"t "}},
				{name: "groups list with --config", cmd: "groups", args: []string{"list", "--config", file}, code: 0,
					stdout: []string{"GROUP"}},
			})
			for _, cmd := range []struct {
				name string
				args []string
			}{
				{"produce", []string{"--topic", "t"}},
				{"consume", []string{"--topic", "t", "--exit-at-end"}},
				{"topics", []string{"list"}},
				{"groups", []string{"list"}},
			} {
				_, errOut := runCase(t, cliCase{name: cmd.name + " wrong password", cmd: cmd.name, stdin: "x\n",
					args: append(cmd.args, "--config", file, "-X", "sasl.password="+wrongPass), code: 1,
					stderr:    []string{"SASL_AUTHENTICATION_FAILED"},
					notStderr: []string{pass}})
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "%s: one line:\n%s", cmd.name, errOut)
			}
		})
	}
}

// TestCLIBenchSASL: bench measures a cluster named by --config, logging in
// with its SASL settings; a wrong password fails at once.
func TestCLIBenchSASL(t *testing.T) {
	c := cliCluster(t, 1, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "bob", "pw-bench"))
	file := writeProps(t, "bootstrap.servers="+brokersArg(c), "security.protocol=SASL_PLAINTEXT",
		"sasl.mechanism=SCRAM-SHA-512", "sasl.username=bob", "sasl.password=pw-bench")
	grid := []string{"--linger", "0", "--batch-size", "16KiB", "--compression", "none", "--acks", "all",
		"--records", "200", "--duration", "10s", "--repeat", "0", "--partitions", "1", "--json"}
	runCases(t, []cliCase{
		{name: "bench over SCRAM", cmd: "bench", args: append([]string{"--config", file}, grid...), code: 0,
			stdout: []string{`"records":200`}, stderr: []string{"against brokers " + brokersArg(c)}},
		{name: "bench consume over SCRAM", cmd: "bench", args: []string{"consume", "--config", file, "--records", "200",
			"--fetch-min-bytes", "1", "--max-partition-fetch-bytes", "1MiB", "--partitions", "1", "--json"}, code: 0,
			stdout: []string{`"records":201`}},
		{name: "bench with a wrong password", cmd: "bench", args: append([]string{"--config", file, "-X", "sasl.password=nope"}, grid...), code: 1,
			stderr: []string{"SASL_AUTHENTICATION_FAILED"}},
		{name: "bench: unknown -X key", cmd: "bench", args: append([]string{"-X", "frob=1"}, grid...), code: 2,
			stderr: []string{"frob: unknown property"}},
	})
}

// TestProducePropsPrecedence: for every flag that has a property twin,
// -X sets the producer config and the explicit flag beats -X.
func TestProducePropsPrecedence(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, cfg producer.Config)
	}{
		{"-X acks=1 lowers acks and turns idempotence off", []string{"-X", "acks=1"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.AcksLeader, cfg.Acks)
			assert.True(t, cfg.DisableIdempotence)
		}},
		{"--acks beats -X acks", []string{"-X", "acks=0", "--acks", "all"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.AcksAll, cfg.Acks)
			assert.False(t, cfg.DisableIdempotence)
		}},
		{"-X linger.ms=0 is NoLinger, --linger beats it", []string{"-X", "linger.ms=0"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.NoLinger, cfg.Linger)
		}},
		{"--linger beats -X linger.ms", []string{"-X", "linger.ms=0", "--linger", "20ms"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, 20*time.Millisecond, cfg.Linger)
		}},
		{"-X compression.type", []string{"-X", "compression.type=zstd"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.CompressionZstd, cfg.Compression)
		}},
		{"--compression beats -X", []string{"-X", "compression.type=zstd", "--compression", "lz4"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.CompressionLZ4, cfg.Compression)
		}},
		{"-X batch.size and --batch-size", []string{"-X", "batch.size=1000", "-X", "max.block.ms=5000", "--batch-size", "2KiB"}, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, 2048, cfg.BatchSize)
			assert.Equal(t, 5*time.Second, cfg.MaxBlock)
		}},
		{"defaults leave the library's defaults", nil, func(t *testing.T, cfg producer.Config) {
			assert.Equal(t, producer.Config{Brokers: splitBrokers(brokersFlagDefault()), ClientID: "skiff-produce"}, cfg)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			f, code, ok := parseProduceFlags(append([]string{"--topic", "t"}, tc.args...), &stdout, &stderr)
			require.True(t, ok, "code %d: %s", code, stderr.String())
			tc.check(t, f.cfg)
		})
	}
}

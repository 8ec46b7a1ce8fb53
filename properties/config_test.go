package properties_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/internal/certs"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/properties"
)

const secret = "pr0perty-s3cret"

func TestProducerMapsEveryProperty(t *testing.T) {
	cfg, err := properties.Producer(map[string]string{
		"bootstrap.servers":                     "a:9092, b:9093",
		"client.id":                             "orders",
		"acks":                                  "1",
		"enable.idempotence":                    "FALSE",
		"linger.ms":                             "20",
		"batch.size":                            "65536",
		"buffer.memory":                         "1048576",
		"max.block.ms":                          "1500",
		"max.request.size":                      "2097152",
		"max.in.flight.requests.per.connection": "3",
		"retries":                               "7",
		"retry.backoff.ms":                      "250",
		"retry.backoff.max.ms":                  "5000",
		"delivery.timeout.ms":                   "60000",
		"request.timeout.ms":                    "10000",
		"metadata.max.age.ms":                   "60000",
		"compression.type":                      "zstd",
		// A shared file's consumer keys and Schema Registry keys are skipped.
		"group.id":            "g",
		"session.timeout.ms":  "45000",
		"schema.registry.url": "https://sr",
	})
	require.NoError(t, err)
	assert.Equal(t, producer.Config{
		Brokers: []string{"a:9092", "b:9093"}, ClientID: "orders", Acks: producer.AcksLeader, DisableIdempotence: true,
		Linger: 20 * time.Millisecond, BatchSize: 65536, BufferMemory: 1 << 20, MaxBlock: 1500 * time.Millisecond,
		MaxRequestSize: 2 << 20, MaxInFlight: 3, Retries: 7, RetryBackoff: 250 * time.Millisecond,
		RetryBackoffMax: 5 * time.Second, DeliveryTimeout: time.Minute, RequestTimeout: 10 * time.Second,
		MetadataMaxAge: time.Minute, Compression: producer.CompressionZstd,
	}, cfg)
}

// Where Java gives 0 a meaning and skiff's zero means "default", the
// property maps to skiff's spelling of Java's meaning.
func TestProducerZeroValues(t *testing.T) {
	cfg, err := properties.Producer(map[string]string{
		"bootstrap.servers": "a:1", "linger.ms": "0", "retries": "0", "batch.size": "0", "max.block.ms": "0", "retry.backoff.ms": "0",
	})
	require.NoError(t, err)
	assert.Equal(t, producer.NoLinger, cfg.Linger)
	assert.Negative(t, cfg.Retries, "retries=0 is no retries")
	assert.Equal(t, 1, cfg.BatchSize)
	assert.Equal(t, time.Nanosecond, cfg.MaxBlock)
	assert.Equal(t, time.Nanosecond, cfg.RetryBackoff)
}

func TestConsumerMapsEveryProperty(t *testing.T) {
	cfg, err := properties.Consumer(map[string]string{
		"bootstrap.servers":                  "a:9092",
		"client.id":                          "billing-1",
		"group.id":                           "billing",
		"group.instance.id":                  "billing-1",
		"group.protocol":                     "classic",
		"partition.assignment.strategy":      "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, range",
		"allow.auto.create.topics":           "false",
		"auto.offset.reset":                  "earliest",
		"enable.auto.commit":                 "false",
		"auto.commit.interval.ms":            "1000",
		"fetch.min.bytes":                    "10",
		"fetch.max.bytes":                    "1000000",
		"fetch.max.wait.ms":                  "100",
		"max.partition.fetch.bytes":          "500000",
		"max.poll.records":                   "50",
		"isolation.level":                    "read_committed",
		"heartbeat.interval.ms":              "1000",
		"session.timeout.ms":                 "10000",
		"max.poll.interval.ms":               "60000",
		"metadata.max.age.ms":                "30000",
		"retry.backoff.ms":                   "200",
		"request.timeout.ms":                 "20000",
		"socket.connection.setup.timeout.ms": "3000",
		"client.rack":                        "use1-az1",
		"acks":                               "all", // the producer's, skipped
	})
	require.NoError(t, err)
	assert.Equal(t, consumer.Config{
		Brokers: []string{"a:9092"}, ClientID: "billing-1", GroupID: "billing", GroupInstanceID: "billing-1",
		Assignors:                []string{consumer.AssignorCooperativeSticky, consumer.AssignorRange},
		DisableAutoTopicCreation: true, AutoOffsetReset: "earliest", DisableAutoCommit: true,
		AutoCommitInterval: time.Second, FetchMinBytes: 10, FetchMaxBytes: 1000000, FetchMaxWait: 100 * time.Millisecond,
		MaxPartitionFetchBytes: 500000, MaxPollRecords: 50, IsolationLevel: consumer.ReadCommitted,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, MaxPollInterval: time.Minute,
		MetadataMaxAge: 30 * time.Second, RetryBackoff: 200 * time.Millisecond, RequestTimeout: 20 * time.Second,
		DialTimeout: 3 * time.Second, ClientRack: "use1-az1",
	}, cfg)
}

func TestPropertyErrors(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"bootstrap.servers": "a:9092"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		props    map[string]string
		consumer bool
		want     []string
	}{
		{"unknown key", base("linger.msec", "5"), false, []string{"linger.msec: unknown property"}},
		{"every problem at once", base("acks", "2", "linger.ms", "-1", "colour", "blue"), false,
			[]string{"acks: ", "linger.ms: want a number of milliseconds", "colour: unknown property"}},
		{"JKS trust store", base("ssl.truststore.location", "/etc/kafka/truststore.jks", "security.protocol", "SSL"), false,
			[]string{"ssl.truststore.location: Java-only setting", "set ssl.ca.location"}},
		{"key store", base("ssl.keystore.location", "ks.p12"), true, []string{"ssl.certificate.location and ssl.key.location"}},
		{"serializer", base("value.serializer", "org.apache.kafka.common.serialization.StringSerializer"), false, []string{"producer.NewTyped"}},
		{"OAuth endpoint", base("sasl.oauthbearer.token.endpoint.url", "https://idp"), false, []string{"sasl.OAuthBearer with a TokenProvider"}},
		{"unsupported producer key", base("transactional.id", "t"), false, []string{"transactional.id: not supported by skiff"}},
		{"bad boolean", base("enable.idempotence", "yes"), false, []string{"enable.idempotence: want true or false"}},
		{"bad compression", base("compression.type", "brotli"), false, []string{"compression.type"}},
		{"zero that Java rejects", base("max.in.flight.requests.per.connection", "0"), false, []string{"must be positive"}},
		{"bad offset reset", base("auto.offset.reset", "smallest"), true, []string{"auto.offset.reset: want latest, earliest or none"}},
		{"bad assignor", base("partition.assignment.strategy", "org.apache.kafka.clients.consumer.StickyAssignor"), true, []string{"unknown assignor"}},
		{"KIP-848 protocol", base("group.protocol", "consumer"), true, []string{"classic group protocol only"}},
		{"bad protocol", base("security.protocol", "TLS"), false, []string{"security.protocol: want PLAINTEXT, SSL"}},
		{"SASL keys without SASL", base("sasl.mechanism", "PLAIN", "sasl.username", "u", "sasl.password", secret), false,
			[]string{"sasl.mechanism: set, but security.protocol PLAINTEXT uses no SASL"}},
		{"TLS keys without TLS", base("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN", "sasl.username", "u", "sasl.password", secret, "ssl.endpoint.identification.algorithm", ""), false,
			[]string{"ssl.endpoint.identification.algorithm: set, but security.protocol SASL_PLAINTEXT uses no TLS"}},
		{"no mechanism", base("security.protocol", "SASL_SSL", "sasl.username", "u", "sasl.password", secret), false, []string{"GSSAPI, is not built in"}},
		{"no password", base("security.protocol", "SASL_SSL", "sasl.mechanism", "SCRAM-SHA-256", "sasl.username", "u"), false, []string{"needs sasl.username and sasl.password"}},
		{"OAUTHBEARER", base("security.protocol", "SASL_SSL", "sasl.mechanism", "OAUTHBEARER"), false, []string{"sasl.OAuthBearer(...)"}},
		{"AWS IAM", base("security.protocol", "SASL_SSL", "sasl.mechanism", "AWS_MSK_IAM", "sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;"), false,
			[]string{"AWS_MSK_IAM needs your own sasl.Mechanism"}},
		{"JAAS and username", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN", "sasl.username", "u", "sasl.password", secret,
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="`+secret+`";`), false,
			[]string{"set either sasl.jaas.config or sasl.username"}},
		{"SCRAM module needs mechanism", base("security.protocol", "SASL_SSL",
			"sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="`+secret+`";`), false,
			[]string{"ScramLoginModule needs sasl.mechanism"}},
		{"module and mechanism disagree", base("security.protocol", "SASL_SSL", "sasl.mechanism", "SCRAM-SHA-512",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="`+secret+`";`), false,
			[]string{"PlainLoginModule does not go with sasl.mechanism SCRAM-SHA-512"}},
		{"JAAS without semicolon", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="`+secret+`"`), false,
			[]string{"sasl.jaas.config: want"}},
		{"JAAS unquoted password with blank", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=`+secret+` `+secret+`;`), false,
			[]string{"option 3: want name=value"}},
		{"JAAS bad flag", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule mandatory username="u" password="p";`), false,
			[]string{`flag "mandatory"`}},
		{"JAAS unterminated", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="`+secret+`;`), false,
			[]string{"unterminated quoted value"}},
		{"JAAS two modules", base("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
			"sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p"; x required;`), false,
			[]string{"more than one login module"}},
		{"missing CA file", base("security.protocol", "SSL", "ssl.ca.location", "/nonexistent/ca.pem"), false, []string{"ssl.ca.location: open /nonexistent/ca.pem"}},
		{"CA file without PEM", base("security.protocol", "SSL", "ssl.ca.pem", "not a certificate"), false, []string{"ssl.ca.pem: no PEM certificate found"}},
		{"certificate without key", base("security.protocol", "SSL", "ssl.certificate.pem", "x"), false, []string{"needs ssl.key.location too"}},
		{"bad endpoint identification", base("security.protocol", "SSL", "ssl.endpoint.identification.algorithm", "http"), false, []string{"want https or empty"}},
		{"DNS lookup mode", base("client.dns.lookup", "resolve_canonical_bootstrap_servers_only"), true, []string{"only use_all_dns_ips"}},
		{"empty servers", map[string]string{"bootstrap.servers": " , "}, true, []string{"bootstrap.servers: empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.consumer {
				_, err = properties.Consumer(tc.props)
			} else {
				_, err = properties.Producer(tc.props)
			}
			require.Error(t, err)
			t.Log(err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestSecurityProperties(t *testing.T) {
	ca, err := certs.NewCA("props CA")
	require.NoError(t, err)
	client, err := ca.Client("alice")
	require.NoError(t, err)
	caFile := writeFile(t, "ca.pem", ca.PEM())
	certFile := writeFile(t, "client.pem", client.CertPEM)
	keyFile := writeFile(t, "client.key", client.KeyPEM)

	for _, tc := range []struct {
		name     string
		props    map[string]string
		wantTLS  bool
		wantMech string // mechanism String(), which shows the user but not the password
		check    func(t *testing.T, tc *tls.Config)
	}{
		{"plaintext", map[string]string{}, false, "", nil},
		{"SSL with system roots", map[string]string{"security.protocol": "SSL"}, true, "", func(t *testing.T, c *tls.Config) {
			assert.Nil(t, c.RootCAs)
			assert.False(t, c.InsecureSkipVerify)
		}},
		{"SSL with CA and client cert", map[string]string{"security.protocol": "ssl", "ssl.ca.location": caFile,
			"ssl.certificate.location": certFile, "ssl.key.location": keyFile}, true, "", func(t *testing.T, c *tls.Config) {
			assert.NotNil(t, c.RootCAs)
			assert.Len(t, c.Certificates, 1)
			assert.False(t, c.InsecureSkipVerify)
		}},
		{"PEM trust store", map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": caFile}, true, "", func(t *testing.T, c *tls.Config) {
			assert.NotNil(t, c.RootCAs)
		}},
		{"inline PEM", map[string]string{"security.protocol": "SSL", "ssl.ca.pem": string(ca.PEM()),
			"ssl.certificate.pem": string(client.CertPEM), "ssl.key.pem": string(client.KeyPEM)}, true, "", func(t *testing.T, c *tls.Config) {
			assert.NotNil(t, c.RootCAs)
			assert.Len(t, c.Certificates, 1)
		}},
		{"no host name check keeps chain check", map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": ""}, true, "", func(t *testing.T, c *tls.Config) {
			assert.True(t, c.InsecureSkipVerify)
			assert.NotNil(t, c.VerifyConnection)
		}},
		{"librdkafka verification off", map[string]string{"security.protocol": "SSL", "enable.ssl.certificate.verification": "false"}, true, "", func(t *testing.T, c *tls.Config) {
			assert.True(t, c.InsecureSkipVerify)
			assert.Nil(t, c.VerifyConnection)
		}},
		{"SASL_SSL PLAIN with username", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
			"sasl.username": "alice", "sasl.password": secret}, true, "PLAIN(user=alice)", nil},
		{"librdkafka sasl.mechanisms", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-256",
			"sasl.username": "alice", "sasl.password": secret}, true, "SCRAM-SHA-256(user=alice)", nil},
		{"Confluent Cloud JAAS, single quotes", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY123' password='` + secret + `';`}, true, "PLAIN(user=KEY123)", nil},
		{"PLAIN inferred from module", map[string]string{"security.protocol": "SASL_PLAINTEXT",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="` + secret + `";`}, false, "PLAIN(user=alice)", nil},
		{"SCRAM JAAS with escapes", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"al\\\"ice\"\n  password=\"" + secret + "\";"}, true, `SCRAM-SHA-512(user=al"ice)`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{"bootstrap.servers": "a:9092"}
			for k, v := range tc.props {
				props[k] = v
			}
			cfg, err := properties.Producer(props)
			require.NoError(t, err)
			assert.Equal(t, tc.wantTLS, cfg.TLS != nil)
			if tc.wantMech == "" {
				assert.Nil(t, cfg.SASL)
			} else {
				require.NotNil(t, cfg.SASL)
				assert.Equal(t, tc.wantMech, fmtV(cfg.SASL))
			}
			if tc.check != nil && cfg.TLS != nil {
				tc.check(t, cfg.TLS)
			}
			ccfg, err := properties.Consumer(props)
			require.NoError(t, err)
			assert.Equal(t, cfg.TLS != nil, ccfg.TLS != nil)
			tlsCfg, mech, err := properties.Security(props)
			require.NoError(t, err)
			assert.Equal(t, cfg.TLS != nil, tlsCfg != nil)
			assert.Equal(t, cfg.SASL != nil, mech != nil)
		})
	}
}

// sasl.jaas.config holds a password: whatever its shape, parsing must not
// panic, and an error must not quote the password.
func FuzzJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`)
	f.Add(`org.apache.kafka.common.security.scram.ScramLoginModule required username='u' password='p\'q';`)
	f.Add(`x required a=b c="d;`)
	f.Add(`;;==""''`)
	f.Fuzz(func(t *testing.T, jaas string) {
		props := map[string]string{"bootstrap.servers": "a:1", "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": jaas + ` password="` + secret + `";`}
		_, err := properties.Producer(props)
		if err != nil {
			assert.NotContains(t, err.Error(), secret)
		}
	})
}

func TestAdmin(t *testing.T) {
	cfg, err := properties.Admin(map[string]string{
		"bootstrap.servers": "a:1,b:2", "client.id": "ops", "request.timeout.ms": "7000",
		"socket.connection.setup.timeout.ms": "3000", "retry.backoff.ms": "50", "metadata.max.age.ms": "60000",
		"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
		"sasl.username": "ops", "sasl.password": "pw",
		// The same file's producer and consumer keys are skipped.
		"acks": "all", "group.id": "g",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a:1", "b:2"}, cfg.Brokers)
	assert.Equal(t, "ops", cfg.ClientID)
	assert.Equal(t, 7*time.Second, cfg.RequestTimeout)
	assert.Equal(t, 3*time.Second, cfg.DialTimeout)
	assert.Equal(t, 50*time.Millisecond, cfg.RetryBackoff)
	assert.Equal(t, time.Minute, cfg.MetadataMaxAge)
	assert.Nil(t, cfg.TLS)
	require.NotNil(t, cfg.SASL)
	assert.Equal(t, "SCRAM-SHA-256", cfg.SASL.Name())

	_, err = properties.Admin(map[string]string{"bootstrap.servers": "a:1", "admin.typo": "1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "admin.typo: unknown property")
}

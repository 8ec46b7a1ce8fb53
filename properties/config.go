package properties

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
)

// Producer builds a producer.Config from Kafka producer properties.
func Producer(props map[string]string) (producer.Config, error) {
	b := newBuilder(props)
	var cfg producer.Config
	cfg.Brokers = b.brokers()
	cfg.ClientID, _ = b.get("client.id")
	if v, ok := b.get("acks"); ok {
		a, err := producer.ParseAcks(v)
		b.check("acks", err)
		cfg.Acks = a
	}
	if v, ok := b.boolean("enable.idempotence"); ok {
		cfg.DisableIdempotence = !v
	}
	// linger.ms=0 is Kafka's "send at once", which skiff spells NoLinger
	// (its zero value means Kafka 4's 5ms default).
	cfg.Linger = b.millis("linger.ms", producer.NoLinger)
	// batch.size=0 disables batching in Java: every batch takes one
	// record, which a one-byte limit does here too.
	cfg.BatchSize = int(b.integer("batch.size", 1, math.MaxInt32))
	cfg.BufferMemory = b.integer("buffer.memory", zeroInvalid, math.MaxInt64)
	// max.block.ms=0 means "never wait" in Java.
	cfg.MaxBlock = b.millis("max.block.ms", time.Nanosecond)
	cfg.MaxRequestSize = int(b.integer("max.request.size", zeroInvalid, math.MaxInt32))
	cfg.MaxInFlight = int(b.integer("max.in.flight.requests.per.connection", zeroInvalid, math.MaxInt32))
	if v, ok := b.get("retries"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil || n < 0:
			b.fail("retries", "want a non-negative integer, got %q", v)
		case n == 0:
			cfg.Retries = -1 // skiff's "no retries"; zero means the default
		default:
			cfg.Retries = int(n)
		}
	}
	cfg.RetryBackoff = b.millis("retry.backoff.ms", time.Nanosecond)
	cfg.RetryBackoffMax = b.millis("retry.backoff.max.ms", time.Nanosecond)
	cfg.DeliveryTimeout = b.millis("delivery.timeout.ms", zeroInvalidDuration)
	cfg.RequestTimeout = b.millis("request.timeout.ms", zeroInvalidDuration)
	cfg.MetadataMaxAge = b.millis("metadata.max.age.ms", zeroInvalidDuration)
	if v, ok := b.get("compression.type"); ok {
		c, err := producer.ParseCompression(strings.TrimSpace(v))
		b.check("compression.type", err)
		cfg.Compression = c
	}
	cfg.TLS, cfg.SASL = b.security()
	return cfg, b.finish(producerOnly, consumerOnly)
}

// Consumer builds a consumer.Config from Kafka consumer properties. The
// subscription (Topics or Assign) is not a property: set it afterwards.
func Consumer(props map[string]string) (consumer.Config, error) {
	b := newBuilder(props)
	var cfg consumer.Config
	cfg.Brokers = b.brokers()
	cfg.ClientID, _ = b.get("client.id")
	cfg.GroupID, _ = b.get("group.id")
	cfg.GroupInstanceID, _ = b.get("group.instance.id")
	if v, ok := b.get("group.protocol"); ok && !strings.EqualFold(strings.TrimSpace(v), "classic") {
		b.fail("group.protocol", "skiff speaks the classic group protocol only, not %q (KIP-848)", v)
	}
	if v, ok := b.get("partition.assignment.strategy"); ok {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			name, ok := assignors[s]
			if !ok {
				b.fail("partition.assignment.strategy", "unknown assignor %q (want range, roundrobin or cooperative-sticky, or their Java class names)", s)
				continue
			}
			cfg.Assignors = append(cfg.Assignors, name)
		}
	}
	if v, ok := b.boolean("allow.auto.create.topics"); ok {
		cfg.DisableAutoTopicCreation = !v
	}
	if v, ok := b.get("auto.offset.reset"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if !slices.Contains([]string{"latest", "earliest", "none"}, v) {
			b.fail("auto.offset.reset", "want latest, earliest or none, got %q", v)
		}
		cfg.AutoOffsetReset = v
	}
	if v, ok := b.boolean("enable.auto.commit"); ok {
		cfg.DisableAutoCommit = !v
	}
	cfg.AutoCommitInterval = b.millis("auto.commit.interval.ms", zeroInvalidDuration)
	// fetch.min.bytes=0 answers at once; one byte does the same for a
	// fetch that finds any data.
	cfg.FetchMinBytes = int32(b.integer("fetch.min.bytes", 1, math.MaxInt32))
	cfg.FetchMaxBytes = int32(b.integer("fetch.max.bytes", zeroInvalid, math.MaxInt32))
	cfg.FetchMaxWait = b.millis("fetch.max.wait.ms", time.Nanosecond)
	cfg.MaxPartitionFetchBytes = int32(b.integer("max.partition.fetch.bytes", zeroInvalid, math.MaxInt32))
	cfg.MaxPollRecords = int(b.integer("max.poll.records", zeroInvalid, math.MaxInt32))
	if v, ok := b.get("isolation.level"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "read_uncommitted":
			cfg.IsolationLevel = consumer.ReadUncommitted
		case "read_committed":
			cfg.IsolationLevel = consumer.ReadCommitted
		default:
			b.fail("isolation.level", "want read_uncommitted or read_committed, got %q", v)
		}
	}
	cfg.HeartbeatInterval = b.millis("heartbeat.interval.ms", zeroInvalidDuration)
	cfg.SessionTimeout = b.millis("session.timeout.ms", zeroInvalidDuration)
	cfg.MaxPollInterval = b.millis("max.poll.interval.ms", zeroInvalidDuration)
	cfg.MetadataMaxAge = b.millis("metadata.max.age.ms", zeroInvalidDuration)
	cfg.RetryBackoff = b.millis("retry.backoff.ms", time.Nanosecond)
	cfg.RequestTimeout = b.millis("request.timeout.ms", zeroInvalidDuration)
	cfg.DialTimeout = b.millis("socket.connection.setup.timeout.ms", zeroInvalidDuration)
	cfg.ClientRack, _ = b.get("client.rack")
	cfg.TLS, cfg.SASL = b.security()
	return cfg, b.finish(consumerOnly, producerOnly)
}

var assignors = map[string]string{
	"range":              consumer.AssignorRange,
	"roundrobin":         consumer.AssignorRoundRobin,
	"cooperative-sticky": consumer.AssignorCooperativeSticky,
	"org.apache.kafka.clients.consumer.RangeAssignor":             consumer.AssignorRange,
	"org.apache.kafka.clients.consumer.RoundRobinAssignor":        consumer.AssignorRoundRobin,
	"org.apache.kafka.clients.consumer.CooperativeStickyAssignor": consumer.AssignorCooperativeSticky,
}

// Keys that one kind of client maps and the other skips (see finish).
var (
	producerOnly = keySet("acks", "enable.idempotence", "linger.ms", "batch.size", "buffer.memory",
		"max.block.ms", "max.request.size", "max.in.flight.requests.per.connection", "retries",
		"retry.backoff.max.ms", "delivery.timeout.ms", "compression.type", "transactional.id",
		"transaction.timeout.ms", "partitioner.ignore.keys", "partitioner.adaptive.partitioning.enable")
	consumerOnly = keySet("group.id", "group.instance.id", "group.protocol", "partition.assignment.strategy",
		"allow.auto.create.topics", "auto.offset.reset", "enable.auto.commit", "auto.commit.interval.ms",
		"fetch.min.bytes", "fetch.max.bytes", "fetch.max.wait.ms", "max.partition.fetch.bytes",
		"max.poll.records", "isolation.level", "heartbeat.interval.ms", "session.timeout.ms",
		"max.poll.interval.ms", "client.rack", "socket.connection.setup.timeout.ms", "check.crcs",
		"exclude.internal.topics")
	// Keys of other components that Confluent's and others' client.properties
	// files carry next to the client's; the Java clients ignore them too.
	foreign = keySet("schema.registry.url", "basic.auth.credentials.source", "basic.auth.user.info",
		"schema.registry.basic.auth.user.info", "schema.registry.basic.auth.credentials.source")
)

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// javaOnly are keys that configure Java machinery; each error says what
// replaces it in Go.
var javaOnly = map[string]string{
	"ssl.truststore.location":            "Java key stores do not exist in Go: export the CA certificates as PEM (keytool -exportcert -rfc) and set ssl.ca.location",
	"ssl.truststore.password":            "Java key stores do not exist in Go: export the CA certificates as PEM (keytool -exportcert -rfc) and set ssl.ca.location",
	"ssl.truststore.type":                "Java key stores do not exist in Go: export the CA certificates as PEM (keytool -exportcert -rfc) and set ssl.ca.location",
	"ssl.keystore.location":              "Java key stores do not exist in Go: export the client certificate and key as PEM (openssl pkcs12 -nodes) and set ssl.certificate.location and ssl.key.location",
	"ssl.keystore.password":              "Java key stores do not exist in Go: export the client certificate and key as PEM (openssl pkcs12 -nodes) and set ssl.certificate.location and ssl.key.location",
	"ssl.keystore.type":                  "Java key stores do not exist in Go: export the client certificate and key as PEM (openssl pkcs12 -nodes) and set ssl.certificate.location and ssl.key.location",
	"ssl.key.password":                   "encrypted private keys are not supported: decrypt it (openssl pkcs8 -topk8 -nocrypt) and drop ssl.key.password",
	"ssl.protocol":                       "set MinVersion/MaxVersion on the Config.TLS tls.Config",
	"ssl.enabled.protocols":              "set MinVersion/MaxVersion on the Config.TLS tls.Config",
	"ssl.cipher.suites":                  "set CipherSuites on the Config.TLS tls.Config",
	"ssl.engine.factory.class":           "build the Config.TLS tls.Config in Go",
	"security.providers":                 "build the Config.TLS tls.Config in Go",
	"key.serializer":                     "use producer.NewTyped with a serializer",
	"value.serializer":                   "use producer.NewTyped with a serializer",
	"key.deserializer":                   "use consumer.NewTyped with a deserializer",
	"value.deserializer":                 "use consumer.NewTyped with a deserializer",
	"partitioner.class":                  "set producer.Config.Partitioner",
	"interceptor.classes":                "set Config.Hooks",
	"metric.reporters":                   "set Config.Hooks",
	"sasl.login.callback.handler.class":  "set Config.SASL to sasl.OAuthBearer with a TokenProvider, or to your own sasl.Mechanism",
	"sasl.client.callback.handler.class": "set Config.SASL to your own sasl.Mechanism",
	"sasl.login.class":                   "set Config.SASL to your own sasl.Mechanism",
	"sasl.kerberos.service.name":         "GSSAPI (Kerberos) is not built in: set Config.SASL to your own sasl.Mechanism",
}

// builder reads properties and collects every problem.
type builder struct {
	props map[string]string
	used  map[string]bool
	errs  []error
}

func newBuilder(props map[string]string) *builder {
	return &builder{props: props, used: make(map[string]bool)}
}

func (b *builder) get(key string) (string, bool) {
	v, ok := b.props[key]
	if ok {
		b.used[key] = true
	}
	return v, ok
}

func (b *builder) fail(key, format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (b *builder) check(key string, err error) {
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("%s: %w", key, err))
	}
}

func (b *builder) brokers() []string {
	v, ok := b.get("bootstrap.servers")
	if !ok {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		b.fail("bootstrap.servers", "empty")
	}
	return out
}

func (b *builder) boolean(key string) (bool, bool) {
	v, ok := b.get(key)
	if !ok {
		return false, false
	}
	// Java's ConfigDef accepts true and false in any case.
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	b.fail(key, "want true or false, got %q", v)
	return false, false
}

// zeroInvalid as whenZero makes 0 an error: Java rejects it, or it has a
// meaning skiff cannot express.
const (
	zeroInvalid         int64         = math.MinInt64
	zeroInvalidDuration time.Duration = math.MinInt64
)

// integer parses a non-negative integer. Zero becomes whenZero: 0 where
// Java's 0 is its default as well, skiff's spelling of Java's meaning
// otherwise, or zeroInvalid.
func (b *builder) integer(key string, whenZero, maxVal int64) int64 {
	v, ok := b.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case err != nil || n < 0 || n > maxVal:
		b.fail(key, "want an integer from 0 to %d, got %q", maxVal, v)
		return 0
	case n == 0 && whenZero == zeroInvalid:
		b.fail(key, "must be positive")
		return 0
	case n == 0:
		return whenZero
	}
	return n
}

// millis parses a *.ms property into a duration, with integer's rules for
// zero.
func (b *builder) millis(key string, whenZero time.Duration) time.Duration {
	v, ok := b.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case err != nil || n < 0 || n > math.MaxInt64/int64(time.Millisecond):
		b.fail(key, "want a number of milliseconds, got %q", v)
		return 0
	case n == 0 && whenZero == zeroInvalidDuration:
		b.fail(key, "must be positive")
		return 0
	case n == 0:
		return whenZero
	}
	return time.Duration(n) * time.Millisecond
}

// finish reports the keys nobody read: errors for Java-only and unknown
// ones, silence for the other client's keys (skip) and foreign ones.
func (b *builder) finish(mine, skip map[string]bool) error {
	keys := make([]string, 0, len(b.props))
	for k := range b.props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case b.used[k] || foreign[k] || (skip[k] && !mine[k]):
		case javaOnly[k] != "":
			b.errs = append(b.errs, fmt.Errorf("%s: Java-only setting: %s", k, javaOnly[k]))
		case strings.HasPrefix(k, "sasl.oauthbearer.") || strings.HasPrefix(k, "sasl.login."):
			b.errs = append(b.errs, fmt.Errorf("%s: OAuth token retrieval is Go code: set Config.SASL to sasl.OAuthBearer with a TokenProvider", k))
		case mine[k]:
			b.errs = append(b.errs, fmt.Errorf("%s: not supported by skiff", k))
		default:
			b.errs = append(b.errs, fmt.Errorf("%s: unknown property", k))
		}
	}
	if err := errors.Join(b.errs...); err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	return nil
}

// Admin builds an admin.Config from Kafka admin client properties (the
// keys Kafka's AdminClientConfig shares with the other clients). Producer
// and consumer keys in the same file are skipped, so one client.properties
// serves all three.
func Admin(props map[string]string) (admin.Config, error) {
	b := newBuilder(props)
	var cfg admin.Config
	cfg.Brokers = b.brokers()
	cfg.ClientID, _ = b.get("client.id")
	cfg.RequestTimeout = b.millis("request.timeout.ms", zeroInvalidDuration)
	cfg.DialTimeout = b.millis("socket.connection.setup.timeout.ms", zeroInvalidDuration)
	cfg.RetryBackoff = b.millis("retry.backoff.ms", time.Nanosecond)
	cfg.MetadataMaxAge = b.millis("metadata.max.age.ms", zeroInvalidDuration)
	cfg.TLS, cfg.SASL = b.security()
	skip := make(map[string]bool, len(producerOnly)+len(consumerOnly))
	maps.Copy(skip, producerOnly)
	maps.Copy(skip, consumerOnly)
	return cfg, b.finish(nil, skip)
}

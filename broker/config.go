package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// FsyncPolicy says when partition logs are fsynced.
type FsyncPolicy int

const (
	// FsyncInterval fsyncs dirty logs every FlushInterval
	// (log.flush.interval.ms). acks=all is answered after the append. It is
	// the zero value: unlike Kafka, which never fsyncs by default and relies
	// on replicas, a single node has no replica to recover from.
	FsyncInterval FsyncPolicy = iota
	// FsyncAlways answers acks=all only once a group-commit fsync covers the
	// produced offsets: one fsync serves every request waiting on a log.
	FsyncAlways
	// FsyncNone leaves flushing to the operating system (Kafka's default);
	// logs are still fsynced on a clean Close.
	FsyncNone
)

func (p FsyncPolicy) String() string {
	switch p {
	case FsyncInterval:
		return "interval"
	case FsyncAlways:
		return "always"
	case FsyncNone:
		return "none"
	}
	return fmt.Sprintf("FsyncPolicy(%d)", int(p))
}

// ParseFsyncPolicy parses "interval", "always" or "none".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch s {
	case "interval", "":
		return FsyncInterval, nil
	case "always":
		return FsyncAlways, nil
	case "none":
		return FsyncNone, nil
	}
	return 0, fmt.Errorf("broker: unknown fsync policy %q (want interval, always or none)", s)
}

// Config configures a Broker. The zero value of every field except DataDir
// means Kafka's default for the property the field names.
type Config struct {
	// Listen is the TCP address to accept clients on: shorthand for one
	// PLAINTEXT listener, used when Listeners is empty. Empty means
	// 127.0.0.1:9092; port 0 picks a free port (see Addr).
	Listen string
	// Listeners is Kafka's listeners setting, for example
	// "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093": any mix of
	// PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL, one port each. It
	// replaces Listen when set. The first listener is the one Addr reports
	// and AdvertisedAddr renames.
	Listeners string
	// AdvertisedAddr is the host:port returned in Metadata and
	// FindCoordinator to clients of the first listener
	// (advertised.listeners). Empty means the listener's address, with
	// 127.0.0.1 standing in for an unspecified IP. Clients of the other
	// listeners are always given their listener's address.
	AdvertisedAddr string

	// TLS is the server TLS setup of the SSL and SASL_SSL listeners
	// (ssl.keystore.*): Certificates is required. ClientCAs with
	// ClientAuth tls.RequireAndVerifyClientCert is ssl.client.auth=required
	// (mTLS); the client's principal is then its certificate's subject.
	// MinVersion below TLS 1.2 is raised to it, as Kafka 3.0+ does.
	TLS *tls.Config
	// TLSHandshakeTimeout bounds the TLS handshake of a new connection; a
	// client that never finishes it is closed. Kafka has no separate
	// setting (its idle timer covers it); a handshake is a few round trips,
	// so waiting connections.max.idle.ms for one only holds sockets. Zero
	// means 10s.
	TLSHandshakeTimeout time.Duration

	// SASLUsers are the users of PLAIN and SCRAM on SASL listeners, name to
	// password. Their SCRAM credentials are derived at Start (random salt,
	// 4096 iterations, as kafka-configs.sh does); the broker keeps no
	// password. Exclusive with SASLUsersFile.
	SASLUsers map[string]string
	// SASLUsersFile is a users file: one "username:password" per line, '#'
	// starts a comment line. Read once at Start.
	SASLUsersFile string
	// SASLMechanisms is sasl.enabled.mechanisms. Empty means PLAIN,
	// SCRAM-SHA-256 and SCRAM-SHA-512. OAUTHBEARER is available when listed:
	// it validates unsecured JWTs (alg "none", principal in "sub", "exp"
	// required) like Kafka's default OAuthBearerUnsecuredValidator, which
	// proves nothing about the client and is for development and tests.
	SASLMechanisms []string
	// FailedAuthenticationDelay is connection.failed.authentication.delay.ms:
	// how long the answer to a failed authentication is held back before
	// the connection is closed, so that guessing passwords costs time.
	// Zero means 100ms; negative means no delay.
	FailedAuthenticationDelay time.Duration
	// MaxReauth is connections.max.reauth.ms (KIP-368): a SASL session's
	// lifetime, after which the client must re-authenticate on the same
	// connection or have it closed. Zero means none (Kafka's default). An
	// OAUTHBEARER session also ends when its token expires, if that is
	// sooner.
	MaxReauth time.Duration
	// Authorizer enforces the ACLs of CreateAcls, as Kafka's
	// authorizer.class.name=...StandardAuthorizer does: "" or
	// AuthorizerAllowIfNoACL (allow.everyone.if.no.acl.found=true: a
	// resource without ACLs is open to all, one with ACLs only to what
	// they allow), or AuthorizerDenyByDefault (=false: only what ACLs
	// allow). Principals are User:<SASL user>, User:<client certificate
	// subject> (mTLS) or User:ANONYMOUS.
	Authorizer string
	// SuperUsers is super.users: principals every check allows, such as
	// "User:admin" or "User:CN=admin,O=example".
	SuperUsers []string

	// DataDir holds topic metadata and one directory per partition
	// (log.dirs). Required.
	DataDir string
	// NodeID is node.id. Nil means 1, the node.id of the official
	// apache/kafka container image, so tools and test suites written
	// against it find the replica they expect; a pointer because 0 is a
	// valid id (new(int32(0)) asks for it).
	NodeID *int32

	// NumPartitions is num.partitions, the partition count of auto-created
	// topics and of CreateTopics asking for -1. Zero means 1.
	NumPartitions int32
	// DisableAutoCreateTopics turns auto.create.topics.enable off; the zero
	// value keeps Kafka's default, enabled.
	DisableAutoCreateTopics bool

	// Fsync is the flush policy; the zero value is FsyncInterval.
	Fsync FsyncPolicy
	// FlushInterval is log.flush.interval.ms for FsyncInterval. Zero means 1s.
	FlushInterval time.Duration

	// SegmentBytes is log.segment.bytes. Zero means 1 GiB.
	SegmentBytes int64
	// SegmentMs is log.roll.ms. Zero means 7 days.
	SegmentMs time.Duration
	// RetentionMs is log.retention.ms. Zero means 7 days; negative means
	// keep forever.
	RetentionMs time.Duration
	// RetentionBytes is log.retention.bytes per partition. Zero means -1,
	// no size limit.
	RetentionBytes int64
	// RetentionCheckInterval is log.retention.check.interval.ms. Zero means
	// 5 minutes.
	RetentionCheckInterval time.Duration
	// IndexIntervalBytes is log.index.interval.bytes. Zero means 4096.
	IndexIntervalBytes int32
	// MessageMaxBytes is message.max.bytes, the largest record batch
	// accepted. Zero means 1048588.
	MessageMaxBytes int32

	// FetchMaxBytes is fetch.max.bytes (KIP-541): the most record bytes
	// one Fetch response holds, whatever max_bytes the client asked for,
	// except that the first batch is returned whole (KIP-74) so a batch
	// larger than the limit cannot stall a consumer. Zero means 55 MiB.
	FetchMaxBytes int32
	// DisableSendfile makes fetches on PLAINTEXT and SASL_PLAINTEXT
	// listeners copy record batches through memory, as on TLS listeners,
	// instead of sending them from the segment files with sendfile(2)
	// (zero-copy, Linux only; see sendfile.go). For comparisons and for
	// filesystems where sendfile misbehaves.
	DisableSendfile bool

	// FetchSessionCacheSlots is max.incremental.fetch.session.cache.slots:
	// how many KIP-227 fetch sessions the broker keeps. When they are all
	// taken, a new session evicts one as Kafka does (fetch_session.go) or
	// is declined, and its client keeps sending full fetches. Zero means
	// 1000; negative means none (Kafka's 0: every fetch is a full fetch).
	FetchSessionCacheSlots int
	// FetchSessionEvictionMin is min.incremental.fetch.session.eviction.ms:
	// a session unused for longer may be evicted by any new one, and a
	// session younger than this (at its last use) is not evicted for a
	// bigger one. Zero means 2 minutes; negative means 0.
	FetchSessionEvictionMin time.Duration

	// QueuedMaxRequests is queued.max.requests, the request queue between
	// connection readers and I/O workers; a full queue blocks the readers.
	// Zero means 500.
	QueuedMaxRequests int
	// QueuedMaxRequestBytes is queued.max.request.bytes: the bytes of
	// requests read and not yet handled, across all connections. When they
	// are used up, readers stop reading request bodies until workers
	// finish some (a request is still admitted while any budget is left,
	// so queued bytes stay below this plus one request). Zero means
	// 100 MiB; negative means unbounded (Kafka's default, -1).
	//
	// Why not Kafka's unbounded default: with queued.max.requests alone,
	// 500 queued requests of up to socket.request.max.bytes each could hold
	// 50 GB. 100 MiB equals socket.request.max.bytes, so the largest
	// request allowed always fits, and is far above what keeps the workers
	// busy (500 produce requests of 16 KiB are 8 MiB).
	QueuedMaxRequestBytes int64
	// NumIOThreads is num.io.threads, the I/O worker goroutines. Zero means
	// max(8, 2×GOMAXPROCS).
	NumIOThreads int
	// SocketRequestMaxBytes is socket.request.max.bytes; a larger request
	// closes its connection. Zero means 100 MiB.
	SocketRequestMaxBytes int32
	// MaxConnections is max.connections; connections beyond it are closed
	// on accept. Zero means unlimited.
	MaxConnections int
	// ConnectionsMaxIdle is connections.max.idle.ms. Zero means 10 minutes.
	ConnectionsMaxIdle time.Duration

	// GroupInitialRebalanceDelay is group.initial.rebalance.delay.ms: how
	// long the first rebalance of an empty group waits for more members.
	// Zero means 3s; negative means no delay (what tests want).
	GroupInitialRebalanceDelay time.Duration
	// GroupMinSessionTimeout is group.min.session.timeout.ms: a JoinGroup
	// with a shorter session timeout gets INVALID_SESSION_TIMEOUT. Zero
	// means 6s.
	GroupMinSessionTimeout time.Duration
	// GroupMaxSessionTimeout is group.max.session.timeout.ms, the upper
	// bound of the same check. Zero means 30 minutes.
	GroupMaxSessionTimeout time.Duration

	// QuotaWindowNum is quota.window.num: the samples over which client
	// quota rates are measured. Zero means 11.
	QuotaWindowNum int
	// QuotaWindowSize is quota.window.size.seconds, each sample's span
	// (whole milliseconds are used). Zero means 1s.
	QuotaWindowSize time.Duration
	// MaxConnectionCreationRate is max.connection.creation.rate: the
	// connections per second the broker accepts, over all listeners and
	// clients; beyond it the accept loop waits (KIP-612). Zero means no
	// limit, Kafka's default.
	MaxConnectionCreationRate int

	// TransactionMaxTimeout is transaction.max.timeout.ms: InitProducerId
	// asking for a longer transaction timeout gets
	// INVALID_TRANSACTION_TIMEOUT. Zero means 15 minutes.
	TransactionMaxTimeout time.Duration
	// TransactionAbortCheckInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms: how often
	// transactions past their timeout are aborted. Zero means 10s.
	TransactionAbortCheckInterval time.Duration

	// Logger receives the broker's logs. Nil means slog.Default().
	Logger *slog.Logger

	// Faults, when set, is asked about every request before it is handled;
	// skifftest uses it to inject errors, delays and dropped connections.
	// Nil costs one pointer check per request.
	Faults Faults

	// logFS is the filesystem of the partition logs; nil means the OS.
	// Only tests set it, to inject disk faults (storage_fault_test.go).
	logFS vfs.FS

	// sendfileMin is the smallest record range a zero-copy fetch sends
	// with sendfile; smaller ones are copied into the answer (see
	// writeFetchFrame). Zero means defaultSendfileMin; tests set 1 to send
	// every range with sendfile.
	sendfileMin int64
}

// Kafka defaults for the zero values above.
const (
	defaultListen                 = "127.0.0.1:9092"
	defaultNodeID                 = 1
	defaultFlushInterval          = time.Second
	defaultSegmentBytes           = 1 << 30
	defaultSegmentMs              = 7 * 24 * time.Hour
	defaultRetentionMs            = 7 * 24 * time.Hour
	defaultRetentionCheckInterval = 5 * time.Minute
	defaultIndexIntervalBytes     = 4096
	defaultMessageMaxBytes        = 1048588
	defaultQueuedMaxRequests      = 500
	defaultFetchMaxBytes          = 55 << 20
	defaultQueuedMaxRequestBytes  = 100 << 20
	defaultSocketRequestMaxBytes  = 100 << 20
	defaultConnectionsMaxIdle     = 10 * time.Minute
	defaultTLSHandshakeTimeout    = 10 * time.Second
	defaultFailedAuthDelay        = 100 * time.Millisecond
)

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.NodeID == nil {
		c.NodeID = new(int32(defaultNodeID))
	}
	if c.NumPartitions == 0 {
		c.NumPartitions = 1
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = defaultFlushInterval
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = defaultSegmentBytes
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = defaultSegmentMs
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = defaultRetentionMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = -1
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = defaultRetentionCheckInterval
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = defaultIndexIntervalBytes
	}
	if c.MessageMaxBytes == 0 {
		c.MessageMaxBytes = defaultMessageMaxBytes
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = defaultFetchMaxBytes
	}
	if c.QueuedMaxRequests == 0 {
		c.QueuedMaxRequests = defaultQueuedMaxRequests
	}
	if c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = defaultQueuedMaxRequestBytes
	}
	if c.NumIOThreads == 0 {
		c.NumIOThreads = max(8, 2*runtime.GOMAXPROCS(0))
	}
	if c.SocketRequestMaxBytes == 0 {
		c.SocketRequestMaxBytes = defaultSocketRequestMaxBytes
	}
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = defaultConnectionsMaxIdle
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLSHandshakeTimeout == 0 {
		c.TLSHandshakeTimeout = defaultTLSHandshakeTimeout
	}
	if c.FailedAuthenticationDelay == 0 {
		c.FailedAuthenticationDelay = defaultFailedAuthDelay
	}
	return c
}

// validate checks a defaulted config and names every problem it finds.
func (c Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir (log.dirs) is required"))
	}
	if *c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("NodeID %d: must be >= 0", *c.NodeID))
	}
	if c.NumPartitions < 1 {
		errs = append(errs, fmt.Errorf("NumPartitions %d: must be >= 1", c.NumPartitions))
	}
	if c.Fsync < FsyncInterval || c.Fsync > FsyncNone {
		errs = append(errs, fmt.Errorf("Fsync: unknown policy %d", int(c.Fsync)))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("FlushInterval %v: must be positive", c.FlushInterval))
	}
	if c.SegmentBytes < 14 || c.SegmentBytes > 1<<31-1 {
		errs = append(errs, fmt.Errorf("SegmentBytes %d: must be in [14, 2^31-1]", c.SegmentBytes))
	}
	if c.SegmentMs < 0 {
		errs = append(errs, fmt.Errorf("SegmentMs %v: must be positive", c.SegmentMs))
	}
	if c.RetentionCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("RetentionCheckInterval %v: must be positive", c.RetentionCheckInterval))
	}
	if c.IndexIntervalBytes < 0 {
		errs = append(errs, fmt.Errorf("IndexIntervalBytes %d: must be positive", c.IndexIntervalBytes))
	}
	if c.MessageMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MessageMaxBytes %d: must be positive", c.MessageMaxBytes))
	}
	if c.FetchMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("FetchMaxBytes %d: must be positive", c.FetchMaxBytes))
	}
	if c.QueuedMaxRequests < 0 {
		errs = append(errs, fmt.Errorf("QueuedMaxRequests %d: must be positive", c.QueuedMaxRequests))
	}
	if c.NumIOThreads < 0 {
		errs = append(errs, fmt.Errorf("NumIOThreads %d: must be positive", c.NumIOThreads))
	}
	if c.SocketRequestMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("SocketRequestMaxBytes %d: must be positive", c.SocketRequestMaxBytes))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("MaxConnections %d: must be >= 0", c.MaxConnections))
	}
	if c.ConnectionsMaxIdle < 0 {
		errs = append(errs, fmt.Errorf("ConnectionsMaxIdle %v: must be positive", c.ConnectionsMaxIdle))
	}
	if c.GroupMinSessionTimeout < 0 || c.GroupMaxSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("GroupMinSessionTimeout %v, GroupMaxSessionTimeout %v: must be positive", c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout))
	}
	if c.MaxConnectionCreationRate < 0 {
		errs = append(errs, fmt.Errorf("MaxConnectionCreationRate %d: must be >= 0", c.MaxConnectionCreationRate))
	}
	if c.QuotaWindowNum < 0 || c.QuotaWindowSize < 0 {
		errs = append(errs, fmt.Errorf("QuotaWindowNum %d, QuotaWindowSize %v: must be positive", c.QuotaWindowNum, c.QuotaWindowSize))
	}
	errs = append(errs, c.validateSecurity()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

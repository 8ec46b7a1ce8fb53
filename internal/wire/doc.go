// Package wire is skiff's connection layer to Kafka brokers: bootstrap,
// per-broker pipelined connections, ApiVersions negotiation, the metadata
// cache and coordinator lookup. Every request and response is a franz-go
// kmsg struct; wire only frames, versions, routes and matches them.
//
// Usage:
//
//	cl, err := wire.NewClient(wire.Config{SeedBrokers: []string{"127.0.0.1:9092"}})
//	if err != nil { ... }
//	defer cl.Close()
//
//	ti, err := cl.Topic(ctx, "orders")              // waits for the topic to exist
//	leader, _, _ := cl.Leader("orders", 3)           // lock-free cache read
//	cn, err := cl.Conn(ctx, leader)                  // shared pipelined conn
//	req := kmsg.NewPtrProduceRequest()               // ...fill it...
//	cn.DoAsync(wire.MinVersion(req, 3), func(r kmsg.Response, err error) { ... })
//
// Connections: two Conns per broker, each shared by all callers: a data
// connection (Conn: produce, fetch, metadata, offsets) and a coordinator
// connection (CoordinatorConn) for group and transaction coordinator
// requests, which RequestNode picks by request kind (IsCoordinatorRequest).
// Kafka answers one connection's requests in order, so a heartbeat must not
// share a connection with a Fetch parked for fetch.max.wait.ms; the Java
// client separates its coordinator connection likewise. A writer goroutine
// writes everything queued with one writev; a reader goroutine reads
// size-prefixed frames and matches each to the oldest outstanding request by
// correlation id. Kafka answers in order, so callbacks run in request order.
// Produce with acks=0 has no response: it completes when written, and the
// correlation id sequence simply skips it on the read side. Client.Close
// closes gracefully: after acks=0 writes it sends an ApiVersions barrier
// and waits for its answer (the broker handles a connection's requests in
// order, so everything before it was handled), then half-closes and waits
// for the broker's EOF, bounded by min(RequestTimeout, 5s).
//
// Versions: on connect a Conn sends ApiVersions at kmsg's highest version
// (with ClientSoftwareName "skiff"); a broker that does not know it answers
// UNSUPPORTED_VERSION in v0 format and names its own range, and the Conn
// retries at that version. Each request then goes out at
// min(kmsg max, broker max); below the broker's min, below a MinVersion the
// caller asked for, or for a key the broker lacks, the request fails with an
// error wrapping kerr.UnsupportedVersion. Request header v1/v2 and response
// header v0/v1 follow the flexible-version rule (KIP-482), ApiVersions
// responses always use header v0 (KIP-511).
//
// Response frames are read as their bytes arrive (1 MiB first, then
// doubling, never past the frame), so a size prefix alone cannot make the
// client allocate up to MaxResponseSize for bytes the peer never sends.
//
// Failure model: a Conn never half-recovers. A write/read error, a response
// over MaxResponseSize, a correlation mismatch or a request that outlives
// RequestTimeout (plus the request's own timeout field) closes it and fails
// every outstanding request with an error wrapping ErrConnClosed and the
// cause (ErrRequestTimeout, ErrResponseTooLarge, ...). The Client dials a new
// Conn on next use. Requests are never resent by wire: whether a resend is
// safe depends on the request, so the producer/consumer decide.
//
// Errors read as one sentence: each layer adds its context once, without
// a package prefix ("metadata for topic \"T\": no broker reachable (retried
// for 1m0s): 127.0.0.1:1: connection refused"). A seed broker is named by
// its address (its SeedNode id is a placeholder), a known broker as
// "broker N at host:port", and the OS's reason replaces net's "dial tcp
// ...: connect:" prefix; the causes stay reachable with errors.Is/As
// (*ConnectError, *NoBrokersError, *net.OpError, syscall errors, kerr).
// Ping tries every broker once and fails fast; Request and Topic retry
// until their context ends, as Kafka's clients do within max.block.ms.
//
// Logging is on the edges of a state, not per retry: Warn once when every
// broker failed a round ("no broker reachable; retrying", naming each
// address and error) and Debug for later rounds, Info once when a broker
// answers again; a known broker's first failed reconnect is one Warn, its
// later ones Debug. Callers retrying on such errors (Unreachable) log them
// at Debug.
//
// Metadata: Metadata always asks a broker; Topic serves from the cache while
// fresh (MetadataMaxAge) and otherwise fetches, waiting out unknown or
// leaderless topics; CachedTopic and Leader read an atomically swapped
// snapshot and never block. RefreshMetadata triggers a coalesced background
// refresh; MetadataUpdated tells when it landed.
//
// Caveats:
//   - Seed connections use ids from SeedNode, not the broker's real id; a
//     seed broker reached again through metadata gets a second connection.
//   - After a failed dial a broker is in reconnect backoff (Kafka's
//     reconnect.backoff.ms, here RetryBackoff doubling to 1s): Conn returns
//     the last dial error at once until it ends; Request moves on to others.
//   - Close must not be called from a DoAsync callback (it waits for the
//     goroutine running the callback); Conn.Close may be.
package wire

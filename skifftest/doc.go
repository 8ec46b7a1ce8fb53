// Package skifftest runs skiff's bundled Kafka broker inside a Go test, so
// code that talks to Kafka (with skiff or any other client) is tested
// against a real wire-protocol broker with real storage, without Docker or
// a JVM.
//
//	func TestOrders(t *testing.T) {
//		b := skifftest.NewBroker(t, skifftest.WithTopic("orders", 3))
//		cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//		defer cl.Close()
//		// ...
//	}
//
// The broker listens on 127.0.0.1 with a free port, keeps its data in
// t.TempDir(), and is closed by t.Cleanup.
//
// Fault injection tests error handling on the client side: FailNext answers
// the next N requests of an API with a chosen Kafka error code, DelayNext
// holds them back, DropNext closes the connection instead of answering.
// Faults apply in the order they were added, per API key.
//
// Network faults come from NewProxy, a TCP proxy in front of any broker
// (this one, kfake or a real cluster): latency and jitter, a bandwidth
// limit, a reset after N bytes, a blackhole that holds bytes until Heal,
// per direction. It rewrites the broker addresses in Metadata,
// FindCoordinator and DescribeCluster answers, so clients keep dialing the
// proxy; NewProxies does the same for every broker of a cluster.
//
//	px := skifftest.NewProxy(t, b.Addr())
//	// point the client at px.Addr(), then:
//	px.Blackhole(skifftest.BothWays)
//	px.Heal()
//
// Consumer groups work (the group's first rebalance is not delayed, unlike
// Kafka's default group.initial.rebalance.delay.ms of 3s).
//
// Transactions work (the broker runs a transaction coordinator), and
// NewSecureBroker starts a broker with TLS and SASL listeners.
//
// Caveats: a single node (replication factor 1); no compacted topics; no
// KIP-890 transactions.
package skifftest

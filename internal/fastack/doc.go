// Package fastack is a tiny in-process Kafka "broker" that acknowledges
// every Produce at once and stores nothing: a sink for producer benchmarks
// (skiff's and franz-go's against the same endpoint) and for measuring
// client-side throughput without a log behind it.
//
// It answers ApiVersions, Metadata (any topic exists, with the configured
// number of partitions, all led by the sink itself), InitProducerId (a new
// producer id per call) and Produce (success, offsets increasing per
// partition; no response for acks=0). Requests are framed and decoded by
// internal/reqframe, the code the bundled broker uses, with franz-go's kmsg,
// so the bytes a client sends are checked to be well-formed Kafka.
// Anything else closes the connection.
//
//	sink, addr := fastack.Start(b, 16)
//	// point a producer at addr ...
//	b.Logf("%d records in %d batches", sink.Records(), sink.Batches())
//
// Caveats: one node only; record batches are not CRC-checked or
// decompressed (only their headers are read, to count records).
package fastack

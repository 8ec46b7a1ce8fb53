package broker

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// BenchmarkIngestSecurity is BenchmarkIngest's producer (kgo, 100-byte
// random values, 16 KiB batches, linger 5ms, acks=all, one partition)
// against one broker through each of its listeners, in the same run, so
// the cost of TLS and of the SASL login can be read side by side (the
// login happens once per connection: after it, SASL_SSL costs what SSL
// does). The target: TLS within 30% of plaintext.
//
//	go test -run '^$' -bench IngestSecurity -benchtime 200000x -count 3 ./broker/
func BenchmarkIngestSecurity(b *testing.B) {
	sb := startSecure(b, "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0", func(c *Config) {
		c.Logger = discardLogger()
	})
	targets := []struct {
		proto string
		opts  []kgo.Opt
	}{
		{"PLAINTEXT", nil},
		{"SSL", []kgo.Opt{kgo.DialTLSConfig(sb.clientTLS.Clone())}},
		{"SASL_SSL", []kgo.Opt{kgo.DialTLSConfig(sb.clientTLS.Clone()),
			kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism())}},
	}
	for _, tg := range targets {
		if err := sb.CreateTopic("bench-"+tg.proto, 1, nil); err != nil {
			b.Fatal(err)
		}
		b.Run(tg.proto, func(b *testing.B) {
			opts := append(ingestOpts(b, sb.ListenerAddr(tg.proto)), tg.opts...)
			opts = append(opts, kgo.DefaultProduceTopic("bench-"+tg.proto))
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			value := randomValue()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			var failed atomic.Int64
			promise := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Value: value}, promise)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

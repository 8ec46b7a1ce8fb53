// Package bench measures how the producer's batching settings (linger.ms,
// batch.size, compression.type, acks) trade throughput against send→ack
// latency, and how the consumer's fetch settings affect consumption. It is
// the engine behind `skiff bench`.
//
// A Grid expands into Points; a Runner measures each Point on a fresh topic
// with a fresh producer and returns one Result per Point. Each point runs in
// two phases: a saturated one gives its peak throughput, then one at
// Workload.Load (80%) of that peak gives its latency and how the producer
// batched — a latency measured at saturation is only the time records queue
// for buffer memory, the same for every setting. Renderers turn Results into
// an aligned table (WriteTable), JSON lines (WriteJSON) or a self-contained
// HTML page with inline SVG charts (WriteHTML); Recommend picks the fastest
// setting whose p99 stays within a bound.
//
//	cl, err := bench.OpenCluster(ctx, bench.ClusterConfig{}) // no Brokers: the bundled broker
//	...
//	defer cl.Close(ctx)
//	r := bench.Runner{Target: cl, Grid: bench.DefaultGrid(), Workload: bench.Workload{Duration: time.Second}}
//	results, err := r.Run(ctx) // on cancellation: what was measured, and ctx.Err()
//	bench.WriteTable(os.Stdout, results, bench.DefaultMaxP99)
//
// Caveats: latency runs from the Send call to the record's callback, so it
// includes time in the accumulator (linger, a full batch ahead). Record
// values are text made of random words and numbers (see workload.go), so
// compression ratios are those of moderately compressible text, not of your
// data; the uncompressed size behind the ratio is derived from the record
// batch layout because the producer's hooks report only wire sizes (ratio.go).
// buffer.memory is lowered per point unless Workload.BufferMemory is set
// (see there).
package bench

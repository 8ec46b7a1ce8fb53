package producer

import "context"

// Ping checks that the cluster can be reached: it tries the brokers (any
// learned from metadata, then the seeds) each once, each connect bounded
// by 10s and by ctx, and asks one for the cluster's brokers. When none
// answers it returns at once an error wrapping ErrNoBrokers that names
// every address with its OS error, instead of leaving the first Send to
// retry for max.block. Send keeps Kafka's semantics whether or not Ping
// was called: a client that outlives a broker restart should not fail
// because the cluster was briefly away.
func (p *Producer) Ping(ctx context.Context) error {
	if p.closed.Load() {
		return ErrClosed
	}
	return p.client.Ping(ctx)
}

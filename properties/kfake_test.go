package properties_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/internal/certs"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/properties"
)

// A client.properties file for SASL_SSL with SCRAM-SHA-512 and a private
// CA connects a real producer to kfake.
func TestPropertiesFileConnects(t *testing.T) {
	ca, err := certs.NewCA("props CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "alice", secret), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}}))
	require.NoError(t, err)
	t.Cleanup(c.Close)

	file := writeFile(t, "client.properties", fmt.Appendf(nil, `bootstrap.servers=%s
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="%s";
ssl.ca.location=%s
linger.ms=0
`, c.ListenAddrs()[0], secret, writeFile(t, "ca.pem", ca.PEM())))
	props, err := properties.Load(file)
	require.NoError(t, err)
	cfg, err := properties.Producer(props)
	require.NoError(t, err)
	p, err := producer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = p.SendSync(ctx, producer.Record{Topic: "t", Value: []byte("hello")})
	require.NoError(t, err)
}

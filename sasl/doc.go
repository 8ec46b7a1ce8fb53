// Package sasl holds the SASL mechanisms a skiff client uses to log in to a
// Kafka broker (sasl.mechanism), and the interface to plug in others.
//
// Built in are PLAIN (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802,
// RFC 7677) and OAUTHBEARER (RFC 7628 as Kafka uses it, KIP-255). A
// mechanism Kafka supports but skiff does not ship (AWS_MSK_IAM, GSSAPI)
// is a type implementing Mechanism:
//
//	cfg := producer.Config{
//		Brokers: []string{"broker:9096"},
//		TLS:     &tls.Config{},
//		SASL:    sasl.ScramSHA512("alice", os.Getenv("KAFKA_PASSWORD")),
//	}
//
// The client runs a mechanism on every new connection, after the TLS
// handshake and before any request other than ApiVersions, through Kafka's
// SaslHandshake and SaslAuthenticate requests (KIP-152).
//
// Caveats: SCRAM passwords are used as given, without SASLprep
// normalisation, which is what Kafka's Java client and broker do; a
// password that is not plain ASCII must be entered the same way on both
// sides. Mechanisms never put a password into an error.
package sasl

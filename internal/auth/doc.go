// Package auth holds the broker side of SASL: the users file, SCRAM
// credentials derived from it, and the server half of the PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER exchanges that the broker
// runs inside SaslAuthenticate requests.
//
// A Session is fed each client token and returns the next server token; it
// never blocks and keeps no socket, so the broker decides framing, the
// failed-authentication delay (connection.failed.authentication.delay.ms)
// and logging. Every token comes from an unauthenticated peer: parsers
// bound what they read and return errors, never panic (see the fuzz
// tests).
//
// Passwords from the users file are used once, to derive salted SCRAM
// credentials (4096 iterations, as kafka-configs.sh does), and not kept:
// PLAIN logins are checked against the SCRAM-SHA-512 credential.
//
// Wiring into a broker, in Kafka's order: ParseListeners for --listeners;
// ServerTLS for SSL and SASL_SSL listeners (CertPrincipal names an mTLS
// client); on SaslHandshake, Authenticator.Start with the mechanism; on
// each SaslAuthenticate, Session.Next, answering an error with its kerr
// code and message after connection.failed.authentication.delay.ms and
// then closing; on success, SessionLifetime for the response's
// SessionLifetimeMs. Until then only ApiVersions, SaslHandshake and
// SaslAuthenticate are answered.
package auth

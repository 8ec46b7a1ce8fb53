package sasl

import "time"

// WithNonce returns a copy of a SCRAM mechanism that uses nonce instead of
// a random one, for RFC test vectors.
func WithNonce(m Mechanism, nonce string) Mechanism {
	c := *m.(*scramMech)
	c.nonce = func() (string, error) { return nonce, nil }
	return &c
}

// WithClock makes an OAUTHBEARER mechanism read time from now.
func WithClock(m Mechanism, now func() time.Time) Mechanism {
	m.(*oauthMech).now = now
	return m
}

var EscapeSaslname = escapeSaslname

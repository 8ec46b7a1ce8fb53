package sasl

import (
	"context"
	"errors"
	"fmt"
)

// Plain returns the PLAIN mechanism (RFC 4616) for user and password.
// PLAIN sends the password as it is, so use it only over TLS (SASL_SSL).
func Plain(user, password string) Mechanism {
	return plainMech{user: user, pass: password}
}

// PlainAuthz is Plain with an authorization identity: log in as user,
// act as authzid. Kafka's broker accepts only an authzid equal to user
// (or empty); other brokers may allow impersonation.
func PlainAuthz(authzid, user, password string) Mechanism {
	return plainMech{zid: authzid, user: user, pass: password}
}

type plainMech struct{ zid, user, pass string }

func (plainMech) Name() string { return "PLAIN" }

// String keeps the password out of %v and %+v of configs holding the
// mechanism.
func (m plainMech) String() string { return "PLAIN(user=" + m.user + ")" }

func (m plainMech) Start(context.Context, string) (Session, []byte, error) {
	if m.user == "" {
		return nil, nil, errors.New("sasl: PLAIN: empty user name")
	}
	for _, s := range []struct{ what, v string }{{"authzid", m.zid}, {"user name", m.user}, {"password", m.pass}} {
		for i := range len(s.v) {
			if s.v[i] == 0 {
				// RFC 4616: NUL separates the fields, so none may hold one.
				return nil, nil, fmt.Errorf("sasl: PLAIN: %s contains a NUL byte", s.what)
			}
		}
	}
	// message = [authzid] UTF8NUL authcid UTF8NUL passwd
	msg := make([]byte, 0, len(m.zid)+len(m.user)+len(m.pass)+2)
	msg = append(msg, m.zid...)
	msg = append(msg, 0)
	msg = append(msg, m.user...)
	msg = append(msg, 0)
	msg = append(msg, m.pass...)
	return &oneShot{}, msg, nil
}

// oneShot is the session of a mechanism that is done after its first
// message is accepted: the broker answers PLAIN with an empty token, or
// with an error response that the client handles before Challenge.
type oneShot struct{ done bool }

func (s *oneShot) Challenge([]byte) (bool, []byte, error) {
	if s.done {
		return false, nil, ErrProtocol
	}
	s.done = true
	return true, nil, nil
}

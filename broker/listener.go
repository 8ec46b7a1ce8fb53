package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/auth"
)

// listener is one entry of Config.Listeners: a socket, its security
// protocol, and the address Metadata gives the clients that came through
// it (Kafka answers each client with the endpoint of the listener it used,
// so a client of the TLS port is never sent to the plaintext one).
type listener struct {
	proto   auth.Protocol
	ln      net.Listener
	tls     *tls.Config // SSL and SASL_SSL only
	advHost string
	advPort int32
}

// Protocol names of Config.Listeners, as Kafka spells them.
const (
	ProtocolPlaintext     = string(auth.ProtocolPlaintext)
	ProtocolSSL           = string(auth.ProtocolSSL)
	ProtocolSASLPlaintext = string(auth.ProtocolSASLPlaintext)
	ProtocolSASLSSL       = string(auth.ProtocolSASLSSL)
)

// Listener describes a listener the broker accepts clients on.
type Listener struct {
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Addr is the bound host:port, with the port chosen for port 0.
	Addr string
}

// Listeners returns the broker's listeners in the order configured.
func (b *Broker) Listeners() []Listener {
	out := make([]Listener, len(b.listeners))
	for i, l := range b.listeners {
		out[i] = Listener{Protocol: string(l.proto), Addr: l.ln.Addr().String()}
	}
	return out
}

// ListenerAddr returns the bound address of the first listener of
// protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL), or "" when there
// is none.
func (b *Broker) ListenerAddr(protocol string) string {
	for _, l := range b.listeners {
		if strings.EqualFold(string(l.proto), protocol) {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// listenerSpecs is Listeners parsed, or the one PLAINTEXT listener of
// Listen.
func (c Config) listenerSpecs() ([]auth.Listener, error) {
	if c.Listeners == "" {
		return []auth.Listener{{Protocol: auth.ProtocolPlaintext, Addr: c.Listen}}, nil
	}
	ls, err := auth.ParseListeners(c.Listeners)
	if err != nil {
		return nil, fmt.Errorf("Listeners: %w", err)
	}
	return ls, nil
}

// defaultMechanisms is what SASL users get when SASLMechanisms is empty.
var defaultMechanisms = []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512}

func (c Config) mechanisms() []string {
	if len(c.SASLMechanisms) == 0 {
		return defaultMechanisms
	}
	return c.SASLMechanisms
}

// validateSecurity checks the listener, TLS and SASL fields.
func (c Config) validateSecurity() []error {
	var errs []error
	specs, err := c.listenerSpecs()
	if err != nil {
		return append(errs, err)
	}
	var needTLS, needSASL bool
	for _, l := range specs {
		needTLS = needTLS || l.Protocol.TLS()
		needSASL = needSASL || l.Protocol.SASL()
	}
	if needTLS && (c.TLS == nil || (len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil)) {
		errs = append(errs, errors.New("TLS: an SSL or SASL_SSL listener needs a certificate (TLS.Certificates)"))
	}
	if c.TLSHandshakeTimeout < 0 {
		errs = append(errs, fmt.Errorf("TLSHandshakeTimeout %v: must be positive", c.TLSHandshakeTimeout))
	}
	if c.MaxReauth < 0 {
		errs = append(errs, fmt.Errorf("MaxReauth %v: must be >= 0", c.MaxReauth))
	}
	if c.SASLUsers != nil && c.SASLUsersFile != "" {
		errs = append(errs, errors.New("SASLUsers and SASLUsersFile: set one, not both"))
	}
	for name, pw := range c.SASLUsers {
		if name == "" || strings.ContainsAny(name, ":\r\n") || strings.TrimSpace(name) != name {
			errs = append(errs, fmt.Errorf("SASLUsers: user name %q: must be non-empty, without ':', line breaks or surrounding blanks", name))
		}
		if strings.ContainsAny(pw, "\r\n") {
			errs = append(errs, fmt.Errorf("SASLUsers: password of %q contains a line break", name))
		}
	}
	errs = append(errs, c.validateAuthz()...)
	hasUsers := c.SASLUsers != nil || c.SASLUsersFile != ""
	for _, m := range c.mechanisms() {
		switch m {
		case auth.Plain:
			if !hasUsers && needSASL && len(c.SASLMechanisms) > 0 {
				errs = append(errs, fmt.Errorf("SASLMechanisms: %s needs SASLUsers or SASLUsersFile", m))
			}
		case auth.ScramSHA256, auth.ScramSHA512, auth.OAuthBearer:
			// SCRAM users may also come from AlterUserScramCredentials.
		default:
			errs = append(errs, fmt.Errorf("SASLMechanisms: unknown mechanism %q (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)", m))
		}
	}
	return errs
}

// openListeners binds every listener, in order. On error the ones already
// bound are closed.
func (b *Broker) openListeners(ctx context.Context) error {
	specs, err := b.cfg.listenerSpecs()
	if err != nil {
		return err
	}
	var srvTLS *tls.Config
	if b.cfg.TLS != nil {
		srvTLS = b.cfg.TLS.Clone()
		srvTLS.MinVersion = max(srvTLS.MinVersion, tls.VersionTLS12)
	}
	var lc net.ListenConfig
	for i, s := range specs {
		ln, err := lc.Listen(ctx, "tcp", s.Addr)
		if err != nil {
			b.closeListeners()
			return fmt.Errorf("broker: listen %s://%s: %w", s.Protocol, s.Addr, err)
		}
		l := &listener{proto: s.Protocol, ln: ln}
		if s.Protocol.TLS() {
			l.tls = srvTLS
		}
		adv := ""
		if i == 0 {
			adv = b.cfg.AdvertisedAddr
		}
		if l.advHost, l.advPort, err = advertisedOf(adv, ln.Addr().String()); err != nil {
			ln.Close()
			b.closeListeners()
			return err
		}
		b.listeners = append(b.listeners, l)
	}
	b.advHost, b.advPort = b.listeners[0].advHost, b.listeners[0].advPort
	return nil
}

func (b *Broker) closeListeners() {
	for _, l := range b.listeners {
		l.ln.Close()
	}
}

// advertisedOf is the host and port Metadata gives for a listener bound at
// bound, unless adv overrides it.
func advertisedOf(adv, bound string) (string, int32, error) {
	addr := adv
	if addr == "" {
		addr = bound
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("broker: advertised address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("broker: advertised port %q: %w", port, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return host, int32(p), nil
}

// newAuthenticator derives the SASL users' credentials, when a listener
// uses SASL.
func (b *Broker) newAuthenticator() (*auth.Authenticator, error) {
	if !slices.ContainsFunc(b.listeners, func(l *listener) bool { return l.proto.SASL() }) {
		return nil, nil
	}
	a := &auth.Authenticator{Mechanisms: b.cfg.mechanisms()}
	var err error
	switch {
	case b.cfg.SASLUsersFile != "":
		a.Users, err = auth.LoadUsers(b.cfg.SASLUsersFile)
	case b.cfg.SASLUsers != nil:
		var text []byte
		for name, pw := range b.cfg.SASLUsers {
			text = append(text, name...)
			text = append(text, ':')
			text = append(text, pw...)
			text = append(text, '\n')
		}
		a.Users, err = auth.ParseUsers(text)
		clear(text)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: SASL users: %w", err)
	}
	// SCRAM always has the credentials of AlterUserScramCredentials, as
	// Kafka's does: a broker may start with none and have users created
	// through the Admin API (over another listener, or by a users-file
	// user).
	a.Store = b.scram
	if a.Users == nil {
		// PLAIN checks the users file only (Kafka's PlainLoginModule reads
		// JAAS, never the SCRAM store): drop it when there is none.
		a.Mechanisms = slices.DeleteFunc(slices.Clone(a.Mechanisms), func(m string) bool { return m == auth.Plain })
	}
	return a, nil
}

// advertisedTo is the address Metadata and FindCoordinator give c: that
// of the listener it connected through.
func (b *Broker) advertisedTo(c *conn) (string, int32) {
	if c == nil || c.ln.advHost == "" {
		return b.advHost, b.advPort
	}
	return c.ln.advHost, c.ln.advPort
}

// coordinatorLookupKey is FindCoordinator, answered by the group
// coordinator with the first listener's address.
const coordinatorLookupKey int16 = 10

// readvertise rewrites a FindCoordinator answer for c's listener.
func (b *Broker) readvertise(c *conn, resp kmsg.Response) {
	fc, ok := resp.(*kmsg.FindCoordinatorResponse)
	if !ok {
		return
	}
	host, port := b.advertisedTo(c)
	if fc.NodeID == b.nodeID() && fc.ErrorCode == 0 {
		fc.Host, fc.Port = host, port
	}
	for i := range fc.Coordinators {
		if co := &fc.Coordinators[i]; co.NodeID == b.nodeID() && co.ErrorCode == 0 {
			co.Host, co.Port = host, port
		}
	}
}

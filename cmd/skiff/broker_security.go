package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/internal/auth"
)

// brokerSecurity holds skiff broker's listener, TLS and SASL flags (issue
// 10), kept apart from the other flags so that broker.go only registers,
// applies and prints them.
type brokerSecurity struct {
	listeners, sslCert, sslKey, sslClientCA, saslUsers, saslMechs *string
	maxReauth                                                     *time.Duration
	authorizer, superUsers                                        *string
}

func addBrokerSecurityFlags(fs *flag.FlagSet) *brokerSecurity {
	return &brokerSecurity{
		listeners:   fs.String("listeners", "", "Kafka listeners, e.g. PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093 (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); replaces --listen"),
		sslCert:     fs.String("ssl-cert", "", "PEM certificate (chain) of the SSL and SASL_SSL listeners"),
		sslKey:      fs.String("ssl-key", "", "PEM private key of --ssl-cert"),
		sslClientCA: fs.String("ssl-client-ca", "", "PEM CA file: require client certificates signed by it (mTLS, ssl.client.auth=required; the principal is the certificate subject)"),
		saslUsers:   fs.String("sasl-users", "", "users file of the SASL listeners: one username:password per line, # comments"),
		saslMechs:   fs.String("sasl-mechanisms", "", "comma-separated sasl.enabled.mechanisms (default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512; OAUTHBEARER accepts unsecured JWTs, for development)"),
		maxReauth:   fs.Duration("max-reauth", 0, "SASL session lifetime before clients must re-authenticate (connections.max.reauth.ms); 0 means none"),
		authorizer: fs.String("authorizer", broker.AuthorizerAllowIfNoACL, "ACL enforcement: allow-if-no-acl (Kafka's StandardAuthorizer with allow.everyone.if.no.acl.found=true: resources without ACLs are open) "+
			"or deny-by-default (allow.everyone.if.no.acl.found=false: only what ACLs allow)"),
		superUsers: fs.String("super-users", "", "super.users: semicolon-separated principals that bypass ACLs, e.g. 'User:admin;User:CN=ops,O=example'"),
	}
}

// errUsage marks a flag error (exit code 2) from a runtime one.
var errUsage = errors.New("usage")

// apply sets cfg's security fields from the flags. Errors wrapping
// errUsage are bad flag combinations.
func (s *brokerSecurity) apply(fs *flag.FlagSet, cfg *broker.Config) error {
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	if listenSet && *s.listeners != "" {
		return fmt.Errorf("%w: --listen and --listeners: give one (--listen ADDR is PLAINTEXT://ADDR)", errUsage)
	}
	cfg.Listeners = *s.listeners
	if *s.sslCert != "" || *s.sslKey != "" || *s.sslClientCA != "" {
		t, err := auth.ServerTLS(*s.sslCert, *s.sslKey, *s.sslClientCA)
		if err != nil {
			return err
		}
		cfg.TLS = t
	}
	cfg.SASLUsersFile = *s.saslUsers
	for _, m := range strings.Split(*s.saslMechs, ",") {
		if m = strings.TrimSpace(m); m != "" {
			cfg.SASLMechanisms = append(cfg.SASLMechanisms, strings.ToUpper(m))
		}
	}
	cfg.MaxReauth = *s.maxReauth
	switch *s.authorizer {
	case broker.AuthorizerAllowIfNoACL, broker.AuthorizerDenyByDefault:
		cfg.Authorizer = *s.authorizer
	default:
		return fmt.Errorf("%w: --authorizer %q: want %s or %s", errUsage, *s.authorizer, broker.AuthorizerAllowIfNoACL, broker.AuthorizerDenyByDefault)
	}
	for _, p := range strings.Split(*s.superUsers, ";") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.SuperUsers = append(cfg.SuperUsers, p)
		}
	}
	return nil
}

// printListening prints the line scripts wait for: "listening <addr>" for
// --listen, as before, or one "listening <addr> <PROTOCOL>" per listener
// of --listeners, in the order given.
func (s *brokerSecurity) printListening(w io.Writer, b *broker.Broker) {
	if *s.listeners == "" {
		fmt.Fprintln(w, "listening", b.Addr())
		return
	}
	for _, l := range b.Listeners() {
		fmt.Fprintln(w, "listening", l.Addr, l.Protocol)
	}
}

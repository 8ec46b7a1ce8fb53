package properties

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/skiffkit/skiff/sasl"
)

// Security builds the TLS and SASL settings (Config.TLS and Config.SASL)
// from the security properties alone, ignoring every other key: for tools
// and admin clients that take the same client.properties file. A nil
// *tls.Config means no TLS; a nil Mechanism means no SASL.
func Security(props map[string]string) (*tls.Config, sasl.Mechanism, error) {
	b := newBuilder(props)
	tc, m := b.security()
	if err := errors.Join(b.errs...); err != nil {
		return nil, nil, fmt.Errorf("properties: %w", err)
	}
	return tc, m, nil
}

// security reads security.protocol and the ssl.* and sasl.* keys.
func (b *builder) security() (*tls.Config, sasl.Mechanism) {
	if v, ok := b.get("client.dns.lookup"); ok && strings.TrimSpace(v) != "use_all_dns_ips" {
		// Go's dialer already tries every address a name resolves to.
		b.fail("client.dns.lookup", "only use_all_dns_ips (what Go's dialer does) is supported, got %q", v)
	}
	protocol := "PLAINTEXT"
	if v, ok := b.get("security.protocol"); ok {
		protocol = strings.ToUpper(strings.TrimSpace(v))
	}
	var useTLS, useSASL bool
	switch protocol {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		b.fail("security.protocol", "want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got %q", protocol)
		return nil, nil
	}
	tc := b.tlsConfig(useTLS, protocol)
	m := b.mechanism(useSASL, protocol)
	return tc, m
}

func (b *builder) readFile(key string) ([]byte, bool) {
	path, ok := b.get(key)
	if !ok {
		return nil, false
	}
	data, err := os.ReadFile(strings.TrimSpace(path))
	if err != nil {
		b.check(key, err)
		return nil, false
	}
	return data, true
}

// pem returns the PEM of a *.location file key or of its librdkafka
// inline *.pem twin.
func (b *builder) pem(fileKey, inlineKey string) ([]byte, string, bool) {
	data, ok := b.readFile(fileKey)
	inline, inlineOK := b.get(inlineKey)
	switch {
	case ok && inlineOK:
		b.fail(inlineKey, "set either %s or %s, not both", fileKey, inlineKey)
	case inlineOK:
		return []byte(inline), inlineKey, true
	}
	return data, fileKey, ok
}

func (b *builder) tlsConfig(useTLS bool, protocol string) *tls.Config {
	// A PEM trust store (KIP-651) is a CA file under Java's key names.
	caKey := "ssl.ca.location"
	if t, ok := b.props["ssl.truststore.type"]; ok && strings.EqualFold(strings.TrimSpace(t), "PEM") {
		b.used["ssl.truststore.type"] = true
		if _, dup := b.props["ssl.ca.location"]; dup {
			b.fail("ssl.truststore.location", "set either ssl.ca.location or a PEM ssl.truststore.location, not both")
		}
		caKey = "ssl.truststore.location"
	}
	caPEM, caFrom, haveCA := b.pem(caKey, "ssl.ca.pem")
	certPEM, certFrom, haveCert := b.pem("ssl.certificate.location", "ssl.certificate.pem")
	keyPEM, _, haveKey := b.pem("ssl.key.location", "ssl.key.pem")
	hostCheck := true
	if v, ok := b.get("ssl.endpoint.identification.algorithm"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "https":
		case "":
			hostCheck = false
		default:
			b.fail("ssl.endpoint.identification.algorithm", "want https or empty, got %q", v)
		}
	}
	verify := true
	if v, ok := b.boolean("enable.ssl.certificate.verification"); ok {
		verify = v // librdkafka's switch to skip all verification
	}
	if !useTLS {
		for _, k := range []string{caFrom, certFrom, "ssl.key.location", "ssl.key.pem", "ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification"} {
			if _, set := b.props[k]; set && k != "" {
				b.fail(k, "set, but security.protocol %s uses no TLS (want SSL or SASL_SSL)", protocol)
			}
		}
		return nil
	}

	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if haveCA {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			b.fail(caFrom, "no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	switch {
	case haveCert && haveKey:
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			b.fail(certFrom, "client certificate and key do not load: %v", err)
		} else {
			tc.Certificates = []tls.Certificate{pair}
		}
	case haveCert:
		b.fail(certFrom, "a client certificate needs ssl.key.location too")
	case haveKey:
		b.fail("ssl.key.location", "a client key needs ssl.certificate.location too")
	}
	switch {
	case !verify:
		tc.InsecureSkipVerify = true
	case !hostCheck:
		// Kafka's empty endpoint identification still verifies the chain,
		// only not the name. crypto/tls has no such switch, so verification
		// moves into VerifyConnection with the same roots.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc
}

func (b *builder) mechanism(useSASL bool, protocol string) sasl.Mechanism {
	mech, haveMech := b.get("sasl.mechanism")
	if alt, ok := b.get("sasl.mechanisms"); ok { // librdkafka's spelling
		if haveMech && !strings.EqualFold(alt, mech) {
			b.fail("sasl.mechanisms", "disagrees with sasl.mechanism")
		}
		mech, haveMech = alt, true
	}
	mech = strings.ToUpper(strings.TrimSpace(mech))
	user, haveUser := b.get("sasl.username")
	pass, havePass := b.get("sasl.password")
	jaas, haveJAAS := b.get("sasl.jaas.config")
	if !useSASL {
		for _, k := range []string{"sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", "sasl.jaas.config"} {
			if _, set := b.props[k]; set {
				b.fail(k, "set, but security.protocol %s uses no SASL (want SASL_PLAINTEXT or SASL_SSL)", protocol)
			}
		}
		return nil
	}
	if haveJAAS {
		if haveUser || havePass {
			b.fail("sasl.jaas.config", "set either sasl.jaas.config or sasl.username/sasl.password, not both")
			return nil
		}
		lm, err := parseJAAS(jaas)
		if err != nil {
			b.check("sasl.jaas.config", err)
			return nil
		}
		switch lm.module {
		case plainModule:
			if !haveMech {
				mech, haveMech = "PLAIN", true
			}
			if mech != "PLAIN" {
				b.fail("sasl.jaas.config", "PlainLoginModule does not go with sasl.mechanism %s", mech)
				return nil
			}
		case scramModule:
			if !haveMech {
				b.fail("sasl.mechanism", "ScramLoginModule needs sasl.mechanism SCRAM-SHA-256 or SCRAM-SHA-512")
				return nil
			}
			if !strings.HasPrefix(mech, "SCRAM-") {
				b.fail("sasl.jaas.config", "ScramLoginModule does not go with sasl.mechanism %s", mech)
				return nil
			}
		default:
			b.fail("sasl.jaas.config", "login module %s is not built in: %s", lm.module, moduleHint(lm.module))
			return nil
		}
		var okU, okP bool
		user, okU = lm.options["username"]
		pass, okP = lm.options["password"]
		if !okU || !okP {
			b.fail("sasl.jaas.config", "needs username=\"…\" and password=\"…\"")
			return nil
		}
		haveUser, havePass = true, true
	}
	if !haveMech {
		// Java's default is GSSAPI, which is not built in.
		b.fail("sasl.mechanism", "not set (Java's default, GSSAPI, is not built in): want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		return nil
	}
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	case "OAUTHBEARER":
		b.fail("sasl.mechanism", "OAUTHBEARER needs a token provider: set Config.SASL to sasl.OAuthBearer(...) in Go")
		return nil
	case "GSSAPI", "AWS_MSK_IAM":
		b.fail("sasl.mechanism", "%s is not built in: set Config.SASL to your own sasl.Mechanism", mech)
		return nil
	default:
		b.fail("sasl.mechanism", "unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", mech)
		return nil
	}
	if !haveUser || !havePass {
		b.fail("sasl.mechanism", "%s needs sasl.username and sasl.password, or sasl.jaas.config", mech)
		return nil
	}
	switch mech {
	case "PLAIN":
		return sasl.Plain(user, pass)
	case "SCRAM-SHA-256":
		return sasl.ScramSHA256(user, pass)
	default:
		return sasl.ScramSHA512(user, pass)
	}
}

func moduleHint(module string) string {
	switch {
	case strings.HasSuffix(module, "OAuthBearerLoginModule"):
		return "set Config.SASL to sasl.OAuthBearer with a TokenProvider"
	case strings.HasSuffix(module, "Krb5LoginModule"):
		return "GSSAPI (Kerberos) needs your own sasl.Mechanism"
	case strings.HasSuffix(module, "IAMLoginModule"):
		return "AWS_MSK_IAM needs your own sasl.Mechanism (see the sasl package's example)"
	}
	return "set Config.SASL to your own sasl.Mechanism"
}

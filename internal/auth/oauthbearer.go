package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// UnsecuredJWT configures OAUTHBEARER validation the way Kafka's default
// OAuthBearerUnsecuredValidatorCallbackHandler does: the token is an
// unsecured JWT (alg "none", no signature), with the principal in a claim
// ("sub" by default) and a required "exp". It proves nothing about the
// client and is meant for development and tests, as in Kafka.
type UnsecuredJWT struct {
	// PrincipalClaim is unsecuredValidatorPrincipalClaimName. Zero: "sub".
	PrincipalClaim string
	// RequiredScopes is unsecuredValidatorRequiredScope: every one must be
	// in the token's "scope" claim.
	RequiredScopes []string
	// ClockSkew is unsecuredValidatorAllowableClockSkewMs. Zero: none.
	ClockSkew time.Duration
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// maxOAuthToken bounds an OAUTHBEARER message; real JWTs are a few KiB.
const maxOAuthToken = 64 << 10

// OAuthMessage is a parsed OAUTHBEARER client message (RFC 7628 section
// 3.1):
//
//	gs2-header kvsep "auth=Bearer " token kvsep *(key "=" value kvsep) kvsep
type OAuthMessage struct {
	Authzid    string
	Token      string
	Extensions map[string]string
}

// ParseOAuthMessage parses an OAUTHBEARER client message.
func ParseOAuthMessage(msg []byte) (OAuthMessage, error) {
	var m OAuthMessage
	if len(msg) > maxOAuthToken {
		return m, malformed("OAUTHBEARER message of %d bytes", len(msg))
	}
	s := string(msg)
	if !strings.HasPrefix(s, "n,") {
		return m, malformed("OAUTHBEARER message must start with the GS2 header \"n,\"")
	}
	authz, rest, ok := strings.Cut(s[2:], ",")
	if !ok {
		return m, malformed("GS2 header is not terminated")
	}
	if authz != "" {
		a, found := strings.CutPrefix(authz, "a=")
		if !found {
			return m, malformed("GS2 header has an unknown attribute")
		}
		name, err := unescapeSaslname(a)
		if err != nil {
			return m, err
		}
		m.Authzid = name
	}
	body, ok := strings.CutPrefix(rest, "\x01")
	if !ok || !strings.HasSuffix(body, "\x01\x01") {
		return m, malformed("OAUTHBEARER key/value list is not framed by 0x01")
	}
	body = strings.TrimSuffix(body, "\x01\x01")
	for _, kv := range strings.Split(body, "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return m, malformed("OAUTHBEARER key/value without '='")
		}
		if k == "auth" {
			if m.Token != "" {
				return m, malformed("auth given twice")
			}
			tok, found := strings.CutPrefix(v, "Bearer ")
			if !found || tok == "" {
				return m, malformed(`auth must be "Bearer <token>"`)
			}
			m.Token = tok
			continue
		}
		for i := range len(k) {
			if c := k[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return m, malformed("extension key is not letters only")
			}
		}
		if m.Extensions == nil {
			m.Extensions = make(map[string]string)
		}
		if _, dup := m.Extensions[k]; dup {
			return m, malformed("extension %q given twice", k)
		}
		m.Extensions[k] = v
	}
	if m.Token == "" {
		return m, malformed("no auth=Bearer token")
	}
	return m, nil
}

// oauthServer runs RFC 7628's server side: accept, or send an error
// challenge, wait for the client's lone 0x01, and fail.
type oauthServer struct {
	cfg     UnsecuredJWT
	step    int
	user    string
	expiry  time.Time
	failErr error
}

func (s *oauthServer) Principal() string { return s.user }
func (s *oauthServer) Expiry() time.Time { return s.expiry }

func (s *oauthServer) Next(token []byte) ([]byte, bool, error) {
	step := s.step
	s.step++
	switch step {
	case 0:
		m, err := ParseOAuthMessage(token)
		if err != nil {
			return nil, false, err
		}
		claims, err := s.cfg.validate(m.Token)
		if err != nil {
			s.failErr = err
			challenge, _ := json.Marshal(map[string]string{"status": "invalid_token"})
			return challenge, false, nil
		}
		if m.Authzid != "" && m.Authzid != claims.principal {
			return nil, false, fmt.Errorf("%w: authorization id differs from the token's principal", ErrAuthFailed)
		}
		s.user, s.expiry = claims.principal, claims.expiry
		return []byte{}, true, nil
	case 1:
		if s.failErr != nil {
			if !bytes.Equal(token, []byte{1}) {
				return nil, false, malformed("want a lone 0x01 after an error challenge")
			}
			return nil, false, s.failErr
		}
	}
	return nil, false, ErrSessionDone
}

type jwtClaims struct {
	principal string
	expiry    time.Time
}

// validate checks an unsecured JWT: header.payload. with alg "none".
func (c UnsecuredJWT) validate(token string) (jwtClaims, error) {
	var out jwtClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("%w: token is not a JWT (want 3 dot-separated parts)", ErrAuthFailed)
	}
	if parts[2] != "" {
		return out, fmt.Errorf("%w: token is signed; only unsecured JWTs are validated", ErrAuthFailed)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeJWTPart(parts[0], &header); err != nil {
		return out, fmt.Errorf("%w: JWT header: %v", ErrAuthFailed, err)
	}
	if header.Alg != "none" {
		return out, fmt.Errorf("%w: JWT alg %q, want none", ErrAuthFailed, truncate(header.Alg, 16))
	}
	var claims map[string]any
	if err := decodeJWTPart(parts[1], &claims); err != nil {
		return out, fmt.Errorf("%w: JWT claims: %v", ErrAuthFailed, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return out, fmt.Errorf("%w: JWT has no numeric exp claim", ErrAuthFailed)
	}
	out.expiry = time.UnixMilli(int64(exp * 1000))
	if !now().Before(out.expiry.Add(c.ClockSkew)) {
		return out, fmt.Errorf("%w: token expired at %s", ErrAuthFailed, out.expiry.UTC().Format(time.RFC3339))
	}
	if iat, ok := claims["iat"].(float64); ok && time.UnixMilli(int64(iat*1000)).After(now().Add(c.ClockSkew)) {
		return out, fmt.Errorf("%w: token issued in the future", ErrAuthFailed)
	}
	pc := c.PrincipalClaim
	if pc == "" {
		pc = "sub"
	}
	principal, _ := claims[pc].(string)
	if principal == "" {
		return out, fmt.Errorf("%w: JWT has no %q claim", ErrAuthFailed, pc)
	}
	out.principal = principal
	if len(c.RequiredScopes) > 0 {
		have := map[string]bool{}
		switch sc := claims["scope"].(type) {
		case string:
			for _, s := range strings.Fields(sc) {
				have[s] = true
			}
		case []any:
			for _, s := range sc {
				if str, ok := s.(string); ok {
					have[str] = true
				}
			}
		}
		for _, need := range c.RequiredScopes {
			if !have[need] {
				return out, fmt.Errorf("%w: token lacks scope %q", ErrAuthFailed, need)
			}
		}
	}
	return out, nil
}

func decodeJWTPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("not base64url")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not JSON")
	}
	return nil
}

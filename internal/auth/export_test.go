package auth

// WithServerNonce fixes a SCRAM session's server nonce, for RFC vectors.
func WithServerNonce(s Session, nonce string) Session {
	s.(*scramServer).serverNonce = nonce
	return s
}

// UsersWith builds a store from ready credentials.
func UsersWith(user string, sha256, sha512 Credential) *Users {
	return &Users{creds: map[string]userCreds{user: {sha256: sha256, sha512: sha512}}}
}

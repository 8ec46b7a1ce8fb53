package wire

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Versions is the set of API version ranges a broker advertised in its
// ApiVersions response. The zero value supports nothing. Versions is
// immutable and safe to share.
type Versions struct {
	keys []versionRange // indexed by API key
}

type versionRange struct {
	min, max int16
	ok       bool
}

// maxAPIKey bounds the table built from a broker's response so that a
// hostile ApiVersions response cannot make us allocate much.
const maxAPIKey = 1 << 12

func versionsFrom(keys []kmsg.ApiVersionsResponseApiKey) Versions {
	hi := -1
	for _, k := range keys {
		if k.ApiKey >= 0 && k.ApiKey < maxAPIKey && int(k.ApiKey) > hi {
			hi = int(k.ApiKey)
		}
	}
	v := Versions{keys: make([]versionRange, hi+1)}
	for _, k := range keys {
		if k.ApiKey < 0 || k.ApiKey >= maxAPIKey || k.MaxVersion < k.MinVersion || k.MaxVersion < 0 {
			continue
		}
		v.keys[k.ApiKey] = versionRange{min: k.MinVersion, max: k.MaxVersion, ok: true}
	}
	return v
}

func (v Versions) lookup(key int16) (versionRange, bool) {
	if key < 0 || int(key) >= len(v.keys) || !v.keys[key].ok {
		return versionRange{}, false
	}
	return v.keys[key], true
}

// Max returns the highest version of the API key the broker supports.
func (v Versions) Max(key int16) (int16, bool) {
	r, ok := v.lookup(key)
	return r.max, ok
}

// Min returns the lowest version of the API key the broker supports.
func (v Versions) Min(key int16) (int16, bool) {
	r, ok := v.lookup(key)
	return r.min, ok
}

// Keys returns the advertised API keys in ascending order.
func (v Versions) Keys() []int16 {
	var out []int16
	for k, r := range v.keys {
		if r.ok {
			out = append(out, int16(k))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// choose returns the version to send req with: the highest both sides speak,
// within the caller's [minVersion, maxVersion]. Errors wrap
// kerr.UnsupportedVersion.
func (v Versions) choose(req kmsg.Request, minVersion, maxVersion int16) (int16, error) {
	key := req.Key()
	r, ok := v.lookup(key)
	if !ok {
		return 0, fmt.Errorf("broker does not support %s (key %d): %w", kmsg.NameForKey(key), key, kerr.UnsupportedVersion)
	}
	ver := min(req.MaxVersion(), r.max, maxVersion)
	if ver < r.min || ver < minVersion {
		return 0, fmt.Errorf("%s: broker supports v%d-v%d, client v%d-v%d: %w",
			kmsg.NameForKey(key), r.min, r.max, minVersion, min(req.MaxVersion(), maxVersion), kerr.UnsupportedVersion)
	}
	return ver, nil
}

// MinVersion wraps req so that it is only sent at version v or above; when
// the broker cannot go that high the request fails with an error wrapping
// kerr.UnsupportedVersion instead of silently downgrading semantics (for
// example Produce below v3 cannot carry record batch v2).
func MinVersion(req kmsg.Request, v int16) kmsg.Request {
	w := wrap(req)
	w.min = v
	return w
}

// MaxVersion wraps req so that it is sent at version v or below, for callers
// that do not fill the fields of newer versions (Produce v13+ addresses
// topics by ID only, KIP-516). It composes with MinVersion.
func MaxVersion(req kmsg.Request, v int16) kmsg.Request {
	w := wrap(req)
	w.max = v
	return w
}

// versionedRequest carries the caller's version bounds to the Conn, which
// unwraps it before encoding.
type versionedRequest struct {
	kmsg.Request
	min, max int16
}

func wrap(req kmsg.Request) *versionedRequest {
	if w, ok := req.(*versionedRequest); ok {
		c := *w
		return &c
	}
	return &versionedRequest{Request: req, min: 0, max: req.MaxVersion()}
}

// unwrapRequest returns the kmsg request and the caller's version bounds.
func unwrapRequest(req kmsg.Request) (kmsg.Request, int16, int16) {
	if w, ok := req.(*versionedRequest); ok {
		return w.Request, w.min, w.max
	}
	return req, 0, req.MaxVersion()
}

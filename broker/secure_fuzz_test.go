package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzSASLConnStream is FuzzConnStream on a SASL listener: the login runs
// on the connection's reader, outside the workers' panic recovery, so a
// token or frame that made it panic would take the broker down. Whatever
// arrives, in whatever chunks, the reader answers or closes.
func FuzzSASLConnStream(f *testing.F) {
	hs := func(mech string, v int16) []byte {
		r := kmsg.NewPtrSASLHandshakeRequest()
		r.Mechanism = mech
		return frame(r, v, 2)
	}
	auth := func(tok []byte, v int16) []byte {
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.SASLAuthBytes = tok
		return frame(r, v, 3)
	}
	good := append(frame(kmsg.NewPtrApiVersionsRequest(), 3, 1), hs("PLAIN", 1)...)
	good = append(good, auth(plainToken(secUser, secPassword), 2)...)
	good = append(good, frame(metadataReq(false, "fz"), 9, 4)...)
	f.Add(good, uint8(3))
	v0 := append(hs("PLAIN", 0), binary.BigEndian.AppendUint32(nil, uint32(len(plainToken(secUser, secPassword))))...)
	v0 = append(v0, plainToken(secUser, secPassword)...)
	f.Add(v0, uint8(64))
	f.Add(append(hs("SCRAM-SHA-256", 1), auth([]byte("n,,n=alice,r=abcdefgh"), 1)...), uint8(5))
	f.Add(append(hs("SCRAM-SHA-512", 1), auth([]byte("n,a=x,n==3D=2C,r=\x00"), 0)...), uint8(9))
	f.Add(append(hs("OAUTHBEARER", 1), auth([]byte("n,,\x01auth=Bearer a.b.c\x01\x01"), 1)...), uint8(7))
	f.Add(hs("PLAIN", 1)[:9], uint8(1))

	sb := startSecure(f, "SASL_PLAINTEXT://127.0.0.1:0", func(c *Config) {
		c.Logger = discardLogger()
		c.FailedAuthenticationDelay = -1
		c.SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}
	})
	l := sb.listeners[0]
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		server, client := net.Pipe()
		defer client.Close()
		sb.serveOn(server, l)
		go func() { // drain answers so the writer never blocks
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		step := int(chunk%64) + 1
		for len(stream) > 0 {
			n := min(step, len(stream))
			client.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := client.Write(stream[:n]); err != nil {
				break
			}
			stream = stream[n:]
		}
		if sb.bugs.Load() != 0 {
			t.Fatal("a handler panicked")
		}
	})
}

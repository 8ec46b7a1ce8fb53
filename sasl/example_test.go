package sasl_test

import (
	"context"
	"fmt"
	"time"

	"github.com/skiffkit/skiff/sasl"
)

// SCRAM-SHA-512, as Confluent Platform and Amazon MSK offer it; pass the
// mechanism as Config.SASL of a producer or consumer.
func ExampleScramSHA512() {
	m := sasl.ScramSHA512("alice", "alice-secret")
	fmt.Println(m.Name(), m)
	// Output: SCRAM-SHA-512 SCRAM-SHA-512(user=alice)
}

// OAUTHBEARER with a token from an identity provider. The provider runs on
// the first login and again once 80% of the token's lifetime has passed.
func ExampleOAuthBearer() {
	m := sasl.OAuthBearer(func(ctx context.Context) (sasl.Token, error) {
		// A real provider posts a client-credentials grant to the IdP.
		return sasl.Token{
			Value:      "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
			Expiry:     time.Now().Add(time.Hour),
			Extensions: map[string]string{"logicalCluster": "lkc-abc"},
		}, nil
	})
	_, first, err := m.Start(context.Background(), "broker:9092")
	fmt.Printf("%q %v\n", first, err)
	// Output: "n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.\x01logicalCluster=lkc-abc\x01\x01" <nil>
}

// awsIAM sketches a user-supplied mechanism: anything that implements
// Mechanism and Session can log in, for example AWS_MSK_IAM, which signs
// a request for the broker's host.
type awsIAM struct{ sign func(host string) []byte }

func (awsIAM) Name() string { return "AWS_MSK_IAM" }

func (a awsIAM) Start(_ context.Context, addr string) (sasl.Session, []byte, error) {
	return iamSession{}, a.sign(addr), nil
}

type iamSession struct{}

// The broker answers the signed payload with a JSON status; one round.
func (iamSession) Challenge([]byte) (bool, []byte, error) { return true, nil, nil }

func ExampleMechanism() {
	var m sasl.Mechanism = awsIAM{sign: func(host string) []byte { return []byte(`{"host":"` + host + `"}`) }}
	s, first, _ := m.Start(context.Background(), "b-1.msk.example:9098")
	done, _, _ := s.Challenge([]byte(`{"version":"2020_10_22"}`))
	fmt.Println(m.Name(), string(first), done)
	// Output: AWS_MSK_IAM {"host":"b-1.msk.example:9098"} true
}

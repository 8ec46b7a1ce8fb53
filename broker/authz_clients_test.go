package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientCert issues a client certificate with a full subject
// (CN=carol,O=skiff) from a CA of its own, for the mTLS principal.
func clientCert(t testing.TB) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authz test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "carol", Organization: []string{"skiff"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// authzBroker is a deny-by-default broker with SASL users alice, bob and
// the super user admin, a plaintext listener (User:ANONYMOUS) and an SSL
// listener that takes client certificates.
type authzBroker struct {
	*secureBroker
	clientCert tls.Certificate
}

func startAuthz(t testing.TB) *authzBroker {
	pool, cert := clientCert(t)
	sb := startSecure(t, "SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0", func(c *Config) {
		c.Authorizer = AuthorizerDenyByDefault
		c.SuperUsers = []string{"User:admin"}
		c.SASLUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "admin": "admin-pw"}
		c.TLS.ClientCAs, c.TLS.ClientAuth = pool, tls.VerifyClientCertIfGiven
		c.GroupInitialRebalanceDelay = -1
	})
	return &authzBroker{secureBroker: sb, clientCert: cert}
}

// as is a kgo client logged in as user (PLAIN, password user-pw).
func (ab *authzBroker) as(t testing.TB, user string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClientAt(t, ab.ListenerAddr("SASL_PLAINTEXT"), append([]kgo.Opt{
		kgo.SASL(plain.Auth{User: user, Pass: user + "-pw"}.AsMechanism()),
		kgo.RetryTimeout(3 * time.Second), kgo.ProducerBatchCompression(kgo.NoCompression()),
	}, opts...)...)
}

func allowACL(t testing.TB, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	rs, err := adm.CreateACLs(ctx(t), b)
	require.NoError(t, err)
	for _, r := range rs {
		require.NoError(t, r.Err, "%v", r.ErrMessage)
	}
}

// fetchCode is the error of a Fetch of topic's partition 0 by cl.
func fetchCode(t testing.TB, b *Broker, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID, _ = b.topicID(topic)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func metadataTopics(t testing.TB, cl *kgo.Client, topics ...string) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true // what the authorizer allows of it
	if topics != nil {
		for _, n := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	out := map[string]int16{}
	for _, rt := range resp.Topics {
		out[*rt.Topic] = rt.ErrorCode
	}
	return out
}

// End to end with franz-go's kgo and kadm, deny-by-default: what each
// principal may do is what its ACLs say, with Kafka's error codes.
func TestAuthzDenyByDefaultClients(t *testing.T) {
	ab := startAuthz(t)
	admin := ab.as(t, "admin")
	adm := kadm.NewClient(admin)
	for _, topic := range []string{"t", "logs-a", "logs-secret"} {
		createTopic(t, admin, topic, 1, nil)
	}
	require.NoError(t, admin.ProduceSync(ctx(t), &kgo.Record{Topic: "logs-a", Value: []byte("a1")}, &kgo.Record{Topic: "logs-secret", Value: []byte("s1")}).FirstErr())
	allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("t").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("logs-").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))
	allowACL(t, adm, kadm.NewACLs().Deny("User:alice").DenyHosts("*").Topics("logs-secret").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	alice, bob := ab.as(t, "alice"), ab.as(t, "bob", kgo.DisableIdempotentWrite())

	t.Run("alice writes t but may not read it", func(t *testing.T) {
		require.NoError(t, alice.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte("from alice")}).FirstErr(),
			"idempotent: WRITE on a topic stands for IDEMPOTENT_WRITE (KIP-679)")
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, fetchCode(t, ab.Broker, alice, "t"))
		assert.Zero(t, fetchCode(t, ab.Broker, admin, "t"), "the super user reads anything")
	})
	t.Run("bob may do nothing", func(t *testing.T) {
		err := bob.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte("from bob")}).FirstErr()
		assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, fetchCode(t, ab.Broker, bob, "logs-a"))
		assert.Empty(t, metadataTopics(t, bob), "all topics: those without DESCRIBE are left out")
		assert.Equal(t, map[string]int16{"t": kerr.TopicAuthorizationFailed.Code}, metadataTopics(t, bob, "t"))
		ip, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx(t), bob)
		require.NoError(t, err)
		assert.Equal(t, kerr.ClusterAuthorizationFailed.Code, ip.ErrorCode, "InitProducerId without IDEMPOTENT_WRITE or any WRITE")
	})
	t.Run("metadata shows what alice may describe", func(t *testing.T) {
		assert.Equal(t, map[string]int16{"t": 0, "logs-a": 0, "logs-secret": 0}, metadataTopics(t, alice),
			"WRITE and READ imply DESCRIBE; a DENY READ does not deny it")
		got := metadataTopics(t, alice, "t", "nope", "logs-new")
		assert.Zero(t, got["t"])
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, got["nope"], "no DESCRIBE: refused before auto-creation")
		assert.Equal(t, kerr.UnknownTopicOrPartition.Code, got["logs-new"], "DESCRIBE (implied by READ logs-*) but no CREATE")
		md := metadataTopics(t, admin)
		assert.NotContains(t, md, "nope", "not auto-created")
		assert.NotContains(t, md, "logs-new", "not auto-created")
		// With CREATE on a prefix, auto-creation goes ahead.
		allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("auto-").Operations(kadm.OpCreate, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternPrefixed))
		assert.Zero(t, metadataTopics(t, alice, "auto-1")["auto-1"])
		assert.Contains(t, metadataTopics(t, admin), "auto-1")
	})
	t.Run("prefixed ACL and DENY overriding ALLOW", func(t *testing.T) {
		assert.Zero(t, fetchCode(t, ab.Broker, alice, "logs-a"))
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, fetchCode(t, ab.Broker, alice, "logs-secret"))
		recs := consumeWith(t, ab.as(t, "alice", kgo.ConsumeTopics("logs-a"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), 1)
		assert.Equal(t, "a1", string(recs[0].Value))
	})
	t.Run("consumer group", func(t *testing.T) {
		allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Groups("g-alice").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
		cl := ab.as(t, "alice", kgo.ConsumerGroup("g-alice"), kgo.ConsumeTopics("logs-a"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		defer func() {
			if t.Failed() {
				t.Log(ab.logs.String())
			}
		}()
		recs := consumeWith(t, cl, 1)
		assert.Equal(t, "a1", string(recs[0].Value))
		require.NoError(t, cl.CommitUncommittedOffsets(ctx(t)))
		offs, err := kadm.NewClient(alice).FetchOffsets(ctx(t), "g-alice")
		require.NoError(t, err)
		o, ok := offs.Lookup("logs-a", 0)
		require.True(t, ok)
		assert.Equal(t, int64(1), o.At)

		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = "g-other"
		fr, err := fc.RequestWith(ctx(t), alice)
		require.NoError(t, err)
		assert.Equal(t, kerr.GroupAuthorizationFailed.Code, fr.ErrorCode)
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Group, oc.Generation = "g-other", -1
		ot := kmsg.NewOffsetCommitRequestTopic()
		ot.Topic = "logs-a"
		ot.TopicID, _ = ab.topicID("logs-a") // v10 names topics by id
		ot.Partitions = append(ot.Partitions, kmsg.OffsetCommitRequestTopicPartition{Partition: 0, Offset: 1})
		oc.Topics = append(oc.Topics, ot)
		// Straight to the node: kgo would look the coordinator up first.
		node := alice.Broker(int(ab.nodeID()))
		ocr, err := node.Request(ctx(t), oc)
		require.NoError(t, err)
		or := ocr.(*kmsg.OffsetCommitResponse)
		require.Len(t, or.Topics, 1)
		assert.Equal(t, kerr.GroupAuthorizationFailed.Code, or.Topics[0].Partitions[0].ErrorCode)
		// The group is allowed, a topic is not: that partition only.
		oc.Group = "g-alice"
		ot.Topic = "t"
		ot.TopicID, _ = ab.topicID("t")
		oc.Topics = append(oc.Topics[:0], ot)
		ocr, err = node.Request(ctx(t), oc)
		require.NoError(t, err)
		or = ocr.(*kmsg.OffsetCommitResponse)
		require.Len(t, or.Topics, 1, "%+v", or)
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, or.Topics[0].Partitions[0].ErrorCode, "%+v", or)

		gs, err := kadm.NewClient(bob).ListGroups(ctx(t))
		require.NoError(t, err)
		assert.Empty(t, gs.Groups(), "ListGroups shows bob no group")
		gs, err = kadm.NewClient(admin).ListGroups(ctx(t))
		require.NoError(t, err)
		assert.Contains(t, gs.Groups(), "g-alice")
	})
	t.Run("transactional id", func(t *testing.T) {
		allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").TransactionalIDs("tx-a").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
		txn := ab.as(t, "alice", kgo.TransactionalID("tx-a"), kgo.DefaultProduceTopic("t"))
		require.NoError(t, txn.BeginTransaction())
		require.NoError(t, txn.ProduceSync(ctx(t), &kgo.Record{Value: []byte("in txn")}).FirstErr())
		require.NoError(t, txn.EndTransaction(ctx(t), kgo.TryCommit))

		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID = kmsg.StringPtr("tx-b")
		iprr, err := alice.Broker(int(ab.nodeID())).Request(ctx(t), ip)
		require.NoError(t, err)
		ipr := iprr.(*kmsg.InitProducerIDResponse)
		assert.Equal(t, kerr.TransactionalIDAuthorizationFailed.Code, ipr.ErrorCode)
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorType = "tx-b", 1
		fr, err := fc.RequestWith(ctx(t), alice)
		require.NoError(t, err)
		assert.Equal(t, kerr.TransactionalIDAuthorizationFailed.Code, fr.ErrorCode)

		other := ab.as(t, "alice", kgo.TransactionalID("tx-b"), kgo.DefaultProduceTopic("t"))
		err = other.BeginTransaction() // kgo may initialize the producer id here
		if err == nil {
			err = other.ProduceSync(ctx(t), &kgo.Record{Value: []byte("x")}).FirstErr()
		}
		assert.ErrorIs(t, err, kerr.TransactionalIDAuthorizationFailed)
	})
	t.Run("mTLS principal", func(t *testing.T) {
		allowACL(t, adm, kadm.NewACLs().Allow("User:CN=carol,O=skiff").AllowHosts("*").Topics("t").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
		tc := ab.clientTLS.Clone()
		tc.Certificates = []tls.Certificate{ab.clientCert}
		carol := newClientAt(t, ab.ListenerAddr("SSL"), kgo.DialTLSConfig(tc), kgo.RetryTimeout(3*time.Second))
		assert.NoError(t, carol.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte("from carol")}).FirstErr())
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, fetchCode(t, ab.Broker, carol, "t"))
		noCert := newClientAt(t, ab.ListenerAddr("SSL"), kgo.DialTLSConfig(ab.clientTLS.Clone()), kgo.DisableIdempotentWrite(), kgo.RetryTimeout(3*time.Second))
		assert.ErrorIs(t, noCert.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(), kerr.TopicAuthorizationFailed,
			"without a certificate: User:ANONYMOUS")
	})
	t.Run("anonymous on plaintext", func(t *testing.T) {
		anon := newClientAt(t, ab.ListenerAddr("PLAINTEXT"), kgo.DisableIdempotentWrite(), kgo.RetryTimeout(3*time.Second))
		assert.Empty(t, metadataTopics(t, anon))
		assert.ErrorIs(t, anon.ProduceSync(ctx(t), &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(), kerr.TopicAuthorizationFailed)
	})
	t.Run("ACL and admin APIs need the cluster", func(t *testing.T) {
		aadm := kadm.NewClient(alice)
		da, err := aadm.DescribeACLs(ctx(t), kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().Deny().AllowHosts().DenyHosts())
		require.NoError(t, err)
		require.NotEmpty(t, da)
		assert.ErrorIs(t, da[0].Err, kerr.ClusterAuthorizationFailed)
		rs, err := aadm.CreateACLs(ctx(t), kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("t").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
		require.NoError(t, err)
		assert.ErrorIs(t, rs[0].Err, kerr.ClusterAuthorizationFailed)
		ct, err := aadm.CreateTopic(ctx(t), 1, 1, nil, "alices-topic")
		if err == nil {
			err = ct.Err
		}
		assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
		dt, err := aadm.DeleteTopics(ctx(t), "t")
		require.NoError(t, err)
		assert.ErrorIs(t, dt["t"].Err, kerr.TopicAuthorizationFailed)
		rc, err := aadm.DescribeTopicConfigs(ctx(t), "t")
		if err == nil {
			err = rc[0].Err
		}
		assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
		sc, err := aadm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: "eve", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "x"}})
		if err == nil {
			err = sc["eve"].Err
		}
		assert.ErrorIs(t, err, kerr.ClusterAuthorizationFailed)
	})
	t.Run("created topic configs need DESCRIBE_CONFIGS", func(t *testing.T) {
		allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("alice-").Operations(kadm.OpCreate).ResourcePatternType(kadm.ACLPatternPrefixed))
		req := kmsg.NewPtrCreateTopicsRequest()
		for _, n := range []string{"alice-1", "other-1"} {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = n, 1, 1
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx(t), alice)
		require.NoError(t, err)
		codes := map[string][2]int16{}
		for _, rt := range resp.Topics {
			codes[rt.Topic] = [2]int16{rt.ErrorCode, rt.ConfigErrorCode}
		}
		assert.Equal(t, map[string][2]int16{"alice-1": {0, kerr.TopicAuthorizationFailed.Code}, "other-1": {kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code}}, codes)
	})
	t.Run("SCRAM user from the store, authorized by its ACLs", func(t *testing.T) {
		sc, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "dave-pw"}})
		require.NoError(t, err)
		require.NoError(t, sc["dave"].Err)
		allowACL(t, adm, kadm.NewACLs().Allow("User:dave").AllowHosts("*").Topics("logs-a").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
		dave := newClientAt(t, ab.ListenerAddr("SASL_PLAINTEXT"), kgo.SASL(scram.Auth{User: "dave", Pass: "dave-pw"}.AsSha512Mechanism()))
		assert.Zero(t, fetchCode(t, ab.Broker, dave, "logs-a"))
		assert.Equal(t, kerr.TopicAuthorizationFailed.Code, fetchCode(t, ab.Broker, dave, "logs-secret"))
	})
}

// consumeWith polls cl for n records.
func consumeWith(t testing.TB, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	c := ctx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(c)
		require.NoError(t, c.Err(), "got %d of %d records", len(out), n)
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// The default mode (allow.everyone.if.no.acl.found=true): resources
// without ACLs are open to everyone, as before ACLs existed; a resource
// with ACLs is open only to what they allow, for User:ANONYMOUS too.
func TestAuthzDefaultModeEnforcesExistingACLs(t *testing.T) {
	b := startBroker(t, Config{})
	cl := newClient(t, b, kgo.DisableIdempotentWrite(), kgo.RetryTimeout(3*time.Second), kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopic(t, cl, "open", 1, nil)
	createTopic(t, cl, "locked", 1, nil)
	adm := kadm.NewClient(cl)
	allowACL(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("locked").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))

	assert.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Topic: "open", Value: []byte("x")}).FirstErr())
	assert.ErrorIs(t, cl.ProduceSync(ctx(t), &kgo.Record{Topic: "locked", Value: []byte("x")}).FirstErr(), kerr.TopicAuthorizationFailed)
	md := metadataTopics(t, cl)
	assert.Contains(t, md, "open")
	assert.NotContains(t, md, "locked", "ANONYMOUS may not describe it")

	// Deleting the ACL reopens the topic; ACL APIs stay open (the cluster
	// has no ACLs).
	ds, err := adm.DeleteACLs(ctx(t), kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("locked").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	require.NoError(t, err)
	require.NoError(t, ds[0].Err)
	assert.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Topic: "locked", Value: []byte("x")}).FirstErr())
	assert.False(t, b.authz.active(), "no ACLs left: no checks")
}

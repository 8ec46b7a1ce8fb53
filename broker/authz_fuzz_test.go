package broker

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// FuzzAuthzRequest is FuzzRequest on a deny-by-default broker with ACLs,
// so that every request goes through the authorizer's checks
// (authz_apis.go: the lists it takes requests apart by, the answers it
// merges back) as one of several principals: ANONYMOUS, a user with
// literal, prefixed and DENY ACLs, one without, and a super user. The ACL
// APIs' own decoders and filters run too (CreateAcls, DescribeAcls and
// DeleteAcls seeds, answered as the super user). Nothing may panic and
// every request is answered once.
func FuzzAuthzRequest(f *testing.F) {
	good := makeBatch(2, 10, batch.NoProducer)
	seeds := []kmsg.Request{
		metadataReq(true, "fz", "nope"),
		metadataReq(false),
		produceReq("fz", 0, good),
		produceReq("fz-secret", 0, good),
		fetchReq("fz", 0, 0, 0, 0),
		fetchReq("fz-secret", 0, 0, 0, 0),
		createReq(false, ct("fz2", 2, 1, "retention.ms", "100")),
		adminSeed(kmsg.NewPtrDeleteTopicsRequest(), func(r *kmsg.DeleteTopicsRequest) {
			r.TopicNames = []string{"fz", "fz-secret", "other"}
			r.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("fz")}, {TopicID: [16]byte{1}}}
		}),
		adminSeed(kmsg.NewPtrListOffsetsRequest(), func(r *kmsg.ListOffsetsRequest) {
			r.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "fz", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Timestamp: -1}}}, {Topic: "fz-secret"}}
		}),
		adminSeed(kmsg.NewPtrOffsetForLeaderEpochRequest(), func(r *kmsg.OffsetForLeaderEpochRequest) {
			r.ReplicaID = -1
			r.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "fz", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{}}}, {Topic: "other"}}
		}),
		adminSeed(kmsg.NewPtrDescribeConfigsRequest(), func(r *kmsg.DescribeConfigsRequest) {
			r.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: 2, ResourceName: "fz"}, {ResourceType: 4, ResourceName: "1"}, {ResourceType: 32, ResourceName: "g"}, {ResourceType: 2, ResourceName: "x"}}
		}),
		alterConfigsSeed(),
		incrementalAlterConfigsSeed(),
		adminSeed(kmsg.NewPtrFindCoordinatorRequest(), func(r *kmsg.FindCoordinatorRequest) {
			r.CoordinatorKey, r.CoordinatorKeys = "g", []string{"g", "g-other"}
		}),
		adminSeed(kmsg.NewPtrFindCoordinatorRequest(), func(r *kmsg.FindCoordinatorRequest) {
			r.CoordinatorKey, r.CoordinatorType, r.CoordinatorKeys = "tx", 1, []string{"tx", "tx-other"}
		}),
		adminSeed(kmsg.NewPtrOffsetCommitRequest(), func(r *kmsg.OffsetCommitRequest) {
			r.Group, r.Generation = "g", -1
			r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "fz", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Offset: 1}}}, {Topic: "fz-secret"}}
		}),
		adminSeed(kmsg.NewPtrOffsetFetchRequest(), func(r *kmsg.OffsetFetchRequest) {
			r.Group = "g"
			r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "fz", Partitions: []int32{0}}, {Topic: "fz-secret", Partitions: []int32{0}}}
			r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: "g-other", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "fz", Partitions: []int32{0}}}}}
		}),
		adminSeed(kmsg.NewPtrDescribeGroupsRequest(), func(r *kmsg.DescribeGroupsRequest) {
			r.Groups, r.IncludeAuthorizedOperations = []string{"g", "g-other"}, true
		}),
		adminSeed(kmsg.NewPtrDeleteGroupsRequest(), func(r *kmsg.DeleteGroupsRequest) { r.Groups = []string{"g", "g-other"} }),
		adminSeed(kmsg.NewPtrHeartbeatRequest(), func(r *kmsg.HeartbeatRequest) { r.Group = "g-other" }),
		adminSeed(kmsg.NewPtrLeaveGroupRequest(), func(r *kmsg.LeaveGroupRequest) { r.Group = "g" }),
		kmsg.NewPtrListGroupsRequest(),
		adminSeed(kmsg.NewPtrOffsetDeleteRequest(), func(r *kmsg.OffsetDeleteRequest) {
			r.Group = "g"
			r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "fz"}, {Topic: "fz-secret"}}
		}),
		adminSeed(kmsg.NewPtrCreatePartitionsRequest(), func(r *kmsg.CreatePartitionsRequest) {
			r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "fz", Count: 3}, {Topic: "fz-secret", Count: 3}}
		}),
		adminSeed(kmsg.NewPtrDeleteRecordsRequest(), func(r *kmsg.DeleteRecordsRequest) {
			r.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: "fz", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Offset: -1}}}, {Topic: "fz-secret"}}
		}),
		adminSeed(kmsg.NewPtrDescribeProducersRequest(), func(r *kmsg.DescribeProducersRequest) {
			r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "fz", Partitions: []int32{0}}, {Topic: "fz-secret"}}
		}),
		kmsg.NewPtrInitProducerIDRequest(),
		adminSeed(kmsg.NewPtrInitProducerIDRequest(), func(r *kmsg.InitProducerIDRequest) {
			r.TransactionalID, r.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 1000
		}),
		adminSeed(kmsg.NewPtrAddPartitionsToTxnRequest(), func(r *kmsg.AddPartitionsToTxnRequest) {
			r.TransactionalID = "tx"
			r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "fz", Partitions: []int32{0}}, {Topic: "fz-secret", Partitions: []int32{0}}}
		}),
		adminSeed(kmsg.NewPtrAddOffsetsToTxnRequest(), func(r *kmsg.AddOffsetsToTxnRequest) { r.TransactionalID, r.Group = "tx", "g" }),
		adminSeed(kmsg.NewPtrEndTxnRequest(), func(r *kmsg.EndTxnRequest) { r.TransactionalID = "tx" }),
		adminSeed(kmsg.NewPtrTxnOffsetCommitRequest(), func(r *kmsg.TxnOffsetCommitRequest) {
			r.TransactionalID, r.Group = "tx", "g"
			r.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "fz"}, {Topic: "fz-secret"}}
		}),
		adminSeed(kmsg.NewPtrDescribeTransactionsRequest(), func(r *kmsg.DescribeTransactionsRequest) { r.TransactionalIDs = []string{"tx", "tx-other"} }),
		kmsg.NewPtrListTransactionsRequest(),
		adminSeed(kmsg.NewPtrDescribeClusterRequest(), func(r *kmsg.DescribeClusterRequest) { r.IncludeClusterAuthorizedOperations = true }),
		kmsg.NewPtrDescribeLogDirsRequest(),
		kmsg.NewPtrElectLeadersRequest(),
		kmsg.NewPtrAlterPartitionAssignmentsRequest(),
		kmsg.NewPtrListPartitionReassignmentsRequest(),
		kmsg.NewPtrDescribeClientQuotasRequest(),
		kmsg.NewPtrAlterClientQuotasRequest(),
		kmsg.NewPtrDescribeUserSCRAMCredentialsRequest(),
		adminSeed(kmsg.NewPtrAlterUserSCRAMCredentialsRequest(), func(r *kmsg.AlterUserSCRAMCredentialsRequest) {
			r.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "u", Mechanism: 1}}
			r.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{{Name: "v", Mechanism: 2, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")}}
		}),
		adminSeed(kmsg.NewPtrCreateACLsRequest(), func(r *kmsg.CreateACLsRequest) {
			r.Creations = []kmsg.CreateACLsRequestCreation{
				{ResourceType: 2, ResourceName: "fz-", ResourcePatternType: 4, Principal: "User:*", Host: "*", Operation: 2, PermissionType: 3},
				{ResourceType: 4, ResourceName: "kafka-cluster", ResourcePatternType: 3, Principal: "User:alice", Host: "127.0.0.1", Operation: 7, PermissionType: 2},
				{ResourceType: 9, ResourceName: "", ResourcePatternType: 1, Principal: ":", Host: "", Operation: 99, PermissionType: 0},
			}
		}),
		adminSeed(kmsg.NewPtrDescribeACLsRequest(), func(r *kmsg.DescribeACLsRequest) {
			r.ResourceType, r.ResourcePatternType, r.Operation, r.PermissionType = 2, 2, 1, 1
			r.ResourceName, r.Principal, r.Host = kmsg.StringPtr("fz-secret"), kmsg.StringPtr("User:alice"), kmsg.StringPtr("*")
		}),
		adminSeed(kmsg.NewPtrDeleteACLsRequest(), func(r *kmsg.DeleteACLsRequest) {
			r.Filters = []kmsg.DeleteACLsRequestFilter{
				{ResourceType: 2, ResourceName: kmsg.StringPtr("fz-"), ResourcePatternType: 4, Operation: 1, PermissionType: 1},
				{ResourceType: 0, ResourcePatternType: 9, Operation: 1, PermissionType: 1},
			}
		}),
	}
	for _, req := range seeds {
		for _, v := range []int16{0, 3, req.MaxVersion()} {
			if v <= req.MaxVersion() {
				for who := range uint8(4) {
					f.Add(frame(req, v, 7)[4:], who)
				}
			}
		}
	}
	f.Add([]byte{}, uint8(0))

	b := startBroker(f, Config{Logger: discardLogger(), GroupInitialRebalanceDelay: -1,
		Authorizer: AuthorizerDenyByDefault, SuperUsers: []string{"User:admin"}})
	b.topics.maxPartitions = 4
	for _, topic := range []string{"fz", "fz-secret"} {
		if err := b.CreateTopic(topic, 2, nil); err != nil {
			f.Fatal(err)
		}
	}
	for _, a := range []acl{
		aclOf("ALLOW", "User:alice", "*", "ALL", "TOPIC", "PREFIXED", "fz"),
		aclOf("DENY", "User:alice", "*", "READ", "TOPIC", "LITERAL", "fz-secret"),
		aclOf("ALLOW", "User:alice", "*", "READ", "GROUP", "LITERAL", "g"),
		aclOf("ALLOW", "User:alice", "*", "WRITE", "TXN", "LITERAL", "tx"),
		aclOf("ALLOW", "User:alice", "*", "DESCRIBE_CONFIGS", "CLUSTER", "LITERAL", clusterName),
		aclOf("ALLOW", anonymous, "*", "DESCRIBE", "TOPIC", "LITERAL", "fz"),
	} {
		if err := b.acls.create(a); err != nil {
			f.Fatal(err)
		}
	}
	principals := []string{"", "alice", "bob", "admin"}
	w := newWorker()
	f.Fuzz(func(t *testing.T, frameBytes []byte, who uint8) {
		r, err := parseRequest(frameBytes)
		if err != nil {
			return
		}
		if fr, ok := r.kreq.(*kmsg.FetchRequest); ok && fr.MaxWaitMillis > 50 {
			fr.MaxWaitMillis = 50
		}
		if pr, ok := r.kreq.(*kmsg.ProduceRequest); ok && pr.TimeoutMillis > 50 {
			pr.TimeoutMillis = 50
		}
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		c := newConn(b, c1)
		c.principal = principals[int(who)%len(principals)]
		switch r.key {
		case createAclsKey, deleteAclsKey, describeAclsKey:
			c.principal = "admin" // the ACL APIs' own decoding, not a denial
		}
		r.c = c
		before := b.bugs.Load()
		b.serve(w, r)
		if b.bugs.Load() != before {
			t.Fatalf("handler panicked on api key %d v%d as %q", r.key, r.version, c.principal)
		}
		if r.key == 11 || r.key == 14 {
			return // JoinGroup and SyncGroup may wait for a rebalance
		}
		select {
		case resp := <-c.respCh:
			if resp.frame != nil {
				c.unwritten.Add(-int64(len(*resp.frame)))
				framePool.put(resp.frame)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no answer to api key %d v%d as %q", r.key, r.version, c.principal)
		}
	})
}

package broker

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// FuzzRequest feeds arbitrary frames through the request decoder and, when
// they parse, through the handlers of an in-process broker (group requests
// through the coordinator), and encodes whatever answer comes back. Nothing
// may panic (the last-resort recover counts in b.bugs, which must not move)
// and every request is answered.
func FuzzRequest(f *testing.F) {
	good := makeBatch(2, 10, batch.NoProducer)
	idem := makeBatch(2, 10, batch.Params{ProducerID: 0, ProducerEpoch: 0, BaseSequence: 0, PartitionLeaderEpoch: -1})
	seeds := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(),
		metadataReq(true, "fz"),
		metadataReq(false),
		produceReq("fz", 0, good),
		produceReq("fz", 0, idem),
		fetchReq("fz", 0, 0, 0, 0),
		fetchReq("fz", 1, 1, 10, 0),
		createReq(false, ct("fz2", 2, 1, "retention.ms", "100")),
		kmsg.NewPtrDeleteTopicsRequest(),
		kmsg.NewPtrInitProducerIDRequest(),
		kmsg.NewPtrOffsetForLeaderEpochRequest(),
		kmsg.NewPtrDescribeConfigsRequest(),
		kmsg.NewPtrListOffsetsRequest(),
		kmsg.NewPtrFindCoordinatorRequest(),
		kmsg.NewPtrOffsetCommitRequest(),
		kmsg.NewPtrOffsetFetchRequest(),
		kmsg.NewPtrHeartbeatRequest(),
		kmsg.NewPtrListGroupsRequest(),
		alterConfigsSeed(),
		incrementalAlterConfigsSeed(),
		adminSeed(kmsg.NewPtrCreatePartitionsRequest(), func(r *kmsg.CreatePartitionsRequest) {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = "fz", 3
			rt.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}
			r.Topics = append(r.Topics, rt)
		}),
		adminSeed(kmsg.NewPtrDeleteRecordsRequest(), func(r *kmsg.DeleteRecordsRequest) {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = "fz"
			rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: -1}}
			r.Topics = append(r.Topics, rt)
		}),
		kmsg.NewPtrDescribeClusterRequest(),
		kmsg.NewPtrDescribeLogDirsRequest(),
		adminSeed(kmsg.NewPtrDescribeProducersRequest(), func(r *kmsg.DescribeProducersRequest) {
			r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "fz", Partitions: []int32{0, 1, 9}}}
		}),
		adminSeed(kmsg.NewPtrElectLeadersRequest(), func(r *kmsg.ElectLeadersRequest) {
			r.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "fz", Partitions: []int32{0, -1}}}
		}),
		adminSeed(kmsg.NewPtrAlterPartitionAssignmentsRequest(), func(r *kmsg.AlterPartitionAssignmentsRequest) {
			r.Topics = []kmsg.AlterPartitionAssignmentsRequestTopic{{Topic: "fz", Partitions: []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: []int32{1}}, {Partition: 1}}}}
		}),
		kmsg.NewPtrListPartitionReassignmentsRequest(),
		adminSeed(kmsg.NewPtrCreateACLsRequest(), func(r *kmsg.CreateACLsRequest) {
			r.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: 2, ResourceName: "fz", ResourcePatternType: 3, Principal: "User:a", Host: "*", Operation: 3, PermissionType: 3}}
		}),
		adminSeed(kmsg.NewPtrDescribeACLsRequest(), func(r *kmsg.DescribeACLsRequest) {
			r.ResourceType, r.ResourcePatternType, r.Operation, r.PermissionType = 1, 2, 1, 1
			r.ResourceName = kmsg.StringPtr("fz")
		}),
		adminSeed(kmsg.NewPtrDeleteACLsRequest(), func(r *kmsg.DeleteACLsRequest) {
			r.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: 1, ResourcePatternType: 1, Operation: 1, PermissionType: 1}}
		}),
		adminSeed(kmsg.NewPtrAlterClientQuotasRequest(), func(r *kmsg.AlterClientQuotasRequest) {
			r.Entries = []kmsg.AlterClientQuotasRequestEntry{{
				Entity: []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "user", Name: kmsg.StringPtr("u")}},
				Ops:    []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Value: 10}},
			}}
		}),
		adminSeed(kmsg.NewPtrDescribeClientQuotasRequest(), func(r *kmsg.DescribeClientQuotasRequest) {
			r.Components = []kmsg.DescribeClientQuotasRequestComponent{{EntityType: "user", MatchType: 2}}
		}),
		adminSeed(kmsg.NewPtrAlterUserSCRAMCredentialsRequest(), func(r *kmsg.AlterUserSCRAMCredentialsRequest) {
			r.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "u", Mechanism: 1}}
			r.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{{Name: "u", Mechanism: 2, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")}}
		}),
		adminSeed(kmsg.NewPtrDescribeUserSCRAMCredentialsRequest(), func(r *kmsg.DescribeUserSCRAMCredentialsRequest) {
			r.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{{Name: "u"}, {Name: "u"}}
		}),
		adminSeed(kmsg.NewPtrOffsetDeleteRequest(), func(r *kmsg.OffsetDeleteRequest) {
			r.Group = "g"
			r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "fz", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
		}),
		// Transactions (txn.go).
		adminSeed(kmsg.NewPtrInitProducerIDRequest(), func(r *kmsg.InitProducerIDRequest) {
			r.TransactionalID, r.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 1000
		}),
		adminSeed(kmsg.NewPtrAddPartitionsToTxnRequest(), func(r *kmsg.AddPartitionsToTxnRequest) {
			r.TransactionalID = "tx"
			r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "fz", Partitions: []int32{0, 1, 9}}}
		}),
		adminSeed(kmsg.NewPtrAddOffsetsToTxnRequest(), func(r *kmsg.AddOffsetsToTxnRequest) {
			r.TransactionalID, r.Group = "tx", "g"
		}),
		adminSeed(kmsg.NewPtrEndTxnRequest(), func(r *kmsg.EndTxnRequest) {
			r.TransactionalID, r.Commit = "tx", true
		}),
		adminSeed(kmsg.NewPtrTxnOffsetCommitRequest(), func(r *kmsg.TxnOffsetCommitRequest) {
			r.TransactionalID, r.Group, r.Generation = "tx", "g", 3
			r.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "fz", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
		}),
		adminSeed(kmsg.NewPtrDescribeTransactionsRequest(), func(r *kmsg.DescribeTransactionsRequest) {
			r.TransactionalIDs = []string{"tx", "nope", "tx"}
		}),
		adminSeed(kmsg.NewPtrListTransactionsRequest(), func(r *kmsg.ListTransactionsRequest) {
			r.StateFilters, r.ProducerIDFilters = []string{"Ongoing", "bogus"}, []int64{0}
		}),
		adminSeed(kmsg.NewPtrProduceRequest(), func(r *kmsg.ProduceRequest) {
			r.TransactionID, r.Acks = kmsg.StringPtr("tx"), -1
			r.Topics = []kmsg.ProduceRequestTopic{{Topic: "fz", Partitions: []kmsg.ProduceRequestTopicPartition{{
				Records: makeBatch(1, 4, batch.Params{ProducerID: 0, ProducerEpoch: 0, Transactional: true, PartitionLeaderEpoch: -1}),
			}}}}
		}),
		adminSeed(kmsg.NewPtrFetchRequest(), func(r *kmsg.FetchRequest) {
			r.IsolationLevel = 1
			r.Topics = []kmsg.FetchRequestTopic{{Topic: "fz", Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20}}}}
		}),
	}
	for _, req := range seeds {
		for _, v := range []int16{0, 3, req.MaxVersion()} {
			if v <= req.MaxVersion() {
				f.Add(frame(req, v, 7)[4:])
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	b := startBroker(f, Config{Logger: discardLogger(), GroupInitialRebalanceDelay: -1})
	b.topics.maxPartitions = 4
	if err := b.CreateTopic("fz", 2, nil); err != nil {
		f.Fatal(err)
	}
	for _, seed := range fetchSessionSeeds(b) {
		f.Add(seed)
	}
	w := newWorker()
	f.Fuzz(func(t *testing.T, frameBytes []byte) {
		r, err := parseRequest(frameBytes)
		if err != nil {
			return
		}
		fuzzFetchSession(b, r)
		if fr, ok := r.kreq.(*kmsg.FetchRequest); ok && fr.MaxWaitMillis > 50 {
			fr.MaxWaitMillis = 50 // parked fetches must not pile up
		}
		if pr, ok := r.kreq.(*kmsg.ProduceRequest); ok && pr.TimeoutMillis > 50 {
			pr.TimeoutMillis = 50
		}
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		c := newConn(b, c1)
		r.c = c
		before := b.bugs.Load()
		b.serve(w, r)
		if b.bugs.Load() != before {
			t.Fatalf("handler panicked on api key %d v%d", r.key, r.version)
		}
		if r.key == 11 || r.key == 14 {
			return // JoinGroup and SyncGroup may wait for a rebalance: answered later
		}
		select {
		case resp := <-c.respCh:
			if resp.frame != nil {
				c.unwritten.Add(-int64(len(*resp.frame))) // as the writer would
				framePool.put(resp.frame)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no answer to api key %d v%d", r.key, r.version)
		}
	})
}

// FuzzConnStream feeds a byte stream to a connection's reader in chunks of
// fuzzed sizes (nats-server's FuzzParser style): whatever arrives, the
// reader answers or closes, and never panics or wedges the broker.
func FuzzConnStream(f *testing.F) {
	var stream []byte
	stream = append(stream, frame(kmsg.NewPtrApiVersionsRequest(), 3, 1)...)
	stream = append(stream, frame(metadataReq(false, "fz"), 9, 2)...)
	stream = append(stream, frame(produceReq("fz", 0, makeBatch(3, 20, batch.NoProducer)), 9, 3)...)
	f.Add(stream, uint8(1))
	f.Add(stream, uint8(7))
	f.Add(stream[:len(stream)-3], uint8(64))
	f.Add([]byte{0, 0, 0, 12, 0, 18, 0, 3}, uint8(2))

	b := startBroker(f, Config{Logger: discardLogger()})
	if err := b.CreateTopic("fz", 1, nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		server, client := net.Pipe()
		defer client.Close()
		b.serveConn(server)
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
				break // the broker closed the connection: bad bytes
			}
			stream = stream[n:]
		}
		if b.bugs.Load() != 0 {
			t.Fatal("a handler panicked")
		}
	})
}

func alterConfigsSeed() *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	res := kmsg.NewAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "fz"
	c := kmsg.NewAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "retention.ms", kmsg.StringPtr("100000")
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	return req
}

func incrementalAlterConfigsSeed() *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "fz"
	for _, op := range []kmsg.IncrementalAlterConfigOp{0, 1, 2, 3} {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = "cleanup.policy", op, kmsg.StringPtr("delete")
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	return req
}

// adminSeed fills a request for the fuzz corpus.
func adminSeed[R kmsg.Request](r R, fill func(R)) R {
	fill(r)
	return r
}

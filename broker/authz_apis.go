package broker

import (
	"reflect"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// The per-API checks of Kafka's KafkaApis, run before a request's handler
// so that handlers know nothing of ACLs. A request is either denied whole
// (answered here with the API's AUTHORIZATION_FAILED code in every error
// field, see errorResponse) or has the topics, groups or resources its
// principal may not touch taken out of it; those get their error answers
// added to the handler's response when it is sent (request.authzDone).
// Checks are per topic, group or resource of the request, never per
// record or partition.
//
// Where Kafka checks:
//
//	Produce              WRITE TransactionalId (whole), WRITE Topic
//	Fetch                CLUSTER_ACTION Cluster (replicas), READ Topic
//	ListOffsets          DESCRIBE Topic
//	Metadata             DESCRIBE Topic (listed: error; all: omitted),
//	                     CREATE Cluster or Topic to auto-create
//	OffsetForLeaderEpoch CLUSTER_ACTION Cluster or DESCRIBE Topic
//	OffsetCommit         READ Group (whole), READ Topic
//	OffsetFetch          READ Group, DESCRIBE Topic
//	FindCoordinator      DESCRIBE Group / TransactionalId
//	Join/Sync/Heartbeat/LeaveGroup  READ Group
//	DescribeGroups       DESCRIBE Group;  DeleteGroups DELETE Group
//	ListGroups           DESCRIBE Cluster, else only groups with DESCRIBE
//	OffsetDelete         DELETE Group (whole), READ Topic
//	CreateTopics         CREATE Cluster or Topic (DESCRIBE_CONFIGS to see configs)
//	DeleteTopics, DeleteRecords  DELETE Topic
//	CreatePartitions     ALTER Topic
//	InitProducerId       WRITE TransactionalId; without one IDEMPOTENT_WRITE
//	                     Cluster or WRITE on any Topic (KIP-679)
//	AddPartitionsToTxn   WRITE TransactionalId, WRITE Topic
//	AddOffsetsToTxn      WRITE TransactionalId, READ Group
//	EndTxn               WRITE TransactionalId
//	TxnOffsetCommit      WRITE TransactionalId, READ Group, READ Topic
//	DescribeAcls, ListPartitionReassignments, DescribeLogDirs,
//	DescribeUserScramCredentials  DESCRIBE Cluster
//	CreateAcls, DeleteAcls, ElectLeaders, AlterPartitionReassignments,
//	AlterUserScramCredentials     ALTER Cluster
//	DescribeConfigs      DESCRIBE_CONFIGS Topic / Group / Cluster (brokers)
//	AlterConfigs, IncrementalAlterConfigs  ALTER_CONFIGS likewise
//	DescribeClientQuotas DESCRIBE_CONFIGS Cluster; AlterClientQuotas ALTER_CONFIGS Cluster
//	DescribeProducers    READ Topic
//	DescribeTransactions DESCRIBE TransactionalId (and Topic, to list it)
//	ListTransactions     only transactional ids with DESCRIBE
//	DescribeCluster      nothing (only its authorized operations)

var (
	errTopicAuthz   = kerr.TopicAuthorizationFailed.Code
	errGroupAuthz   = kerr.GroupAuthorizationFailed.Code
	errClusterAuthz = kerr.ClusterAuthorizationFailed.Code
	errTxnAuthz     = kerr.TransactionalIDAuthorizationFailed.Code
)

// Config resource types of DescribeConfigs and AlterConfigs.
const (
	configTopic        = 2
	configBroker       = 4
	configBrokerLogger = 8
	configGroup        = 32
)

// authorize runs r's checks. It reports true when r was denied whole and
// answered; otherwise r may have lost elements and gained an authzDone.
func (b *Broker) authorize(r *request) bool {
	z := b.authz.ctxOf(r.c)
	deny := func(code int16) bool {
		b.answerError(r, code)
		return true
	}
	topicCheck := func(op int8) func(reflect.Value) int16 {
		return func(e reflect.Value) int16 {
			if name, ok := b.elemTopic(e); ok && !z.allowed(op, aclResTopic, name) {
				return errTopicAuthz
			}
			return 0
		}
	}
	groupCheck := func(op int8) func(reflect.Value) int16 {
		return func(e reflect.Value) int16 {
			if !z.allowed(op, aclResGroup, e.String()) {
				return errGroupAuthz
			}
			return 0
		}
	}
	switch req := r.kreq.(type) {
	case *kmsg.ProduceRequest:
		if req.TransactionID != nil && !z.allowed(aclOpWrite, aclResTxnID, *req.TransactionID) {
			return deny(errTxnAuthz)
		}
		if b.allTopicsAllowed(z, aclOpWrite, len(req.Topics), func(i int) (string, [16]byte) { return req.Topics[i].Topic, req.Topics[i].TopicID }) {
			break // the produce path: no reflection, no allocation
		}
		// The allowed topics are appended, as Kafka does. An acks=0
		// request that lost any topic here has its connection closed
		// once they are (respondProduce sees the pending authzDone).
		r.withhold("Topics", topicCheck(aclOpWrite))
	case *kmsg.FetchRequest:
		if (req.ReplicaID >= 0 || req.ReplicaState.ID >= 0) && !z.allowedCluster(aclOpClusterAction) {
			// A follower's fetch: every partition is refused.
			return deny(errTopicAuthz)
		}
		if !b.allTopicsAllowed(z, aclOpRead, len(req.Topics), func(i int) (string, [16]byte) { return req.Topics[i].Topic, req.Topics[i].TopicID }) {
			r.withhold("Topics", topicCheck(aclOpRead))
		}
		if req.SessionEpoch > 0 {
			// An incremental fetch (KIP-227) may serve partitions that an
			// earlier request added: judge every topic of the answer.
			r.afterHandler(func(resp kmsg.Response) { b.redactFetch(z, resp.(*kmsg.FetchResponse)) })
		}
	case *kmsg.ListOffsetsRequest:
		r.withhold("Topics", topicCheck(aclOpDescribe))
	case *kmsg.MetadataRequest:
		b.authorizeMetadata(z, r, req)
	case *kmsg.OffsetForLeaderEpochRequest:
		// Brokers' API first, consumers' since KIP-320: either will do.
		if !z.allowedCluster(aclOpClusterAction) {
			r.withhold("Topics", topicCheck(aclOpDescribe))
		}
	case *kmsg.OffsetCommitRequest:
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
		r.withhold("Topics", topicCheck(aclOpRead))
	case *kmsg.OffsetFetchRequest:
		if len(req.Groups) == 0 && !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
		r.withhold("Groups", func(e reflect.Value) int16 { return groupCheck(aclOpRead)(e.FieldByName("Group")) })
		r.afterHandler(func(resp kmsg.Response) { b.redactOffsetFetch(z, req, resp.(*kmsg.OffsetFetchResponse)) })
	case *kmsg.FindCoordinatorRequest:
		check := func(key string) int16 {
			if req.CoordinatorType == 1 {
				if !z.allowed(aclOpDescribe, aclResTxnID, key) {
					return errTxnAuthz
				}
			} else if !z.allowed(aclOpDescribe, aclResGroup, key) {
				return errGroupAuthz
			}
			return 0
		}
		if r.version < 4 {
			if code := check(req.CoordinatorKey); code != 0 {
				return deny(code)
			}
			break
		}
		r.withhold("CoordinatorKeys", func(e reflect.Value) int16 { return check(e.String()) })
	case *kmsg.JoinGroupRequest:
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
	case *kmsg.SyncGroupRequest:
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
	case *kmsg.HeartbeatRequest:
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
	case *kmsg.LeaveGroupRequest:
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
	case *kmsg.DescribeGroupsRequest:
		r.withhold("Groups", groupCheck(aclOpDescribe))
		if req.IncludeAuthorizedOperations {
			r.afterHandler(func(resp kmsg.Response) {
				for i := range resp.(*kmsg.DescribeGroupsResponse).Groups {
					g := &resp.(*kmsg.DescribeGroupsResponse).Groups[i]
					if g.ErrorCode == 0 {
						g.AuthorizedOperations = z.authorizedOps(aclResGroup, g.Group)
					}
				}
			})
		}
	case *kmsg.ListGroupsRequest:
		if !z.allowedCluster(aclOpDescribe) {
			r.afterHandler(func(resp kmsg.Response) {
				lg := resp.(*kmsg.ListGroupsResponse)
				kept := lg.Groups[:0]
				for _, g := range lg.Groups {
					if z.allowed(aclOpDescribe, aclResGroup, g.Group) {
						kept = append(kept, g)
					}
				}
				lg.Groups = kept
			})
		}
	case *kmsg.DeleteGroupsRequest:
		r.withhold("Groups", groupCheck(aclOpDelete))
	case *kmsg.OffsetDeleteRequest:
		if !z.allowed(aclOpDelete, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
		r.withhold("Topics", topicCheck(aclOpRead))
	case *kmsg.CreateTopicsRequest:
		if !z.allowedCluster(aclOpCreate) {
			r.withhold("Topics", topicCheck(aclOpCreate))
		}
		if r.version >= 5 {
			// The configs of a created topic are shown only with
			// DESCRIBE_CONFIGS on it (KIP-525).
			r.afterHandler(func(resp kmsg.Response) {
				for i := range resp.(*kmsg.CreateTopicsResponse).Topics {
					t := &resp.(*kmsg.CreateTopicsResponse).Topics[i]
					if !z.allowed(aclOpDescribeConfigs, aclResTopic, t.Topic) {
						t.ConfigErrorCode, t.Configs = errTopicAuthz, nil
					}
				}
			})
		}
	case *kmsg.DeleteTopicsRequest:
		if r.version < 6 {
			r.withhold("TopicNames", topicCheck(aclOpDelete))
		} else {
			r.withhold("Topics", topicCheck(aclOpDelete))
		}
	case *kmsg.DeleteRecordsRequest:
		r.withhold("Topics", topicCheck(aclOpDelete))
	case *kmsg.CreatePartitionsRequest:
		r.withhold("Topics", topicCheck(aclOpAlter))
	case *kmsg.DescribeProducersRequest:
		r.withhold("Topics", topicCheck(aclOpRead))
	case *kmsg.InitProducerIDRequest:
		if req.TransactionalID != nil {
			if !z.allowed(aclOpWrite, aclResTxnID, *req.TransactionalID) {
				return deny(errTxnAuthz)
			}
		} else if !z.allowedCluster(aclOpIdempotentWrite) && !z.allowedAnyOfType(aclOpWrite, aclResTopic) {
			return deny(errClusterAuthz)
		}
	case *kmsg.AddPartitionsToTxnRequest:
		if !z.allowed(aclOpWrite, aclResTxnID, req.TransactionalID) {
			return deny(errTxnAuthz)
		}
		return b.authorizeAddPartitions(z, r, req)
	case *kmsg.AddOffsetsToTxnRequest:
		if !z.allowed(aclOpWrite, aclResTxnID, req.TransactionalID) {
			return deny(errTxnAuthz)
		}
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
	case *kmsg.EndTxnRequest:
		if !z.allowed(aclOpWrite, aclResTxnID, req.TransactionalID) {
			return deny(errTxnAuthz)
		}
	case *kmsg.TxnOffsetCommitRequest:
		if !z.allowed(aclOpWrite, aclResTxnID, req.TransactionalID) {
			return deny(errTxnAuthz)
		}
		if !z.allowed(aclOpRead, aclResGroup, req.Group) {
			return deny(errGroupAuthz)
		}
		r.withhold("Topics", topicCheck(aclOpRead))
	case *kmsg.DescribeACLsRequest, *kmsg.ListPartitionReassignmentsRequest, *kmsg.DescribeLogDirsRequest,
		*kmsg.DescribeUserSCRAMCredentialsRequest:
		if !z.allowedCluster(aclOpDescribe) {
			return deny(errClusterAuthz)
		}
	case *kmsg.CreateACLsRequest, *kmsg.DeleteACLsRequest, *kmsg.ElectLeadersRequest,
		*kmsg.AlterPartitionAssignmentsRequest:
		if !z.allowedCluster(aclOpAlter) {
			return deny(errClusterAuthz)
		}
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		if !z.allowedCluster(aclOpAlter) {
			r.respond(scramDenied(req))
			return true
		}
	case *kmsg.DescribeConfigsRequest:
		r.withhold("Resources", configCheck(z, aclOpDescribeConfigs))
	case *kmsg.AlterConfigsRequest:
		r.withhold("Resources", configCheck(z, aclOpAlterConfigs))
	case *kmsg.IncrementalAlterConfigsRequest:
		r.withhold("Resources", configCheck(z, aclOpAlterConfigs))
	case *kmsg.DescribeClientQuotasRequest:
		if !z.allowedCluster(aclOpDescribeConfigs) {
			return deny(errClusterAuthz)
		}
	case *kmsg.AlterClientQuotasRequest:
		if !z.allowedCluster(aclOpAlterConfigs) {
			return deny(errClusterAuthz)
		}
	case *kmsg.DescribeClusterRequest:
		if req.IncludeClusterAuthorizedOperations {
			r.afterHandler(func(resp kmsg.Response) {
				dc := resp.(*kmsg.DescribeClusterResponse)
				dc.ClusterAuthorizedOperations = 0
				if z.allowedCluster(aclOpDescribe) {
					dc.ClusterAuthorizedOperations = z.authorizedOps(aclResCluster, clusterName)
				}
			})
		}
	case *kmsg.DescribeTransactionsRequest:
		r.withhold("TransactionalIDs", func(e reflect.Value) int16 {
			if !z.allowed(aclOpDescribe, aclResTxnID, e.String()) {
				return errTxnAuthz
			}
			return 0
		})
		r.afterHandler(func(resp kmsg.Response) {
			for i := range resp.(*kmsg.DescribeTransactionsResponse).TransactionStates {
				ts := &resp.(*kmsg.DescribeTransactionsResponse).TransactionStates[i]
				kept := ts.Topics[:0]
				for _, t := range ts.Topics {
					if z.allowed(aclOpDescribe, aclResTopic, t.Topic) {
						kept = append(kept, t)
					}
				}
				ts.Topics = kept
			}
		})
	case *kmsg.ListTransactionsRequest:
		r.afterHandler(func(resp kmsg.Response) {
			lt := resp.(*kmsg.ListTransactionsResponse)
			kept := lt.TransactionStates[:0]
			for _, ts := range lt.TransactionStates {
				if z.allowed(aclOpDescribe, aclResTxnID, ts.TransactionalID) {
					kept = append(kept, ts)
				}
			}
			lt.TransactionStates = kept
		})
	}
	return false
}

// allTopicsAllowed reports whether z may do op on each of n topics, given
// by name or id: the typed fast path of Produce and Fetch, which then need
// no withhold.
func (b *Broker) allTopicsAllowed(z *authzCtx, op int8, n int, topic func(int) (string, [16]byte)) bool {
	for i := range n {
		if name, ok := b.topicOf(topic(i)); ok && !z.permits(op, aclResTopic, name) {
			return false
		}
	}
	return true
}

// configCheck judges a DescribeConfigs or AlterConfigs resource: a topic
// by its ACLs, a group by its, the brokers and loggers by the cluster's.
func configCheck(z *authzCtx, op int8) func(reflect.Value) int16 {
	return func(e reflect.Value) int16 {
		name := e.FieldByName("ResourceName").String()
		switch e.FieldByName("ResourceType").Int() {
		case configTopic:
			if !z.allowed(op, aclResTopic, name) {
				return errTopicAuthz
			}
		case configGroup:
			if !z.allowed(op, aclResGroup, name) {
				return errGroupAuthz
			}
		default: // brokers, broker loggers, client metrics
			if !z.allowedCluster(op) {
				return errClusterAuthz
			}
		}
		return 0
	}
}

// authorizeMetadata: listed topics without DESCRIBE answer
// TOPIC_AUTHORIZATION_FAILED and the others are described; a request for
// all topics lists only those with DESCRIBE. A listed topic that does not
// exist is auto-created only with CREATE on the cluster or the topic, and
// is otherwise UNKNOWN_TOPIC_OR_PARTITION, as Kafka's getTopicMetadata.
func (b *Broker) authorizeMetadata(z *authzCtx, r *request, req *kmsg.MetadataRequest) {
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		r.afterHandler(func(resp kmsg.Response) {
			md := resp.(*kmsg.MetadataResponse)
			kept := md.Topics[:0]
			for _, t := range md.Topics {
				if t.Topic != nil && z.allowed(aclOpDescribe, aclResTopic, *t.Topic) {
					kept = append(kept, t)
				}
			}
			md.Topics = kept
		})
	} else {
		autoCreate := req.AllowAutoTopicCreation || r.version < 4
		canCreate := autoCreate && z.allowedCluster(aclOpCreate)
		r.withhold("Topics", func(e reflect.Value) int16 {
			name, ok := b.elemTopic(e)
			switch {
			case !ok:
			case !z.allowed(aclOpDescribe, aclResTopic, name):
				return errTopicAuthz
			case autoCreate && !canCreate && b.topics.byName(name) == nil && !z.allowed(aclOpCreate, aclResTopic, name):
				return kerr.UnknownTopicOrPartition.Code
			}
			return 0
		})
		if r.version == 0 && len(req.Topics) == 0 {
			// Every listed topic was withheld, and an empty v0 list asks
			// for all of them: ask for a name no topic can have instead,
			// and leave its answer out.
			req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr("")})
			r.afterHandler(func(resp kmsg.Response) {
				md := resp.(*kmsg.MetadataResponse)
				md.Topics = slices.DeleteFunc(md.Topics, func(t kmsg.MetadataResponseTopic) bool { return t.Topic != nil && *t.Topic == "" })
			})
		}
	}
	if req.IncludeTopicAuthorizedOperations || req.IncludeClusterAuthorizedOperations {
		r.afterHandler(func(resp kmsg.Response) {
			md := resp.(*kmsg.MetadataResponse)
			if req.IncludeTopicAuthorizedOperations {
				for i := range md.Topics {
					if t := &md.Topics[i]; t.ErrorCode == 0 && t.Topic != nil {
						t.AuthorizedOperations = z.authorizedOps(aclResTopic, *t.Topic)
					}
				}
			}
			if req.IncludeClusterAuthorizedOperations {
				md.AuthorizedOperations = z.authorizedOps(aclResCluster, clusterName)
			}
		})
	}
}

// authorizeAddPartitionsToTxn: if any topic may not be written, nothing is
// added: those topics answer TOPIC_AUTHORIZATION_FAILED and the others
// OPERATION_NOT_ATTEMPTED (Kafka's AddPartitionsToTxn v0-3).
func (b *Broker) authorizeAddPartitions(z *authzCtx, r *request, req *kmsg.AddPartitionsToTxnRequest) bool {
	denied := false
	for _, t := range req.Topics {
		if !z.allowed(aclOpWrite, aclResTopic, t.Topic) {
			denied = true
		}
	}
	if !denied {
		return false
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range req.Topics {
		code := kerr.OperationNotAttempted.Code
		if !z.allowed(aclOpWrite, aclResTopic, t.Topic) {
			code = errTopicAuthz
		}
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.respond(resp)
	return true
}

// scramDenied answers every user of an AlterUserScramCredentials with
// CLUSTER_AUTHORIZATION_FAILED.
func scramDenied(req *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	seen := map[string]bool{}
	add := func(user string) {
		if !seen[user] {
			seen[user] = true
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = user, errClusterAuthz
			resp.Results = append(resp.Results, res)
		}
	}
	for _, d := range req.Deletions {
		add(d.Name)
	}
	for _, u := range req.Upsertions {
		add(u.Name)
	}
	return resp
}

// redactFetch replaces the data of every topic the principal may not read
// with TOPIC_AUTHORIZATION_FAILED.
func (b *Broker) redactFetch(z *authzCtx, resp *kmsg.FetchResponse) {
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if len(t.Partitions) == 0 || t.Partitions[0].ErrorCode == errTopicAuthz {
			continue // withheld, and answered so already
		}
		name, ok := b.topicOf(t.Topic, t.TopicID)
		if !ok || z.allowed(aclOpRead, aclResTopic, name) {
			continue
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			fillError(reflect.ValueOf(p).Elem(), errTopicAuthz)
			p.AbortedTransactions = nil
		}
	}
}

// redactOffsetFetch answers TOPIC_AUTHORIZATION_FAILED for listed topics
// without DESCRIBE, and leaves them out of an all-topics answer.
func (b *Broker) redactOffsetFetch(z *authzCtx, req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	redact := func(listed bool, n int, topic func(int) (string, bool), parts func(int) reflect.Value) []int {
		var keep []int
		for i := range n {
			if name, ok := topic(i); !ok || z.allowed(aclOpDescribe, aclResTopic, name) {
				keep = append(keep, i)
				continue
			}
			if listed {
				keep = append(keep, i)
				ps := parts(i)
				for j := range ps.Len() {
					fillError(ps.Index(j), errTopicAuthz)
					ps.Index(j).FieldByName("Metadata").Set(reflect.ValueOf(kmsg.StringPtr("")))
				}
			}
		}
		return keep
	}
	if len(req.Groups) == 0 {
		keep := redact(req.Topics != nil, len(resp.Topics), func(i int) (string, bool) { return resp.Topics[i].Topic, true },
			func(i int) reflect.Value { return reflect.ValueOf(resp.Topics[i].Partitions) })
		kept := make([]kmsg.OffsetFetchResponseTopic, 0, len(keep))
		for _, i := range keep {
			kept = append(kept, resp.Topics[i])
		}
		resp.Topics = kept
		return
	}
	listed := map[string]bool{}
	for _, g := range req.Groups {
		listed[g.Group] = g.Topics != nil
	}
	for gi := range resp.Groups {
		g := &resp.Groups[gi]
		// v10 (KIP-848) names topics by id.
		keep := redact(listed[g.Group], len(g.Topics), func(i int) (string, bool) { return b.topicOf(g.Topics[i].Topic, g.Topics[i].TopicID) },
			func(i int) reflect.Value { return reflect.ValueOf(g.Topics[i].Partitions) })
		kept := make([]kmsg.OffsetFetchResponseGroupTopic, 0, len(keep))
		for _, i := range keep {
			kept = append(kept, g.Topics[i])
		}
		g.Topics = kept
	}
}

// topicOf names a topic given by name or, in newer versions, by id. An id
// the broker does not know is left to the handler (UNKNOWN_TOPIC_ID).
func (b *Broker) topicOf(name string, id [16]byte) (string, bool) {
	if name != "" {
		return name, true
	}
	if id != ([16]byte{}) {
		return b.topicName(id)
	}
	return "", false
}

// elemTopic names the topic of a request list element: a bare name, or a
// struct with Topic (string or *string) and maybe TopicID.
func (b *Broker) elemTopic(e reflect.Value) (string, bool) {
	if e.Kind() == reflect.String {
		return e.String(), true
	}
	var name string
	switch f := e.FieldByName("Topic"); {
	case !f.IsValid():
	case f.Kind() == reflect.String:
		name = f.String()
	case f.Kind() == reflect.Pointer && !f.IsNil():
		name = f.Elem().String()
	}
	var id [16]byte
	if f := e.FieldByName("TopicID"); f.IsValid() {
		id = f.Interface().([16]byte)
	}
	return b.topicOf(name, id)
}

// withhold takes out of the request list field every element that
// codeOf denies (a non-zero code), and arranges that the response lists
// them with that code, as errorResponse answers them. It reports whether
// any was withheld. The list stays non-nil: nil means "all" in several
// APIs.
func (r *request) withhold(field string, codeOf func(reflect.Value) int16) bool {
	v := reflect.ValueOf(r.kreq).Elem()
	list := v.FieldByName(field)
	if !list.IsValid() || list.Kind() != reflect.Slice || list.Len() == 0 {
		return false
	}
	to := ""
	for _, l := range errorLists {
		if l.from == field {
			to = l.to
			break
		}
	}
	// The common case, nothing denied, allocates nothing more.
	first, firstCode := -1, int16(0)
	for i := range list.Len() {
		if code := codeOf(list.Index(i)); code != 0 {
			first, firstCode = i, code
			break
		}
	}
	if first < 0 {
		return false
	}
	kept := reflect.MakeSlice(list.Type(), 0, list.Len())
	denied := map[int16]reflect.Value{}
	var codes []int16
	for i := range list.Len() {
		e := list.Index(i)
		code := firstCode
		switch {
		case i < first:
			code = 0
		case i > first:
			code = codeOf(e)
		}
		if code == 0 {
			kept = reflect.Append(kept, e)
			continue
		}
		d, ok := denied[code]
		if !ok {
			d = reflect.MakeSlice(list.Type(), 0, 1)
			codes = append(codes, code)
		}
		denied[code] = reflect.Append(d, e)
	}
	if len(codes) == 0 {
		return false
	}
	var answers []reflect.Value
	for _, code := range codes {
		cp := reflect.New(v.Type())
		cp.Elem().Set(v)
		cp.Elem().FieldByName(field).Set(denied[code])
		if resp := errorResponse(cp.Interface().(kmsg.Request), code); resp != nil && to != "" {
			answers = append(answers, reflect.ValueOf(resp).Elem().FieldByName(to))
		}
	}
	list.Set(kept)
	r.afterHandler(func(resp kmsg.Response) {
		dst := reflect.ValueOf(resp).Elem().FieldByName(to)
		if !dst.IsValid() {
			return
		}
		for _, a := range answers {
			if a.IsValid() && a.Type() == dst.Type() {
				dst.Set(reflect.AppendSlice(dst, a))
			}
		}
	})
	return true
}

// afterHandler adds f to what runs on r's response before it is sent.
func (r *request) afterHandler(f func(kmsg.Response)) {
	prev := r.authzDone
	if prev == nil {
		r.authzDone = f
		return
	}
	r.authzDone = func(resp kmsg.Response) {
		prev(resp)
		f(resp)
	}
}

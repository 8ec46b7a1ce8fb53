package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuthorizedOperationsWithoutACLs: a Metadata or DescribeCluster that
// asks for authorized operations (KIP-430) gets every supported operation
// when nothing is denied, as Kafka answers without an authorizer; the
// broker used to leave Metadata's fields at "not requested" (INT32_MIN)
// unless an authorizer was active. With a DENY ACL the topic loses that
// operation.
func TestAuthorizedOperationsWithoutACLs(t *testing.T) {
	bits := func(ops ...int) int32 {
		var b int32
		for _, op := range ops {
			b |= 1 << op
		}
		return b
	}
	// AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7,
	// DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
	// IDEMPOTENT_WRITE 12.
	topicOps := bits(3, 4, 5, 6, 7, 8, 10, 11)
	clusterOps := bits(5, 7, 8, 9, 10, 11, 12)

	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)

	metadata := func() *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
		req.IncludeTopicAuthorizedOperations = true
		req.IncludeClusterAuthorizedOperations = true
		resp := rc.roundTrip(req, 10).(*kmsg.MetadataResponse)
		require.Len(t, resp.Topics, 1)
		require.Zero(t, resp.Topics[0].ErrorCode)
		return resp
	}
	md := metadata()
	assert.Equal(t, topicOps, md.Topics[0].AuthorizedOperations)
	assert.Equal(t, clusterOps, md.AuthorizedOperations)

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	assert.Equal(t, clusterOps, rc.roundTrip(dc, 0).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations)

	// Not asked: Kafka's "not requested" value.
	plain := kmsg.NewPtrMetadataRequest()
	plain.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	assert.Equal(t, int32(-2147483648), rc.roundTrip(plain, 10).(*kmsg.MetadataResponse).Topics[0].AuthorizedOperations)

	// Once a topic has ACLs, only what they allow is allowed (Kafka's
	// allow.everyone.if.no.acl.found): ALL, then DELETE denied.
	acls := kmsg.NewPtrCreateACLsRequest()
	acls.Creations = append(acls.Creations, kmsg.CreateACLsRequestCreation{
		ResourceType: 2, ResourceName: "t", ResourcePatternType: 3,
		Principal: "User:*", Host: "*", Operation: 2, PermissionType: 3, // ALL, ALLOW
	}, kmsg.CreateACLsRequestCreation{
		ResourceType: 2, ResourceName: "t", ResourcePatternType: 3,
		Principal: "User:*", Host: "*", Operation: 6, PermissionType: 2, // DELETE, DENY
	})
	for _, res := range rc.roundTrip(acls, 3).(*kmsg.CreateACLsResponse).Results {
		require.Zero(t, res.ErrorCode)
	}
	assert.Equal(t, topicOps&^bits(6), metadata().Topics[0].AuthorizedOperations, "DELETE denied")
}

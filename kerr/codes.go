// The table mirrors https://kafka.apache.org/protocol#protocol_error_codes: name, code,
// retriable flag as classified by the Java client, and the broker's description.

package kerr

// Kafka error codes, one value per code.
var (
	UnknownServerError = &Error{Message: "UNKNOWN_SERVER_ERROR", Code: -1, Retriable: false, Description: "The server experienced an unexpected error when processing the request."}
	OffsetOutOfRange   = &Error{Message: "OFFSET_OUT_OF_RANGE", Code: 1, Retriable: false, Description: "The requested offset is not within the range of offsets maintained by the server."}
	// Retriable because a CRC failure is usually corruption in transit; a resend can succeed.
	CorruptMessage          = &Error{Message: "CORRUPT_MESSAGE", Code: 2, Retriable: true, Description: "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt."}
	UnknownTopicOrPartition = &Error{Message: "UNKNOWN_TOPIC_OR_PARTITION", Code: 3, Retriable: true, Description: "This server does not host this topic-partition."}
	InvalidFetchSize        = &Error{Message: "INVALID_FETCH_SIZE", Code: 4, Retriable: false, Description: "The requested fetch size is invalid."}
	LeaderNotAvailable      = &Error{Message: "LEADER_NOT_AVAILABLE", Code: 5, Retriable: true, Description: "There is no leader for this topic-partition as we are in the middle of a leadership election."}
	// Kafka renamed NOT_LEADER_FOR_PARTITION to NOT_LEADER_OR_FOLLOWER in 2.6 (KIP-392);
	// the code is unchanged. NotLeaderOrFollower is the same value under the new name.
	NotLeaderForPartition        = &Error{Message: "NOT_LEADER_OR_FOLLOWER", Code: 6, Retriable: true, Description: "This server is not the leader for that topic-partition, or for requests to any replica, not a replica of it."}
	RequestTimedOut              = &Error{Message: "REQUEST_TIMED_OUT", Code: 7, Retriable: true, Description: "The request timed out."}
	BrokerNotAvailable           = &Error{Message: "BROKER_NOT_AVAILABLE", Code: 8, Retriable: false, Description: "The broker is not available."}
	ReplicaNotAvailable          = &Error{Message: "REPLICA_NOT_AVAILABLE", Code: 9, Retriable: true, Description: "The replica is not available for the requested topic-partition."}
	MessageTooLarge              = &Error{Message: "MESSAGE_TOO_LARGE", Code: 10, Retriable: false, Description: "The request included a message larger than the max message size the server will accept."}
	StaleControllerEpoch         = &Error{Message: "STALE_CONTROLLER_EPOCH", Code: 11, Retriable: false, Description: "The controller moved to another broker."}
	OffsetMetadataTooLarge       = &Error{Message: "OFFSET_METADATA_TOO_LARGE", Code: 12, Retriable: false, Description: "The metadata field of the offset request was too large."}
	NetworkException             = &Error{Message: "NETWORK_EXCEPTION", Code: 13, Retriable: true, Description: "The server disconnected before a response was received."}
	CoordinatorLoadInProgress    = &Error{Message: "COORDINATOR_LOAD_IN_PROGRESS", Code: 14, Retriable: true, Description: "The coordinator is loading and hence can't process requests."}
	CoordinatorNotAvailable      = &Error{Message: "COORDINATOR_NOT_AVAILABLE", Code: 15, Retriable: true, Description: "The coordinator is not available."}
	NotCoordinator               = &Error{Message: "NOT_COORDINATOR", Code: 16, Retriable: true, Description: "This is not the correct coordinator."}
	InvalidTopicException        = &Error{Message: "INVALID_TOPIC_EXCEPTION", Code: 17, Retriable: false, Description: "The request attempted to perform an operation on an invalid topic."}
	RecordListTooLarge           = &Error{Message: "RECORD_LIST_TOO_LARGE", Code: 18, Retriable: false, Description: "The request included message batch larger than the configured segment size on the server."}
	NotEnoughReplicas            = &Error{Message: "NOT_ENOUGH_REPLICAS", Code: 19, Retriable: true, Description: "Messages are rejected since there are fewer in-sync replicas than required."}
	NotEnoughReplicasAfterAppend = &Error{Message: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", Code: 20, Retriable: true, Description: "Messages are written to the log, but to fewer in-sync replicas than required."}
	InvalidRequiredAcks          = &Error{Message: "INVALID_REQUIRED_ACKS", Code: 21, Retriable: false, Description: "Produce request specified an invalid value for required acks."}
	IllegalGeneration            = &Error{Message: "ILLEGAL_GENERATION", Code: 22, Retriable: false, Description: "Specified group generation id is not valid."}
	InconsistentGroupProtocol    = &Error{Message: "INCONSISTENT_GROUP_PROTOCOL", Code: 23, Retriable: false, Description: "The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list."}
	InvalidGroupID               = &Error{Message: "INVALID_GROUP_ID", Code: 24, Retriable: false, Description: "The configured groupId is invalid."}
	UnknownMemberID              = &Error{Message: "UNKNOWN_MEMBER_ID", Code: 25, Retriable: false, Description: "The coordinator is not aware of this member."}
	InvalidSessionTimeout        = &Error{Message: "INVALID_SESSION_TIMEOUT", Code: 26, Retriable: false, Description: "The session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms)."}
	// Not retriable as-is: the member must rejoin the group first.
	RebalanceInProgress         = &Error{Message: "REBALANCE_IN_PROGRESS", Code: 27, Retriable: false, Description: "The group is rebalancing, so a rejoin is needed."}
	InvalidCommitOffsetSize     = &Error{Message: "INVALID_COMMIT_OFFSET_SIZE", Code: 28, Retriable: false, Description: "The committing offset data size is not valid."}
	TopicAuthorizationFailed    = &Error{Message: "TOPIC_AUTHORIZATION_FAILED", Code: 29, Retriable: false, Description: "Topic authorization failed."}
	GroupAuthorizationFailed    = &Error{Message: "GROUP_AUTHORIZATION_FAILED", Code: 30, Retriable: false, Description: "Group authorization failed."}
	ClusterAuthorizationFailed  = &Error{Message: "CLUSTER_AUTHORIZATION_FAILED", Code: 31, Retriable: false, Description: "Cluster authorization failed."}
	InvalidTimestamp            = &Error{Message: "INVALID_TIMESTAMP", Code: 32, Retriable: false, Description: "The timestamp of the message is out of acceptable range."}
	UnsupportedSaslMechanism    = &Error{Message: "UNSUPPORTED_SASL_MECHANISM", Code: 33, Retriable: false, Description: "The broker does not support the requested SASL mechanism."}
	IllegalSaslState            = &Error{Message: "ILLEGAL_SASL_STATE", Code: 34, Retriable: false, Description: "Request is not valid given the current SASL state."}
	UnsupportedVersion          = &Error{Message: "UNSUPPORTED_VERSION", Code: 35, Retriable: false, Description: "The version of API is not supported."}
	TopicAlreadyExists          = &Error{Message: "TOPIC_ALREADY_EXISTS", Code: 36, Retriable: false, Description: "Topic with this name already exists."}
	InvalidPartitions           = &Error{Message: "INVALID_PARTITIONS", Code: 37, Retriable: false, Description: "Number of partitions is below 1."}
	InvalidReplicationFactor    = &Error{Message: "INVALID_REPLICATION_FACTOR", Code: 38, Retriable: false, Description: "Replication factor is below 1 or larger than the number of available brokers."}
	InvalidReplicaAssignment    = &Error{Message: "INVALID_REPLICA_ASSIGNMENT", Code: 39, Retriable: false, Description: "Replica assignment is invalid."}
	InvalidConfig               = &Error{Message: "INVALID_CONFIG", Code: 40, Retriable: false, Description: "Configuration is invalid."}
	NotController               = &Error{Message: "NOT_CONTROLLER", Code: 41, Retriable: true, Description: "This is not the correct controller for this cluster."}
	InvalidRequest              = &Error{Message: "INVALID_REQUEST", Code: 42, Retriable: false, Description: "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details."}
	UnsupportedForMessageFormat = &Error{Message: "UNSUPPORTED_FOR_MESSAGE_FORMAT", Code: 43, Retriable: false, Description: "The message format version on the broker does not support the request."}
	PolicyViolation             = &Error{Message: "POLICY_VIOLATION", Code: 44, Retriable: false, Description: "Request parameters do not satisfy the configured policy."}
	OutOfOrderSequenceNumber    = &Error{Message: "OUT_OF_ORDER_SEQUENCE_NUMBER", Code: 45, Retriable: false, Description: "The broker received an out of order sequence number."}
	DuplicateSequenceNumber     = &Error{Message: "DUPLICATE_SEQUENCE_NUMBER", Code: 46, Retriable: false, Description: "The broker received a duplicate sequence number."}
	InvalidProducerEpoch        = &Error{Message: "INVALID_PRODUCER_EPOCH", Code: 47, Retriable: false, Description: "Producer attempted to produce with an old epoch."}
	InvalidTxnState             = &Error{Message: "INVALID_TXN_STATE", Code: 48, Retriable: false, Description: "The producer attempted a transactional operation in an invalid state."}
	InvalidProducerIDMapping    = &Error{Message: "INVALID_PRODUCER_ID_MAPPING", Code: 49, Retriable: false, Description: "The producer attempted to use a producer id which is not currently assigned to its transactional id."}
	InvalidTransactionTimeout   = &Error{Message: "INVALID_TRANSACTION_TIMEOUT", Code: 50, Retriable: false, Description: "The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms)."}
	// The Java client's exception does not extend RetriableException, but its producer
	// retries this code internally with backoff; we mark it retriable so callers do the same.
	ConcurrentTransactions             = &Error{Message: "CONCURRENT_TRANSACTIONS", Code: 51, Retriable: true, Description: "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing."}
	TransactionCoordinatorFenced       = &Error{Message: "TRANSACTION_COORDINATOR_FENCED", Code: 52, Retriable: false, Description: "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer."}
	TransactionalIDAuthorizationFailed = &Error{Message: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", Code: 53, Retriable: false, Description: "Transactional Id authorization failed."}
	SecurityDisabled                   = &Error{Message: "SECURITY_DISABLED", Code: 54, Retriable: false, Description: "Security features are disabled."}
	OperationNotAttempted              = &Error{Message: "OPERATION_NOT_ATTEMPTED", Code: 55, Retriable: false, Description: "The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest."}
	KafkaStorageError                  = &Error{Message: "KAFKA_STORAGE_ERROR", Code: 56, Retriable: true, Description: "Disk error when trying to access log file on the disk."}
	LogDirNotFound                     = &Error{Message: "LOG_DIR_NOT_FOUND", Code: 57, Retriable: false, Description: "The user-specified log directory is not found in the broker config."}
	SaslAuthenticationFailed           = &Error{Message: "SASL_AUTHENTICATION_FAILED", Code: 58, Retriable: false, Description: "SASL Authentication failed."}
	// Not retriable: the producer must bump its epoch or reset its sequence (KIP-360).
	UnknownProducerID                  = &Error{Message: "UNKNOWN_PRODUCER_ID", Code: 59, Retriable: false, Description: "The broker could not locate the producer metadata associated with the producer id in question, for example because the producer's records were deleted by retention."}
	ReassignmentInProgress             = &Error{Message: "REASSIGNMENT_IN_PROGRESS", Code: 60, Retriable: false, Description: "A partition reassignment is in progress."}
	DelegationTokenAuthDisabled        = &Error{Message: "DELEGATION_TOKEN_AUTH_DISABLED", Code: 61, Retriable: false, Description: "Delegation Token feature is not enabled."}
	DelegationTokenNotFound            = &Error{Message: "DELEGATION_TOKEN_NOT_FOUND", Code: 62, Retriable: false, Description: "Delegation Token is not found on server."}
	DelegationTokenOwnerMismatch       = &Error{Message: "DELEGATION_TOKEN_OWNER_MISMATCH", Code: 63, Retriable: false, Description: "Specified Principal is not valid Owner/Renewer."}
	DelegationTokenRequestNotAllowed   = &Error{Message: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", Code: 64, Retriable: false, Description: "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels."}
	DelegationTokenAuthorizationFailed = &Error{Message: "DELEGATION_TOKEN_AUTHORIZATION_FAILED", Code: 65, Retriable: false, Description: "Delegation Token authorization failed."}
	DelegationTokenExpired             = &Error{Message: "DELEGATION_TOKEN_EXPIRED", Code: 66, Retriable: false, Description: "Delegation Token is expired."}
	InvalidPrincipalType               = &Error{Message: "INVALID_PRINCIPAL_TYPE", Code: 67, Retriable: false, Description: "Supplied principalType is not supported."}
	NonEmptyGroup                      = &Error{Message: "NON_EMPTY_GROUP", Code: 68, Retriable: false, Description: "The group is not empty."}
	GroupIDNotFound                    = &Error{Message: "GROUP_ID_NOT_FOUND", Code: 69, Retriable: false, Description: "The group id does not exist."}
	FetchSessionIDNotFound             = &Error{Message: "FETCH_SESSION_ID_NOT_FOUND", Code: 70, Retriable: true, Description: "The fetch session ID was not found."}
	InvalidFetchSessionEpoch           = &Error{Message: "INVALID_FETCH_SESSION_EPOCH", Code: 71, Retriable: true, Description: "The fetch session epoch is invalid."}
	ListenerNotFound                   = &Error{Message: "LISTENER_NOT_FOUND", Code: 72, Retriable: true, Description: "There is no listener on the leader broker that matches the listener on which metadata request was processed."}
	TopicDeletionDisabled              = &Error{Message: "TOPIC_DELETION_DISABLED", Code: 73, Retriable: false, Description: "Topic deletion is disabled."}
	FencedLeaderEpoch                  = &Error{Message: "FENCED_LEADER_EPOCH", Code: 74, Retriable: true, Description: "The leader epoch in the request is older than the epoch on the broker."}
	UnknownLeaderEpoch                 = &Error{Message: "UNKNOWN_LEADER_EPOCH", Code: 75, Retriable: true, Description: "The leader epoch in the request is newer than the epoch on the broker."}
	UnsupportedCompressionType         = &Error{Message: "UNSUPPORTED_COMPRESSION_TYPE", Code: 76, Retriable: false, Description: "The requesting client does not support the compression type of given partition."}
	StaleBrokerEpoch                   = &Error{Message: "STALE_BROKER_EPOCH", Code: 77, Retriable: false, Description: "Broker epoch has changed."}
	OffsetNotAvailable                 = &Error{Message: "OFFSET_NOT_AVAILABLE", Code: 78, Retriable: true, Description: "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing."}
	MemberIDRequired                   = &Error{Message: "MEMBER_ID_REQUIRED", Code: 79, Retriable: false, Description: "The group member needs to have a valid member id before actually entering a consumer group."}
	PreferredLeaderNotAvailable        = &Error{Message: "PREFERRED_LEADER_NOT_AVAILABLE", Code: 80, Retriable: true, Description: "The preferred leader was not available."}
	GroupMaxSizeReached                = &Error{Message: "GROUP_MAX_SIZE_REACHED", Code: 81, Retriable: false, Description: "The group has reached its maximum size."}
	FencedInstanceID                   = &Error{Message: "FENCED_INSTANCE_ID", Code: 82, Retriable: false, Description: "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id."}
	EligibleLeadersNotAvailable        = &Error{Message: "ELIGIBLE_LEADERS_NOT_AVAILABLE", Code: 83, Retriable: true, Description: "Eligible topic partition leaders are not available."}
	ElectionNotNeeded                  = &Error{Message: "ELECTION_NOT_NEEDED", Code: 84, Retriable: false, Description: "Leader election not needed for topic partition."}
	NoReassignmentInProgress           = &Error{Message: "NO_REASSIGNMENT_IN_PROGRESS", Code: 85, Retriable: false, Description: "No partition reassignment is in progress."}
	GroupSubscribedToTopic             = &Error{Message: "GROUP_SUBSCRIBED_TO_TOPIC", Code: 86, Retriable: false, Description: "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it."}
	InvalidRecord                      = &Error{Message: "INVALID_RECORD", Code: 87, Retriable: false, Description: "This record has failed the validation on broker and hence will be rejected."}
	UnstableOffsetCommit               = &Error{Message: "UNSTABLE_OFFSET_COMMIT", Code: 88, Retriable: true, Description: "There are unstable offsets that need to be cleared."}
	ThrottlingQuotaExceeded            = &Error{Message: "THROTTLING_QUOTA_EXCEEDED", Code: 89, Retriable: true, Description: "The throttling quota has been exceeded."}
	ProducerFenced                     = &Error{Message: "PRODUCER_FENCED", Code: 90, Retriable: false, Description: "There is a newer producer with the same transactionalId which fences the current one."}
	ResourceNotFound                   = &Error{Message: "RESOURCE_NOT_FOUND", Code: 91, Retriable: false, Description: "A request illegally referred to a resource that does not exist."}
	DuplicateResource                  = &Error{Message: "DUPLICATE_RESOURCE", Code: 92, Retriable: false, Description: "A request illegally referred to the same resource twice."}
	UnacceptableCredential             = &Error{Message: "UNACCEPTABLE_CREDENTIAL", Code: 93, Retriable: false, Description: "Requested credential would not meet criteria for acceptability."}
	InconsistentVoterSet               = &Error{Message: "INCONSISTENT_VOTER_SET", Code: 94, Retriable: false, Description: "Indicates that the either the sender or recipient of a voter-only request is not one of the expected voters."}
	InvalidUpdateVersion               = &Error{Message: "INVALID_UPDATE_VERSION", Code: 95, Retriable: false, Description: "The given update version was invalid."}
	FeatureUpdateFailed                = &Error{Message: "FEATURE_UPDATE_FAILED", Code: 96, Retriable: false, Description: "Unable to update finalized features due to an unexpected server error."}
	PrincipalDeserializationFailure    = &Error{Message: "PRINCIPAL_DESERIALIZATION_FAILURE", Code: 97, Retriable: false, Description: "Request principal deserialization failed during forwarding. This indicates an internal error on the broker cluster security setup."}
	SnapshotNotFound                   = &Error{Message: "SNAPSHOT_NOT_FOUND", Code: 98, Retriable: false, Description: "Requested snapshot was not found."}
	PositionOutOfRange                 = &Error{Message: "POSITION_OUT_OF_RANGE", Code: 99, Retriable: false, Description: "Requested position is not greater than or equal to zero, and less than the size of the snapshot."}
	UnknownTopicID                     = &Error{Message: "UNKNOWN_TOPIC_ID", Code: 100, Retriable: true, Description: "This server does not host this topic ID."}
	DuplicateBrokerRegistration        = &Error{Message: "DUPLICATE_BROKER_REGISTRATION", Code: 101, Retriable: false, Description: "This broker ID is already in use."}
	BrokerIDNotRegistered              = &Error{Message: "BROKER_ID_NOT_REGISTERED", Code: 102, Retriable: false, Description: "The given broker ID was not registered."}
	InconsistentTopicID                = &Error{Message: "INCONSISTENT_TOPIC_ID", Code: 103, Retriable: true, Description: "The log's topic ID did not match the topic ID in the request."}
	InconsistentClusterID              = &Error{Message: "INCONSISTENT_CLUSTER_ID", Code: 104, Retriable: false, Description: "The clusterId in the request does not match that found on the server."}
	TransactionalIDNotFound            = &Error{Message: "TRANSACTIONAL_ID_NOT_FOUND", Code: 105, Retriable: false, Description: "The transactionalId could not be found."}
	FetchSessionTopicIDError           = &Error{Message: "FETCH_SESSION_TOPIC_ID_ERROR", Code: 106, Retriable: true, Description: "The fetch session encountered inconsistent topic ID usage."}
	IneligibleReplica                  = &Error{Message: "INELIGIBLE_REPLICA", Code: 107, Retriable: false, Description: "The new ISR contains at least one ineligible replica."}
	NewLeaderElected                   = &Error{Message: "NEW_LEADER_ELECTED", Code: 108, Retriable: false, Description: "The AlterPartition request successfully updated the partition state but the leader has changed."}
	OffsetMovedToTieredStorage         = &Error{Message: "OFFSET_MOVED_TO_TIERED_STORAGE", Code: 109, Retriable: false, Description: "The requested offset is moved to tiered storage."}
	FencedMemberEpoch                  = &Error{Message: "FENCED_MEMBER_EPOCH", Code: 110, Retriable: false, Description: "The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin."}
	UnreleasedInstanceID               = &Error{Message: "UNRELEASED_INSTANCE_ID", Code: 111, Retriable: false, Description: "The instance ID is still used by another member in the consumer group. That member must leave first."}
	UnsupportedAssignor                = &Error{Message: "UNSUPPORTED_ASSIGNOR", Code: 112, Retriable: false, Description: "The assignor or its version range is not supported by the consumer group."}
	StaleMemberEpoch                   = &Error{Message: "STALE_MEMBER_EPOCH", Code: 113, Retriable: false, Description: "The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API."}
	MismatchedEndpointType             = &Error{Message: "MISMATCHED_ENDPOINT_TYPE", Code: 114, Retriable: false, Description: "The request was sent to an endpoint of the wrong type."}
	UnsupportedEndpointType            = &Error{Message: "UNSUPPORTED_ENDPOINT_TYPE", Code: 115, Retriable: false, Description: "This endpoint type is not supported yet."}
	UnknownControllerID                = &Error{Message: "UNKNOWN_CONTROLLER_ID", Code: 116, Retriable: false, Description: "This controller ID is not known."}
	UnknownSubscriptionID              = &Error{Message: "UNKNOWN_SUBSCRIPTION_ID", Code: 117, Retriable: false, Description: "Client sent a push telemetry request with an invalid or outdated subscription ID."}
	TelemetryTooLarge                  = &Error{Message: "TELEMETRY_TOO_LARGE", Code: 118, Retriable: false, Description: "Client sent a push telemetry request larger than the maximum size the broker will accept."}
	InvalidRegistration                = &Error{Message: "INVALID_REGISTRATION", Code: 119, Retriable: false, Description: "The controller has considered the broker registration to be invalid."}
	TransactionAbortable               = &Error{Message: "TRANSACTION_ABORTABLE", Code: 120, Retriable: false, Description: "The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID."}
	InvalidRecordState                 = &Error{Message: "INVALID_RECORD_STATE", Code: 121, Retriable: false, Description: "The record state is invalid. The acknowledgement of delivery could not be completed."}
	ShareSessionNotFound               = &Error{Message: "SHARE_SESSION_NOT_FOUND", Code: 122, Retriable: true, Description: "The share session was not found."}
	InvalidShareSessionEpoch           = &Error{Message: "INVALID_SHARE_SESSION_EPOCH", Code: 123, Retriable: true, Description: "The share session epoch is invalid."}
	FencedStateEpoch                   = &Error{Message: "FENCED_STATE_EPOCH", Code: 124, Retriable: false, Description: "The share coordinator rejected the request because the share-group state epoch did not match."}
	InvalidVoterKey                    = &Error{Message: "INVALID_VOTER_KEY", Code: 125, Retriable: false, Description: "The voter key doesn't match the receiving replica's key."}
	DuplicateVoter                     = &Error{Message: "DUPLICATE_VOTER", Code: 126, Retriable: false, Description: "The voter is already part of the set of voters."}
	VoterNotFound                      = &Error{Message: "VOTER_NOT_FOUND", Code: 127, Retriable: false, Description: "The voter is not part of the set of voters."}
	InvalidRegularExpression           = &Error{Message: "INVALID_REGULAR_EXPRESSION", Code: 128, Retriable: false, Description: "The regular expression is not valid."}
	RebootstrapRequired                = &Error{Message: "REBOOTSTRAP_REQUIRED", Code: 129, Retriable: false, Description: "Client metadata is stale. The client should rebootstrap to obtain new metadata."}
	StreamsInvalidTopology             = &Error{Message: "STREAMS_INVALID_TOPOLOGY", Code: 130, Retriable: false, Description: "The supplied topology is invalid."}
	StreamsInvalidTopologyEpoch        = &Error{Message: "STREAMS_INVALID_TOPOLOGY_EPOCH", Code: 131, Retriable: false, Description: "The supplied topology epoch is invalid."}
	StreamsTopologyFenced              = &Error{Message: "STREAMS_TOPOLOGY_FENCED", Code: 132, Retriable: false, Description: "The supplied topology epoch is outdated."}
	ShareSessionLimitReached           = &Error{Message: "SHARE_SESSION_LIMIT_REACHED", Code: 133, Retriable: true, Description: "The limit of share sessions has been reached."}

	// NotLeaderOrFollower is NotLeaderForPartition under its post-KIP-392 name.
	NotLeaderOrFollower = NotLeaderForPartition
)

// known lists every table value once, in code order.
var known = []*Error{
	UnknownServerError,
	OffsetOutOfRange,
	CorruptMessage,
	UnknownTopicOrPartition,
	InvalidFetchSize,
	LeaderNotAvailable,
	NotLeaderForPartition,
	RequestTimedOut,
	BrokerNotAvailable,
	ReplicaNotAvailable,
	MessageTooLarge,
	StaleControllerEpoch,
	OffsetMetadataTooLarge,
	NetworkException,
	CoordinatorLoadInProgress,
	CoordinatorNotAvailable,
	NotCoordinator,
	InvalidTopicException,
	RecordListTooLarge,
	NotEnoughReplicas,
	NotEnoughReplicasAfterAppend,
	InvalidRequiredAcks,
	IllegalGeneration,
	InconsistentGroupProtocol,
	InvalidGroupID,
	UnknownMemberID,
	InvalidSessionTimeout,
	RebalanceInProgress,
	InvalidCommitOffsetSize,
	TopicAuthorizationFailed,
	GroupAuthorizationFailed,
	ClusterAuthorizationFailed,
	InvalidTimestamp,
	UnsupportedSaslMechanism,
	IllegalSaslState,
	UnsupportedVersion,
	TopicAlreadyExists,
	InvalidPartitions,
	InvalidReplicationFactor,
	InvalidReplicaAssignment,
	InvalidConfig,
	NotController,
	InvalidRequest,
	UnsupportedForMessageFormat,
	PolicyViolation,
	OutOfOrderSequenceNumber,
	DuplicateSequenceNumber,
	InvalidProducerEpoch,
	InvalidTxnState,
	InvalidProducerIDMapping,
	InvalidTransactionTimeout,
	ConcurrentTransactions,
	TransactionCoordinatorFenced,
	TransactionalIDAuthorizationFailed,
	SecurityDisabled,
	OperationNotAttempted,
	KafkaStorageError,
	LogDirNotFound,
	SaslAuthenticationFailed,
	UnknownProducerID,
	ReassignmentInProgress,
	DelegationTokenAuthDisabled,
	DelegationTokenNotFound,
	DelegationTokenOwnerMismatch,
	DelegationTokenRequestNotAllowed,
	DelegationTokenAuthorizationFailed,
	DelegationTokenExpired,
	InvalidPrincipalType,
	NonEmptyGroup,
	GroupIDNotFound,
	FetchSessionIDNotFound,
	InvalidFetchSessionEpoch,
	ListenerNotFound,
	TopicDeletionDisabled,
	FencedLeaderEpoch,
	UnknownLeaderEpoch,
	UnsupportedCompressionType,
	StaleBrokerEpoch,
	OffsetNotAvailable,
	MemberIDRequired,
	PreferredLeaderNotAvailable,
	GroupMaxSizeReached,
	FencedInstanceID,
	EligibleLeadersNotAvailable,
	ElectionNotNeeded,
	NoReassignmentInProgress,
	GroupSubscribedToTopic,
	InvalidRecord,
	UnstableOffsetCommit,
	ThrottlingQuotaExceeded,
	ProducerFenced,
	ResourceNotFound,
	DuplicateResource,
	UnacceptableCredential,
	InconsistentVoterSet,
	InvalidUpdateVersion,
	FeatureUpdateFailed,
	PrincipalDeserializationFailure,
	SnapshotNotFound,
	PositionOutOfRange,
	UnknownTopicID,
	DuplicateBrokerRegistration,
	BrokerIDNotRegistered,
	InconsistentTopicID,
	InconsistentClusterID,
	TransactionalIDNotFound,
	FetchSessionTopicIDError,
	IneligibleReplica,
	NewLeaderElected,
	OffsetMovedToTieredStorage,
	FencedMemberEpoch,
	UnreleasedInstanceID,
	UnsupportedAssignor,
	StaleMemberEpoch,
	MismatchedEndpointType,
	UnsupportedEndpointType,
	UnknownControllerID,
	UnknownSubscriptionID,
	TelemetryTooLarge,
	InvalidRegistration,
	TransactionAbortable,
	InvalidRecordState,
	ShareSessionNotFound,
	InvalidShareSessionEpoch,
	FencedStateEpoch,
	InvalidVoterKey,
	DuplicateVoter,
	VoterNotFound,
	InvalidRegularExpression,
	RebootstrapRequired,
	StreamsInvalidTopology,
	StreamsInvalidTopologyEpoch,
	StreamsTopologyFenced,
	ShareSessionLimitReached,
}

// Package kerr is skiff's table of Kafka protocol error codes.
//
// Every error code a Kafka broker can put into a response has one exported
// *Error value here (kerr.NotLeaderForPartition, kerr.UnknownProducerID, ...)
// carrying the protocol name, the numeric code, whether Kafka classifies it as
// retriable, and the broker's description. The table mirrors the "Error Codes"
// section of the Kafka protocol guide (kafka.apache.org/protocol#protocol_error_codes).
//
// Usage:
//
//	if err := kerr.ForCode(resp.ErrorCode); err != nil {
//		return fmt.Errorf("produce %s[%d]: %w", topic, partition, err)
//	}
//	...
//	if errors.Is(err, kerr.NotLeaderForPartition) { client.RefreshMetadata() }
//	if kerr.IsRetriable(err) { requeue() }
//
// Caveats:
//   - Values are pointers compared by identity: errors.Is works through any
//     amount of fmt.Errorf("%w") wrapping. Codes the table does not know yet
//     (a newer broker) get a fresh *Error from ForCode that is not retriable
//     and does not compare equal to any table value; errors.As still finds it.
//   - Retriable follows Kafka's own classification (RetriableException and
//     InvalidMetadataException in the Java client), with the few exceptions
//     documented on the values (CONCURRENT_TRANSACTIONS). It says nothing about
//     network errors: IsRetriable only looks at Kafka codes; connection-level
//     retriability is the wire package's business (wire.ErrConnClosed).
package kerr

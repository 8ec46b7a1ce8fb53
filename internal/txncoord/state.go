package txncoord

// State is a transaction's state, Kafka's TransactionState. The numbers are
// Kafka's state ids (TransactionState.id), which the log stores.
type State uint8

const (
	// Empty: the producer id and epoch are assigned, no transaction is open.
	Empty State = 0
	// Ongoing: partitions or a group were added; the transaction is open.
	Ongoing State = 1
	// PrepareCommit: EndTxn(commit) is durable; markers are being written.
	PrepareCommit State = 2
	// PrepareAbort: an abort is durable; markers are being written.
	PrepareAbort State = 3
	// CompleteCommit: every COMMIT marker is written, the offsets are visible.
	CompleteCommit State = 4
	// CompleteAbort: every ABORT marker is written.
	CompleteAbort State = 5
	// Dead: the transactional id expired (transactional.id.expiration.ms);
	// the coordinator forgets it once the tombstone is durable.
	Dead State = 6
	// PrepareEpochFence: an Ongoing transaction is being aborted by the
	// coordinator (a new producer's InitProducerId, or the transaction
	// timeout) with a bumped epoch. As in Kafka it is never written to the
	// log: the PrepareAbort that follows carries the bumped epoch.
	PrepareEpochFence State = 7
)

var stateNames = [...]string{
	Empty:             "Empty",
	Ongoing:           "Ongoing",
	PrepareCommit:     "PrepareCommit",
	PrepareAbort:      "PrepareAbort",
	CompleteCommit:    "CompleteCommit",
	CompleteAbort:     "CompleteAbort",
	Dead:              "Dead",
	PrepareEpochFence: "PrepareEpochFence",
}

// String returns Kafka's name for the state, the one DescribeTransactions
// and ListTransactions put on the wire.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// ParseState maps a Kafka state name (a ListTransactions filter) to a State.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// validPrevious is Kafka's TransactionState.validPreviousStates: a
// transition to s is legal only from these states. transitionOK is checked
// on every change, so a bug in an operation shows up as an error in tests
// rather than as a silently wrong log.
var validPrevious = [...][]State{
	Empty:             {Empty, CompleteCommit, CompleteAbort},
	Ongoing:           {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:     {Ongoing},
	PrepareAbort:      {Ongoing, PrepareEpochFence},
	CompleteCommit:    {PrepareCommit},
	CompleteAbort:     {PrepareAbort},
	Dead:              {Empty, CompleteCommit, CompleteAbort},
	PrepareEpochFence: {Ongoing},
}

func transitionOK(from, to State) bool {
	if int(to) >= len(validPrevious) {
		return false
	}
	for _, s := range validPrevious[to] {
		if s == from {
			return true
		}
	}
	return false
}

// loggable reports whether a state may appear in the log.
func (s State) loggable() bool { return s <= CompleteAbort }

// ended reports whether no transaction is open or completing: the staged
// offsets and the partitions of the last transaction are gone.
func (s State) ended() bool { return s == Empty || s == CompleteCommit || s == CompleteAbort }

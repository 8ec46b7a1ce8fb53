package coordinator

import (
	"encoding/binary"
	"fmt"
	"github.com/skiffkit/skiff/internal/framelog"
	"slices"
)

// Group metadata records keep a group's membership beside its committed
// offsets, as Kafka keeps a GroupMetadataValue under the group's key in
// __consumer_offsets: after a restart the coordinator restores the group
// with its generation, protocol, leader and members, so that members go on
// with their ids, heartbeats and commits instead of rejoining a new empty
// group (and redelivering everything since their last successful commit).
//
// The coordinator writes one when a generation is completed (the leader's
// SyncGroup, answered once the record is durable), when a join phase ends
// with no members (Empty), and when a static member is replaced; a group
// tombstone (kind 3) ends it when the group is deleted or forgotten. The
// last record of a group wins.
//
// Entry (all integers big-endian; strings are a uint16 length and bytes):
//
//	+------+-----------+-------+---------+------------+---------------+----------+----------+--------------+
//	| 0x04 | group len | group | version | generation | protocol type | protocol | leader   | member count |
//	| u8   | uint16    | bytes | u8 = 0  | int32      | string        | string   | string   | uint32       |
//	+------+-----------+-------+---------+------------+---------------+----------+----------+--------------+
//
// followed by member count members, in join order (the leader first):
//
//	+-----------+-----------------+-----------+-------------+-----------------+--------------------+
//	| member id | instance id len | instance  | client id   | client host     | session timeout ms |
//	| string    | int16, -1=null  | id bytes  | string      | string          | int32              |
//	+-----------+-----------------+-----------+-------------+-----------------+--------------------+
//	+----------------------+----------------+-----------+----------------+------------+
//	| rebalance timeout ms | protocol count | protocols | assignment len | assignment |
//	| int32                | uint32         |           | int32          | bytes      |
//	+----------------------+----------------+-----------+----------------+------------+
//
// and each protocol, in the member's order of preference:
//
//	+----------+--------------+----------+
//	| name     | metadata len | metadata |
//	| string   | int32        | bytes    |
//	+----------+--------------+----------+
//
// A record without members is an Empty group (it keeps its protocol type,
// as Kafka's does, for ListGroups and DescribeGroups). Every protocol a
// member offered is kept, not only the selected one (Kafka keeps that one
// only): a rejoin with unchanged protocols then needs no rebalance after a
// restart either. A version this reader does not know is errCorrupt, like an
// unknown entry kind: the frame and everything after it are not trusted.
const groupRecordVersion = 0

// groupRecord is the durable part of a group: what a restart restores.
type groupRecord struct {
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      []memberRecord
}

type memberRecord struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   int32 // ms
	rebalanceTimeout int32 // ms
	protocols        []protocol
	assignment       []byte
}

// record captures g's durable state, with assignments (member id →
// assignment) in place of the members' current ones when not nil. Callers
// hold mu.
func (g *group) record(assignments map[string][]byte) *groupRecord {
	r := &groupRecord{generation: g.generation, protocolType: g.protocolType, protocol: g.protocol, leader: g.leader}
	if len(g.members) == 0 {
		r.leader = ""
	}
	r.members = make([]memberRecord, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		a := m.assignment
		if assignments != nil {
			a = assignments[id]
		}
		r.members = append(r.members, memberRecord{
			id:               m.id,
			instanceID:       m.instanceID,
			clientID:         m.clientID,
			clientHost:       m.clientHost,
			sessionTimeout:   int32(m.sessionTimeout.Milliseconds()),
			rebalanceTimeout: int32(m.rebalanceTimeout.Milliseconds()),
			protocols:        slices.Clone(m.protocols),
			assignment:       a,
		})
	}
	return r
}

// restoreGroup rebuilds a group from its last record, as Kafka's
// GroupMetadata.loadGroup: Empty without members, else Stable at the
// recorded generation. Sessions are not started here (see restoreGroups).
func restoreGroup(name string, r *groupRecord) *group {
	g := newGroup(name)
	g.generation, g.protocolType, g.protocol = r.generation, r.protocolType, r.protocol
	g.restored = true
	if len(r.members) == 0 {
		g.state = stateEmpty
		g.protocol = ""
		return g
	}
	g.state = stateStable
	for i := range r.members {
		mr := &r.members[i]
		m := &member{
			id:               mr.id,
			instanceID:       mr.instanceID,
			clientID:         mr.clientID,
			clientHost:       mr.clientHost,
			sessionTimeout:   millis(mr.sessionTimeout),
			rebalanceTimeout: millis(mr.rebalanceTimeout),
			protocolType:     r.protocolType,
			// A copy: member.update reuses the slice, and the record
			// stays in the store for compaction.
			protocols:  slices.Clone(mr.protocols),
			assignment: mr.assignment,
		}
		m.live.keys = memberKeys(name, m.id)
		g.members[m.id] = m
		g.order = append(g.order, m.id)
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	g.leader = r.leader
	if g.members[g.leader] == nil {
		// A record always names one of its members; if not, fall
		// back to the oldest, as remove does.
		g.leader = g.order[0]
	}
	return g
}

// groupRecordSize is the encoded size of r after the entry's kind and group.
func groupRecordSize(r *groupRecord) int {
	n := 1 + 4 + 2 + len(r.protocolType) + 2 + len(r.protocol) + 2 + len(r.leader) + 4
	for i := range r.members {
		m := &r.members[i]
		n += 2 + len(m.id) + 2 + 2 + len(m.clientID) + 2 + len(m.clientHost) + 4 + 4 + 4 + 4 + len(m.assignment)
		if m.instanceID != nil {
			n += len(*m.instanceID)
		}
		for _, p := range m.protocols {
			n += 2 + len(p.name) + 4 + len(p.metadata)
		}
	}
	return n
}

// appendGroupRecord encodes r after the entry's kind and group. The strings
// come from kmsg, which limits them to int16 lengths, so they fit.
func appendGroupRecord(dst []byte, r *groupRecord) []byte {
	dst = append(dst, groupRecordVersion)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.generation))
	dst = framelog.AppendShortString(dst, r.protocolType)
	dst = framelog.AppendShortString(dst, r.protocol)
	dst = framelog.AppendShortString(dst, r.leader)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.members)))
	for i := range r.members {
		m := &r.members[i]
		dst = framelog.AppendShortString(dst, m.id)
		if m.instanceID == nil {
			dst = binary.BigEndian.AppendUint16(dst, 0xffff)
		} else {
			dst = framelog.AppendShortString(dst, *m.instanceID)
		}
		dst = framelog.AppendShortString(dst, m.clientID)
		dst = framelog.AppendShortString(dst, m.clientHost)
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.sessionTimeout))
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.rebalanceTimeout))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.protocols)))
		for _, p := range m.protocols {
			dst = framelog.AppendShortString(dst, p.name)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.metadata)))
			dst = append(dst, p.metadata...)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.assignment)))
		dst = append(dst, m.assignment...)
	}
	return dst
}

// readGroupRecord decodes what appendGroupRecord wrote. Counts and lengths
// come from disk, so nothing is allocated from them up front: a count
// larger than the bytes left makes the reader fail instead.
func readGroupRecord(r *reader) (*groupRecord, error) {
	if v := r.U8(); v != groupRecordVersion && !r.Bad {
		return nil, fmt.Errorf("%w: group metadata version %d", errCorrupt, v)
	}
	g := &groupRecord{
		generation:   int32(r.U32()),
		protocolType: r.ShortString(),
		protocol:     r.ShortString(),
		leader:       r.ShortString(),
	}
	n := r.U32()
	// A group cannot hold two members under one id or group.instance.id;
	// restoring such a record would break the group's maps, so it was not
	// written by this coordinator.
	ids, instances := make(map[string]bool), make(map[string]bool)
	for i := uint32(0); i < n && !r.Bad; i++ {
		var m memberRecord
		m.id = r.ShortString()
		if l := r.U16(); l != 0xffff {
			s := string(r.Bytes(int(l)))
			m.instanceID = &s
		}
		m.clientID = r.ShortString()
		m.clientHost = r.ShortString()
		m.sessionTimeout = int32(r.U32())
		m.rebalanceTimeout = int32(r.U32())
		np := r.U32()
		for j := uint32(0); j < np && !r.Bad; j++ {
			var p protocol
			p.name = r.ShortString()
			p.metadata = sizedBytes(r)
			m.protocols = append(m.protocols, p)
		}
		m.assignment = sizedBytes(r)
		if r.Bad {
			break
		}
		if ids[m.id] {
			return nil, fmt.Errorf("%w: member id %q twice", errCorrupt, m.id)
		}
		ids[m.id] = true
		if m.instanceID != nil {
			if instances[*m.instanceID] {
				return nil, fmt.Errorf("%w: group instance id %q twice", errCorrupt, *m.instanceID)
			}
			instances[*m.instanceID] = true
		}
		g.members = append(g.members, m)
	}
	return g, nil
}

// sizedBytes reads an int32 length and that many bytes, copied out of the
// file's buffer. A negative length fails the reader.
func sizedBytes(r *reader) []byte {
	n := int32(r.U32())
	if n < 0 {
		r.Fail()
		return nil
	}
	b := r.Bytes(int(n))
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

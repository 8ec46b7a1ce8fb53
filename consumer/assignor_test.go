package consumer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func members(ids ...string) []memberSub {
	out := make([]memberSub, len(ids))
	for i, id := range ids {
		out[i] = memberSub{id: id, topics: []string{"t0", "t1"}, owned: map[string][]int32{}, generation: -1}
	}
	return out
}

// Java's own examples (RangeAssignor and RoundRobinAssignor javadoc):
// C0 and C1 subscribed to t0 and t1 of 3 partitions each.
func TestAssignorsMatchJava(t *testing.T) {
	parts := map[string]int32{"t0": 3, "t1": 3}
	for _, tc := range []struct {
		name string
		want plan
	}{
		{AssignorRange, plan{"C0": {"t0": {0, 1}, "t1": {0, 1}}, "C1": {"t0": {2}, "t1": {2}}}},
		{AssignorRoundRobin, plan{"C0": {"t0": {0, 2}, "t1": {1}}, "C1": {"t0": {1}, "t1": {0, 2}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, newAssignor(tc.name).assign(members("C1", "C0"), parts))
		})
	}
}

func TestStickyKeepsOwnedAndWithholdsMoves(t *testing.T) {
	parts := map[string]int32{"t0": 3, "t1": 3}
	ms := members("A", "B")
	// A owned everything (generation 4); B is new.
	ms[0].owned = map[string][]int32{"t0": {0, 1, 2}, "t1": {0, 1, 2}}
	ms[0].generation = 4
	p := stickyAssignor{}.assign(ms, parts)
	// A keeps three, B gets nothing yet: the other three must be revoked by
	// A first (KIP-429).
	assert.Len(t, flatten(p["A"]), 3)
	assert.Empty(t, flatten(p["B"]))
	// Second round: A owns its three, B gets the rest.
	ms[0].owned = p["A"]
	ms[0].generation = 5
	p2 := stickyAssignor{}.assign(ms, parts)
	assert.Equal(t, p["A"], p2["A"], "A's partitions moved")
	assert.Len(t, flatten(p2["B"]), 3)
	assertExactlyOnce(t, p2, parts)
}

func TestStickyStaleClaimLoses(t *testing.T) {
	parts := map[string]int32{"t0": 2}
	ms := members("A", "B")
	ms[0].topics, ms[1].topics = []string{"t0"}, []string{"t0"}
	ms[0].owned, ms[0].generation = map[string][]int32{"t0": {0}}, 3
	ms[1].owned, ms[1].generation = map[string][]int32{"t0": {0, 1}}, 2 // B lost t0[0] earlier
	p := stickyAssignor{}.assign(ms, parts)
	assert.Equal(t, []int32{0}, p["A"]["t0"])
	assert.Equal(t, []int32{1}, p["B"]["t0"])
}

// Every assignor, on random groups, assigns each partition of a subscribed
// topic exactly once (the sticky one over two rounds) and only to
// subscribers.
func TestAssignorsProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		parts := map[string]int32{}
		for i := 0; i < 1+rng.IntN(4); i++ {
			parts[fmt.Sprintf("t%d", i)] = int32(1 + rng.IntN(8))
		}
		var ms []memberSub
		for i := 0; i < 1+rng.IntN(5); i++ {
			m := memberSub{id: fmt.Sprintf("m%d", i), owned: map[string][]int32{}, generation: -1}
			for topic := range parts {
				if rng.IntN(3) > 0 {
					m.topics = append(m.topics, topic)
				}
			}
			ms = append(ms, m)
		}
		subscribed := map[string]int32{}
		for _, m := range ms {
			for _, topic := range m.topics {
				subscribed[topic] = parts[topic]
			}
		}
		for _, name := range []string{AssignorRange, AssignorRoundRobin, AssignorCooperativeSticky} {
			a := newAssignor(name)
			p := a.assign(ms, parts)
			if a.cooperative() {
				// Feed the result back as ownership: the second round
				// completes the handover.
				for i := range ms {
					ms[i].owned, ms[i].generation = p[ms[i].id], 1
				}
				p = a.assign(ms, parts)
				for i := range ms {
					ms[i].owned, ms[i].generation = map[string][]int32{}, -1
				}
			}
			for _, m := range ms {
				for topic := range p[m.id] {
					if len(p[m.id][topic]) > 0 {
						require.Contains(t, m.topics, topic, "%s gave %s an unsubscribed topic", name, m.id)
					}
				}
			}
			assertExactlyOnce(t, p, subscribed)
		}
	}
}

func flatten(m map[string][]int32) []TopicPartition {
	var out []TopicPartition
	for topic, ps := range m {
		for _, p := range ps {
			out = append(out, TopicPartition{topic, p})
		}
	}
	return out
}

func assertExactlyOnce(t *testing.T, p plan, parts map[string]int32) {
	t.Helper()
	seen := map[TopicPartition]int{}
	for _, topics := range p {
		for _, tp := range flatten(topics) {
			seen[tp]++
		}
	}
	for topic, n := range parts {
		for part := int32(0); part < n; part++ {
			require.Equal(t, 1, seen[TopicPartition{topic, part}], "%s[%d]", topic, part)
		}
	}
	total := 0
	for _, n := range parts {
		total += int(n)
	}
	require.Len(t, seen, total)
}

// Golden bytes: ConsumerProtocolSubscription v3 as Kafka's generated
// serializer writes it, and the v0 assignment layout.
func TestProtocolGoldenBytes(t *testing.T) {
	sub := encodeSubscription([]string{"t"}, map[string][]int32{"t": {0}}, 5, "")
	assert.Equal(t, []byte{
		0, 3, // version
		0, 0, 0, 1, 0, 1, 't', // topics
		0xff, 0xff, 0xff, 0xff, // user data: null
		0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, // owned partitions
		0, 0, 0, 5, // generation
		0xff, 0xff, // rack: null
	}, sub)
	got, err := decodeSubscription("m", nil, sub)
	require.NoError(t, err)
	assert.Equal(t, []string{"t"}, got.topics)
	assert.Equal(t, map[string][]int32{"t": {0}}, got.owned)
	assert.Equal(t, int32(5), got.generation)

	// A v0 subscription (old Java clients): no ownership, unknown generation.
	v0 := []byte{0, 0, 0, 0, 0, 1, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff}
	got, err = decodeSubscription("m", nil, v0)
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, got.topics)
	assert.Equal(t, int32(-1), got.generation)

	asg := encodeAssignment(map[string][]int32{"t": {1, 2}})
	assert.Equal(t, []byte{0, 3, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff}, asg)
	decoded, err := decodeAssignment(asg)
	require.NoError(t, err)
	assert.Equal(t, map[TopicPartition]bool{{"t", 1}: true, {"t", 2}: true}, decoded)

	_, err = decodeSubscription("m", nil, []byte{0, 1, 0})
	assert.Error(t, err)
}

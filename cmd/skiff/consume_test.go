package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
)

func TestConsumeExitAtEnd(t *testing.T) {
	c := cliCluster(t, 3, kfake.SeedTopics(3, "t"))
	var recs []*kgo.Record
	var want []string
	for i := 0; i < 30; i++ {
		p := int32(i % 3)
		recs = append(recs, &kgo.Record{Topic: "t", Partition: p, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}, Timestamp: time.UnixMilli(1700000000000 + int64(i))})
		want = append(want, fmt.Sprintf("t|%d|%d|k%d|v%d|h=x|%d", p, i/3, i, i, 1700000000000+int64(i)))
	}
	produceRecords(t, c.ListenAddrs(), recs...)

	code, out, errOut := runCLI(t, consumeCmd, "--brokers", brokersArg(c), "--topic", "t", "--from-beginning", "--exit-at-end",
		"--format", `%t|%p|%o|%k|%v|%h|%T\n`)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	sort.Strings(lines)
	sort.Strings(want)
	assert.Equal(t, want, lines)
}

func TestConsumeCountAndDefaultFormat(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(1, "t"))
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: "t", Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	produceRecords(t, c.ListenAddrs(), recs...)
	code, out, errOut := runCLI(t, consumeCmd, "--brokers", brokersArg(c), "--topic", "t", "--from-beginning", "--count", "4")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "k0\tv0\t0\t0\nk1\tv1\t0\t1\nk2\tv2\t0\t2\nk3\tv3\t0\t3\n", out)
}

func TestConsumeGroupCommitsAndGroupsDescribe(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(2, "t"))
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	produceRecords(t, c.ListenAddrs(), recs...)
	code, out, errOut := runCLI(t, consumeCmd, "--brokers", brokersArg(c), "--topic", "t", "--group", "cli", "--from-beginning", "--exit-at-end", "--format", `%v\n`)
	require.Equal(t, 0, code, errOut)
	assert.Len(t, strings.Fields(out), 10)

	// The group committed on close: describe shows offsets and zero lag.
	code, out, errOut = runCLI(t, groupsCmd, "describe", "cli", "--brokers", brokersArg(c))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "GROUP cli")
	assert.Regexp(t, `t\s+0\s+5\s+5\s+0`, out)
	assert.Regexp(t, `t\s+1\s+5\s+5\s+0`, out)

	code, out, errOut = runCLI(t, groupsCmd, "list", "--brokers", brokersArg(c))
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `cli\s+consumer\s+Empty`, out)

	// Consuming again in the group starts from the commit: nothing left.
	code, out, errOut = runCLI(t, consumeCmd, "--brokers", brokersArg(c), "--topic", "t", "--group", "cli", "--exit-at-end")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)
}

func TestConsumeBadArgs(t *testing.T) {
	for _, args := range [][]string{
		{},                                 // no topic
		{"--topic", "t", "extra"},          // stray argument
		{"--topic", "t", "--format", "%x"}, // unknown verb
		{"--topic", "t", "--count", "-1"},
	} {
		code, _, _ := runCLI(t, consumeCmd, args...)
		assert.Equal(t, 2, code, "%q", args)
	}
}

func TestRecordFormat(t *testing.T) {
	f, err := parseRecordFormat(`%k=%v\t%%\\%p@%o %t %T [%h]\n`)
	require.NoError(t, err)
	r := consumer.Record{Topic: "x", Partition: 3, Offset: 42, Key: []byte("K"), Value: []byte("V"), Timestamp: time.UnixMilli(7),
		Headers: []consumer.Header{{Key: "a", Value: []byte("1")}, {Key: "b"}}}
	assert.Equal(t, "K=V\t%\\3@42 x 7 [a=1,b=]\n", string(f.append(nil, &r)))
}

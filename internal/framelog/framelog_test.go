package framelog

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNullableString(t *testing.T) {
	s := "meta"
	empty := ""
	for _, tc := range []struct {
		name string
		in   *string
	}{{"nil", nil}, {"empty", &empty}, {"value", &s}} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reader{B: AppendNullableString(nil, tc.in)}
			got := r.NullableString()
			require.False(t, r.Bad)
			assert.Equal(t, tc.in, got)
			assert.Empty(t, r.B)
		})
	}

	bad := []struct {
		name string
		b    []byte
	}{
		{"length below -1", binary.BigEndian.AppendUint32(nil, 0xfffffffe)},
		{"cut short", append(binary.BigEndian.AppendUint32(nil, 5), "abc"...)},
		{"no length", []byte{0, 0}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := Reader{B: tc.b}
			assert.Nil(t, r.NullableString())
			assert.True(t, r.Bad)
		})
	}
}

// TestReplayEntriesAppliesWholeFrames: a frame whose entries fail to
// decode applies none of them, and replay stops before it.
func TestReplayEntriesAppliesWholeFrames(t *testing.T) {
	errBad := errors.New("bad entry")
	f := Format{Magic: "TEST", Torn: errors.New("torn"), Corrupt: errors.New("corrupt")}
	frame := func(dst []byte, body string) []byte {
		dst, start := StartFrame(dst)
		dst = append(dst, body...)
		return FinishFrame(dst, start)
	}
	data := frame([]byte(f.Magic), "ab")
	good := len(data)
	data = frame(data, "cx") // x fails after c decoded

	decode := func(dst []byte, body []byte) ([]byte, error) {
		for _, c := range body {
			if c == 'x' {
				return dst, errBad
			}
			dst = append(dst, c)
		}
		return dst, nil
	}
	var applied []byte
	valid, err := ReplayEntries(&f, data, decode, func(c *byte) { applied = append(applied, *c) })
	require.ErrorIs(t, err, errBad)
	assert.Equal(t, good, valid)
	assert.Equal(t, "ab", string(applied), "nothing of the bad frame is applied")
}

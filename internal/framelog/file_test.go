package framelog

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	errTestTorn    = errors.New("test log: torn frame")
	errTestCorrupt = errors.New("test log: corrupt")
	testFormat     = Format{Magic: "TESTLOG1", Torn: errTestTorn, Corrupt: errTestCorrupt}
)

func testFrame(body string) []byte {
	dst, start := StartFrame(nil)
	return FinishFrame(append(dst, body...), start)
}

func testLog(t testing.TB) Log {
	return Log{Format: &testFormat, Path: filepath.Join(t.TempDir(), "sub", "test.log"), Name: "test log",
		Logger: slog.New(slog.DiscardHandler)}
}

// open opens l and returns the bodies replayed.
func open(t testing.TB, l Log) (*os.File, int64, []string, error) {
	var bodies []string
	f, size, err := l.Open(func(data []byte) (int, error) {
		return l.Format.Replay(data, func(b []byte) error { bodies = append(bodies, string(b)); return nil })
	})
	if f != nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, size, bodies, err
}

func TestLogOpen(t *testing.T) {
	one, two := testFrame("one"), testFrame("two")
	magic := testFormat.Magic
	cases := []struct {
		name     string
		content  *string // nil: no file
		want     []string
		wantSize int
		wantErr  error
	}{
		{"new file", nil, nil, len(magic), nil},
		{"empty file", new(""), nil, len(magic), nil},
		{"torn magic", new(magic[:3]), nil, len(magic), nil},
		{"clean", new(magic + string(one) + string(two)), []string{"one", "two"}, len(magic) + len(one) + len(two), nil},
		{"torn tail", new(magic + string(one) + string(two[:5])), []string{"one"}, len(magic) + len(one), nil},
		{"corrupt tail", new(magic + string(one) + "\x00\x00\x00\x01\xff\xff\xff\xffx"), []string{"one"}, len(magic) + len(one), nil},
		{"not ours", new("SOMETHING ELSE"), nil, 0, errTestCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := testLog(t)
			if tc.content != nil {
				require.NoError(t, os.MkdirAll(filepath.Dir(l.Path), 0o755))
				require.NoError(t, os.WriteFile(l.Path, []byte(*tc.content), 0o644))
			}
			_, size, bodies, err := open(t, l)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				got, rerr := os.ReadFile(l.Path)
				require.NoError(t, rerr)
				assert.Equal(t, *tc.content, string(got), "a file that is not ours is left alone")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, bodies)
			assert.EqualValues(t, tc.wantSize, size)
			got, err := os.ReadFile(l.Path)
			require.NoError(t, err)
			assert.Len(t, got, tc.wantSize, "the invalid tail is truncated away")
		})
	}
}

func TestLogAppendReplace(t *testing.T) {
	l := testLog(t)
	f, size, _, err := open(t, l)
	require.NoError(t, err)
	frames := append(testFrame("a"), testFrame("b")...)
	require.NoError(t, l.Append(f, size, frames))
	size += int64(len(frames))

	// A compaction that crashed before its rename left its copy behind.
	require.NoError(t, os.WriteFile(l.Path+compactSuffix, []byte("half"), 0o644))
	_, size2, bodies, err := open(t, l)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, bodies)
	assert.Equal(t, size, size2)
	assert.NoFileExists(t, l.Path+compactSuffix)

	compacted := append([]byte(testFormat.Magic), testFrame("b")...)
	nf, err := l.Replace(compacted)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, l.Append(nf, int64(len(compacted)), testFrame("c")))
	require.NoError(t, nf.Close())
	assert.NoFileExists(t, l.Path+compactSuffix)
	_, _, bodies, err = open(t, l)
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c"}, bodies)

	// A failed append leaves nothing behind: here the file is read-only.
	ro, err := os.Open(l.Path)
	require.NoError(t, err)
	defer ro.Close()
	err = l.Append(ro, int64(len(compacted)), testFrame("d"))
	assert.ErrorContains(t, err, "test log")
}

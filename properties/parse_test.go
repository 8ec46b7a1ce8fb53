package properties_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/properties"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"blank separator", "a b", map[string]string{"a": "b"}},
		{"blanks around separator", "  a \t = \f b", map[string]string{"a": "b"}},
		{"trailing blanks kept", "a=b  ", map[string]string{"a": "b  "}},
		{"second separator is value", "a==b", map[string]string{"a": "=b"}},
		{"blank then colon", "a : b", map[string]string{"a": "b"}},
		{"key only", "a", map[string]string{"a": ""}},
		{"key and separator only", "a=", map[string]string{"a": ""}},
		{"hash comment", "# a=b\nc=d", map[string]string{"c": "d"}},
		{"bang comment", "  ! a=b\nc=d", map[string]string{"c": "d"}},
		{"hash inside value", "a=b#c", map[string]string{"a": "b#c"}},
		{"comment does not continue", "# x \\\na=b", map[string]string{"a": "b"}},
		{"blank lines", "\n\n  \na=b\n\n", map[string]string{"a": "b"}},
		{"CRLF", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"CR only", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation", "a=one,\\\n    two,\\\n\tthree", map[string]string{"a": "one,two,three"}},
		{"continuation CRLF", "a=x\\\r\n  y", map[string]string{"a": "xy"}},
		{"even backslashes do not continue", "a=x\\\\\nb=y", map[string]string{"a": "x\\", "b": "y"}},
		{"continuation at end of input", "a=x\\", map[string]string{"a": "x"}},
		{"escaped separators in key", "a\\=b\\:c\\ d=e", map[string]string{"a=b:c d": "e"}},
		{"escapes", `a=\t\n\r\f\\\=\:\#\!\q`, map[string]string{"a": "\t\n\r\f\\=:#!q"}},
		{"unicode escape", `a=caf\u00e9 \u20AC`, map[string]string{"a": "café €"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"lone surrogate", `a=\uD83Dx`, map[string]string{"a": "\uFFFDx"}},
		{"raw UTF-8", "a=café", map[string]string{"a": "café"}},
		{"last wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"escaped leading blank in value", `a=\  b`, map[string]string{"a": "  b"}},
		{"JAAS line", `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`,
			map[string]string{"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := properties.Parse([]byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short unicode escape", "a=1\nb=\\u12", `line 2: value of "b": malformed \uXXXX escape`},
		{"bad unicode escape", "a=\\uXYZW", `line 1: value of "a": malformed \uXXXX escape`},
		{"bad escape in key", "\\u00=1", `line 1: key: malformed`},
		{"invalid UTF-8", "a=\xff", "line 1: invalid UTF-8"},
		{"line of continued line", "x=1\ny=a\\\n\\uZZZZ", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := properties.Parse([]byte(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.properties")
	require.NoError(t, os.WriteFile(path, []byte("bootstrap.servers=a:9092\n"), 0o600))
	got, err := properties.Load(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"bootstrap.servers": "a:9092"}, got)

	require.NoError(t, os.WriteFile(path, []byte("x=\\u"), 0o600))
	_, err = properties.Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)

	_, err = properties.Load(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

// encode writes props so that Parse must return them unchanged: every
// byte that is not plainly safe becomes a \uXXXX escape.
func encode(props map[string]string) []byte {
	esc := func(s string) string {
		var sb strings.Builder
		for _, r := range s {
			if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
				sb.WriteRune(r)
				continue
			}
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&sb, `\u%04x`, u)
			}
		}
		return sb.String()
	}
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		sb.WriteString(esc(k) + "=" + esc(props[k]) + "\n")
	}
	return []byte(sb.String())
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a=b\n# c\n! d\ne : f\\\n  g\n",
		`k\=ey=v\u00e9\uD83D\uDE00\t`,
		"a=b\\\r\n\\\\\nc",
		"\\",
		"\\u",
		"=\n:\n \\ = \\ ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := properties.Parse(data)
		if err != nil {
			return
		}
		again, err := properties.Parse(encode(props))
		require.NoError(t, err)
		assert.Equal(t, props, again)
	})
}

func fmtV(v any) string { return fmt.Sprintf("%v", v) }

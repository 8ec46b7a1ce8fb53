package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snippetImports are the packages the README snippet may use, by the name
// it refers to them with.
var snippetImports = map[string]string{
	"context":    "context",
	"fmt":        "fmt",
	"log":        "log",
	"os":         "os",
	"slog":       "log/slog",
	"time":       "time",
	"errors":     "errors",
	"broker":     "github.com/skiffkit/skiff/broker",
	"producer":   "github.com/skiffkit/skiff/producer",
	"consumer":   "github.com/skiffkit/skiff/consumer",
	"serializer": "github.com/skiffkit/skiff/serializer",
}

// readmeSnippet returns the Go block under "## Twenty lines" in README.md.
func readmeSnippet(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## Twenty lines\n\n```go\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has a ```go block under ## Twenty lines")
	return string(m[1])
}

// TestREADMESnippet compiles and runs the README's snippet as written, as
// the body of a main function with the imports it names (what goimports
// would add), against the bundled broker it starts itself.
func TestREADMESnippet(t *testing.T) {
	snippet := readmeSnippet(t)
	assert.LessOrEqual(t, strings.Count(snippet, "\n"), 22, "the twenty lines stay about twenty")

	var imports []string
	for name, path := range snippetImports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(snippet) {
			imports = append(imports, `"`+path+`"`)
		}
	}
	slices.Sort(imports)
	src := "package main\n\nimport (\n\t" + strings.Join(imports, "\n\t") + "\n)\n\nfunc main() {\n" + snippet + "}\n"

	// Under testdata, inside the module, so it builds against this tree
	// with no replace directive, and ./... never sees it.
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	dir, err := os.MkdirTemp("testdata", "readme-")
	require.NoError(t, err)
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // only if empty: nothing else lives there
	})
	file := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	vet, err := exec.CommandContext(ctx, goBin, "vet", "./"+file).CombinedOutput()
	require.NoError(t, err, "go vet of the README snippet:\n%s\n%s", vet, numbered(src))

	cmd := exec.CommandContext(ctx, goBin, "run", "./"+file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	require.NoError(t, cmd.Run(), "go run of the README snippet:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	t.Logf("ran in %v", time.Since(start))
	assert.Regexp(t, `(?m)^orders\[0\]@0 o-1=42 EUR$`, stdout.String())
	// Only the producer callback's line: no broker log lines.
	assert.Regexp(t, `^\S+ \S+ 0 0 <nil>\n$`, stderr.String())
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}

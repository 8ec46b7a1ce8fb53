package archtest

import (
	"bufio"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// graph maps each of the module's import paths to the in-module packages its
// non-test files import.
type graph map[string][]string

// kind sorts a package of module mod into the layer the rules speak about.
type kind int

const (
	public kind = iota // importable by users: no internal element, not under cmd/ or examples/
	leaf               // public, but below the core: imports nothing of the module (foundation)
	core               // under the module's top-level internal/
	app                // under cmd/
	other              // examples/, and internal packages of apps or examples
)

// foundation lists the public packages the core may import: leaves that
// import nothing of the module, so no upward import can go through them.
// kerr is public because users match its errors with errors.Is.
var foundation = []string{"kerr"}

func classify(mod, pkg string) kind {
	rel, ok := strings.CutPrefix(pkg, mod+"/")
	if !ok {
		return public // the module root
	}
	if slices.Contains(foundation, rel) {
		return leaf
	}
	switch first, _, _ := strings.Cut(rel, "/"); first {
	case "internal":
		return core
	case "cmd":
		return app
	case "examples":
		return other
	}
	if slices.Contains(strings.Split(rel, "/"), "internal") {
		return other
	}
	return public
}

// Sides of the module that do not import each other: the client speaks to
// any Kafka broker, and the bundled broker serves any Kafka client.
var (
	clientSide = []string{"accumulator/...", "producer/...", "consumer/...", "admin/...", "properties/...", "eos/...", "internal/wire/..."}
	brokerSide = []string{"broker/...", "internal/log/...", "internal/purgatory/...", "internal/coordinator/...", "internal/auth/...", "internal/txncoord/...", "internal/reqframe/..."}
)

// rule says what the packages matching pkg must not import, directly or
// through others (only directly when direct is set). Patterns are relative to the module; "x/..." is x and
// everything below it, "..." the whole module. docs/architecture.md's
// package table states the same rules.
type rule struct {
	pkg    string
	forbid []string
	why    string
	direct bool
}

var rules = []rule{
	{"serializer", []string{"..."}, "a leaf: turns values into bytes", false},
	{"partitioner", []string{"..."}, "a leaf: picks a partition from a key and a count", false},
	{"accumulator/...", append([]string{"internal/wire/..."}, brokerSide...), "batches in memory; the network is the producer's", false},
	{"producer/...", append([]string{"consumer/..."}, brokerSide...), "the send path", false},
	{"consumer/...", append([]string{"producer/...", "accumulator/..."}, brokerSide...), "the consume path", false},
	{"admin/...", append([]string{"producer/...", "consumer/...", "accumulator/..."}, brokerSide...), "topics, configs and groups over the client's connections", false},
	{"properties/...", brokerSide, "Kafka property names to client configs", false},
	{"eos/...", brokerSide, "joins a consumer and a transactional producer; nothing else imports both", false},
	{"sasl/...", []string{"..."}, "a leaf: the client's login mechanisms", false},
	{"internal/auth/...", clientSide, "the broker's side of TLS and SASL", false},
	{"internal/wire/...", brokerSide, "the client's connections", false},
	{"broker/...", clientSide, "the bundled broker", false},
	{"skifftest/...", clientSide, "users' tests bring their own client", false},
	{"internal/batch/...", []string{"internal/wire/...", "internal/log/..."}, "the record batch codec, shared by both sides", false},
	{"internal/compress/...", []string{"..."}, "a leaf: the codecs", false},
	{"kerr/...", []string{"..."}, "a leaf: the error table, which the core and users share", false},
	{"internal/framelog/...", []string{"..."}, "a leaf: frames of the coordinators' logs", false},
	{"internal/purgatory/...", []string{"..."}, "a leaf: delayed operations, knowing nothing of Kafka requests", false},
	{"internal/log/...", []string{"internal/purgatory/...", "internal/coordinator/..."}, "storage only; the broker decides what waits", false},
	{"internal/coordinator/...", []string{"internal/wire/..."}, "group state, routed to by the broker", false},
	{"internal/txncoord/...", []string{"internal/wire/...", "internal/coordinator/...", "internal/log/..."}, "transaction state; the broker hands it markers and offsets through interfaces", false},
	{"examples/...", []string{"internal/..."}, "examples use only what users can import", true},
}

// match reports whether pkg of module mod matches pattern.
func match(mod, pattern, pkg string) bool {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

// violations returns one line per broken rule, each naming the import chain
// that breaks it, sorted so a failure reads the same on every run.
func violations(mod string, g graph) []string {
	var out []string
	for _, from := range slices.Sorted(maps.Keys(g)) {
		fk := classify(mod, from)
		for to, chain := range reachable(g, from) {
			path := strings.Join(chain, " → ")
			tk := classify(mod, to)
			switch {
			case fk == core && tk == public:
				out = append(out, fmt.Sprintf("%s imports public package %s: %s", from, to, path))
			case fk != app && tk == app:
				out = append(out, fmt.Sprintf("%s imports %s under cmd/: %s", from, to, path))
			}
			for _, r := range rules {
				if !match(mod, r.pkg, from) || (r.direct && len(chain) > 2) {
					continue
				}
				for _, f := range r.forbid {
					if match(mod, f, to) && !match(mod, r.pkg, to) {
						out = append(out, fmt.Sprintf("%s must not import %s (%s: %s): %s", from, to, r.pkg, r.why, path))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// reachable returns every package reachable from start, each with the
// shortest import chain that reaches it.
func reachable(g graph, start string) map[string][]string {
	chains := map[string][]string{}
	queue := [][]string{{start}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, next := range g[chain[len(chain)-1]] {
			if _, seen := chains[next]; seen || next == start {
				continue
			}
			c := append(slices.Clone(chain), next)
			chains[next] = c
			queue = append(queue, c)
		}
	}
	return chains
}

// moduleGraph reads the import graph of the module rooted at root from its
// source with go/build, the same file selection the go command makes for
// this GOOS/GOARCH without build tags.
func moduleGraph(tb testing.TB, root string) (string, graph) {
	tb.Helper()
	mod := modulePath(tb, root)
	g := graph{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module is not this module's package
			}
		}
		p, err := build.Default.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read package in %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkg := mod
		if rel != "." {
			pkg = mod + "/" + filepath.ToSlash(rel)
		}
		deps := []string{}
		for _, imp := range p.Imports {
			if imp == mod || strings.HasPrefix(imp, mod+"/") {
				deps = append(deps, imp)
			}
		}
		g[pkg] = deps
		return nil
	})
	require.NoError(tb, err)
	return mod, g
}

func modulePath(tb testing.TB, root string) string {
	tb.Helper()
	f, err := os.Open(filepath.Join(root, "go.mod"))
	require.NoError(tb, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	require.NoError(tb, s.Err())
	tb.Fatalf("no module line in %s/go.mod", root)
	return ""
}

func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	require.NoError(tb, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(tb, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
}

func TestLayering(t *testing.T) {
	mod, g := moduleGraph(t, moduleRoot(t))
	// Guard the guard: a walk that found nothing would pass vacuously.
	for _, pkg := range []string{"internal/batch", "internal/wire", "producer", "broker", "cmd/skiff"} {
		require.Contains(t, g, mod+"/"+pkg, "the module walk missed a package it must see")
	}
	assert.Empty(t, violations(mod, g))
}

func TestViolationsCatchesBrokenRules(t *testing.T) {
	const mod = "example.com/m"
	tests := []struct {
		name string
		g    graph
		want []string
	}{
		{
			name: "clean layering",
			g: graph{
				mod + "/producer":                 {mod + "/internal/batch"},
				mod + "/internal/batch":           {mod + "/internal/kerr"},
				mod + "/internal/kerr":            {},
				mod + "/cmd/skiff":                {mod + "/cmd/skiff/internal/bench"},
				mod + "/cmd/skiff/internal/bench": {mod + "/producer"},
				mod + "/examples/hello":           {mod + "/examples/internal/run"},
				mod + "/examples/internal/run":    {mod + "/broker"},
				mod + "/broker":                   {mod + "/internal/kerr"},
			},
		},
		{
			name: "core imports public through another core package",
			g: graph{
				mod + "/internal/a": {mod + "/internal/b"},
				mod + "/internal/b": {mod + "/producer"},
				mod + "/producer":   {},
			},
			want: []string{
				mod + "/internal/a imports public package " + mod + "/producer: " +
					mod + "/internal/a → " + mod + "/internal/b → " + mod + "/producer",
				mod + "/internal/b imports public package " + mod + "/producer: " +
					mod + "/internal/b → " + mod + "/producer",
			},
		},
		{
			name: "the broker side imports the client side",
			g: graph{
				mod + "/broker":        {mod + "/internal/wire"},
				mod + "/internal/wire": {},
			},
			want: []string{
				mod + "/broker must not import " + mod + "/internal/wire (broker/...: the bundled broker): " +
					mod + "/broker → " + mod + "/internal/wire",
			},
		},
		{
			name: "an example imports the core directly",
			g: graph{
				mod + "/examples/hello": {mod + "/internal/kerr"},
				mod + "/internal/kerr":  {},
			},
			want: []string{
				mod + "/examples/hello must not import " + mod + "/internal/kerr (examples/...: examples use only what users can import): " +
					mod + "/examples/hello → " + mod + "/internal/kerr",
			},
		},
		{
			name: "a leaf imports anything",
			g: graph{
				mod + "/internal/purgatory": {mod + "/internal/kerr"},
				mod + "/internal/kerr":      {},
			},
			want: []string{
				mod + "/internal/purgatory must not import " + mod + "/internal/kerr (internal/purgatory/...: " +
					"a leaf: delayed operations, knowing nothing of Kafka requests): " + mod + "/internal/purgatory → " + mod + "/internal/kerr",
			},
		},
		{
			name: "public imports an app's package",
			g: graph{
				mod + "/skifftest":                {mod + "/cmd/skiff/internal/bench"},
				mod + "/cmd/skiff/internal/bench": {},
			},
			want: []string{
				mod + "/skifftest imports " + mod + "/cmd/skiff/internal/bench under cmd/: " +
					mod + "/skifftest → " + mod + "/cmd/skiff/internal/bench",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, violations(mod, tt.g))
		})
	}
}

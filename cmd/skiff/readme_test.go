package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/internal/certs"
)

// readmeManagedSection returns the README's "Connect to a managed cluster"
// section.
func readmeManagedSection(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)\n## Connect to a managed cluster\n(.*?)\n## ").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has a ## Connect to a managed cluster section")
	return string(m[1])
}

func fenced(t *testing.T, section, lang string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, m, "a ```%s block", lang)
	return m[1]
}

// TestREADMEManagedCluster runs the README's managed-cluster section as
// written against kfake with SASL_SSL and PLAIN: its client.properties
// (with the bootstrap address pointed at kfake and ssl.ca.location added
// for the test's private CA), each CLI line, and the Go code.
func TestREADMEManagedCluster(t *testing.T) {
	section := readmeManagedSection(t)
	props := fenced(t, section, "properties")
	user := regexp.MustCompile(`username="([^"]+)"`).FindStringSubmatch(props)
	pass := regexp.MustCompile(`password="([^"]+)"`).FindStringSubmatch(props)
	require.NotNil(t, user)
	require.NotNil(t, pass)

	ca, err := certs.NewCA("readme CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	c := cliCluster(t, 1, kfake.SeedTopics(1, "orders"), kfake.EnableSASL(), kfake.Superuser("PLAIN", user[1], pass[1]),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}}))

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.PEM(), 0o600))
	props = regexp.MustCompile(`(?m)^bootstrap\.servers=.*$`).ReplaceAllString(props, "bootstrap.servers="+brokersArg(c))
	props += "ssl.ca.location=" + caFile + "\n"
	propsFile := filepath.Join(dir, "client.properties")
	require.NoError(t, os.WriteFile(propsFile, []byte(props), 0o600))

	// The CLI lines, run in-process with the file's path.
	lines := strings.Split(strings.TrimSpace(fenced(t, section, "sh")), "\n")
	require.Len(t, lines, 3)
	var stdouts []string
	for _, line := range lines {
		stdin := ""
		if pre, rest, ok := strings.Cut(line, " | "); ok {
			m := regexp.MustCompile(`^printf '(.*)'$`).FindStringSubmatch(pre)
			require.NotNil(t, m, "only printf pipes: %q", line)
			stdin = strings.ReplaceAll(m[1], `\n`, "\n")
			line = rest
		}
		args := strings.Fields(line)
		require.Equal(t, "skiff", args[0], line)
		for i, a := range args {
			if a == "client.properties" {
				args[i] = propsFile
			}
		}
		out, _ := runCase(t, cliCase{name: line, cmd: args[1], args: args[2:], stdin: stdin, code: 0})
		stdouts = append(stdouts, out)
	}
	assert.Contains(t, stdouts[0], "orders ")
	assert.Contains(t, stdouts[2], "\thello\t0\t0\n")

	// A wrong password: one line, exit 1, no password.
	jaas := regexp.MustCompile(`(?m)^sasl\.jaas\.config=(.*)$`).FindStringSubmatch(props)
	require.NotNil(t, jaas)
	wrong := strings.Replace(jaas[1], `password="`+pass[1]+`"`, `password="not-it"`, 1)
	_, errOut := runCase(t, cliCase{name: "wrong password", cmd: "topics", args: []string{"list", "--config", propsFile, "-X", "sasl.jaas.config=" + wrong},
		code: 1, stderr: []string{"SASL_AUTHENTICATION_FAILED"}, notStderr: []string{pass[1], "not-it"}})
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)

	// The Go code, built as the body of main and run where
	// client.properties is.
	src := "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"log\"\n\n\t\"github.com/skiffkit/skiff/producer\"\n\t\"github.com/skiffkit/skiff/properties\"\n)\n\nfunc main() {\n" +
		fenced(t, section, "go") + "}\n"
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	srcDir, err := os.MkdirTemp("testdata", "readme-")
	require.NoError(t, err)
	t.Cleanup(func() {
		os.RemoveAll(srcDir)
		os.Remove("testdata") // only if empty
	})
	require.NoError(t, os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "readme")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./"+srcDir).CombinedOutput()
	require.NoError(t, err, "go build of the README code:\n%s\n%s", out, src)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Equal(t, "sent to orders[0]@1\n", stdout.String())
}

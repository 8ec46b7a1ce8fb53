package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"

	"github.com/skiffkit/skiff/properties"
)

// propsFlags are the Kafka-properties flags every client subcommand takes:
// --config FILE (a Java .properties file, the client.properties a managed
// cluster hands out) and -X key=value (repeatable, as in kcat and
// librdkafka).
//
// Precedence, lowest first: the command's own defaults (client.id, the
// --brokers default), then --config, then -X, then flags given explicitly
// on the command line. A later source wins key by key, so -X can adjust one
// entry of a shared file and --brokers can point the same file at a test
// cluster. The merged map goes through package properties, which rejects a
// key it does not know by name, and which builds TLS and SASL.
type propsFlags struct {
	file *string
	x    propsX
}

func addPropsFlags(f *cmdFlags) *propsFlags {
	p := &propsFlags{file: f.String("config", "", "Kafka client properties `FILE` (bootstrap.servers, security.protocol, sasl.*, ssl.*, ...); -X and explicit flags override its keys")}
	f.Var(&p.x, "X", "Kafka client property `key=value` (repeatable); overrides --config, explicit flags override it")
	return p
}

// merge returns base overlaid with --config's keys, then with -X's.
func (p *propsFlags) merge(base map[string]string) (map[string]string, error) {
	props := maps.Clone(base)
	if props == nil {
		props = map[string]string{}
	}
	if *p.file != "" {
		fromFile, err := properties.Load(*p.file)
		if errors.Is(err, fs.ErrNotExist) && strings.Contains(*p.file, "=") {
			// kafka-topics spells topic configs --config k=v; here that
			// flag is the client properties file, as on every command.
			return nil, fmt.Errorf("--config takes a client properties file, and %q is none; for a topic config use --set %s", *p.file, *p.file)
		}
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		maps.Copy(props, fromFile)
	}
	for _, kv := range p.x {
		props[kv[0]] = kv[1]
	}
	return props, nil
}

// propsX collects repeated -X key=value.
type propsX [][2]string

func (x *propsX) String() string { return "" }

func (x *propsX) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*x = append(*x, [2]string{k, v})
	return nil
}

// baseProps is what every client command starts from: its client.id and
// the --brokers default ($SKIFF_BROKERS, else 127.0.0.1:9092), both
// overridable by --config and -X.
func baseProps(clientID string) map[string]string {
	return map[string]string{"bootstrap.servers": brokersFlagDefault(), "client.id": clientID}
}

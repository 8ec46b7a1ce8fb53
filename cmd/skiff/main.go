// Command skiff is the skiff command line: a bundled Kafka broker, a producer,
// a consumer, topic and group administration, and a batching benchmark.
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: run gets the arguments after the subcommand name
// and returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) int) {
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: skiff <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
examples:
  skiff broker
  echo hello | skiff produce --topic greetings
  skiff consume --topic greetings --from-beginning --exit-at-end

run 'skiff <command> --help' for a command's flags and examples
`)
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usage(os.Stderr)
		os.Exit(2)
	}
	if isHelpArg(args[0]) {
		if len(args) == 1 {
			usage(os.Stdout)
			os.Exit(0)
		}
		// skiff help produce: the same as skiff produce --help.
		args = []string{args[1], "--help"}
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "skiff: unknown command %q\nrun 'skiff --help' for the list of commands\n", args[0])
		os.Exit(2)
	}
	// SIGINT/SIGTERM cancel the context; each command shuts down cleanly on it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.run(ctx, args[1:])
	stop()
	os.Exit(code)
}

// brokersFlagDefault is the --brokers default shared by the client commands:
// $SKIFF_BROKERS, then 127.0.0.1:9092.
func brokersFlagDefault() string {
	if b := os.Getenv("SKIFF_BROKERS"); b != "" {
		return b
	}
	return "127.0.0.1:9092"
}

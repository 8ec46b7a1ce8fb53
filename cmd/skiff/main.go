// Command skiff is the skiff command line: a bundled Kafka broker, a producer,
// a consumer, topic and group administration, and a batching benchmark.
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"context"
	"fmt"
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

func usage() {
	fmt.Fprintln(os.Stderr, "usage: skiff <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
			usage()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "skiff: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	// SIGINT/SIGTERM cancel the context; each command shuts down cleanly on it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.run(ctx, os.Args[2:])
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

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageText is what every subcommand's --help prints, in one format:
//
//	usage: skiff produce --topic T [flags] < records
//
//	Reads records from stdin, one per line, and sends them.
//
//	examples:
//	  skiff produce --topic orders < orders.txt
//
//	flags:
//	  -acks string ...
type usageText struct {
	synopsis []string // "skiff produce --topic T [flags] < records"; more lines for more forms
	about    string
	examples []string
}

func (u usageText) write(w io.Writer, fs *flag.FlagSet) {
	for i, s := range u.synopsis {
		if i == 0 {
			fmt.Fprintf(w, "usage: %s\n", s)
		} else {
			fmt.Fprintf(w, "       %s\n", s)
		}
	}
	if u.about != "" {
		fmt.Fprintf(w, "\n%s\n", u.about)
	}
	if len(u.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range u.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// cmdFlags is a subcommand's flag set with its usage text.
type cmdFlags struct {
	*flag.FlagSet
	usage  usageText
	stdout io.Writer
	stderr io.Writer
}

// newFlagSet returns a flag set whose -h/--help prints u to stdout (help
// that was asked for is output, not an error), and whose parse errors are
// one line on stderr followed by where to get help.
func newFlagSet(name string, u usageText, stdout, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints its own error line, then calls Usage (for
	// -h too): Usage does nothing, and parse adds a pointer to --help after
	// an error, so a typo is not buried under forty lines of defaults.
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, usage: u, stdout: stdout, stderr: stderr}
}

// parse parses args, allowing flags after positional arguments (skiff
// topics create NAME --partitions 3), and returns the positionals. ok is
// false when the caller should exit with code: 0 after --help, 2 after a
// parse error (already reported).
func (f *cmdFlags) parse(args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterleaved(f.FlagSet, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.usage.write(f.stdout, f.FlagSet)
		f.SetOutput(f.stderr)
		return nil, 0, false
	case err != nil:
		fmt.Fprintf(f.stderr, "run '%s --help' for usage\n", f.Name())
		return nil, 2, false
	}
	return pos, 0, true
}

// usageErr reports a usage mistake in one sentence that names what is
// wrong, then where to get help; it returns exit code 2.
func usageErr(stderr io.Writer, cmd, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s\nrun '%s --help' for usage\n", cmd, fmt.Sprintf(format, a...), cmd)
	return 2
}

// isHelpArg reports whether s asks for help (-h, --help, -help, help).
func isHelpArg(s string) bool {
	switch s {
	case "-h", "--help", "-help", "help":
		return true
	}
	return false
}

// plural returns "1 partition", "3 partitions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// chooseSubcommand takes the subcommand of cmd (topics, groups) from args
// and returns it with a flag set named "cmd sub" for its form and the
// arguments after it. Without a subcommand it prints the command's help,
// to stdout when asked for and to stderr otherwise; ok is false when the
// caller should exit with code.
func chooseSubcommand(cmd string, forms []usageText, args []string, stdout, stderr io.Writer) (sub string, fs *cmdFlags, rest []string, code int, ok bool) {
	if len(args) == 0 {
		subcommandUsage(stderr, cmd, forms)
		return "", nil, nil, 2, false
	}
	if isHelpArg(args[0]) {
		subcommandUsage(stdout, cmd, forms)
		return "", nil, nil, 0, false
	}
	sub, rest = args[0], args[1:]
	form, found := findForm(forms, sub)
	if !found {
		return "", nil, nil, usageErr(stderr, cmd, "unknown subcommand %q (want %s)", sub, strings.Join(subNames(forms), ", ")), false
	}
	return sub, newFlagSet(cmd+" "+sub, form, stdout, stderr), rest, 0, true
}

// subcommandUsage is the help of a command with subcommands (topics,
// groups): each form with an example.
func subcommandUsage(w io.Writer, name string, forms []usageText) {
	fmt.Fprintf(w, "usage: %s <%s> [flags]\n\n", name, strings.Join(subNames(forms), "|"))
	// Each form on its own line, its summary indented below it: the forms
	// are too long to share a column with their summaries.
	for _, f := range forms {
		fmt.Fprintf(w, "  %s\n      %s\n", f.synopsis[0], f.about)
	}
	fmt.Fprintln(w, "\nexamples:")
	for _, f := range forms {
		for _, e := range f.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintf(w, "\nrun '%s <subcommand> --help' for its flags\n", name)
}

func subNames(forms []usageText) []string {
	out := make([]string, len(forms))
	for i, f := range forms {
		out[i] = strings.Fields(f.synopsis[0])[2]
	}
	return out
}

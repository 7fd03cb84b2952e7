// Command synack runs the synack userspace TCP/IP stack.
//
//	synack demo [flags]   two stacks over a simulated link, transitions as a table
//
// Run "synack help" for the list of subcommands.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "two stacks over a simulated link: watch a connection walk the RFC 9293 state diagram", runDemo},
		{"serve", "serve HTTP, echo and discard to the kernel's TCP over a TUN device", runServe},
		{"nc", "netcat over a TUN device: pipe stdin and stdout through a synack connection", runNC},
		{"soak", "run many seeds of two stacks over a faulty simulated network; print the failures", runSoak},
		{"drill", "run packetdrill scripts in-process against a synack stack under a virtual clock", runDrill},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "synack: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// usageError reports a bad command line of the command fs parses: the
// message, then the command's usage. It returns flag.ErrHelp (exit 2).
func usageError(fs *flag.FlagSet, stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, fs.Name()+": "+format+"\n", a...)
	fs.Usage()
	return flag.ErrHelp
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: synack <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `run "synack <command> -h" for a command's flags`)
}

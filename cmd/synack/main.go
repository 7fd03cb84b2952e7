// Command synack runs the synack userspace TCP/IP stack.
//
// Install it with
//
//	go install github.com/synack-tcp/synack/cmd/synack@latest
//
// Its commands:
//
//	synack demo [flags]            two stacks over a simulated link under a virtual clock:
//	                               watch one connection walk the RFC 9293 state diagram
//	synack serve [flags]           serve HTTP, echo and discard to the kernel's TCP over a TUN device
//	synack nc [flags] HOST PORT    netcat over a TUN device (-l PORT to accept one connection)
//	synack soak [flags]            many seeds of two stacks over a faulty simulated network;
//	                               print the failures with a command that replays each
//	synack drill [flags] SCRIPT    run packetdrill scripts against the stack
//	synack version                 the module version, VCS revision and Go version it was built with
//	synack help [CMD]              the list of commands, or CMD's usage and flags
//
// Every command takes -h for its flags. Sizes take units (4096, 64KiB,
// 1MiB, 1MB), durations too (5ms, 1.5s, 2m); a bad command line is
// reported in one line naming the flag, the value and the form wanted,
// and exits 2. JSON output (--json) is one object a line.
package main

import (
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
		{"version", "print the module version, VCS revision and Go version synack was built with", runVersion},
		{"help", "list the commands, or with a command's name print its usage and flags", nil},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stderr)
		return 0
	case "help":
		return help(args[1:], stdout, stderr)
	}
	if c, ok := lookup(args[0]); ok {
		return c.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "synack: unknown command %q\n", args[0])
	fmt.Fprintln(stderr, `run "synack help" for the list of commands`)
	return 2
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c, true
		}
	}
	return command{}, false
}

// help is "synack help [CMD]": the list of commands, or CMD's usage (as
// "synack CMD -h" prints it), on stdout.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "synack help: want one command name, got %d arguments\n", len(args))
		fmt.Fprintln(stderr, `run "synack help" for the list of commands`)
		return 2
	case args[0] == "help":
		usage(stdout)
		return 0
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "synack help: unknown command %q\n", args[0])
		fmt.Fprintln(stderr, `run "synack help" for the list of commands`)
		return 2
	}
	return c.run([]string{"-h"}, stdout, stdout)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: synack <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `run "synack help <command>" or "synack <command> -h" for a command's flags`)
}

package main

import (
	"context"
	"net"
)

// A Pair is two endpoints joined by a link: a server side that listens and a client side that dials.
//
// Every workload in this harness is written once against Pair, net.Listener
// and net.Conn, so the same code drives synack, gVisor's netstack and the
// Linux kernel.
type Pair interface {
	Listen(port uint16) (net.Listener, error)                // on the server side
	Dial(ctx context.Context, port uint16) (net.Conn, error) // from the client side to the server
	Close() error
}

// A Factory builds a Pair whose link carries IP packets of at most mtu bytes.
type Factory func(mtu int) (Pair, error)

// factories maps a stack name (as given to -stacks) to its Factory. A
// factory that returns an error is reported as "n/a" in the table.
var factories = map[string]Factory{
	"synack": newSynackPair, // synack.go: not wired yet
	"gvisor": newGvisorPair,
	"kernel": newKernelPair,
}

// stackOrder is the column order of the table and the default -stacks.
var stackOrder = []string{"synack", "gvisor", "kernel"}

// stackTitle is a stack's column heading.
var stackTitle = map[string]string{
	"synack":  "synack",
	"gvisor":  "gVisor netstack",
	"kernel":  "Linux kernel (lo)",
	baseStack: "synack@base",
}

// pairLimiter is implemented by a Pair that cannot hold an unbounded number
// of connection pairs (the kernel pair is bounded by RLIMIT_NOFILE). The idle
// workload opens at most MaxPairs pairs and says so.
type pairLimiter interface {
	MaxPairs() int
}

// statsReporter is optionally implemented by a Pair that counts trouble
// inside its stacks. Each workload adds how much each counter grew during
// its measured section to the result as "stat_<name>" (both stacks summed). The table shows
// none of them but footnotes "dropped", "retransmits" and "timeouts" when
// their median is not zero, since the link itself loses nothing.
type statsReporter interface {
	Stats() map[string]float64
}

// pairsPerPort is how many connections the workloads open to one listening
// port before moving to the next, so that no stack runs out of ephemeral
// ports (the kernel's default range holds 28,232).
const pairsPerPort = 20000

// basePort is the first server port the workloads listen on.
const basePort = 5201

// Package simharness runs two synack stacks against each other over a
// faulty link/sim network under a virtual clock, moves data both ways at
// once, closes, and checks after every clock step that nothing was lost,
// duplicated, reordered or invented on the way. A Spec says what to run;
// Run runs it from one goroutine, deterministically: the same Spec gives
// the same trace digest, so every failure replays from its seed with the
// command ReplayCommand prints.
package simharness

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/synack-tcp/synack/link/sim"
)

// CloseMode says who closes when.
type CloseMode uint8

// Close modes.
const (
	// CloseHalf: each side shuts down writing (CloseWrite) once it has
	// written everything and closes after reading EOF. Both FINs may cross
	// (FIN-WAIT-1 -> CLOSING).
	CloseHalf CloseMode = iota
	// CloseClient: the client closes once it has written everything and
	// read everything the server sends; the server closes on EOF (RFC 9293
	// Figure 12: the client walks FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT).
	CloseClient
	// CloseServer: the same with the roles swapped.
	CloseServer
)

var closeNames = [...]string{"half", "client", "server"}

func (m CloseMode) String() string {
	if int(m) < len(closeNames) {
		return closeNames[m]
	}
	return fmt.Sprintf("close(%d)", m)
}

// Spec is one simulation: the network's faults in each direction, the
// transfer, and the TCP configuration of both stacks. The client is the
// active opener on side a of the link; the server listens on side b.
type Spec struct {
	Seed int64

	// AB carries the client's packets to the server, BA the server's to
	// the client. OnPacket is ignored: the harness traces every packet.
	AB, BA sim.Config

	ClientBytes int // the client sends this many bytes to the server
	ServerBytes int // and the server this many to the client, at the same time

	MSS              int // largest segment each side receives; 0: from the MTU
	SendBuf, RecvBuf int // per connection, to start with; 0: the stack's default (tcp.DefaultBuf)
	// Autotuning grows the buffers up to these; 0: the stack's default
	// (tcp.DefaultBufMax); equal to the buffer (or less): no growth.
	SendBufMax, RecvBufMax int
	// MemBudget is each stack's buffer memory budget (stack.Config's
	// MemBudget; 0: the stack's default). A tight one puts the stacks under
	// memory pressure and over the limit: pruned out-of-order data, windows
	// held small, writers slowed.
	MemBudget int
	// Options both stacks leave out of their SYNs (stack.Config's fields
	// of the same names): RFC 7323 window scaling and timestamps, RFC
	// 2018 SACK.
	NoWindowScale, NoTimestamps, NoSACK bool
	NoDelay                             bool // disable Nagle
	IPv6                                bool // fd00::1 and fd00::2 instead of 10.0.0.1 and 10.0.0.2
	MSL                                 time.Duration
	// R2 is how long a connection retransmits before it gives up (0: the
	// tcp package's 100 s; RFC 9293 MUST-20).
	R2 time.Duration

	Close CloseMode

	// A slow reader reads at most ReadChunk bytes every ReadEvery of
	// virtual time (zero: each side reads all it can after every event).
	ReadChunk int
	ReadEvery time.Duration

	// Limit bounds the virtual time of the run (zero: 6 hours).
	Limit time.Duration
}

// DefaultSpec is what "synack soak" runs without flags: 256 KiB each way
// over a clean 1500-byte-MTU link with 10 ms one-way delay, 64 KiB buffers,
// an MSL of 1 s, and a half-close at the end. The 64 KiB buffers are a test
// condition, not a default of the stack (tcp.DefaultBuf): small buffers
// keep windows closing and reopening, which is where the bugs were.
func DefaultSpec() Spec {
	l := sim.Config{Delay: 10 * time.Millisecond, MTU: 1500}
	return Spec{
		Seed: 1, AB: l, BA: l,
		ClientBytes: 256 << 10, ServerBytes: 256 << 10,
		SendBuf: 64 << 10, RecvBuf: 64 << 10,
		MSL: time.Second, Limit: 6 * time.Hour,
	}
}

// SetFaults gives both directions the same faults.
func (s *Spec) SetFaults(c sim.Config) { s.AB, s.BA = c, c }

// String is the spec as flags, with the seed.
func (s Spec) String() string {
	return strings.TrimSpace(fmt.Sprintf("--seed %d %s", s.Seed, strings.Join(s.Args(), " ")))
}

// ReplayCommand is the command line that runs exactly this spec again.
func ReplayCommand(s Spec) string {
	cmd := fmt.Sprintf("go run ./cmd/synack soak --from %d --seeds 1", s.Seed)
	if a := s.Args(); len(a) > 0 {
		cmd += " " + strings.Join(a, " ")
	}
	return cmd
}

// RegisterFlags defines on fs one flag per Spec field except the seed,
// each writing into s. Link flags take one value for both directions or
// "A/B" for client->server and server->client.
func (s *Spec) RegisterFlags(fs *flag.FlagSet) {
	lf := func(name, usage string, get func(*sim.Config) string, set func(*sim.Config, string) error) {
		fs.Var(linkFlag{&s.AB, &s.BA, get, set}, name, usage)
	}
	lf("loss", "independent packet loss (0.05 or 5%)",
		func(c *sim.Config) string { return fmtProb(c.Loss) },
		func(c *sim.Config, v string) (err error) { c.Loss, err = parseProb(v); return })
	lf("burst", "Gilbert-Elliott burst loss GOOD>BAD,BAD>GOOD,LOSS-BAD[,LOSS-GOOD] (e.g. 1%,30%,50%)",
		getBurst, setBurst)
	lf("dup", "packet duplication probability",
		func(c *sim.Config) string { return fmtProb(c.Dup) },
		func(c *sim.Config, v string) (err error) { c.Dup, err = parseProb(v); return })
	lf("reorder", "probability a packet is held back, optionally @ how long (2% or 2%@5ms; default 1ms)",
		getReorder, setReorder)
	lf("corrupt", "probability of a flipped bit (the checksum catches it)",
		func(c *sim.Config) string { return fmtProb(c.Corrupt) },
		func(c *sim.Config, v string) (err error) { c.Corrupt, err = parseProb(v); return })
	lf("corrupt-undetected", "probability of a change every checksum misses (the data check is then skipped)",
		func(c *sim.Config) string { return fmtProb(c.CorruptKeepChecksum) },
		func(c *sim.Config, v string) (err error) { c.CorruptKeepChecksum, err = parseProb(v); return })
	lf("delay", "one-way propagation delay",
		func(c *sim.Config) string { return c.Delay.String() },
		func(c *sim.Config, v string) (err error) { c.Delay, err = parseDur(v); return })
	lf("jitter", "extra delay, uniform in [0, D): reorders packets",
		func(c *sim.Config) string { return c.Jitter.String() },
		func(c *sim.Config, v string) (err error) { c.Jitter, err = parseDur(v); return })
	lf("spike", "delay spikes P@D (1%@2s)", getSpike, setSpike)
	lf("rate", "bandwidth: bytes per second, or 10Mbit, 500kbit, 2MB (0: unlimited)",
		func(c *sim.Config) string { return fmtRate(c.Rate) },
		func(c *sim.Config, v string) (err error) { c.Rate, err = parseRate(v); return })
	lf("queue", "transmit queue bound with --rate, in bytes (64KiB; 0: unbounded)",
		func(c *sim.Config) string { return FormatSize(c.QueueBytes) },
		func(c *sim.Config, v string) (err error) { c.QueueBytes, err = ParseSize(v); return })
	lf("mtu", "largest packet carried (0: 65535)",
		func(c *sim.Config) string { return fmt.Sprint(c.MTU) },
		func(c *sim.Config, v string) (err error) { c.MTU, err = parseInt(v, 0, 1<<16-1); return })
	lf("flap", "link outages START+LEN[,START+LEN...] (10s+2s,1m+30s)",
		func(c *sim.Config) string { return fmtWindows(c.Flaps) },
		func(c *sim.Config, v string) (err error) { c.Flaps, err = parseWindows(v); return })
	lf("partition", "outages of one direction, as --flap (use A/B: 10s+5s/none)",
		func(c *sim.Config) string { return fmtWindows(c.Partition) },
		func(c *sim.Config, v string) (err error) { c.Partition, err = parseWindows(v); return })
	lf("pmtu", "a router hop of this MTU on the path, answering larger packets with ICMP fragmentation needed / packet too big (0: none)",
		func(c *sim.Config) string { return fmt.Sprint(c.Router.MTU) },
		func(c *sim.Config, v string) (err error) { c.Router.MTU, err = parseInt(v, 0, 1<<16-1); return })
	fs.Var(boolLinkFlag{linkFlag{&s.AB, &s.BA,
		func(c *sim.Config) string { return strconv.FormatBool(c.Router.BlackHole) },
		func(c *sim.Config, v string) (err error) { c.Router.BlackHole, err = strconv.ParseBool(v); return }}},
		"blackhole", "the router drops its ICMP too: a path MTU black hole (RFC 2923 2.1)")
	lf("unreachable", "windows in which the router has no route and answers host unreachable, as --flap",
		func(c *sim.Config) string { return fmtWindows(c.Router.Unreachable) },
		func(c *sim.Config, v string) (err error) { c.Router.Unreachable, err = parseWindows(v); return })

	fs.Var(sizePair{&s.ClientBytes, &s.ServerBytes}, "size", "bytes each side sends (1MiB), or CLIENT/SERVER")
	fs.Var(intValue{&s.MSS, 0, 65535}, "mss", "largest segment each side receives (0: from the MTU)")
	fs.Var(sizeValue{&s.SendBuf}, "sndbuf", "send buffer per connection (0: stack default)")
	fs.Var(sizeValue{&s.RecvBuf}, "rcvbuf", "receive buffer per connection (0: stack default)")
	fs.Var(sizeValue{&s.SendBufMax}, "sndbuf-max", "autotuning grows the send buffer up to this (0: stack default; --sndbuf or less: fixed)")
	fs.Var(sizeValue{&s.RecvBufMax}, "rcvbuf-max", "autotuning grows the receive buffer up to this (0: stack default)")
	fs.Var(sizeValue{&s.MemBudget}, "mem-budget", "each stack's buffer memory budget (64KiB: pressure and the limit at work; 0: stack default)")
	fs.BoolVar(&s.NoWindowScale, "no-wscale", s.NoWindowScale, "do not offer window scaling (RFC 7323)")
	fs.BoolVar(&s.NoTimestamps, "no-timestamps", s.NoTimestamps, "do not offer timestamps (RFC 7323)")
	fs.BoolVar(&s.NoSACK, "no-sack", s.NoSACK, "do not offer selective acknowledgments (RFC 2018)")
	fs.BoolVar(&s.NoDelay, "nodelay", s.NoDelay, "disable Nagle's algorithm")
	fs.BoolVar(&s.IPv6, "ipv6", s.IPv6, "run over IPv6")
	fs.Var(durValue{&s.MSL}, "msl", "maximum segment lifetime; TIME-WAIT lasts 2*MSL")
	fs.Var(durValue{&s.R2}, "r2", "give up after retransmitting this long (0: 5m)")
	fs.Var(closeValue{&s.Close}, "close", "who closes: half (both shut down writing, then close), client or server (closes first)")
	fs.Var(readValue{&s.ReadChunk, &s.ReadEvery}, "read", "slow reader: at most SIZE every D (4KiB@10ms; none: read all at once)")
	fs.Var(durValue{&s.Limit}, "limit", "virtual time limit of one run")
}

// Args is the spec as the flags RegisterFlags defines, leaving out those
// at their DefaultSpec values, in a canonical order. The seed is not
// included.
func (s Spec) Args() []string {
	cur, def := s, DefaultSpec()
	fc := flag.NewFlagSet("", flag.ContinueOnError)
	fd := flag.NewFlagSet("", flag.ContinueOnError)
	cur.RegisterFlags(fc)
	def.RegisterFlags(fd)
	var args []string
	fc.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if v == fd.Lookup(f.Name).Value.String() {
			return
		}
		switch v {
		case "true":
			args = append(args, "--"+f.Name)
		case "false":
			args = append(args, "--"+f.Name+"=false")
		default:
			if _, ok := f.Value.(boolLinkFlag); ok {
				args = append(args, "--"+f.Name+"="+v) // A/B of a boolean flag
				break
			}
			args = append(args, "--"+f.Name, v)
		}
	})
	return args
}

// ParseArgs is the spec DefaultSpec modified by args (as Args prints them).
func ParseArgs(seed int64, args []string) (Spec, error) {
	s := DefaultSpec()
	s.Seed = seed
	fs := flag.NewFlagSet("spec", flag.ContinueOnError)
	fs.SetOutput(discard{})
	s.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return s, s.Validate()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Validate reports a spec the harness cannot run.
func (s Spec) Validate() error {
	switch {
	case s.ClientBytes < 0 || s.ServerBytes < 0 || s.ClientBytes > 1<<30 || s.ServerBytes > 1<<30:
		return fmt.Errorf("invalid value %s/%s for --size: want 0 to 1GiB each way", FormatSize(s.ClientBytes), FormatSize(s.ServerBytes))
	case s.MSL <= 0:
		return fmt.Errorf("invalid value %v for --msl: want a positive duration such as 1s", s.MSL)
	case s.Limit < 0:
		return fmt.Errorf("invalid value %v for --limit: want a positive duration such as 6h", s.Limit)
	case s.MemBudget < 0 || s.MemBudget > 1<<40:
		return fmt.Errorf("invalid value %d for --mem-budget: want 0 (no limit) to 1TiB", s.MemBudget)
	case min(s.SendBuf, s.RecvBuf, s.SendBufMax, s.RecvBufMax) < 0 || max(s.SendBuf, s.RecvBuf, s.SendBufMax, s.RecvBufMax) > 1<<30:
		return fmt.Errorf("invalid buffer size for --sndbuf, --rcvbuf, --sndbuf-max or --rcvbuf-max: want 0 to 1GiB")
	case (s.ReadChunk > 0) != (s.ReadEvery > 0):
		return fmt.Errorf("invalid value for --read: a slow reader needs both a chunk and an interval, SIZE@D such as 4KiB@10ms")
	case s.Close > CloseServer:
		return fmt.Errorf("unknown close mode %d", s.Close)
	}
	mtu := s.linkMTU()
	for _, c := range [...]*sim.Config{&s.AB, &s.BA} {
		if c.MTU != 0 && c.MTU < minMTU(s.IPv6) {
			return fmt.Errorf("invalid value %d for --mtu: want at least %d", c.MTU, minMTU(s.IPv6))
		}
		if c.Rate < 0 || c.QueueBytes < 0 {
			return fmt.Errorf("invalid value for --rate or --queue: want 0 or more")
		}
		if c.Rate > 0 && c.QueueBytes > 0 && c.QueueBytes < mtu {
			return fmt.Errorf("invalid value %s for --queue: it cannot hold one %d-byte packet (--mtu)", FormatSize(c.QueueBytes), mtu)
		}
	}
	return nil
}

// linkMTU is the MTU both stacks see: the smaller direction's.
func (s Spec) linkMTU() int {
	eff := func(m int) int {
		if m <= 0 {
			return sim.DefaultMTU
		}
		return m
	}
	return min(eff(s.AB.MTU), eff(s.BA.MTU))
}

// minMTU is the smallest MTU an IP version allows: 68 for IPv4 (RFC 791;
// synack wants room for a 536-byte default segment, so 576) and 1280 for
// IPv6 (RFC 8200).
func minMTU(v6 bool) int {
	if v6 {
		return 1280
	}
	return 576
}

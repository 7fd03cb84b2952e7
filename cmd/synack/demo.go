package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/internal/simharness"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pcap"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

var scenarios = []string{"normal", "simultaneous-open", "simultaneous-close", "reset", "half-close"}

// demoOptions are the flags of "synack demo".
type demoOptions struct {
	scenario string
	json     bool
	size     int
	loss     float64
	delay    time.Duration
	seed     int64
	pcap     string
	msl      time.Duration
	ecn      bool
	ui       string                           // --ui: replay on the observe page
	speed    float64                          // --speed: virtual seconds per real second
	uiExit   bool                             // --ui-exit: exit after the replay
	capture  func(name string, e stack.Event) // sees every event (the replay's source)
}

const demoUsage = `usage: synack demo [flags]
Runs two stacks in one process over a simulated link under a virtual clock,
opens a connection, moves data, closes it, and prints every transition and
whether every byte arrived intact. With --json: one JSON object per
transition, then a summary object ("summary": true) with the bytes checked,
each endpoint's final state and "ok".
`

func parseDemo(args []string, stderr io.Writer) (demoOptions, error) {
	o := demoOptions{size: 4096, delay: 5 * time.Millisecond, seed: 1, msl: 2 * time.Minute}
	fs := newFlags("demo", demoUsage, stderr)
	fs.StringVar(&o.scenario, "scenario", "normal", "one of: "+strings.Join(scenarios, ", "))
	fs.BoolVar(&o.json, "json", false, "print one JSON object per transition, then a summary object, instead of a table")
	fs.Var(sizeFlag{&o.size}, "size", "bytes each side sends (4096, 64KiB, 1MiB, 1MB)")
	fs.Var(lossFlag{&o.loss}, "loss", "packet loss in each direction (0.05 or 5%)")
	fs.Var(durFlag{&o.delay}, "delay", "one-way delay of the simulated link")
	fs.Var(int64Flag{&o.seed}, "seed", "seed of the simulation (same flags, same output)")
	fs.StringVar(&o.pcap, "pcap", "", "write the client's packets to this pcap file")
	fs.Var(durFlag{&o.msl}, "msl", "maximum segment lifetime; TIME-WAIT lasts 2*MSL")
	fs.BoolVar(&o.ecn, "ecn", false, "negotiate explicit congestion notification (RFC 3168) on both stacks")
	fs.StringVar(&o.ui, "ui", "", "then replay the transitions on a live page at host address `ADDR` (e.g. 127.0.0.1:8088) and serve it until Ctrl-C")
	fs.Float64Var(&o.speed, "speed", 0.01, "with --ui: virtual time runs at this many times real time (idle gaps are cut to 3s)")
	fs.BoolVar(&o.uiExit, "ui-exit", false, "with --ui: exit when the replay ends instead of serving on")
	if err := fs.parse(args); err != nil {
		return o, err
	}
	bad := func(format string, a ...any) (demoOptions, error) { return o, fs.bad(format, a...) }
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case !contains(scenarios, o.scenario):
		return bad("invalid value %q for --scenario: want one of %s", o.scenario, strings.Join(scenarios, ", "))
	case o.size < 0 || o.size > 1<<30:
		return bad("invalid value %s for --size: want 0 to 1GiB", simharness.FormatSize(o.size))
	case o.delay < 0 || o.delay > time.Minute:
		return bad("invalid value %v for --delay: want 0 to 1m", o.delay)
	case o.msl <= 0 || o.msl > time.Hour:
		return bad("invalid value %v for --msl: want more than 0, at most 1h", o.msl)
	case !(o.speed > 0 && o.speed <= 1e6):
		return bad("invalid value %v for --speed: want above 0, at most 1e6", o.speed)
	}
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	o, err := parseDemo(args, stderr)
	if err != nil {
		return exitCode(err)
	}
	page, err := newDemoPage(&o)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	res, err := simulate(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "synack demo: %v\n", err)
		return 1
	}
	if o.json {
		newJSONEncoder(stdout).Encode(res.summary())
	} else {
		res.print(stdout)
	}
	page.replay(o, stderr)
	if !res.ok() {
		return 1
	}
	return 0
}

// row is one transition as printed.
type row struct {
	TMs      float64 `json:"t_ms"`
	Endpoint string  `json:"endpoint"`
	Conn     string  `json:"conn"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Cause    string  `json:"cause"`
}

func newRow(name string, e stack.Event) row {
	conn := e.Local.String() + "->" + e.Remote.String()
	if !e.Remote.IsValid() {
		conn = e.Local.String() + " (listener)"
	}
	return row{
		TMs:      float64(e.Time.Microseconds()) / 1000,
		Endpoint: name, Conn: conn, From: e.From.String(), To: e.To.String(), Cause: string(e.Cause),
	}
}

var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
)

// wrapEndpoint, when set (by tests), wraps each side's link endpoint.
var wrapEndpoint func(name string, ep link.Endpoint) link.Endpoint

// simulate builds the two stacks and runs the scenario to the end.
func simulate(o demoOptions, stdout io.Writer) (*result, error) {
	clk := clock.NewVirtual()
	lc := sim.Config{Delay: o.delay, Loss: o.loss, MTU: 1500}
	ea, eb := sim.New(clk, o.seed, lc, lc)
	var cep, sep link.Endpoint = ea, eb
	if wrapEndpoint != nil {
		cep, sep = wrapEndpoint("client", cep), wrapEndpoint("server", sep)
	}
	if o.pcap != "" {
		f, err := os.Create(o.pcap)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		pe, err := pcap.New(cep, f, clk)
		if err != nil {
			return nil, err
		}
		defer pe.Close()
		cep = pe
	}
	res := &result{opts: o}
	enc := newJSONEncoder(stdout)
	record := func(name string) func(stack.Event) {
		return func(e stack.Event) {
			r := newRow(name, e)
			res.rows = append(res.rows, r)
			if o.capture != nil {
				o.capture(name, e)
			}
			if o.json {
				enc.Encode(r)
			}
		}
	}
	tc := tcp.Config{MSL: o.msl}
	cs, err := stack.New(cep, stack.Config{Addrs: []netip.Addr{clientAddr}, Clock: clk, TCP: tc, ECN: o.ecn, Secret: simharness.SeedSecret(o.seed, "client"), OnEvent: record("client")})
	if err != nil {
		return nil, err
	}
	ss, err := stack.New(sep, stack.Config{Addrs: []netip.Addr{serverAddr}, Clock: clk, TCP: tc, ECN: o.ecn, Secret: simharness.SeedSecret(o.seed, "server"), OnEvent: record("server")})
	if err != nil {
		return nil, err
	}
	sc, err := newScenario(o, cs, ss, res)
	if err != nil {
		return nil, err
	}
	const maxSteps = 50_000_000
	limit := time.Duration(0)
	for i := 0; i < maxSteps; i++ {
		sc.poll()
		if !clk.Step() && !sc.idle() {
			break
		}
		if limit == 0 && sc.done() {
			limit = clk.Now() + 2*o.msl + time.Minute // let TIME-WAIT run out
		}
		if limit != 0 && clk.Now() > limit {
			break
		}
	}
	sc.poll()
	res.end = clk.Now()
	res.finish(sc)
	return res, nil
}

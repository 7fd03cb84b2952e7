package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// peer is one side's application: it writes its data, reads the other's,
// and closes when its scenario says so. Everything is non-blocking, run from
// the one goroutine that advances the virtual clock.
type peer struct {
	name    string
	c       *stack.Conn
	out     []byte // what this side sends
	sent    int
	got     []byte
	eof     bool
	err     error
	closed  bool
	shut    bool // CloseWrite called
	mayTalk func() bool
}

func (p *peer) pump() {
	if p.c == nil || p.err != nil {
		return
	}
	for p.sent < len(p.out) && !p.closed && !p.shut && (p.mayTalk == nil || p.mayTalk()) {
		n, err := p.c.TryWrite(p.out[p.sent:])
		p.sent += n
		if err != nil {
			p.err = err
			return
		}
		if n == 0 {
			break
		}
	}
	var buf [16 << 10]byte
	for !p.eof && !p.closed {
		n, err := p.c.TryRead(buf[:])
		p.got = append(p.got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			p.eof = true
		} else if err != nil {
			p.err = err
		}
		if n == 0 || err != nil {
			return
		}
	}
}

// sentAll reports that everything was handed over, on a connection past
// the handshake (a CLOSE in SYN-SENT would delete the TCB, 3.10.4).
func (p *peer) sentAll() bool {
	return p.c != nil && p.sent == len(p.out) && p.c.State() >= tcp.Established
}

func (p *peer) close() {
	if !p.closed && p.c != nil {
		p.closed = true
		p.c.Close()
	}
}

type scenario struct {
	kind           string
	size           int
	client, server *peer
	ln             *stack.Listener
	aborted        bool
	probed         bool
}

func payload(seed int64, who string, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(len(who))))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newScenario(o demoOptions, cs, ss *stack.Stack, res *result) (*scenario, error) {
	sc := &scenario{
		kind: o.scenario, size: o.size,
		client: &peer{name: "client", out: payload(o.seed, "client", o.size)},
		server: &peer{name: "server", out: payload(o.seed, "server-side", o.size)},
	}
	res.sc = sc
	if o.scenario == "simultaneous-open" {
		// Each side opens to the other's known port; the SYNs cross.
		var err error
		if sc.client.c, err = cs.OpenFrom(40000, netip.AddrPortFrom(serverAddr, 80)); err != nil {
			return nil, err
		}
		sc.server.c, err = ss.OpenFrom(80, netip.AddrPortFrom(clientAddr, 40000))
		return sc, err
	}
	var err error
	if sc.ln, err = ss.ListenTCP("tcp", "10.0.0.2:80"); err != nil {
		return nil, err
	}
	// The client opens a little later, so the listener's line comes first.
	c, err := cs.Open(netip.AddrPortFrom(serverAddr, 80))
	sc.client.c = c
	if o.scenario == "half-close" {
		sc.server.mayTalk = func() bool { return sc.server.eof }
	}
	return sc, err
}

// poll lets both applications act on what the last event changed.
func (sc *scenario) poll() {
	if sc.server.c == nil && sc.ln != nil {
		if c, _ := sc.ln.TryAccept(); c != nil {
			sc.server.c = c
			sc.ln.Close() // one connection is all the demo serves
		}
	}
	cl, sv := sc.client, sc.server
	cl.pump()
	sv.pump()
	switch sc.kind {
	case "normal", "simultaneous-open":
		if cl.sentAll() && len(cl.got) == sc.size {
			cl.close() // the client closes first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT
		}
		if sv.sentAll() && sv.eof {
			sv.close() // CLOSE-WAIT, LAST-ACK
		}
	case "simultaneous-close":
		if cl.sentAll() && sv.sentAll() && len(cl.got) == sc.size && len(sv.got) == sc.size {
			cl.close() // both at the same instant: the FINs cross
			sv.close()
		}
	case "reset":
		if cl.sentAll() && len(cl.got) == sc.size && !sc.aborted {
			sc.aborted = true
			cl.closed = true
			cl.c.Abort()
		}
		if sv.err != nil {
			sv.close()
		}
	case "half-close":
		if cl.sentAll() && !cl.shut {
			cl.shut = true
			cl.c.CloseWrite() // we are done sending, not receiving
		}
		if cl.eof {
			cl.close()
		}
		if sv.sentAll() && sv.eof {
			sv.close()
		}
	}
}

// idle is called when nothing is left to happen. In the reset scenario a
// lost RST leaves the server's side half-open; its application then writes
// once more, and the client's CLOSED port answers with a reset: half-open
// discovery (RFC 9293 3.5.2, Figure 12). It reports whether it acted.
func (sc *scenario) idle() bool {
	sv := sc.server
	if sc.kind != "reset" || !sc.aborted || sv.err != nil || sv.closed || sc.probed || sv.c == nil {
		return false
	}
	sc.probed = true
	_, err := sv.c.TryWrite([]byte("still there?"))
	return err == nil
}

func (sc *scenario) done() bool {
	return (sc.client.closed || sc.client.err != nil) && (sc.server.closed || sc.server.err != nil)
}

// result is what a run did, and whether it was right.
type result struct {
	opts   demoOptions
	rows   []row
	sc     *scenario
	end    time.Duration
	checks []check
	bytes  []byteCheck       // each direction's data
	final  map[string]string // endpoint -> the state it ended in
}

// byteCheck is one direction's data in the JSON summary.
type byteCheck struct {
	Dir      string `json:"dir"` // "client->server"
	Sent     int    `json:"sent"`
	Received int    `json:"received"`
	Intact   bool   `json:"intact"` // what arrived is what was sent, and all of it
}

type check struct {
	ok   bool
	what string
}

func (r *result) finish(sc *scenario) {
	add := func(ok bool, format string, a ...any) {
		r.checks = append(r.checks, check{ok, fmt.Sprintf(format, a...)})
	}
	cl, sv := sc.client, sc.server
	data := func(from, to *peer, intact bool) bool {
		r.bytes = append(r.bytes, byteCheck{from.name + "->" + to.name, len(from.out), len(to.got), intact})
		return intact
	}
	r.final = map[string]string{}
	if sc.kind == "reset" {
		add(data(sv, cl, bytes.Equal(cl.got, sv.out)), "server -> client: %d bytes sent, %d received intact before the reset", len(sv.out), len(cl.got))
		add(errors.Is(sv.err, syscall.ECONNRESET), "server's application saw the reset: %v", sv.err)
	} else {
		add(data(cl, sv, bytes.Equal(sv.got, cl.out) && (sv.eof || sv.closed)), "client -> server: %d bytes sent, %d received intact", len(cl.out), len(sv.got))
		add(data(sv, cl, bytes.Equal(cl.got, sv.out) && (cl.eof || cl.closed)), "server -> client: %d bytes sent, %d received intact", len(sv.out), len(cl.got))
	}
	for _, p := range []*peer{cl, sv} {
		if p.c == nil {
			add(false, "%s never had a connection", p.name)
			continue
		}
		st := p.c.Status()
		r.final[p.name] = st.State.String()
		add(st.State.String() == "CLOSED", "%s ended in %v (%d segments out, %d retransmitted)", p.name, st.State, st.Stats.SegsOut, st.Stats.Retransmits)
	}
}

// summary is the object synack demo --json ends with.
type summary struct {
	Summary     bool              `json:"summary"` // always true: tells this line from the transitions
	Scenario    string            `json:"scenario"`
	Seed        int64             `json:"seed"`
	Transitions int               `json:"transitions"`
	VirtualMs   float64           `json:"virtual_ms"`
	Bytes       []byteCheck       `json:"bytes"`
	Final       map[string]string `json:"final"`  // endpoint -> state
	Failed      []string          `json:"failed"` // the checks that failed, in words
	OK          bool              `json:"ok"`
}

func (r *result) summary() summary {
	s := summary{
		Summary: true, Scenario: r.opts.scenario, Seed: r.opts.seed, Transitions: len(r.rows),
		VirtualMs: float64(r.end.Microseconds()) / 1000, Bytes: r.bytes, Final: r.final,
		Failed: []string{}, OK: r.ok(),
	}
	for _, c := range r.checks {
		if !c.ok {
			s.Failed = append(s.Failed, c.what)
		}
	}
	return s
}

func (r *result) ok() bool {
	for _, c := range r.checks {
		if !c.ok {
			return false
		}
	}
	return true
}

func (r *result) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "synack demo: scenario %s, seed %d, loss %g%%, one-way delay %v, MSL %v\n\n", o.scenario, o.seed, o.loss*100, o.delay, o.msl)
	fmt.Fprintf(w, "%12s  %-8s  %-30s  %-31s  %s\n", "time (ms)", "endpoint", "connection", "transition", "cause")
	for _, x := range r.rows {
		fmt.Fprintf(w, "%12.3f  %-8s  %-30s  %-31s  %s\n", x.TMs, x.Endpoint, x.Conn, x.From+" -> "+x.To, x.Cause)
	}
	fmt.Fprintln(w)
	for _, c := range r.checks {
		mark := "ok  "
		if !c.ok {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s\n", mark, c.what)
	}
	fmt.Fprintf(w, "%d transitions in %.3f s of virtual time\n", len(r.rows), r.end.Seconds())
}

package simharness

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// Outcome is how a run that passed ended.
type Outcome uint8

// Outcomes.
const (
	// Completed: every byte arrived both ways, each side read EOF (or, as
	// the first closer, everything), and both connections exchanged FINs
	// and reached CLOSED.
	Completed Outcome = iota
	// TimedOut: the network was bad enough for a connection to give up
	// (R2), and the applications saw ETIMEDOUT or, from the peer,
	// ECONNRESET; what they read was still an exact prefix.
	TimedOut
)

func (o Outcome) String() string {
	if o == TimedOut {
		return "timed out"
	}
	return "completed"
}

// Digest identifies a run's trace: SHA-256 over every packet written (its
// headers and length), every packet fate the link reported, and every
// state transition of both stacks, in order.
type Digest [sha256.Size]byte

func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Result is what Run found.
type Result struct {
	Spec    Spec
	OK      bool
	Failure string // why it failed: the first check that broke
	Outcome Outcome
	Digest  Digest

	End         time.Duration // virtual time when the run ended
	Steps       int           // clock events run
	Transitions int           // state transitions of both stacks (listener's included)

	Link           [2]sim.Stats  // packets written by the client (a->b) and by the server (b->a)
	Client, Server tcp.Stats     // the connections' counters at the end
	ClientGot      int           // bytes the client application read
	ServerGot      int           // bytes the server application read
	Timeouts       int           // connections that gave up retransmitting
	MaxSRTT        time.Duration // the largest smoothed RTT either connection had
}

// Summary is a one-line account of the run.
func (r Result) Summary() string {
	if !r.OK {
		return fmt.Sprintf("FAIL at %v: %s", r.End, r.Failure)
	}
	rtx := r.Client.Retransmits + r.Server.Retransmits
	return fmt.Sprintf("ok (%v) in %v virtual, %d steps, %d packets, %d retransmitted, digest %.16s",
		r.Outcome, r.End, r.Steps, r.Link[0].Sent+r.Link[1].Sent, rtx, r.Digest)
}

// Run runs spec to the end in the calling goroutine and checks it.
func Run(spec Spec) Result { return RunTrace(spec, nil) }

// RunTrace is Run that also writes a line to w for every packet, fate,
// transition and application call.
func RunTrace(spec Spec, w io.Writer) Result { return runWith(spec, w, false) }

// runWith is RunTrace; dataCheck keeps the byte check on even under
// corruption no checksum catches (for the harness's own tests).
func runWith(spec Spec, w io.Writer, dataCheck bool) Result {
	r := newRunner(spec, w)
	r.dataCheck = dataCheck || !spec.undetectedCorruption()
	if err := spec.Validate(); err != nil {
		r.failf("invalid spec: %v", err)
		return r.result()
	}
	if err := r.setup(); err != nil {
		r.failf("setup: %v", err)
		return r.result()
	}
	r.loop()
	r.finish()
	return r.result()
}

var (
	clientAddr4 = netip.MustParseAddr("10.0.0.1")
	serverAddr4 = netip.MustParseAddr("10.0.0.2")
	clientAddr6 = netip.MustParseAddr("fd00::1")
	serverAddr6 = netip.MustParseAddr("fd00::2")
)

const serverPort = 80

// runner holds one run's state. Everything happens in one goroutine.
type runner struct {
	spec  Spec
	limit time.Duration
	trace io.Writer

	clk      *clock.Virtual
	ea, eb   *sim.Endpoint
	cs, ss   *stack.Stack
	ln       *stack.Listener
	cli, srv *app

	h    hash.Hash
	hbuf []byte

	sndBuf, rcvBuf int // the most either buffer may hold
	conns          map[*stack.Conn]*connWatch
	byTuple        map[[2]netip.AddrPort]*connLog

	dataCheck   bool // compare every byte read (off under undetected corruption)
	fail        string
	steps       int
	transitions int
	timeouts    int
	maxSRTT     time.Duration
}

// connLog is what the transition events said about one connection.
type connLog struct {
	side     string
	visited  uint32 // bit per state
	last     tcp.State
	endCause tcp.Cause
	endFrom  tcp.State
	ended    bool
	timedOut bool
}

// connWatch is what the per-step checks remember about a connection.
type connWatch struct {
	finSeen  bool
	rcvNxt   uint32
	received uint64
}

func newRunner(spec Spec, w io.Writer) *runner {
	r := &runner{
		spec: spec, trace: w, h: sha256.New(), hbuf: make([]byte, 0, 256),
		conns:   make(map[*stack.Conn]*connWatch),
		byTuple: make(map[[2]netip.AddrPort]*connLog),
	}
	r.limit = spec.Limit
	if r.limit <= 0 {
		r.limit = 6 * time.Hour
	}
	// The bounds on buffers: what autotuning may grow them to, with
	// stack.New's defaults for zero fields.
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	r.sndBuf = max(def(spec.SendBuf, 512<<10), def(spec.SendBufMax, 4<<20))
	r.rcvBuf = max(def(spec.RecvBuf, 512<<10), def(spec.RecvBufMax, 4<<20))
	return r
}

func (r *runner) failf(format string, a ...any) {
	if r.fail == "" {
		r.fail = fmt.Sprintf(format, a...)
		r.tracef("FAIL: %s", r.fail)
	}
}

func (r *runner) tracef(format string, a ...any) {
	if r.trace == nil {
		return
	}
	var now time.Duration
	if r.clk != nil {
		now = r.clk.Now()
	}
	fmt.Fprintf(r.trace, "%12.3fms  %s\n", float64(now.Nanoseconds())/1e6, fmt.Sprintf(format, a...))
}

// setup builds the link, the two stacks, the listener and the client's
// active OPEN.
func (r *runner) setup() error {
	s := r.spec
	r.clk = clock.NewVirtual()
	ab, ba := s.AB, s.BA
	ab.OnPacket, ba.OnPacket = r.onPacket, r.onPacket
	r.ea, r.eb = sim.New(r.clk, s.Seed, ab, ba)
	tc := tcp.Config{MSS: s.MSS, SendBuf: s.SendBuf, RecvBuf: s.RecvBuf, SendBufMax: s.SendBufMax,
		RecvBufMax: s.RecvBufMax, MSL: s.MSL, NoDelay: s.NoDelay, R2: s.R2}
	if s.SendBuf > 0 && s.SendBufMax > 0 && s.SendBufMax < s.SendBuf {
		tc.SendBufMax = s.SendBuf
	}
	if s.RecvBuf > 0 && s.RecvBufMax > 0 && s.RecvBufMax < s.RecvBuf {
		tc.RecvBufMax = s.RecvBuf
	}
	ca, sa := clientAddr4, serverAddr4
	if s.IPv6 {
		ca, sa = clientAddr6, serverAddr6
	}
	var err error
	r.cs, err = stack.New(&tap{r: r, ep: r.ea, dir: sim.AtoB}, stack.Config{
		Addrs: []netip.Addr{ca}, Clock: r.clk, TCP: tc,
		Secret: SeedSecret(s.Seed, "client"), OnEvent: r.onEvent("client"), MemBudget: int64(s.MemBudget),
		NoWindowScale: s.NoWindowScale, NoTimestamps: s.NoTimestamps, NoSACK: s.NoSACK})
	if err != nil {
		return err
	}
	r.ss, err = stack.New(&tap{r: r, ep: r.eb, dir: sim.BtoA}, stack.Config{
		Addrs: []netip.Addr{sa}, Clock: r.clk, TCP: tc,
		Secret: SeedSecret(s.Seed, "server"), OnEvent: r.onEvent("server"), MemBudget: int64(s.MemBudget),
		NoWindowScale: s.NoWindowScale, NoTimestamps: s.NoTimestamps, NoSACK: s.NoSACK})
	if err != nil {
		return err
	}
	key := mix(uint64(s.Seed))
	r.cli = &app{r: r, name: "client", total: s.ClientBytes, key: key ^ 0x636c69656e74}
	r.srv = &app{r: r, name: "server", total: s.ServerBytes, key: key ^ 0x736572766572}
	r.cli.peer, r.srv.peer = r.srv, r.cli
	r.cli.first = s.Close == CloseClient
	r.srv.first = s.Close == CloseServer
	r.ln, err = r.ss.ListenTCP("tcp", netip.AddrPortFrom(sa, serverPort).String())
	if err != nil {
		return err
	}
	r.cli.c, err = r.cs.Open(netip.AddrPortFrom(sa, serverPort))
	return err
}

// SeedSecret derives a stack's ISN and port secret (stack.Config.Secret)
// from a seed and the stack's name, so that the same seed gives the same
// sequence numbers and ports. synack demo uses it too.
func SeedSecret(seed int64, who string) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	s := sha256.Sum256(append(b[:], who...))
	return s[:]
}

// loop runs the clock one event at a time, with the applications and the
// checks after each, until both sides are done or something breaks.
func (r *runner) loop() {
	var instant time.Duration
	sameInstant := 0
	for {
		r.pumpApps()
		r.checkConns()
		if r.fail != "" || r.done() {
			return
		}
		if !r.clk.Step() {
			r.idle()
			return
		}
		r.steps++
		now := r.clk.Now()
		if now > r.limit {
			r.failf("virtual time limit %v reached: %s", r.limit, r.where())
			return
		}
		// A timer that re-arms at the instant it fires (or packets that
		// answer each other with no delay) would spin here for ever.
		if now != instant {
			instant, sameInstant = now, 0
		} else if sameInstant++; sameInstant > maxEventsPerInstant {
			r.failf("livelock: %d events at %v without time moving: %s", sameInstant, now, r.where())
			return
		}
	}
}

const maxEventsPerInstant = 100_000

func (r *runner) pumpApps() {
	if r.srv.c == nil && r.ln != nil {
		if c, err := r.ln.TryAccept(); err != nil {
			r.failf("accept: %v", err)
		} else if c != nil {
			r.srv.c = c
			r.tracef("server accepted %v", c.RemoteAddrPort())
			// One connection is all this run wants: a delayed duplicate
			// SYN from now on draws a reset (3.10.7.1).
			r.ln.Close()
			r.ln = nil
		}
	}
	r.cli.pump()
	r.srv.pump()
}

// done reports that both applications finished and both stacks let go of
// every connection (TIME-WAIT included).
func (r *runner) done() bool {
	return r.cli.finished() && r.srv.finished() && r.cs.NumConns() == 0 && r.ss.NumConns() == 0
}

// idle is the end of a run whose clock has nothing left to do before it
// is done: a stall, unless a connection gave up and left its peer
// half-open (a FIN-WAIT-2 with no timer waits for ever, RFC 9293 3.6).
func (r *runner) idle() {
	if r.timeouts > 0 {
		r.tracef("idle after a timeout: %s", r.where())
		return
	}
	r.failf("stalled: nothing scheduled, %s", r.where())
}

// where describes both sides for a failure message.
func (r *runner) where() string {
	return fmt.Sprintf("client %s; server %s", r.cli.describe(), r.srv.describe())
}

// onEvent records a transition: in the digest, the trace and the
// connection's log. It runs with the connection's lock held.
func (r *runner) onEvent(side string) func(stack.Event) {
	return func(e stack.Event) {
		r.transitions++
		b := r.hbuf[:0]
		b = append(b, 'T', side[0])
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Time))
		b, _ = e.Local.AppendBinary(b)
		b, _ = e.Remote.AppendBinary(b)
		b = append(b, byte(e.From), byte(e.To))
		b = append(b, e.Cause...)
		r.h.Write(b)
		r.hbuf = b
		if r.trace != nil {
			conn := e.Local.String() + "->" + e.Remote.String()
			if !e.Remote.IsValid() {
				conn = e.Local.String() + " (listener)"
			}
			r.tracef("%s %s  %v -> %v  %s", side, conn, e.From, e.To, e.Cause)
		}
		if !tcp.LegalTransition(e.From, e.To) {
			r.failf("%s %v->%v: %v -> %v (%s) is no transition of RFC 9293's diagram", side, e.Local, e.Remote, e.From, e.To, e.Cause)
		}
		if !e.Remote.IsValid() {
			return // the listener
		}
		k := [2]netip.AddrPort{e.Local, e.Remote}
		l := r.byTuple[k]
		if l == nil || l.ended {
			l = &connLog{side: side}
			r.byTuple[k] = l
		}
		l.visited |= 1<<e.From | 1<<e.To
		l.last = e.To
		if e.To == tcp.Closed || (e.To == tcp.Listen && e.From != tcp.Closed) {
			l.ended, l.endCause, l.endFrom = true, e.Cause, e.From
			if gaveUp(e.Cause) {
				l.timedOut = true
				r.timeouts++
			}
		}
	}
}

// gaveUp reports a transition to CLOSED by a timer other than TIME-WAIT's:
// retransmission (R2), user timeout, keepalive, zero window, FIN-WAIT-2.
func gaveUp(c tcp.Cause) bool {
	return strings.HasPrefix(string(c), "timeout ") && c != tcp.CauseTimeWait ||
		strings.HasPrefix(string(c), "rcv ICMP ") // the router said there is no way through
}

// onPacket records a packet's fate in the digest and the trace.
func (r *runner) onPacket(e sim.Event) {
	b := r.hbuf[:0]
	b = append(b, 'P', byte(e.Dir), byte(e.Fate))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.At))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Written))
	b = binary.LittleEndian.AppendUint64(b, e.Seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Len))
	var fl byte
	if e.Dup {
		fl |= 1
	}
	if e.Corrupted {
		fl |= 2
	}
	if e.Undetected {
		fl |= 4
	}
	b = append(b, fl)
	r.h.Write(b)
	r.hbuf = b
	if r.trace != nil && (e.Fate != sim.Delivered || e.Dup || e.Corrupted || e.Undetected || e.At-e.Written > 0) {
		r.tracef("%v #%d %v", e.Dir, e.Seq, fateNote(e))
	}
}

func fateNote(e sim.Event) string {
	s := e.Fate.String()
	if e.Dup {
		s += " (duplicate)"
	}
	if e.Corrupted {
		s += " (bit flipped)"
	}
	if e.Undetected {
		s += " (words swapped, checksum valid)"
	}
	return s
}

// finish runs the end-of-run checks.
func (r *runner) finish() {
	defer r.closeAll()
	if r.fail != "" {
		return
	}
	if r.timeouts > 0 {
		// A connection gave up. What the applications read was checked
		// as it came (an exact prefix, no EOF early, nothing after EOF or
		// an error); a peer may be left half-open, waiting in FIN-WAIT-2
		// or CLOSE-WAIT for ever as RFC 9293 allows. The network must be
		// bad enough to explain it.
		if !r.spec.TimeoutsExpected() {
			r.failf("a connection gave up on a network that should not make it (%s): %s", r.spec.faultSummary(), r.where())
		}
		return
	}
	if r.cli.err != nil || r.srv.err != nil || r.srv.c == nil {
		r.failf("an error without any connection timing out: %s", r.where())
		return
	}
	r.checkCompleted()
}

// checkCompleted checks a run in which neither application saw an error.
func (r *runner) checkCompleted() {
	for _, a := range [...]*app{r.cli, r.srv} {
		if a.got != a.peer.total {
			r.failf("%s read %d of %d bytes", a.name, a.got, a.peer.total)
			return
		}
		if !a.eof && !a.first {
			r.failf("%s never read EOF", a.name)
			return
		}
	}
	for k, l := range r.byTuple {
		name := l.side + " " + k[0].String() + "->" + k[1].String()
		switch {
		case !l.ended:
			r.failf("%s never reached CLOSED (in %v)", name, l.last)
			return
		case l.timedOut:
			if !r.spec.TimeoutsExpected() {
				r.failf("%s gave up in %v (%s) on a network that should not make it (%s)", name, l.endFrom, l.endCause, r.spec.faultSummary())
				return
			}
		case l.endFrom == tcp.SynReceived || l.endFrom == tcp.Listen:
			// a stray connection from a duplicate SYN, reset away
		case l.endFrom != tcp.TimeWait && l.endFrom != tcp.LastAck && l.endFrom != tcp.Closing:
			r.failf("%s ended from %v by %q, not by a close", name, l.endFrom, l.endCause)
			return
		case l.visited&(1<<tcp.FinWait1|1<<tcp.LastAck) == 0 || l.visited&(1<<tcp.CloseWait|1<<tcp.Closing|1<<tcp.TimeWait) == 0:
			r.failf("%s ended without FINs both ways (visited %s)", name, states(l.visited))
			return
		}
	}
	for i, st := range [...]*stack.Stack{r.cs, r.ss} { // memory follows the data: all of it comes back
		if m := st.Stats().Mem.InUse.Load(); m != 0 {
			r.failf("%s holds %d bytes of buffer memory with every connection closed", [...]string{"client", "server"}[i], m)
			return
		}
	}
}

func states(mask uint32) string {
	s := ""
	for st := tcp.Closed; st <= tcp.LastAck; st++ {
		if mask&(1<<st) != 0 {
			if s != "" {
				s += ","
			}
			s += st.String()
		}
	}
	return s
}

// closeAll releases both stacks; nothing of the run stays alive.
func (r *runner) closeAll() {
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	if r.cs != nil {
		r.cs.Close()
	}
	if r.ss != nil {
		r.ss.Close()
	}
}

func (r *runner) result() Result {
	res := Result{Spec: r.spec, OK: r.fail == "", Failure: r.fail, Steps: r.steps,
		Transitions: r.transitions, Timeouts: r.timeouts, MaxSRTT: r.maxSRTT}
	if r.clk != nil {
		res.End = r.clk.Now()
	}
	copy(res.Digest[:], r.h.Sum(nil))
	if r.ea != nil {
		res.Link = [2]sim.Stats{r.ea.Stats(), r.eb.Stats()}
	}
	if r.cli != nil {
		res.ClientGot, res.ServerGot = r.cli.got, r.srv.got
		if r.cli.c != nil {
			res.Client = r.cli.c.Status().Stats
		}
		if r.srv.c != nil {
			res.Server = r.srv.c.Status().Stats
		}
		if r.cli.err != nil || r.srv.err != nil || r.srv.c == nil || r.timeouts > 0 {
			res.Outcome = TimedOut
		}
	}
	return res
}

package packetdrill

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/stack"
)

// Options control a run.
type Options struct {
	// Strict checks every value as written. Otherwise (portable) the
	// offered window, the window-scale shift, option order and padding,
	// the MSS a stack advertises for its own MTU, TSval, the PSH bit and
	// how a flight is cut into segments are checked for validity only.
	Strict bool
	// Dialect is DialectLinux or DialectFreeBSD; "" picks per script.
	Dialect string
	// Tolerance is the timing slack when the script sets none
	// (--tolerance_usecs); default 4 ms, packetdrill's.
	Tolerance time.Duration
	// Trace, if set, sees every event, packet and call as it runs.
	Trace io.Writer
	// IPv6 runs scripts that name no --ip_version over IPv6, with a
	// 1520-byte MTU so the MSS stays 1460, as run_all.py's ipv6 pass does.
	IPv6 bool
}

// Verdict is a script's outcome.
type Verdict int

// The outcomes.
const (
	Pass Verdict = iota
	Fail
	Skip
)

func (v Verdict) String() string { return [...]string{"PASS", "FAIL", "SKIP"}[v] }

// Result is the outcome of one script.
type Result struct {
	Path    string
	Verdict Verdict
	Line    int    // the script line that failed or was skipped
	Source  string // that line's text
	Reason  string // the first difference, as a diff, or why it was skipped
	Notes   []string
}

// failure is the first difference; skip is a script synack cannot run.
// line, if set, is the line the difference belongs to (a blocking call
// that returned while later lines ran).
type failure struct {
	msg  string
	line int
}
type skip struct{ msg string }

func (f *failure) Error() string { return f.msg }
func (s *skip) Error() string    { return s.msg }

func failf(format string, a ...any) error { return &failure{msg: fmt.Sprintf(format, a...)} }
func skipf(format string, a ...any) error { return &skip{fmt.Sprintf(format, a...)} }

// The addresses packetdrill's run_all.py uses.
var (
	localV4  = netip.MustParseAddr("192.168.0.1")
	remoteV4 = netip.MustParseAddr("192.0.2.1")
	localV6  = netip.MustParseAddr("fd3d:a0b:17d6::1")
	remoteV6 = netip.MustParseAddr("fd3d:fa7b:d17d::1")
)

const (
	scriptPort = 8080       // the script's listening (or connect-to) port
	peerPort   = 48879      // the remote end's port for inbound connections
	remoteISN  = 0x2c8e6f10 // the script's relative sequence 0 inbound
	maxSteps   = 200_000
)

// runner is the state of one script run.
type runner struct {
	s       *Script
	opt     Options
	dialect string
	tol     time.Duration
	cfg     *config
	clk     *clock.Virtual
	ep      *endpoint
	st      *stack.Stack
	v6      bool
	local   netip.Addr
	remote  netip.Addr
	mtu     int

	socks   map[int64]*sock
	last    *sock         // the socket of the latest call, for %{ }% blocks
	conns   []*stack.Conn // every connection connect() and accept() made
	pending *pendingCall
	prevOut outPacket // the segment matched last
	maxseg  int       // TCP_MAXSEG the script set: the MSS option is then checked exactly
	steps   int

	// the connection under test
	lport, rport uint16
	localISN     seq.Value
	tsScript     uint32 // script TSval that tsLive corresponds to
	tsLive       uint32
	tsKnown      bool
	lastTSval    uint32 // latest TSval the stack sent
	sentTS       bool
	now          time.Duration // script time of the previous event
}

// Run executes a parsed script.
func Run(s *Script, opt Options) (res Result) {
	res.Path = s.Path
	r := &runner{s: s, opt: opt, socks: map[int64]*sock{}, mtu: 1500}
	line, err := r.run()
	if r.cfg != nil {
		res.Notes = r.cfg.notes
	}
	res.Line, res.Source = line, s.SourceLine(line)
	var f *failure
	var sk *skip
	switch {
	case err == nil:
		res.Verdict = Pass
	case errors.As(err, &sk):
		res.Verdict, res.Reason = Skip, sk.msg
	case errors.As(err, &f):
		res.Verdict, res.Reason = Fail, f.msg
	default:
		res.Verdict, res.Reason = Fail, err.Error()
	}
	if r.st != nil {
		r.st.Close()
	}
	return res
}

// RunFile reads, parses and runs one script.
func RunFile(path, src string, opt Options) Result {
	s, err := Parse(path, src)
	if err != nil {
		var line int
		fmt.Sscanf(err.Error(), "line %d:", &line)
		reason := "parse: " + err.Error()
		if strings.Contains(err.Error(), "not supported") {
			return Result{Path: path, Verdict: Skip, Line: line, Reason: reason}
		}
		return Result{Path: path, Verdict: Fail, Line: line, Reason: reason}
	}
	return Run(s, opt)
}

func (r *runner) trace(format string, a ...any) {
	if r.opt.Trace != nil {
		fmt.Fprintf(r.opt.Trace, "%10.6f ", r.clk.Now().Seconds())
		fmt.Fprintf(r.opt.Trace, format+"\n", a...)
	}
}

func (r *runner) run() (int, error) {
	if err := r.setup(); err != nil {
		return 0, err
	}
	for _, ev := range r.s.Events {
		if err := r.event(ev); err != nil {
			return lineOf(err, ev.Line), err
		}
	}
	if r.pending != nil {
		line := r.pending.ev.Line
		if err := r.finishPending(); err != nil {
			return lineOf(err, line), err
		}
	}
	return 0, nil
}

func lineOf(err error, def int) int {
	var f *failure
	if errors.As(err, &f) && f.line != 0 {
		return f.line
	}
	return def
}

// setup reads the header options and the setup commands, then makes the
// stack.
func (r *runner) setup() error {
	r.dialect = r.opt.Dialect
	if r.dialect == "" {
		r.dialect = detectDialect(r.s)
	}
	r.tol = r.opt.Tolerance
	if r.tol == 0 {
		r.tol = 4 * time.Millisecond
	}
	if r.opt.IPv6 {
		if strings.HasSuffix(r.s.Path, "v4.pkt") {
			return skipf("an IPv4-only script (its name ends v4.pkt)")
		}
		r.v6, r.mtu = true, 1520
	}
	for _, o := range r.s.Options {
		switch o.Name {
		case "ip_version":
			r.v6 = o.Value == "ipv6"
		case "tolerance_usecs":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < 0 || n > 60_000_000 {
				return failf("line %d: bad --tolerance_usecs (0 to 60 s)", o.Line)
			}
			r.tol = time.Duration(n) * time.Microsecond
		case "mtu":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < 68 || n > 65535 {
				return failf("line %d: bad --mtu", o.Line)
			}
			r.mtu = n
		case "tcp_ts_tick_usecs":
			if o.Value != "1000" {
				return skipf("--tcp_ts_tick_usecs=%s: synack's timestamp clock ticks every 1000 us", o.Value)
			}
		}
	}
	r.local, r.remote = localV4, remoteV4
	if r.v6 {
		r.local, r.remote = localV6, remoteV6
	}
	r.cfg = baseConfig(r.dialect)
	// Configuration commands before the first system call set up the
	// host; the stack is made from them.
	for _, ev := range r.s.Events {
		if ev.Kind == EventSyscall {
			break
		}
		if ev.Kind == EventCommand {
			r.cfg.command(ev.Command)
		}
	}
	r.clk = clock.NewVirtual()
	r.ep = &endpoint{mtu: r.mtu, clk: r.clk}
	cfg := r.cfg.stack
	cfg.Addrs = []netip.Addr{r.local}
	cfg.Clock = r.clk
	cfg.Secret = []byte("synack packetdrill runner secret!")
	st, err := stack.New(r.ep, cfg)
	if err != nil {
		return failf("stack: %v", err)
	}
	r.st = st
	r.lport, r.rport = scriptPort, peerPort
	return nil
}

// resolve turns an event time into script time.
func (r *runner) resolve(t EventTime) (at, end time.Duration) {
	switch t.Kind {
	case TimeRelative:
		at, end = r.now+t.At, r.now+t.End
	case TimeAny: // whenever: for anything but an expected packet, now
		return r.now, r.now
	default:
		at, end = t.At, t.End
	}
	if !t.Range {
		end = at
	}
	return at, end
}

func (r *runner) event(ev *Event) error {
	at, end := r.resolve(ev.Time)
	switch ev.Kind {
	case EventPacket:
		if !ev.Packet.Inbound {
			t, err := r.expectPacket(ev, at, end)
			if err != nil {
				return err
			}
			// packetdrill moves later relative times by when a * or
			// ranged event happened; an exact one keeps its script time.
			r.now = at
			if ev.Time.Kind == TimeAny || ev.Time.Range {
				r.now = t
			}
			return nil
		}
		if err := r.advance(at); err != nil {
			return err
		}
		r.now = at
		return r.inject(ev.Packet)
	case EventSyscall:
		if err := r.advance(at); err != nil {
			return err
		}
		if r.pending != nil {
			if err := r.finishPending(); err != nil {
				return err
			}
		}
		prev := r.now
		r.now = at
		return r.syscall(ev, at, prev)
	case EventCommand:
		if ev.Time.Kind != TimeAny {
			if err := r.advance(at); err != nil {
				return err
			}
			r.now = at
		}
		return r.hostCommand(ev.Command)
	case EventCode:
		if err := r.advance(at); err != nil {
			return err
		}
		r.now = at
		return r.code(ev.Code)
	}
	return nil
}

// step runs the clock's next event if it is due by limit.
func (r *runner) step(limit time.Duration) (bool, error) {
	when, ok := r.clk.Next()
	if !ok || when > limit {
		return false, nil
	}
	if r.steps++; r.steps > maxSteps {
		return false, failf("runaway: more than %d timer events", maxSteps)
	}
	r.clk.Step()
	return true, r.pollPending()
}

// advance runs the clock to script time t, completing blocked calls on
// the way.
func (r *runner) advance(t time.Duration) error {
	for {
		ok, err := r.step(t)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	r.clk.RunUntil(t)
	return nil
}

// FormatResult is a result's line: PASS path, FAIL path:line with the
// first difference, or SKIP path with the reason.
func FormatResult(res Result) string {
	switch res.Verdict {
	case Pass:
		return "PASS " + res.Path
	case Skip:
		return fmt.Sprintf("SKIP %s: %s", res.Path, res.Reason)
	}
	where := res.Path
	if res.Line > 0 {
		where = fmt.Sprintf("%s:%d", res.Path, res.Line)
	}
	s := fmt.Sprintf("FAIL %s: %s", where, res.Source)
	return s + "\n  " + strings.ReplaceAll(res.Reason, "\n", "\n  ")
}

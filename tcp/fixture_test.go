package tcp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// A script test drives one TCB: each step is a time, an optional inbound
// segment written in the RFC's notation, the segments expected out and the
// state expected after. CheckInvariants runs after every step.

type sent struct {
	h    wire.TCP
	data []byte
}

// scratchHdr is the header a test Sender lends the TCB (tcp.Sender.Scratch).
type scratchHdr struct{ scr wire.TCP }

func (s *scratchHdr) Scratch() *wire.TCP { return &s.scr }

type recorder struct {
	segs []sent
	scratchHdr
}

func (r *recorder) SendSegment(h *wire.TCP, p1, p2 []byte) {
	d := append(append([]byte(nil), p1...), p2...)
	r.segs = append(r.segs, sent{*h, d})
}

type transition struct {
	from, to State
	cause    Cause
}

type fixture struct {
	t     *testing.T
	c     *TCB
	out   recorder
	now   time.Duration
	trans []transition
}

func testConfig() Config {
	return Config{MSS: 1000, SendBuf: 8000, RecvBuf: 8000, MSL: 10 * time.Second, AckDelay: -1, NoDelay: true}
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t}
	f.c = New(cfg, &f.out, func(from, to State, cause Cause) {
		f.trans = append(f.trans, transition{from, to, cause})
	})
	return f
}

var fieldRE = regexp.MustCompile(`<([A-Z]+)=([^>]*)>`)

// parseSeg turns "<SEQ=100><ACK=301><CTL=SYN,ACK><DATA=abc><WND=500>" into
// a header and payload. Unset windows default to 4000.
func parseSeg(t *testing.T, s string) (wire.TCP, []byte, map[string]bool) {
	t.Helper()
	h := wire.TCP{Window: 4000}
	var data []byte
	has := map[string]bool{}
	for _, m := range fieldRE.FindAllStringSubmatch(s, -1) {
		k, v := m[1], m[2]
		has[k] = true
		num := func() uint32 {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				t.Fatalf("bad %s in %q", k, s)
			}
			return uint32(n)
		}
		switch k {
		case "SEQ":
			h.Seq = num()
		case "ACK":
			h.Ack = num()
		case "WND":
			h.Window = uint16(num())
		case "UP": // SEG.UP, the urgent pointer field
			h.Urgent = uint16(num())
		case "MSS":
			h.Options.HasMSS, h.Options.MSS = true, uint16(num())
		case "WS":
			h.Options.HasWScale, h.Options.WScale = true, uint8(num())
		case "TS": // <TS=val,ecr>
			var a, b uint32
			if _, err := fmt.Sscanf(v, "%d,%d", &a, &b); err != nil {
				t.Fatalf("bad TS in %q", s)
			}
			h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, a, b
		case "SACKOK":
			h.Options.SACKPermitted = true
		case "NOTS": // in an expectation: no timestamps option
		case "SACK": // <SACK=1000-2000,3000-4000>
			for _, blk := range strings.Split(v, ",") {
				var l, r uint32
				if _, err := fmt.Sscanf(blk, "%d-%d", &l, &r); err != nil {
					t.Fatalf("bad SACK in %q", s)
				}
				h.Options.SACK[h.Options.NumSACK] = wire.SACKBlock{Left: l, Right: r}
				h.Options.NumSACK++
			}
		case "LEN":
			data = make([]byte, num())
		case "DATA":
			data = []byte(v)
		case "CTL":
			for _, fl := range strings.Split(v, ",") {
				h.Flags |= flagByName(t, fl)
			}
		default:
			t.Fatalf("unknown field %s in %q", k, s)
		}
	}
	return h, data, has
}

func flagByName(t *testing.T, s string) wire.Flags {
	for i := 0; i < 8; i++ {
		if wire.Flags(1<<i).String() == s {
			return wire.Flags(1 << i)
		}
	}
	t.Fatalf("unknown flag %q", s)
	return 0
}

func format(s sent) string {
	f := s.h.Flags &^ wire.PSH
	b := fmt.Sprintf("<SEQ=%d>", s.h.Seq)
	if f&wire.ACK != 0 {
		b += fmt.Sprintf("<ACK=%d>", s.h.Ack)
	}
	b += fmt.Sprintf("<CTL=%v><WND=%d>", f, s.h.Window)
	if f&wire.URG != 0 {
		b += fmt.Sprintf("<UP=%d>", s.h.Urgent)
	}
	if s.h.Options.HasMSS {
		b += fmt.Sprintf("<MSS=%d>", s.h.Options.MSS)
	}
	for i := 0; i < int(s.h.Options.NumSACK); i++ {
		b += fmt.Sprintf("<SACK %d-%d>", s.h.Options.SACK[i].Left, s.h.Options.SACK[i].Right)
	}
	if len(s.data) > 0 {
		b += fmt.Sprintf("<LEN=%d>", len(s.data))
	}
	return b
}

// matches reports whether got has every field the expectation names.
func matches(t *testing.T, got sent, want string) bool {
	h, data, has := parseSeg(t, want)
	g := got.h
	ok := (!has["SEQ"] || g.Seq == h.Seq) && (!has["ACK"] || g.Ack == h.Ack) &&
		(!has["CTL"] || g.Flags&^wire.PSH == h.Flags) && (!has["WND"] || g.Window == h.Window) &&
		(!has["UP"] || g.Urgent == h.Urgent) &&
		(!has["MSS"] || g.Options.HasMSS && g.Options.MSS == h.Options.MSS) &&
		(!has["WS"] || g.Options.HasWScale && g.Options.WScale == h.Options.WScale) &&
		(!has["TS"] || g.Options.HasTimestamps && g.Options.TSVal == h.Options.TSVal && g.Options.TSEcr == h.Options.TSEcr) &&
		(!has["NOTS"] || !g.Options.HasTimestamps) &&
		(!has["SACKOK"] || g.Options.SACKPermitted) &&
		(!has["SACK"] || g.Options.NumSACK == h.Options.NumSACK && g.Options.SACK == h.Options.SACK)
	if has["DATA"] || has["LEN"] {
		ok = ok && len(got.data) == len(data)
		if has["DATA"] {
			ok = ok && string(got.data) == string(data)
		}
	} else if len(got.data) > 0 && has["CTL"] {
		ok = false // data nobody expected
	}
	return ok
}

// step advances to at (firing due timers), delivers in (if any), and
// checks the segments sent and the state reached.
// It returns the segments sent.
func (f *fixture) step(at time.Duration, in string, want State, out ...string) []sent {
	f.t.Helper()
	f.advance(at)
	if in != "" {
		h, data, _ := parseSeg(f.t, in)
		f.c.Segment(f.now, &h, data)
	}
	return f.expect(want, out...)
}

// advance moves time to at, running the TCB's timers as they fall due.
func (f *fixture) advance(at time.Duration) {
	f.t.Helper()
	for i := 0; i < 10000; i++ {
		d, ok := f.c.NextDeadline()
		if !ok || d > at {
			break
		}
		f.now = max(f.now, d)
		f.c.Tick(f.now)
		f.check()
	}
	f.now = max(f.now, at)
}

// expect checks the segments sent since the last check and the state; it
// returns the segments for closer inspection.
func (f *fixture) expect(want State, out ...string) []sent {
	f.t.Helper()
	f.check()
	segs := f.out.segs
	f.out.segs = nil
	if len(segs) != len(out) {
		f.t.Fatalf("t=%v: sent %d segments %v, want %d %v", f.now, len(segs), formatAll(segs), len(out), out)
	}
	for i := range out {
		if !matches(f.t, segs[i], out[i]) {
			f.t.Fatalf("t=%v: segment %d is %s, want %s", f.now, i, format(segs[i]), out[i])
		}
	}
	if got := f.c.State(); got != want {
		f.t.Fatalf("t=%v: state %v, want %v (transitions %v)", f.now, got, want, f.trans)
	}
	return segs
}

func (f *fixture) check() {
	f.t.Helper()
	if err := f.c.CheckInvariants(); err != nil {
		f.t.Fatalf("t=%v: invariant: %v", f.now, err)
	}
}

func formatAll(s []sent) []string {
	r := make([]string, len(s))
	for i := range s {
		r[i] = format(s[i])
	}
	return r
}

// lastCause returns the cause of the latest transition.
func (f *fixture) lastCause() Cause {
	if len(f.trans) == 0 {
		return ""
	}
	return f.trans[len(f.trans)-1].cause
}

// established returns a fixture in ESTABLISHED after an active open with
// ISS 100 against a peer with ISS 300: SND.NXT=101, RCV.NXT=301.
func established(t *testing.T, cfg Config) *fixture {
	f := newFixture(t, cfg)
	if err := f.c.OpenActive(f.now, 100); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(0, "<SEQ=300><ACK=101><CTL=SYN,ACK>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	return f
}

// passiveEstablished returns a fixture in ESTABLISHED after a passive open
// with ISS 300 against a peer with ISS 100.
func passiveEstablished(t *testing.T, cfg Config) *fixture {
	f := newFixture(t, cfg)
	if err := f.c.OpenPassive(300); err != nil {
		t.Fatal(err)
	}
	f.step(0, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
	f.step(0, "<SEQ=101><ACK=301><CTL=ACK>", Established)
	return f
}

var _ = seq.Value(0)

// Helpers for the rfc_3_10_*, figures and pair tests.

// establishedWith is established with a chosen SYN,ACK (to set the peer's
// MSS option or window): ISS 100, IRS 300.
func establishedWith(t *testing.T, cfg Config, synAck string) *fixture {
	t.Helper()
	f := newFixture(t, cfg)
	if err := f.c.OpenActive(f.now, 100); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(f.now, synAck, Established, "<SEQ=101><ACK=301><CTL=ACK>")
	return f
}

// activeSynReceived returns a fixture in SYN-RECEIVED reached from an
// active OPEN (simultaneous open, Figure 7): ISS 100, IRS 300, SND.NXT=101,
// RCV.NXT=301.
func activeSynReceived(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := newFixture(t, cfg)
	if err := f.c.OpenActive(f.now, 100); err != nil {
		t.Fatal(err)
	}
	f.expect(SynSent, "<SEQ=100><CTL=SYN>")
	f.step(f.now, "<SEQ=300><CTL=SYN>", SynReceived, "<SEQ=100><ACK=301><CTL=SYN,ACK>")
	return f
}

// inState returns a fixture in state s, reached by the shortest script:
//
//	SYN-SENT      ISS 100, SND.NXT=101
//	SYN-RECEIVED  passive: ISS 300, IRS 100, SND.NXT=301, RCV.NXT=101
//	ESTABLISHED   ISS 100, IRS 300, SND.NXT=101, RCV.NXT=301
//	FIN-WAIT-1    our FIN at 101 unacknowledged: SND.NXT=102, RCV.NXT=301
//	FIN-WAIT-2    our FIN acknowledged: SND.UNA=SND.NXT=102, RCV.NXT=301
//	CLOSING       our FIN unacknowledged, theirs taken: SND.NXT=102, RCV.NXT=302
//	TIME-WAIT     both FINs done: SND.NXT=102, RCV.NXT=302
//	CLOSE-WAIT    their FIN taken: SND.NXT=101, RCV.NXT=302
//	LAST-ACK      then ours sent: SND.NXT=102, RCV.NXT=302
func inState(t *testing.T, cfg Config, s State) *fixture {
	t.Helper()
	switch s {
	case Closed:
		return newFixture(t, cfg)
	case Listen:
		f := newFixture(t, cfg)
		if err := f.c.OpenPassive(300); err != nil {
			t.Fatal(err)
		}
		f.expect(Listen)
		return f
	case SynSent:
		f := newFixture(t, cfg)
		if err := f.c.OpenActive(f.now, 100); err != nil {
			t.Fatal(err)
		}
		f.expect(SynSent, "<SEQ=100><CTL=SYN>")
		return f
	case SynReceived:
		f := inState(t, cfg, Listen)
		f.step(f.now, "<SEQ=100><CTL=SYN>", SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>")
		return f
	}
	f := established(t, cfg)
	switch s {
	case Established:
	case FinWait1, FinWait2, Closing, TimeWait:
		f.close()
		f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
		switch s {
		case FinWait2:
			f.step(f.now, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
		case Closing:
			f.step(f.now, "<SEQ=301><ACK=101><CTL=FIN,ACK>", Closing, "<SEQ=102><ACK=302><CTL=ACK>")
		case TimeWait:
			f.step(f.now, "<SEQ=301><ACK=102><CTL=ACK>", FinWait2)
			f.step(f.now, "<SEQ=301><ACK=102><CTL=FIN,ACK>", TimeWait, "<SEQ=102><ACK=302><CTL=ACK>")
		}
	case CloseWait, LastAck:
		f.step(f.now, "<SEQ=301><ACK=101><CTL=FIN,ACK>", CloseWait, "<SEQ=101><ACK=302><CTL=ACK>")
		if s == LastAck {
			f.close()
			f.expect(LastAck, "<SEQ=101><ACK=302><CTL=FIN,ACK>")
		}
	default:
		t.Fatalf("inState: no script for %v", s)
	}
	f.trans = nil
	return f
}

// close is the CLOSE call, which must succeed.
func (f *fixture) close() {
	f.t.Helper()
	if err := f.c.Close(f.now); err != nil {
		f.t.Fatalf("t=%v: Close in %v: %v", f.now, f.c.State(), err)
	}
}

// write is the SEND call; all of p must be taken.
func (f *fixture) write(p []byte) {
	f.t.Helper()
	n, err := f.c.Send(f.now, p)
	if err != nil || n != len(p) {
		f.t.Fatalf("t=%v: Send(%d bytes) = %d, %v", f.now, len(p), n, err)
	}
}

// read is the RECEIVE call repeated until nothing more is there; it
// returns the bytes and the error that ended it (nil or ErrEOF...).
func (f *fixture) read() (string, error) {
	f.t.Helper()
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := f.c.Receive(f.now, buf)
		b = append(b, buf[:n]...)
		if n == 0 || err != nil {
			f.check()
			return string(b), err
		}
	}
}

// input is SEGMENT ARRIVES without the flush: nothing owed goes out yet.
func (f *fixture) input(in string) {
	f.t.Helper()
	h, data, _ := parseSeg(f.t, in)
	f.c.Input(f.now, &h, data)
	f.check()
}

// walk returns the states the connection went through, starting with the
// first transition's origin.
func (f *fixture) walk() []State {
	if len(f.trans) == 0 {
		return nil
	}
	w := []State{f.trans[0].from}
	for _, tr := range f.trans {
		w = append(w, tr.to)
	}
	return w
}

// deadline returns the TCB's next deadline, failing when none is armed.
func (f *fixture) deadline() time.Duration {
	f.t.Helper()
	d, ok := f.c.NextDeadline()
	if !ok {
		f.t.Fatalf("t=%v: no timer armed in %v", f.now, f.c.State())
	}
	return d
}

// noDeadline fails when a timer is armed.
func (f *fixture) noDeadline() {
	f.t.Helper()
	if d, ok := f.c.NextDeadline(); ok {
		f.t.Fatalf("t=%v: timer armed for %v in %v", f.now, d, f.c.State())
	}
}

// bytesOf returns n bytes of a repeating pattern, so misplaced bytes show.
func bytesOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// stepAny is step without a fixed expectation of what is sent: it returns
// the segments for the caller to judge.
func (f *fixture) stepAny(at time.Duration, in string, want State) []sent {
	f.t.Helper()
	f.advance(at)
	if in != "" {
		h, data, _ := parseSeg(f.t, in)
		f.c.Segment(f.now, &h, data)
	}
	f.check()
	segs := f.out.segs
	f.out.segs = nil
	if got := f.c.State(); got != want {
		f.t.Fatalf("t=%v: state %v, want %v (transitions %v)", f.now, got, want, f.trans)
	}
	return segs
}

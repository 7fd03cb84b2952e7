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

type recorder struct{ segs []sent }

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
		case "MSS":
			h.Options.HasMSS, h.Options.MSS = true, uint16(num())
		case "WS":
			h.Options.HasWScale, h.Options.WScale = true, uint8(num())
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
	b += fmt.Sprintf("<CTL=%v>", f)
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
		(!has["MSS"] || g.Options.HasMSS && g.Options.MSS == h.Options.MSS) &&
		(!has["WS"] || g.Options.HasWScale && g.Options.WScale == h.Options.WScale)
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
func (f *fixture) step(at time.Duration, in string, want State, out ...string) {
	f.t.Helper()
	f.advance(at)
	if in != "" {
		h, data, _ := parseSeg(f.t, in)
		f.c.Segment(f.now, &h, data)
	}
	f.expect(want, out...)
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

func (f *fixture) expect(want State, out ...string) {
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

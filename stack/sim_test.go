package stack

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
)

// simNet is two stacks over link/sim under one virtual clock, driven from
// the test's goroutine: deterministic, and a minute of protocol time costs
// milliseconds.
type simNet struct {
	t    *testing.T
	clk  *clock.Virtual
	a, b *Stack
}

func newSimNet(t *testing.T, seed int64, lc sim.Config, tc tcp.Config) *simNet {
	t.Helper()
	n, _ := newRouterNet(t, seed, lc, lc, tc)
	return n
}

// run steps the clock, calling poll after every event, until poll reports
// done, nothing is left to happen, or limit of virtual time has passed.
func (n *simNet) run(limit time.Duration, poll func() bool) bool {
	for i := 0; i < 20_000_000; i++ {
		if poll() {
			return true
		}
		if !n.clk.Step() || n.clk.Now() > limit {
			return poll()
		}
	}
	return false
}

// side is one application moving data: it writes out, reads into got.
type side struct {
	c        *Conn
	out, got []byte
	sent     int
	want     int // close once this much arrived (the active closer); 0: on EOF
	eof      bool
	err      error
	closed   bool
}

func (s *side) pump() {
	if s.c == nil || s.err != nil || s.closed {
		return
	}
	for s.sent < len(s.out) {
		n, err := s.c.TryWrite(s.out[s.sent:])
		s.sent += n
		if err != nil {
			s.err = err
		}
		if n == 0 || err != nil {
			break
		}
	}
	var buf [32 << 10]byte
	for !s.eof && s.err == nil {
		n, err := s.c.TryRead(buf[:])
		s.got = append(s.got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			s.eof = true
		} else if err != nil {
			s.err = err
		}
		if n == 0 {
			break
		}
	}
	if s.sent == len(s.out) && (s.eof || s.want > 0 && len(s.got) == s.want) && !s.closed && s.c.State() >= tcp.Established {
		s.closed = true
		s.c.Close()
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// transfer moves size bytes each way at once and closes; both sides must
// see every byte once, in order, then EOF, and both must reach CLOSED.
func (n *simNet) transfer(size int, seed uint64, limit time.Duration) (cli, srv *side) {
	t := n.t
	t.Helper()
	l, err := n.b.ListenTCP("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	cli = &side{c: c, out: randomBytes(seed, size), want: size}
	srv = &side{out: randomBytes(seed+1, size)}
	done := n.run(limit, func() bool {
		if srv.c == nil {
			srv.c, _ = l.TryAccept()
		}
		cli.pump()
		srv.pump()
		return cli.closed && srv.closed && cli.c.State() == tcp.Closed && srv.c.State() == tcp.Closed
	})
	if cli.err != nil || srv.err != nil {
		t.Fatalf("seed %d: errors: client %v, server %v", seed, cli.err, srv.err)
	}
	if !bytes.Equal(srv.got, cli.out) || !bytes.Equal(cli.got, srv.out) || !srv.eof {
		t.Fatalf("seed %d: bytes differ: server got %d of %d, client got %d of %d", seed, len(srv.got), size, len(cli.got), size)
	}
	if !done {
		t.Fatalf("seed %d: not both CLOSED by %v: client %v, server %v", seed, limit, cli.c.State(), srv.c.State())
	}
	return cli, srv
}

func TestSimTransferUnderLoss(t *testing.T) {
	for _, tc := range []struct {
		loss  float64
		delay time.Duration
		size  int
	}{
		{0, time.Millisecond, 1 << 20},
		{0.01, 10 * time.Millisecond, 1 << 20},
		{0.05, 25 * time.Millisecond, 256 << 10},
		{0.2, 5 * time.Millisecond, 64 << 10},
	} {
		for seed := uint64(1); seed <= 3; seed++ {
			n := newSimNet(t, int64(seed), sim.Config{Loss: tc.loss, Delay: tc.delay, MTU: 1500}, tcp.Config{MSL: time.Second})
			cli, srv := n.transfer(tc.size, seed, 30*time.Minute)
			if tc.loss > 0 && cli.c.Status().Stats.Retransmits+srv.c.Status().Stats.Retransmits == 0 {
				t.Errorf("loss %v seed %d: no retransmissions at all", tc.loss, seed)
			}
		}
	}
}

// Data crosses the 2^32 sequence wrap in both directions (RFC 9293 3.4).
func TestSimTransferAcrossSequenceWrap(t *testing.T) {
	n := newSimNet(t, 9, sim.Config{Loss: 0.02, Delay: 2 * time.Millisecond, MTU: 1500}, tcp.Config{MSL: time.Second})
	iss := func(tuple) seq.Value { return 0xffffffff - 50000 }
	n.a.isnHook, n.b.isnHook = iss, iss
	cli, _ := n.transfer(300<<10, 9, time.Hour)
	st := cli.c.Status()
	if st.SndUna > 0x80000000 {
		t.Fatalf("SND.UNA %#x: the transfer did not cross the wrap", st.SndUna)
	}
}

// A connection to a closed port is refused: the RST,ACK of 3.10.7.1 turns
// SYN-SENT into CLOSED and the application sees ECONNREFUSED.
func TestSimRefused(t *testing.T) {
	n := newSimNet(t, 1, sim.Config{Delay: time.Millisecond}, tcp.Config{})
	c, err := n.a.Open(netip.MustParseAddrPort("10.0.0.2:81"))
	if err != nil {
		t.Fatal(err)
	}
	n.run(time.Minute, func() bool { return c.State() == tcp.Closed })
	_, err = c.TryRead(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("read on refused connection: %v", err)
	}
	if n.clk.Now() != 2*time.Millisecond {
		t.Fatalf("refused after %v, want one round trip (2ms)", n.clk.Now())
	}
	if n.b.Stats().ResetsSent.Load() != 1 {
		t.Fatal("the server stack sent no reset")
	}
}

// An unanswered SYN gives up after R2 for SYNs (MUST-23: at least 3
// minutes), with exponential backoff, and reports ETIMEDOUT.
func TestSimConnectTimeout(t *testing.T) {
	n := newSimNet(t, 1, sim.Config{Loss: 0.999999, Delay: time.Millisecond}, tcp.Config{})
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	n.run(time.Hour, func() bool { return c.State() == tcp.Closed })
	if _, err := c.TryRead(make([]byte, 1)); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("err %v, want ETIMEDOUT", err)
	}
	if now := n.clk.Now(); now < 3*time.Minute || now > 6*time.Minute {
		t.Fatalf("gave up at %v, want between 3 and 6 minutes", now)
	}
	if r := c.Status().Stats.Retransmits; r < 5 || r > 10 {
		t.Fatalf("%d SYN retransmissions, want exponential backoff (5..10 in 3 minutes)", r)
	}
}

// TIME-WAIT lasts exactly 2*MSL of virtual time (MUST-13), then the
// connection leaves the demux.
func TestSimTimeWaitExactly2MSL(t *testing.T) {
	var entered, left time.Duration
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
	msl := 30 * time.Second
	ev := func(e Event) {
		if e.To == tcp.TimeWait {
			entered = e.Time
		}
		if e.From == tcp.TimeWait {
			left = e.Time
		}
	}
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tcp.Config{MSL: msl}, OnEvent: ev})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tcp.Config{MSL: msl}})
	n := &simNet{t: t, clk: clk, a: a, b: b}
	n.transfer(1000, 1, time.Hour)
	if left-entered != 2*msl {
		t.Fatalf("TIME-WAIT from %v to %v: %v, want %v", entered, left, left-entered, 2*msl)
	}
	if a.NumConns() != 0 || b.NumConns() != 0 {
		t.Fatalf("connections left: %d, %d", a.NumConns(), b.NumConns())
	}
}

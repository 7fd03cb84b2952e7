package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

func newBudgetNet(t *testing.T, seed int64, lc sim.Config, tc tcp.Config, budgetA, budgetB int64) *simNet {
	t.Helper()
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, seed, lc, lc)
	secret := []byte(fmt.Sprint(seed))
	a, err := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tc, Secret: secret, MemBudget: budgetA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tc, Secret: secret, MemBudget: budgetB})
	if err != nil {
		t.Fatal(err)
	}
	return &simNet{t: t, clk: clk, a: a, b: b}
}

// Memory comes back: a thousand connections open at once, move data both
// ways and close; then the pools hold exactly what they held before
// (nothing), having held megabytes on the way.
func TestMemComesBackAfterThousandConns(t *testing.T) {
	n := newSimNet(t, 3, sim.Config{Delay: 5 * time.Millisecond, MTU: 1500, Loss: 0.01}, tcp.Config{MSL: time.Second})
	start := n.a.Stats().Mem.InUse.Load() + n.b.Stats().Mem.InUse.Load()
	l, err := n.b.ListenTCP("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	const conns, size = 1000, 3000
	var clis, srvs []*side
	for i := 0; i < conns; i++ {
		c, err := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
		if err != nil {
			t.Fatal(err)
		}
		clis = append(clis, &side{c: c, out: randomBytes(uint64(i), size), want: size})
	}
	var peak int64
	done := n.run(time.Hour, func() bool {
		for {
			c, _ := l.TryAccept()
			if c == nil {
				break
			}
			srvs = append(srvs, &side{c: c, out: randomBytes(uint64(1e6+len(srvs)), size)})
		}
		closed := len(srvs) == conns
		for _, s := range append(clis, srvs...) {
			s.pump()
			closed = closed && s.closed && s.c.State() == tcp.Closed
		}
		peak = max(peak, n.a.Stats().Mem.InUse.Load()+n.b.Stats().Mem.InUse.Load())
		return closed
	})
	if !done {
		t.Fatalf("not all closed: %d accepted", len(srvs))
	}
	for i, s := range append(clis, srvs...) {
		if s.err != nil || len(s.got) != size {
			t.Fatalf("side %d: %d bytes, err %v", i, len(s.got), s.err)
		}
	}
	end := n.a.Stats().Mem.InUse.Load() + n.b.Stats().Mem.InUse.Load()
	if end != start || peak < 1<<20 {
		t.Fatalf("buffer memory %d at the start, peak %d, %d at the end", start, peak, end)
	}
}

// A tight budget slows the transfer but loses nothing: every byte arrives
// once, in order, over a lossy link, and the figures show the budget at
// work.
func TestMemTightBudgetByteExact(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		n := newBudgetNet(t, int64(seed), sim.Config{Delay: 10 * time.Millisecond, MTU: 1500, Loss: 0.03, Reorder: 0.05, ReorderDelay: 5 * time.Millisecond},
			tcp.Config{MSL: time.Second}, 48<<10, 48<<10)
		n.transfer(1<<20, seed, 6*time.Hour)
		for _, s := range []*Stack{n.a, n.b} {
			m := &s.Stats().Mem
			if m.LimitEvents.Load() == 0 || m.AutotuneHeld.Load()+m.DroppedSegs.Load()+m.PrunedBytes.Load() == 0 {
				t.Errorf("seed %d: limit reached %d times, nothing held back", seed, m.LimitEvents.Load())
			}
			if m.InUse.Load() != 0 {
				t.Errorf("seed %d: %d bytes in use after the close", seed, m.InUse.Load())
			}
		}
	}
}

// Over the limit a listener refuses a new connection with a reset (the
// client sees ECONNREFUSED) and Dial fails with ENOBUFS.
func TestMemOverLimitRefusesConnections(t *testing.T) {
	n := newBudgetNet(t, 1, sim.Config{Delay: time.Millisecond, MTU: 1500}, tcp.Config{MSL: time.Second}, 64<<10, 16<<10)
	l, _ := n.b.ListenTCP("tcp", "10.0.0.2:80")
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	var srv *Conn
	payload := make([]byte, 40<<10)
	sent := 0
	n.run(time.Minute, func() bool { // the server never reads: its buffer fills the budget
		if srv == nil {
			srv, _ = l.TryAccept()
		}
		w, _ := c.TryWrite(payload[sent:])
		sent += w
		return n.b.pool.OverLimit() && srv != nil && srv.Status().SndWnd > 0 && c.Status().SndWnd == 0
	})
	if !n.b.pool.OverLimit() {
		t.Fatalf("server holds %d of its 16 KiB budget", n.b.Stats().Mem.InUse.Load())
	}
	c2, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	n.run(n.clk.Now()+time.Second, func() bool { return c2.State() == tcp.Closed })
	if _, err := c2.TryRead(make([]byte, 1)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("second connection: %v, want ECONNREFUSED", err)
	}
	if _, err := n.b.Open(netip.MustParseAddrPort("10.0.0.1:99")); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("dial over the limit: %v, want ENOBUFS", err)
	}
	if got := n.b.Stats().Mem.Refused.Load(); got != 2 {
		t.Fatalf("%d refused, want 2", got)
	}
	// Reading gives the memory back and the first connection goes on.
	buf := make([]byte, 64<<10)
	got := 0
	n.run(n.clk.Now()+time.Minute, func() bool {
		r, _ := srv.TryRead(buf)
		got += r
		w, _ := c.TryWrite(payload[sent:])
		sent += w
		return got == len(payload)
	})
	if got != len(payload) {
		t.Fatalf("read %d of %d after the budget freed", got, len(payload))
	}
}

// SetReadBuffer caps what the window offers and what the receiver holds;
// SetWriteBuffer what the sender queues. Autotuning no longer grows them.
func TestSetReadWriteBuffer(t *testing.T) {
	n := newSimNet(t, 1, sim.Config{Delay: 20 * time.Millisecond, MTU: 1500}, tcp.Config{MSL: time.Second})
	l, _ := n.b.ListenTCP("tcp", "10.0.0.2:80")
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	var srv *Conn
	n.run(time.Minute, func() bool {
		if srv == nil {
			srv, _ = l.TryAccept()
		}
		return srv != nil && c.State() == tcp.Established
	})
	if err := srv.SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteBuffer(-1); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("negative size: %v", err)
	}
	payload := make([]byte, 1<<20)
	buf := make([]byte, 1<<20)
	sent, got, maxWnd, maxQueued := 0, 0, 0, 0
	n.run(n.clk.Now()+time.Minute, func() bool {
		w, _ := c.TryWrite(payload[sent:])
		sent += w
		if got > 128<<10 { // past the window the handshake promised
			maxWnd = max(maxWnd, int(srv.Status().RcvWnd))
		}
		r, _ := srv.TryRead(buf)
		got += r
		maxQueued = max(maxQueued, c.Status().SendQueued)
		return got == len(payload)
	})
	st := srv.Status()
	if got != len(payload) || st.RecvBuf != 16<<10 || maxWnd > 16<<10 || maxWnd < 8<<10 {
		t.Fatalf("read %d; receive buffer %d, window at most %d, want 16 KiB", got, st.RecvBuf, maxWnd)
	}
	if cs := c.Status(); cs.SendBuf != 8<<10 || maxQueued > 8<<10 {
		t.Fatalf("send buffer %d, queued at most %d, want 8 KiB", cs.SendBuf, maxQueued)
	}
}

// heapPerPairAfterExchange opens n pairs over link/sim, moves 100 bytes
// each way on each (read at both ends), and returns the growth of the
// heap per pair, with every pair still open.
func heapPerPairAfterExchange(t testing.TB, n int) float64 {
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond, MTU: 1500}, sim.Config{Delay: time.Millisecond, MTU: 1500})
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, Secret: []byte("x")})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, Secret: []byte("x")})
	l, err := b.ListenTCP("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*Conn, 0, 2*n)
	msg := make([]byte, 100)
	buf := make([]byte, 200)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		c, err := a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
		if err != nil {
			t.Fatal(err)
		}
		var s *Conn
		got, back := 0, 0
		for step := 0; back < 100; step++ {
			if step > 10000 {
				t.Fatalf("pair %d: exchange stuck", i)
			}
			if s == nil {
				if s, _ = l.TryAccept(); s != nil {
					c.TryWrite(msg)
				}
			}
			if s != nil && got < 100 {
				r, _ := s.TryRead(buf)
				if got += r; got == 100 {
					s.TryWrite(msg)
				}
			}
			r, _ := c.TryRead(buf)
			back += r
			clk.Step()
		}
		conns = append(conns, c, s)
	}
	for clk.Step() && clk.Now() < time.Minute { // delayed ACKs and the like
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	if m := a.Stats().Mem.InUse.Load() + b.Stats().Mem.InUse.Load(); m != 0 {
		t.Fatalf("%d bytes of buffers held after every byte was read", m)
	}
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
}

// Issue 10: a pair after a 100-byte request and a 100-byte reply holds at
// most 32 KiB (it held 2 MiB when each buffer was allocated whole on the
// first byte); the buffers hold nothing once the bytes are read.
func TestHeapPerPairAfterExchange(t *testing.T) {
	per := heapPerPairAfterExchange(t, 300)
	t.Logf("heap per pair after 100 B each way: %.0f bytes", per)
	if per > 32<<10 {
		t.Fatalf("heap per pair %.0f bytes, want <= 32 KiB", per)
	}
}

func BenchmarkHeapPerPairAfterExchange(b *testing.B) {
	var per float64
	for i := 0; i < b.N; i++ {
		per = heapPerPairAfterExchange(b, 1000)
	}
	b.ReportMetric(per, "heap-B/pair")
}

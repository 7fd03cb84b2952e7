package stack

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

// The OnEvent contract (Config.OnEvent, docs/DESIGN.md): an event runs
// with the lock of the connection or listener whose state changed held,
// and no other lock of the stack's (Stack.mu, the timer heap's).
func TestOnEventLocks(t *testing.T) {
	var (
		mu       sync.Mutex
		problems []string
		events   int
		srv      *Stack
		ln       *Listener
	)
	check := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events++
		s := srv
		if !s.mu.TryLock() {
			problems = append(problems, "Stack.mu held for "+e.From.String()+" -> "+e.To.String())
			return
		}
		defer s.mu.Unlock()
		if !s.timers.mu.TryLock() {
			problems = append(problems, "timer heap lock held for "+e.From.String()+" -> "+e.To.String())
		} else {
			s.timers.mu.Unlock()
		}
		if !e.Remote.IsValid() { // the listener's own event
			l := s.listeners[e.Local]
			if l == nil {
				l = ln
			}
			if l.mu.TryLock() {
				l.mu.Unlock()
				problems = append(problems, "listener lock not held for "+e.From.String()+" -> "+e.To.String())
			}
			return
		}
		c := s.conns[tuple{e.Local, e.Remote}]
		if c == nil {
			return // already left the demux (-> CLOSED): checked by the race detector instead
		}
		if c.mu.TryLock() {
			c.mu.Unlock()
			problems = append(problems, "connection lock not held for "+e.From.String()+" -> "+e.To.String())
		}
	}
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond, MTU: 1500}, sim.Config{Delay: time.Millisecond, MTU: 1500})
	var err error
	srv, err = New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tcp.Config{MSL: 10 * time.Millisecond}, OnEvent: check})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tcp.Config{MSL: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err = srv.ListenTCP("tcp", netip.AddrPortFrom(addrB, 80).String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cli.Open(netip.AddrPortFrom(addrB, 80))
	if err != nil {
		t.Fatal(err)
	}
	var sc *Conn
	for sc == nil && clk.Step() {
		sc, _ = ln.TryAccept()
	}
	if sc == nil {
		t.Fatal("no connection accepted")
	}
	ln.Close()
	c.Close()
	for clk.Step() && sc.State() != tcp.CloseWait {
	}
	sc.Close()
	for clk.Step() && (srv.NumConns() > 0 || cli.NumConns() > 0) {
	}
	mu.Lock()
	defer mu.Unlock()
	if events != 7 {
		t.Errorf("%d events, want the listener's two and the connection's five", events)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

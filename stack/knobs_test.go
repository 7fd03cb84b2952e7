package stack

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

// The package-net knobs reach the TCB: keep-alive probes a silent peer and
// drops the connection when the peer is gone (MUST-24..29), and Nagle is
// off by default as in package net.
func TestKeepAliveKnobs(t *testing.T) {
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk})
	n := &simNet{t: t, clk: clk, a: a, b: b}
	l, _ := b.ListenTCP("tcp", ":80")
	c, _ := a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	var srv *Conn
	n.run(time.Second, func() bool { srv, _ = l.TryAccept(); return srv != nil })
	if srv == nil {
		t.Fatal("no connection")
	}
	if err := c.SetKeepAlive(true); err != nil {
		t.Fatal(err)
	}
	c.SetKeepAlivePeriod(10 * time.Second)
	// An idle hour: the probes are answered and the connection stays.
	clk.Advance(time.Hour)
	if c.State() != tcp.Established || c.Status().Stats.KeepAliveProbes == 0 {
		t.Fatalf("after an idle hour: %v, %d probes", c.State(), c.Status().Stats.KeepAliveProbes)
	}
	// The peer vanishes: 9 unanswered probes, 10 s apart, end it.
	eb.SetDown(true)
	clk.Advance(2 * time.Minute)
	if c.State() != tcp.Closed {
		t.Fatalf("peer gone for 2 minutes: %v", c.State())
	}
	if _, err := c.TryRead(make([]byte, 1)); err == nil || err == io.EOF {
		t.Fatalf("read after keep-alive timeout: %v", err)
	}
}

func TestNoDelayByDefault(t *testing.T) {
	a, b := pair(t, 1500, nil)
	_ = b
	if !a.tcpConfig(false).NoDelay {
		t.Fatal("Nagle on by default; package net has TCP_NODELAY")
	}
	s, _ := New(&recLink{}, Config{Addrs: []netip.Addr{addrA}, Nagle: true})
	if s.tcpConfig(false).NoDelay {
		t.Fatal("Config.Nagle did not turn Nagle on")
	}
}

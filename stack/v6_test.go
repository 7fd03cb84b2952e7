package stack

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

func TestIPv6EndToEnd(t *testing.T) {
	ea, eb := pipe.New(1500)
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA, a6}})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB, b6}})
	defer a.Close()
	defer b.Close()
	l, err := b.Listen("tcp6", "[fd00::2]:443")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", "[fd00::2]:443")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LocalAddr().String()[:9] != "[fd00::1]" {
		t.Fatalf("local address %v", c.LocalAddr())
	}
	msg := make([]byte, 100_000)
	go c.Write(msg)
	if _, err := io.ReadFull(c, msg); err != nil {
		t.Fatal(err)
	}
	// MUST-16: the send MSS fits the IPv6 header and the timestamps
	// option: 1500 - 40 - 20 - 12.
	if mss := c.(*Conn).Status().SendMSS; mss != 1428 {
		t.Fatalf("IPv6 send MSS %d, want 1428", mss)
	}
	if _, err := a.Dial("tcp4", "[fd00::2]:443"); err == nil {
		t.Fatal("tcp4 dial to an IPv6 address succeeded")
	}
}

// The listen backlog bounds handshaking connections; without SYN cookies,
// SYNs beyond it are dropped (the client retransmits its SYN).
func TestBacklog(t *testing.T) {
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, Backlog: 3})
	l, _ := b.ListenWith(ListenConfig{NoSynCookies: true}, "tcp", ":80")
	var cs []*Conn
	for i := 0; i < 5; i++ {
		c, err := a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	clk.Advance(100 * time.Millisecond)
	est := 0
	for _, c := range cs {
		if c.State() == tcp.Established {
			est++
		}
	}
	if est != 3 || b.Stats().ListenOverflow.Load() != 2 {
		t.Fatalf("%d established, %d overflowed; want 3 and 2", est, b.Stats().ListenOverflow.Load())
	}
	// Accepting makes room: the retransmitted SYNs (after 1 s) get in.
	for i := 0; i < 3; i++ {
		if c, _ := l.TryAccept(); c == nil {
			t.Fatal("nothing to accept")
		}
	}
	clk.Advance(2 * time.Second)
	for i, c := range cs {
		if c.State() != tcp.Established {
			t.Fatalf("connection %d in %v after its SYN was retransmitted", i, c.State())
		}
	}
}

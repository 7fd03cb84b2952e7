package stack

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

var (
	peer6  = netip.MustParseAddr("fd00::9")
	local6 = netip.MustParseAddr("fd00::2")
)

// icmpPacket builds an ICMP or ICMPv6 packet from src to dst.
func icmpPacket(src, dst netip.Addr, m *wire.ICMP) []byte {
	var body []byte
	if src.Is4() {
		body = wire.AppendICMPv4(nil, m)
		return append(wire.AppendIPHeader(nil, src, dst, wire.ProtoICMP, 0, len(body)), body...)
	}
	body = wire.AppendICMPv6(nil, src, dst, m)
	return append(wire.AppendIPHeader(nil, src, dst, wire.ProtoICMPv6, 0, len(body)), body...)
}

// RFC 1122 3.2.2.6 (every host MUST answer an echo request) and RFC 4443
// 4.2: the reply carries the request's identifier, sequence number and
// data, from the address the request was sent to; ICMPv6's checksum covers
// the pseudo-header (RFC 4443 2.3).
func TestEchoReplies(t *testing.T) {
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB, local6}, Clock: clock.NewVirtual()})
	if err != nil {
		t.Fatal(err)
	}
	req := wire.ICMP{Type: wire.ICMPv4Echo, ID: 0x4242, Seq: 7, Body: []byte("0123456789abcdef")}
	req6 := wire.ICMP{Type: wire.ICMPv6EchoRequest, ID: 9, Seq: 1, Body: []byte("ping6")}
	s.DeliverPackets([][]byte{icmpPacket(peer, addrB, &req), icmpPacket(peer6, local6, &req6)}, nil)
	if len(r.out) != 2 {
		t.Fatalf("%d replies, want 2", len(r.out))
	}
	for i, want := range []struct {
		src, dst netip.Addr
		typ      uint8
		req      *wire.ICMP
	}{{addrB, peer, wire.ICMPv4EchoReply, &req}, {local6, peer6, wire.ICMPv6EchoReply, &req6}} {
		ip, body, err := wire.ParseIP(r.out[i])
		if err != nil || ip.Src != want.src || ip.Dst != want.dst {
			t.Fatalf("reply %d: %+v, %v", i, ip, err)
		}
		var m wire.ICMP
		if ip.V6 {
			m, err = wire.ParseICMPv6(ip.Src, ip.Dst, body)
		} else {
			m, err = wire.ParseICMPv4(body)
		}
		if err != nil || m.Type != want.typ || m.ID != want.req.ID || m.Seq != want.req.Seq || !bytes.Equal(m.Body, want.req.Body) {
			t.Fatalf("reply %d: %+v, %v", i, m, err)
		}
	}
	// Not to an address of ours, a broadcast source, or an echo reply: no answer.
	other := netip.MustParseAddr("10.0.0.3")
	s.DeliverPackets([][]byte{
		icmpPacket(peer, other, &req),
		icmpPacket(netip.MustParseAddr("255.255.255.255"), addrB, &req),
		icmpPacket(peer, addrB, &wire.ICMP{Type: wire.ICMPv4EchoReply}),
	}, nil)
	if len(r.out) != 2 || s.Stats().ICMP.OtherType.Load() != 1 {
		t.Fatalf("%d packets out, %d other", len(r.out), s.Stats().ICMP.OtherType.Load())
	}
	bad := icmpPacket(peer, addrB, &req)
	bad[len(bad)-1] ^= 1
	s.DeliverPackets([][]byte{bad}, nil)
	if len(r.out) != 2 || s.Stats().ICMP.Malformed.Load() != 1 {
		t.Fatal("answered an echo request with a bad checksum")
	}
}

// Echo replies are rate-limited stack-wide (50 at once, 1000 a second), so
// a flood of requests draws a bounded answer; the rest is counted.
func TestEchoFloodRateLimited(t *testing.T) {
	r := &recLink{}
	clk := clock.NewVirtual()
	s, _ := New(r, Config{Addrs: []netip.Addr{addrB}, Clock: clk})
	flood := make([][]byte, 1000)
	for i := range flood {
		flood[i] = icmpPacket(peer, addrB, &wire.ICMP{Type: wire.ICMPv4Echo, Seq: uint16(i)})
	}
	s.DeliverPackets(flood, nil)
	st := &s.Stats().ICMP
	if len(r.out) != echoBurst || st.EchoLimited.Load() != 1000-echoBurst {
		t.Fatalf("%d replies to a flood of 1000, %d limited", len(r.out), st.EchoLimited.Load())
	}
	clk.Advance(10 * time.Millisecond) // 10 more tokens
	s.DeliverPackets(flood, nil)
	if len(r.out) != echoBurst+10 {
		t.Fatalf("%d replies after 10 ms, want %d", len(r.out), echoBurst+10)
	}
}

// newRouterNet is a simNet whose two directions have their own configs.
func newRouterNet(t *testing.T, seed int64, ab, ba sim.Config, tc tcp.Config) (*simNet, *sim.Endpoint) {
	t.Helper()
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, seed, ab, ba)
	secret := []byte(fmt.Sprint(seed))
	a, err := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk, TCP: tc, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk, TCP: tc, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return &simNet{t: t, clk: clk, a: a, b: b}, ea
}

// RFC 1191 and RFC 9293 3.7.3 (MUST-47 is the MSS; path MTU discovery
// finds what the path carries): over a 1500-byte link with a 1280-byte
// router hop that answers with fragmentation needed, both directions'
// bytes arrive intact, the connection's segments shrink to fit the hop,
// and the path MTU cache makes the next connection start right, without
// losing a packet at the hop.
func TestSimPathMTUDiscovery(t *testing.T) {
	lc := sim.Config{Delay: 5 * time.Millisecond, MTU: 1500, Router: sim.Router{MTU: 1280}}
	n, ea := newRouterNet(t, 1, lc, lc, tcp.Config{MSL: time.Second})
	cli, _ := n.transfer(1<<20, 1, time.Hour)
	st := ea.Stats()
	if st.LostHop == 0 || st.ICMPSent != st.LostHop {
		t.Fatalf("hop: %d lost, %d ICMP", st.LostHop, st.ICMPSent)
	}
	if got := n.a.PathMTU(addrB); got != 1280 {
		t.Fatalf("cached path MTU to B %d, want 1280", got)
	}
	if m := n.a.Stats().ICMP.MTULowered.Load(); m != 1 {
		t.Fatalf("%d MSS reductions, want 1", m)
	}
	if s := cli.c.Status(); s.SendMSS != 1280-40-12 {
		t.Fatalf("send MSS %d, want %d", s.SendMSS, 1280-40-12)
	}
	lost := st.LostHop
	for _, l := range n.b.listeners {
		l.Close()
	}
	n.transfer(256<<10, 2, 2*time.Hour)
	if got := ea.Stats().LostHop; got != lost {
		t.Fatalf("the second connection lost %d packets at the hop: the cache did not apply", got-lost)
	}
}

// RFC 1122 4.2.3.9: a connection attempt that draws host unreachable in
// SYN-SENT fails at once with EHOSTUNREACH, the error naming the message.
func TestSimUnreachableAbortsConnect(t *testing.T) {
	lc := sim.Config{Delay: time.Millisecond, Router: sim.Router{Unreachable: []sim.Window{{Start: 0, End: time.Hour}}}}
	n, _ := newRouterNet(t, 1, lc, sim.Config{Delay: time.Millisecond}, tcp.Config{})
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	n.run(time.Minute, func() bool { return c.State() == tcp.Closed })
	_, err := c.TryRead(make([]byte, 1))
	if !errors.Is(err, syscall.EHOSTUNREACH) || n.clk.Now() > 2*time.Millisecond {
		t.Fatalf("at %v: %v, want EHOSTUNREACH after one round trip", n.clk.Now(), err)
	}
	if n.a.Stats().ICMP.Kind(tcp.ICMPHostUnreachable) != 1 {
		t.Fatal("host unreachable not counted")
	}
}

// A soft error on an established connection does not abort it (RFC 5461
// 4); when the route stays gone and the connection gives up at R2, the
// application is told "no route to host" rather than a bare timeout.
func TestSimUnreachableSoftThenTimeout(t *testing.T) {
	lc := sim.Config{Delay: time.Millisecond, Router: sim.Router{Unreachable: []sim.Window{{Start: time.Second, End: time.Hour}}}}
	n, _ := newRouterNet(t, 1, lc, sim.Config{Delay: time.Millisecond}, tcp.Config{R2: 20 * time.Second})
	l, _ := n.b.ListenTCP("tcp", "10.0.0.2:80")
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	n.run(500*time.Millisecond, func() bool { return c.State() == tcp.Established })
	if _, err := l.TryAccept(); err != nil {
		t.Fatal(err)
	}
	n.clk.Advance(time.Second)
	c.TryWrite([]byte("into the void"))
	n.run(5*time.Second, func() bool { return false })
	if c.State() != tcp.Established || n.a.Stats().ICMP.Soft.Load() == 0 {
		t.Fatalf("%v after a soft error, %d soft", c.State(), n.a.Stats().ICMP.Soft.Load())
	}
	n.run(time.Hour, func() bool { return c.State() == tcp.Closed })
	_, err := c.TryRead(make([]byte, 1))
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("err %v, want EHOSTUNREACH", err)
	}
}

// RFC 5927 4.1 at the stack: forged errors for an established connection
// quoting sequence numbers not in flight (a blind attacker's guesses), in
// a flood, abort nothing, shrink nothing and make the stack send nothing.
func TestForgedICMPFloodIgnored(t *testing.T) {
	r := &recLink{}
	s, _ := New(r, Config{Addrs: []netip.Addr{addrB}, Clock: clock.NewVirtual()})
	l, _ := s.ListenTCP("tcp", "10.0.0.2:80")
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN}, 80, nil)}, nil)
	synack, _ := parseOut(t, r.out[0])
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1001, Ack: synack.Seq + 1, Flags: wire.ACK}, 80, nil)}, nil)
	c, err := l.TryAccept()
	if err != nil {
		t.Fatal(err)
	}
	c.TryWrite(bytes.Repeat([]byte("x"), 1400))
	sent, mss := len(r.out), c.Status().SendMSS
	var flood [][]byte
	for i := uint32(0); i < 5000; i++ {
		for _, m := range []wire.ICMP{
			{Type: wire.ICMPv4DestUnreach, Code: wire.ICMPv4PortUnreach},
			{Type: wire.ICMPv4DestUnreach, Code: wire.ICMPv4FragNeeded, MTU: 68},
		} {
			quoted := segment(wire.TCP{Seq: synack.Seq + 1 + 2000 + i*858993, Flags: wire.ACK}, 80, nil)
			// The quote is of a packet we sent: from 10.0.0.2:80 to peer:40000.
			q := make([]byte, 28)
			copy(q, wire.AppendIPHeader(nil, addrB, peer, wire.ProtoTCP, 0, 1400+20))
			q[20], q[21], q[22], q[23] = 0, 80, 0x9c, 0x40
			copy(q[24:28], quoted[24:28])
			m.Body = q
			flood = append(flood, icmpPacket(netip.MustParseAddr("192.0.2.1"), addrB, &m))
		}
	}
	s.DeliverPackets(flood, nil)
	st := &s.Stats().ICMP
	if c.State() != tcp.Established || c.Status().SendMSS != mss || len(r.out) != sent {
		t.Fatalf("after the flood: %v, MSS %d, %d packets sent", c.State(), c.Status().SendMSS, len(r.out)-sent)
	}
	if st.OutOfWindow.Load() != 10000 {
		t.Fatalf("%d counted out of window, want 10000", st.OutOfWindow.Load())
	}
}

// RFC 4821 and RFC 8899 (on by default): through a 1280-byte hop that
// drops the ICMP too (a black hole), both directions' bytes still arrive:
// the second timeout of a full-size segment takes the MSS down to the
// base PLPMTU, within seconds.
func TestSimPathMTUBlackHole(t *testing.T) {
	lc := sim.Config{Delay: 5 * time.Millisecond, MTU: 1500, Router: sim.Router{MTU: 1280, BlackHole: true}}
	n, ea := newRouterNet(t, 1, lc, lc, tcp.Config{MSL: time.Second})
	cli, _ := n.transfer(1<<20, 1, time.Hour)
	st := ea.Stats()
	if st.LostHop == 0 || st.ICMPSent != 0 {
		t.Fatalf("hop: %d lost, %d ICMP", st.LostHop, st.ICMPSent)
	}
	if mtu := cli.c.tcb.PathMTU(); mtu == 0 || mtu > 1280 {
		t.Fatalf("path MTU %d after the black hole", mtu)
	}
	t.Logf("1 MiB each way through a black hole in %v of virtual time, %d packets lost at the hop", n.clk.Now(), st.LostHop)
}

// FuzzICMPInput feeds a stack with an established connection arbitrary
// ICMP messages, raw and wrapped in a valid IPv4 header with a valid ICMP
// checksum (so the fuzzer reaches the quote and the connection): nothing
// may panic or break the connection's invariants.
func FuzzICMPInput(f *testing.F) {
	q := make([]byte, 28)
	copy(q, wire.AppendIPHeader(nil, addrB, peer, wire.ProtoTCP, 0, 1420))
	q[20], q[21], q[22], q[23] = 0, 80, 0x9c, 0x40
	for _, m := range []wire.ICMP{
		{Type: wire.ICMPv4Echo, Body: []byte("x")},
		{Type: wire.ICMPv4DestUnreach, Code: wire.ICMPv4FragNeeded, MTU: 576, Body: q},
		{Type: wire.ICMPv4DestUnreach, Code: wire.ICMPv4PortUnreach, Body: q},
		{Type: wire.ICMPv4TimeExceeded, Body: q[:20]},
	} {
		f.Add(wire.AppendICMPv4(nil, &m), true)
	}
	f.Add(icmpPacket(peer6, local6, &wire.ICMP{Type: wire.ICMPv6PacketTooBig, MTU: 1280, Body: q}), false)
	f.Fuzz(func(t *testing.T, b []byte, wrap bool) {
		r := &recLink{}
		s, _ := New(r, Config{Addrs: []netip.Addr{addrB, local6}, Clock: clock.NewVirtual(), Secret: []byte("fuzz")})
		l, _ := s.ListenTCP("tcp", "10.0.0.2:80")
		s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN}, 80, nil)}, nil)
		synack, _ := parseOut(t, r.out[0])
		s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1001, Ack: synack.Seq + 1, Flags: wire.ACK}, 80, nil)}, nil)
		c, err := l.TryAccept()
		if err != nil {
			t.Fatal(err)
		}
		c.TryWrite(make([]byte, 3000))
		pkt := b
		if wrap && len(b) >= 8 {
			b[2], b[3] = 0, 0 // whatever it says, with the checksum made right
			sum := wire.Fold(wire.Checksum(b, 0))
			b[2], b[3] = byte(sum>>8), byte(sum)
			pkt = append(wire.AppendIPHeader(nil, netip.MustParseAddr("192.0.2.1"), addrB, wire.ProtoICMP, 0, len(b)), b...)
		}
		s.DeliverPackets([][]byte{pkt}, nil)
		if err := c.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}

// MUST-55 (RFC 9293 3.9.2.2): source quench is discarded silently, even
// one quoting a segment in flight; an ICMPv6 parameter problem, any code,
// is a soft error (MUST-56: it never aborts).
func TestSourceQuenchAndParamProblem(t *testing.T) {
	r := &recLink{}
	s, _ := New(r, Config{Addrs: []netip.Addr{addrB}, Clock: clock.NewVirtual()})
	l, _ := s.ListenTCP("tcp", "10.0.0.2:80")
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN}, 80, nil)}, nil)
	synack, _ := parseOut(t, r.out[0])
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1001, Ack: synack.Seq + 1, Flags: wire.ACK}, 80, nil)}, nil)
	c, _ := l.TryAccept()
	c.TryWrite([]byte("in flight"))
	q := make([]byte, 28)
	copy(q, wire.AppendIPHeader(nil, addrB, peer, wire.ProtoTCP, 0, 29))
	q[20], q[21], q[22], q[23] = 0, 80, 0x9c, 0x40
	seq := synack.Seq + 1
	q[24], q[25], q[26], q[27] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	sent := len(r.out)
	s.DeliverPackets([][]byte{icmpPacket(peer, addrB, &wire.ICMP{Type: 4, Body: q})}, nil)
	st := &s.Stats().ICMP
	if st.OtherType.Load() != 1 || c.State() != tcp.Established || c.SoftError() != nil || len(r.out) != sent {
		t.Fatalf("source quench: other %d, %v, soft %v", st.OtherType.Load(), c.State(), c.SoftError())
	}
	s.DeliverPackets([][]byte{icmpPacket(peer, addrB, &wire.ICMP{Type: wire.ICMPv4ParamProblem, Pointer: 9, Body: q})}, nil)
	if st.Soft.Load() != 1 || c.State() != tcp.Established || !errors.Is(c.SoftError(), syscall.EPROTO) {
		t.Fatalf("parameter problem: soft %d, %v, %v", st.Soft.Load(), c.State(), c.SoftError())
	}
}

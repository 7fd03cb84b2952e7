package stack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// Stack-level tests of RFC 9293 requirements (docs/rfc9293.md lists them).

// virtualPair is two stacks over link/sim (1 ms each way) on one virtual
// clock; cfgA and cfgB get the clock filled in.
func virtualPair(t *testing.T, cfgA, cfgB Config) (*simNet, *sim.Endpoint, *sim.Endpoint) {
	t.Helper()
	clk := clock.NewVirtual()
	lc := sim.Config{Delay: time.Millisecond}
	ea, eb := sim.New(clk, 1, lc, lc)
	cfgA.Clock, cfgB.Clock = clk, clk
	a, err := New(ea, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(eb, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	return &simNet{t: t, clk: clk, a: a, b: b}, ea, eb
}

// connect opens from n.a to l's address and returns both ends.
func (n *simNet) connect(l *Listener, from *Conn) (cli, srv *Conn) {
	n.t.Helper()
	n.run(n.clk.Now()+10*time.Second, func() bool {
		srv, _ = l.TryAccept()
		return srv != nil && from.State() == tcp.Established
	})
	if srv == nil || from.State() != tcp.Established {
		n.t.Fatalf("no connection: client %v", from.State())
	}
	return from, srv
}

// tryRead reads what c holds now with one TryRead of up to max bytes.
func tryRead(t *testing.T, c *Conn, max int) string {
	t.Helper()
	b := make([]byte, max)
	k, err := c.TryRead(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:k])
}

// MUST-30..33, MUST-62 end to end: WriteUrgent's pointer reaches the peer,
// whose Urgent channel fires (MUST-32), whose UrgentMark says where the
// urgent bytes end (MUST-33), and whose Read stops there.
func TestUrgentAcrossStacks(t *testing.T) {
	n, _, _ := virtualPair(t, Config{Addrs: []netip.Addr{addrA}}, Config{Addrs: []netip.Addr{addrB}})
	l, _ := n.b.ListenTCP("tcp", ":80")
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	cli, srv := n.connect(l, c)
	urg := srv.Urgent()
	if k, ok := srv.UrgentMark(); ok || k != 0 {
		t.Fatalf("urgent mark before any urgent data: %d", k)
	}
	if _, err := cli.WriteUrgent([]byte("ABORT")); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Write([]byte("rest")); err != nil {
		t.Fatal(err)
	}
	n.run(n.clk.Now()+time.Second, func() bool { return srv.Status().RecvHeld == 9 })
	select {
	case <-urg:
	default:
		t.Fatal("no urgent notice (MUST-32)")
	}
	if k, ok := srv.UrgentMark(); !ok || k != 5 {
		t.Fatalf("UrgentMark = %d, %v; want 5, true", k, ok)
	}
	if got := tryRead(t, srv, 100); got != "ABORT" {
		t.Fatalf("read %q, want the urgent bytes alone", got)
	}
	if _, ok := srv.UrgentMark(); ok {
		t.Fatal("still urgent after reading the urgent bytes")
	}
	if got := tryRead(t, srv, 100); got != "rest" {
		t.Fatalf("read %q", got)
	}
	// A channel asked for after the urgent data came is already signalled.
	cli.WriteUrgent([]byte("!"))
	n.run(n.clk.Now()+time.Second, func() bool { return srv.Status().RecvHeld == 1 })
	srv2 := n.b.Conns()[0]
	srv2.urg = nil // as if Urgent had never been called
	select {
	case <-srv2.Urgent():
	default:
		t.Fatal("Urgent() made after the pointer advanced is not signalled")
	}
}

// synISN opens from port 5000 to 10.0.0.9:80 on a recording link and
// returns the SYN's sequence number, then aborts.
func synISN(t *testing.T, s *Stack, r *recLink, port uint16) seq.Value {
	t.Helper()
	r.out = nil
	c, err := s.OpenFrom(port, netip.MustParseAddrPort("10.0.0.9:80"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	if len(r.out) != 1 {
		t.Fatalf("%d packets for an OPEN", len(r.out))
	}
	h, _ := parseOut(t, r.out[0])
	if h.Flags != wire.SYN {
		t.Fatalf("not a SYN: %v", h.Flags)
	}
	return seq.Value(h.Seq)
}

func isnStack(t *testing.T, clk clock.Clock, secret []byte) (*Stack, *recLink) {
	t.Helper()
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB}, Clock: clk, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, r
}

// MUST-8: the ISN of a 4-tuple follows a clock ticking every 4 us: the
// same in one tick, one more per tick, 250,000 more per second.
func TestISNClockComponent(t *testing.T) {
	clk := clock.NewVirtual()
	s, r := isnStack(t, clk, []byte("k"))
	clk.Advance(time.Second)
	base := synISN(t, s, r, 5000)
	clk.Advance(3 * time.Microsecond)
	if d := synISN(t, s, r, 5000).Sub(base); d != 0 {
		t.Fatalf("ISN moved by %d within one 4 us tick", d)
	}
	clk.Advance(time.Microsecond)
	if d := synISN(t, s, r, 5000).Sub(base); d != 1 {
		t.Fatalf("ISN moved by %d over one tick, want 1", d)
	}
	clk.Advance(time.Second - 4*time.Microsecond)
	if d := synISN(t, s, r, 5000).Sub(base); d != 250_000 {
		t.Fatalf("ISN moved by %d in a second, want 250000", d)
	}
}

// SHLD-1, MUST-9: ISN = M + F(4-tuple, secret). At one instant, another
// port gives an unrelated ISN (not a neighbour), another secret another
// ISN for the same 4-tuple, the same secret the same one; and the default
// secret is random, so two stacks differ.
func TestISNKeyedHash(t *testing.T) {
	clk := clock.NewVirtual()
	s1, r1 := isnStack(t, clk, []byte("secret one"))
	s1b, r1b := isnStack(t, clk, []byte("secret one"))
	s2, r2 := isnStack(t, clk, []byte("secret two"))
	d1, d2 := isnStack(t, clk, nil)
	e1, e2 := isnStack(t, clk, nil)
	a := synISN(t, s1, r1, 5000)
	if b := synISN(t, s1b, r1b, 5000); b != a {
		t.Fatalf("same secret, same 4-tuple, same instant: %d and %d", a, b)
	}
	if b := synISN(t, s2, r2, 5000); b == a {
		t.Fatal("the secret does not change the ISN (MUST-9)")
	}
	for p := uint16(5001); p < 5009; p++ {
		d := int32(synISN(t, s1, r1, p).Sub(a))
		if d > -(1<<16) && d < 1<<16 {
			t.Fatalf("port %d: ISN %d from port 5000's: not a keyed hash of the 4-tuple (SHLD-1)", p, d)
		}
	}
	if synISN(t, d1, d2, 5000) == synISN(t, e1, e2, 5000) {
		t.Fatal("two stacks with the default secret give the same ISN: the secret is not random")
	}
}

// segmentFrom is an IP packet from src:40000 to dst:80.
func segmentFrom(src, dst netip.Addr, h wire.TCP) []byte {
	h.SrcPort, h.DstPort, h.Window = 40000, 80, 1000
	b := wire.AppendIPHeader(nil, src, dst, wire.ProtoTCP, 0, h.HeaderLen())
	t := len(b)
	b = h.Append(b)
	wire.SetTCPChecksum(src, dst, b[t:])
	return b
}

// MUST-15 at the stack: a SYN with no MSS option gets a send MSS of 536
// over IPv4 and 1220 over IPv6; our SYN,ACK carries the MSS of our MTU
// (MUST-14, MUST-67: 1500 - 20 - 20, 1500 - 40 - 20).
func TestStackDefaultSendMSS(t *testing.T) {
	v6, peer6 := netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::9")
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB, v6}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListenTCP("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, dst  netip.Addr
		mss, ours int
	}{{peer, addrB, 536, 1460}, {peer6, v6, 1220, 1440}} {
		r.out = nil
		deliver(s, [][]byte{segmentFrom(tc.src, tc.dst, wire.TCP{Seq: 1, Flags: wire.SYN})})
		if len(r.out) != 1 {
			t.Fatalf("%v: %d replies to a SYN", tc.src, len(r.out))
		}
		if h, _ := parseOut(t, r.out[0]); h.Flags != wire.SYN|wire.ACK || !h.Options.HasMSS || int(h.Options.MSS) != tc.ours {
			t.Fatalf("%v: SYN,ACK %v with MSS %d, want %d", tc.src, h.Flags, h.Options.MSS, tc.ours)
		}
		var c *Conn
		for _, x := range s.Conns() {
			if x.RemoteAddrPort().Addr() == tc.src {
				c = x
			}
		}
		if c == nil {
			t.Fatalf("%v: no connection", tc.src)
		}
		if got := c.Status().SendMSS; got != tc.mss {
			t.Fatalf("%v: send MSS %d without an MSS option, want %d", tc.src, got, tc.mss)
		}
	}
}

// MUST-42: a port in SYN-SENT can be listened on; MUST-41: that passive
// OPEN leaves the connection alone: it completes and carries data, while
// the listener takes only new connections.
func TestListenBesideConnection(t *testing.T) {
	n, ea, _ := virtualPair(t, Config{Addrs: []netip.Addr{addrA}}, Config{Addrs: []netip.Addr{addrB}})
	lb, _ := n.b.ListenTCP("tcp", ":80")
	ea.SetDown(true) // the first SYN is lost: the connection waits in SYN-SENT
	c, err := n.a.OpenFrom(7000, netip.MustParseAddrPort("10.0.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != tcp.SynSent {
		t.Fatalf("%v", c.State())
	}
	la, err := n.a.ListenTCP("tcp", ":7000")
	if err != nil {
		t.Fatalf("LISTEN on a port in SYN-SENT: %v (MUST-42)", err)
	}
	ea.SetDown(false)
	cli, srv := n.connect(lb, c) // the SYN's retransmission gets through
	if cli.LocalAddrPort().Port() != 7000 {
		t.Fatalf("local %v", cli.LocalAddrPort())
	}
	cli.Write([]byte("to b"))
	srv.Write([]byte("to a"))
	n.run(n.clk.Now()+time.Second, func() bool { return srv.Status().RecvHeld == 4 && cli.Status().RecvHeld == 4 })
	if got, got2 := tryRead(t, srv, 10), tryRead(t, cli, 10); got != "to b" || got2 != "to a" {
		t.Fatalf("the connection after LISTEN on its port: read %q and %q", got, got2)
	}
	if q, _ := la.TryAccept(); q != nil {
		t.Fatal("the listener took the existing connection")
	}
	// A new connection to the port goes to the listener.
	c2, _ := n.b.Open(netip.MustParseAddrPort("10.0.0.1:7000"))
	var acc *Conn
	n.run(n.clk.Now()+time.Second, func() bool { acc, _ = la.TryAccept(); return acc != nil })
	if acc == nil || acc.RemoteAddrPort() != c2.LocalAddrPort() {
		t.Fatalf("the listener did not take a new connection: %v", acc)
	}
	if cli.State() != tcp.Established {
		t.Fatalf("old connection %v", cli.State())
	}
}

// MUST-43: an active OPEN from a chosen local address, as
// net.Dialer.LocalAddr; the connection keeps it (MUST-45). Without one,
// the stack picks an address of the remote's family (MUST-44).
func TestDialerLocalAddr(t *testing.T) {
	other := netip.MustParseAddr("10.0.0.3")
	ea, eb := pipe.New(1500)
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA, other, netip.MustParseAddr("fd00::1")}})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB, netip.MustParseAddr("fd00::2")}})
	defer a.Close()
	defer b.Close()
	l, _ := b.Listen("tcp", ":80")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Write([]byte(c.RemoteAddr().String()))
				c.Close()
			}()
		}
	}()
	ctx := context.Background()
	for _, tc := range []struct {
		local        net.Addr
		remote, want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.3"), Port: 6000}, "10.0.0.2:80", "10.0.0.3:6000"},
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.3")}, "10.0.0.2:80", "10.0.0.3:"},
		{&net.TCPAddr{Port: 6001}, "10.0.0.2:80", "10.0.0.1:6001"},
		{nil, "10.0.0.2:80", "10.0.0.1:"},
		{nil, "[fd00::2]:80", "[fd00::1]:"}, // MUST-44: the remote's family
	} {
		d := Dialer{Stack: a, LocalAddr: tc.local, Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", tc.remote)
		if err != nil {
			t.Fatalf("%v: %v", tc.local, err)
		}
		seen, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		local := c.LocalAddr().String()
		if string(seen) != local || len(local) < len(tc.want) || local[:len(tc.want)] != tc.want {
			t.Fatalf("LocalAddr %v: the connection is from %s, the peer saw %s; want %s", tc.local, local, seen, tc.want)
		}
	}
	for _, tc := range []struct {
		local net.Addr
		want  error
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.77")}, syscall.EADDRNOTAVAIL}, // not ours
		{&net.TCPAddr{IP: net.ParseIP("fd00::1")}, syscall.EADDRNOTAVAIL},   // wrong family
		{&net.UnixAddr{Name: "x"}, nil},
	} {
		d := Dialer{Stack: a, LocalAddr: tc.local}
		_, err := d.DialContext(ctx, "tcp", "10.0.0.2:80")
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Fatalf("LocalAddr %v: %v, want %v", tc.local, err, tc.want)
		}
	}
	// The same 4-tuple twice.
	d := Dialer{Stack: a, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.3"), Port: 6100}}
	c, err := d.DialContext(ctx, "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := d.DialContext(ctx, "tcp", "10.0.0.2:80"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second dial from the same address: %v", err)
	}
}

// MUST-29 with the stack's defaults: a lost keep-alive probe does not end
// the connection; the next one is answered.
func TestKeepAliveSurvivesLostProbe(t *testing.T) {
	n, ea, _ := virtualPair(t, Config{Addrs: []netip.Addr{addrA}}, Config{Addrs: []netip.Addr{addrB}})
	l, _ := n.b.ListenTCP("tcp", ":80")
	c, _ := n.a.Open(netip.MustParseAddrPort("10.0.0.2:80"))
	cli, _ := n.connect(l, c)
	cli.SetKeepAlive(true) // the default idle time (2 h) and count
	n.clk.Advance(2*time.Hour - time.Second)
	ea.SetDown(true) // the first probe is lost
	n.clk.Advance(2 * time.Second)
	ea.SetDown(false)
	if p := cli.Status().Stats.KeepAliveProbes; p != 1 || cli.State() != tcp.Established {
		t.Fatalf("%d probes, %v", p, cli.State())
	}
	n.clk.Advance(10 * time.Minute)
	if p := cli.Status().Stats.KeepAliveProbes; p != 2 || cli.State() != tcp.Established {
		t.Fatalf("after one lost probe: %d probes, %v (MUST-29)", p, cli.State())
	}
}

// MUST-46: no active OPEN to a broadcast, multicast or unspecified
// address (or port 0).
func TestOpenMartianRefused(t *testing.T) {
	s, r := newRecStack(t)
	for _, ap := range []string{"255.255.255.255:80", "224.0.0.1:80", "0.0.0.0:80", "10.0.0.9:0", "[ff02::1]:80"} {
		if _, err := s.Open(netip.MustParseAddrPort(ap)); !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENETUNREACH) {
			t.Fatalf("OPEN to %s: %v", ap, err)
		}
	}
	if len(r.out) != 0 {
		t.Fatalf("%d packets sent", len(r.out))
	}
}

// MUST-63: a SYN from a broadcast or multicast source is ignored; MUST-57:
// so is one sent to a broadcast or multicast address. Neither makes a
// connection nor draws a reply.
func TestMartianSYNsDropped(t *testing.T) {
	s, r := newRecStack(t)
	if _, err := s.ListenTCP("tcp", ":80"); err != nil {
		t.Fatal(err)
	}
	syn := wire.TCP{Seq: 1, Flags: wire.SYN}
	deliver(s, [][]byte{
		segmentFrom(netip.MustParseAddr("224.0.0.9"), addrB, syn),
		segmentFrom(netip.MustParseAddr("255.255.255.255"), addrB, syn),
		segmentFrom(peer, netip.MustParseAddr("255.255.255.255"), syn),
		segmentFrom(peer, netip.MustParseAddr("224.0.0.1"), syn),
	})
	if len(r.out) != 0 || s.NumConns() != 0 {
		t.Fatalf("%d replies, %d connections for martian SYNs", len(r.out), s.NumConns())
	}
	// Martian sources count as Martian; martian destinations as that or
	// as not for us.
	if m, nfu := s.Stats().Martian.Load(), s.Stats().NotForUs.Load(); m < 2 || m+nfu != 4 {
		t.Fatalf("%d martian and %d not-for-us packets counted, want at least 2 and 4 in all", m, nfu)
	}
}

// MUST-55, MUST-56: ICMP Source Quench, soft Destination Unreachable
// (codes 0, 1, 5), Time Exceeded and Parameter Problem about a
// connection do not end it.
func TestICMPDoesNotAbort(t *testing.T) {
	s, r, c, _ := recEstablished(t)
	r.out = nil
	if _, err := c.TryWrite([]byte("x")); err != nil || len(r.out) != 1 {
		t.Fatalf("write: %v, %d packets", err, len(r.out))
	}
	// The quoted datagram: the IP header and first 8 TCP bytes of our data
	// segment, whose sequence number is SND.UNA (RFC 5927 4.1 would take it).
	quoted := r.out[0][:28]
	for _, tc := range [][2]byte{{4, 0}, {3, 0}, {3, 1}, {3, 5}, {11, 0}, {12, 0}} {
		msg := append([]byte{tc[0], tc[1], 0, 0, 0, 0, 0, 0}, quoted...)
		sum := wire.Fold(wire.Checksum(msg, 0))
		msg[2], msg[3] = byte(sum>>8), byte(sum)
		pkt := wire.AppendIPHeader(nil, peer, addrB, 1, 0, len(msg))
		deliver(s, [][]byte{append(pkt, msg...)})
		if c.State() != tcp.Established {
			t.Fatalf("ICMP type %d code %d: %v", tc[0], tc[1], c.State())
		}
	}
}

// recEstablished is a recording stack with a connection accepted from
// peer:40000 (IRS 1000, so RCV.NXT 1001) and the SYN,ACK it sent; iss is
// our ISS.
func recEstablished(t *testing.T) (*Stack, *recLink, *Conn, uint32) {
	t.Helper()
	s, r := newRecStack(t)
	l, _ := s.ListenTCP("tcp", ":80")
	deliver(s, [][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN}, 80, nil)})
	h, _ := parseOut(t, r.out[0])
	deliver(s, [][]byte{segment(wire.TCP{Seq: 1001, Ack: h.Seq + 1, Flags: wire.ACK}, 80, nil)})
	c, err := l.TryAccept()
	if err != nil || c == nil {
		t.Fatalf("accept: %v", err)
	}
	return s, r, c, h.Seq
}

// MUST-58, MUST-59 at the stack: the segments of one delivered batch are
// all processed before one ACK answers them (quick ACKs would otherwise
// answer each at once).
func TestBatchAnsweredByOneAck(t *testing.T) {
	s, r, _, iss := recEstablished(t)
	r.out = nil
	var batch [][]byte
	for i := uint32(0); i < 3; i++ {
		batch = append(batch, segment(wire.TCP{Seq: 1001 + 100*i, Ack: iss + 1, Flags: wire.ACK}, 80, make([]byte, 100)))
	}
	deliver(s, batch)
	if len(r.out) != 1 {
		t.Fatalf("%d segments answer a batch of 3, want one ACK", len(r.out))
	}
	if h, _ := parseOut(t, r.out[0]); h.Flags != wire.ACK || h.Ack != 1301 {
		t.Fatalf("answer %v ACK %d, want ACK 1301", h.Flags, h.Ack)
	}
}

// deliver hands packets to the stack as its link would. (The one place
// this file calls DeliverPackets, whose signature other work changes.)
func deliver(s *Stack, pkts [][]byte) { s.DeliverPackets(pkts, nil) }

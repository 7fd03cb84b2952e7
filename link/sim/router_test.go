package sim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

var (
	hostA = netip.MustParseAddr("10.0.0.1")
	hostB = netip.MustParseAddr("10.0.0.2")
)

// ipPacket is an IPv4 (or IPv6) TCP-looking packet of size bytes.
func ipPacket(size int, df bool, v6 bool) []byte {
	if v6 {
		h := wire.IPv6{Protocol: wire.ProtoTCP, Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2")}
		return append(h.Append(nil, size-40), make([]byte, size-40)...)
	}
	h := wire.IPv4{DontFrag: df, Protocol: wire.ProtoTCP, Src: hostA, Dst: hostB}
	return append(h.Append(nil, size-20), packet(1, size-20)...)
}

// The router hop answers a DF packet too big for it with fragmentation
// needed carrying its MTU (RFC 1191 4) and an IPv6 one with packet too big
// (RFC 4443 3.2), each quoting the packet; they reach the writer one
// reverse delay later. Smaller packets pass; a packet without DF is lost
// without an answer; a black hole answers nothing.
func TestRouterHop(t *testing.T) {
	ab := Config{Delay: 3 * time.Millisecond, Router: Router{MTU: 1280}}
	clk, a, _, ra, rb := pair(t, 1, ab, Config{Delay: 5 * time.Millisecond})
	write(t, a, ipPacket(1280, true, false), ipPacket(1500, true, false), ipPacket(1500, false, false), ipPacket(1400, true, true))
	drain(clk)
	if len(rb.got) != 1 || len(ra.got) != 2 {
		t.Fatalf("b got %d, a got %d ICMP; want 1 and 2", len(rb.got), len(ra.got))
	}
	if ra.got[0].at != 5*time.Millisecond {
		t.Fatalf("ICMP arrived at %v, want the reverse delay", ra.got[0].at)
	}
	ip, body, err := wire.ParseIP(ra.got[0].data)
	if err != nil || ip.Dst != hostA || ip.Src != routerAddr4 {
		t.Fatalf("ICMP header %+v, %v", ip, err)
	}
	m, err := wire.ParseICMPv4(body)
	if err != nil || m.Type != wire.ICMPv4DestUnreach || m.Code != wire.ICMPv4FragNeeded || m.MTU != 1280 {
		t.Fatalf("ICMP %+v, %v", m, err)
	}
	if q, err := wire.ParseQuote(m.Body, false); err != nil || q.TotalLen != 1500 || !q.DontFrag || q.Src != hostA {
		t.Fatalf("quote %+v, %v", q, err)
	}
	ip, body, _ = wire.ParseIP(ra.got[1].data)
	if m, err := wire.ParseICMPv6(ip.Src, ip.Dst, body); err != nil || m.Type != wire.ICMPv6PacketTooBig || m.MTU != 1280 {
		t.Fatalf("ICMPv6 %+v, %v", m, err)
	}
	st := a.Stats()
	if st.LostHop != 3 || st.ICMPSent != 2 {
		t.Fatalf("%+v", st)
	}
	checkInvariant(t, "a", st)

	ab.Router.BlackHole = true
	clk, a, _, ra, rb = pair(t, 1, ab, Config{})
	write(t, a, ipPacket(1500, true, false), ipPacket(1000, true, false))
	drain(clk)
	if len(rb.got) != 1 || len(ra.got) != 0 || a.Stats().LostHop != 1 {
		t.Fatalf("black hole: b got %d, a got %d", len(rb.got), len(ra.got))
	}
}

// In a Router.Unreachable window the router answers host unreachable and
// delivers nothing.
func TestRouterUnreachable(t *testing.T) {
	ab := Config{Router: Router{Unreachable: []Window{Flap(time.Second, time.Second)}}}
	clk, a, _, ra, rb := pair(t, 1, ab, Config{})
	write(t, a, ipPacket(100, true, false))
	clk.Advance(1500 * time.Millisecond)
	write(t, a, ipPacket(100, true, false))
	drain(clk)
	if len(rb.got) != 1 || len(ra.got) != 1 || a.Stats().LostUnreachable != 1 {
		t.Fatalf("b got %d, a got %d", len(rb.got), len(ra.got))
	}
	_, body, _ := wire.ParseIP(ra.got[0].data)
	if m, err := wire.ParseICMPv4(body); err != nil || m.Code != wire.ICMPv4HostUnreach {
		t.Fatalf("%+v, %v", m, err)
	}
}

package sim

import (
	"net/netip"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/wire"
)

// Router is a router hop inside a direction: a narrower link somewhere on
// the path, and a router that may answer with ICMP. The zero value is no
// router.
type Router struct {
	// MTU is the narrow hop's MTU: a larger packet does not get through
	// (LostHop). An IPv4 packet with DF set, or any IPv6 packet, is
	// answered with fragmentation needed or packet too big carrying MTU
	// (RFC 1191 4, RFC 4443 3.2), unless BlackHole; an IPv4 packet without
	// DF, which a real router would fragment, is lost too. 0: no hop.
	MTU int
	// BlackHole drops the ICMP too, as a firewall that filters it does:
	// the path MTU black hole of RFC 2923 2.1.
	BlackHole bool
	// Unreachable are windows in which the router has no route to the
	// destination: packets written then are lost (LostUnreachable) and
	// answered with host unreachable (ICMPv4 type 3 code 1, ICMPv6 type 1
	// code 3), unless BlackHole.
	Unreachable []Window
	// Addr4 and Addr6 are the router's addresses, the sources of its ICMP
	// (default 192.0.2.1 and 2001:db8::1, RFC 5737 and RFC 3849).
	Addr4, Addr6 netip.Addr
}

var (
	routerAddr4 = netip.MustParseAddr("192.0.2.1")
	routerAddr6 = netip.MustParseAddr("2001:db8::1")
)

// route runs the router stage for packet p written at now: it reports
// whether the packet is lost there and, when the router answers, sends its
// ICMP back to the writer, one reverse-direction Delay later. Called with
// d.mu held; it draws nothing from the random source.
func (d *dir) route(p []byte, now time.Duration) (Fate, bool) {
	r := &d.cfg.Router
	if r.MTU <= 0 && len(r.Unreachable) == 0 {
		return Delivered, false
	}
	for _, w := range r.Unreachable {
		if w.contains(now) {
			d.answer(p, now, false)
			return LostUnreachable, true
		}
	}
	if r.MTU > 0 && len(p) > r.MTU {
		d.answer(p, now, true)
		return LostHop, true
	}
	return Delivered, false
}

// answer builds the router's ICMP error about p (too big, or host
// unreachable) and schedules its delivery to the writer.
func (d *dir) answer(p []byte, now time.Duration, tooBig bool) {
	r := &d.cfg.Router
	if r.BlackHole || len(p) == 0 {
		return
	}
	var pkt []byte
	switch p[0] >> 4 {
	case 4:
		var h wire.IPv4
		if _, err := h.Parse(p); err != nil || (tooBig && !h.DontFrag) {
			return // not a packet a router would answer, or one it would fragment
		}
		m := wire.ICMP{Type: wire.ICMPv4DestUnreach, Code: wire.ICMPv4HostUnreach}
		if tooBig {
			m.Code, m.MTU = wire.ICMPv4FragNeeded, uint32(r.MTU)
		}
		m.Body = p[:min(len(p), int(h.HeaderLen)+8)] // RFC 792: the header and 64 bits
		src := r.Addr4
		if !src.IsValid() {
			src = routerAddr4
		}
		body := wire.AppendICMPv4(nil, &m)
		pkt = (&wire.IPv4{TTL: 64, Protocol: wire.ProtoICMP, Src: src, Dst: h.Src}).Append(nil, len(body))
		pkt = append(pkt, body...)
	case 6:
		var h wire.IPv6
		if _, err := h.Parse(p); err != nil {
			return
		}
		m := wire.ICMP{Type: wire.ICMPv6DestUnreach, Code: wire.ICMPv6AddrUnreach}
		if tooBig {
			m.Type, m.Code, m.MTU = wire.ICMPv6PacketTooBig, 0, uint32(r.MTU)
		}
		// RFC 4443 2.4(c): as much of the packet as fits in the minimum MTU.
		m.Body = p[:min(len(p), wire.IPv6MinMTU-wire.IPv6HeaderLen-8)]
		src := r.Addr6
		if !src.IsValid() {
			src = routerAddr6
		}
		body := wire.AppendICMPv6(nil, src, h.Src, &m)
		pkt = (&wire.IPv6{HopLimit: 64, Protocol: wire.ProtoICMPv6, Src: src, Dst: h.Src}).Append(nil, len(body))
		pkt = append(pkt, body...)
	default:
		return
	}
	d.st.ICMPSent++
	back := d.src.in // the direction toward the writer
	at := now + max(back.cfg.Delay, 0)
	d.clk.At(at, func() {
		if rc := d.src.receiver(); rc != nil {
			rc.DeliverPackets([][]byte{pkt}, []link.PacketInfo{link.ReadInfo(pkt)})
		}
	})
}

package stack

import (
	"net/netip"

	"github.com/synack-tcp/synack/wire"
)

// martian reports an address no connection may have at its far end:
// unspecified, multicast or the IPv4 limited broadcast. Dial refuses
// them (MUST-46) and segments from them are dropped (MUST-63).
func martian(a netip.Addr) bool {
	return !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || (a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

// martianPacket reports, counting it in Stats.Martian, a packet that must
// be dropped for its addresses before any TCP processing:
//
//   - to a broadcast or multicast address (MUST-57: a SYN so addressed is
//     silently dropped; so is everything else, there being no connection
//     to such an address);
//   - from an unspecified, broadcast or multicast address (MUST-63);
//   - from one of the stack's own addresses, which no other host has (a
//     land attack, a SYN from our own address and port to itself, would
//     otherwise have a connection answer itself for ever);
//   - from a loopback address, unless the link is the loopback (the
//     stack's own addresses are loopback ones): 127/8 and ::1 never
//     arrive from a wire (RFC 1122 3.2.1.3 (g), RFC 4291 2.5.3).
func (s *Stack) martianPacket(ip *wire.IPHeader) bool {
	loop := s.loopbackLink()
	bad := martian(ip.Dst) || martian(ip.Src) ||
		(!loop && (s.isLocal(ip.Src) || ip.Src.IsLoopback()))
	if bad {
		s.stats.Martian.Add(1)
	}
	return bad
}

// loopbackLink reports whether the stack sits on a loopback link: every
// address of its own is a loopback address. There a packet from our own
// address is ours, and a connection to itself is legitimate.
func (s *Stack) loopbackLink() bool {
	for _, a := range s.cfg.Addrs {
		if !a.IsLoopback() {
			return false
		}
	}
	return true
}

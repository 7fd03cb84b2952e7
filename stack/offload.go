package stack

import (
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/wire"
)

// Offloads. On a link.Offloader endpoint that takes partial checksums
// (link/tun with its virtio-net header), a connection's segments leave
// with only the pseudo-header sum in the checksum field: the kernel
// completes it, or, delivering locally, never needs to. With TSO too, the
// TCB builds segments of several MSS-sized pieces (tcp/tso.go,
// Config.TSOMax) and the link cuts them. Inbound, a packet the link
// vouches for (link.CsumValid, or link.CsumPartial: built on this host)
// skips checksum verification, and a TCP super-packet the kernel joined
// (info.GSO) is taken whole, as one segment: TCP input takes any number
// of bytes within the window, whatever the MSS.

// offload marks the info of a connection's segment carrying n payload
// bytes for the link's offloads; mss is the TCB's piece size.
func (s *Stack) offload(info *link.PacketInfo, id tuple, n, mss int) {
	if !s.offl.Checksum {
		return
	}
	info.Csum = link.CsumPartial
	if n > mss && s.offl.TSO {
		info.GSO, info.GSOSize = link.GSOTCPv6, uint16(mss)
		if id.local.Addr().Is4() {
			info.GSO = link.GSOTCPv4
		}
	}
}

// partialChecksum puts into the TCP header seg the partial checksum of a
// segment of n bytes (header included): the folded pseudo-header sum, not
// complemented, over which the link sums the segment (Linux's
// CHECKSUM_PARTIAL).
func partialChecksum(id tuple, seg []byte, n int) {
	c := ^wire.Fold(wire.PseudoHeaderSum(id.local.Addr(), id.remote.Addr(), wire.ProtoTCP, n))
	seg[16], seg[17] = byte(c>>8), byte(c)
}

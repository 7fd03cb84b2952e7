package stack

import (
	"net/netip"

	"github.com/synack-tcp/synack/link"
)

// defaultTTL is the TTL and hop limit of our packets unless SetTTL or
// SetHopLimit says otherwise: 64, as Linux sends (RFC 1122 3.2.1.7 asks for
// a configurable TTL, RFC 1700 recommends 64).
const defaultTTL = 64

// ipDefaults is the IP header of a packet from local: TTL 64, DS field
// zero, and for IPv4 DF set (RFC 1191 3: path MTU discovery sends every
// segment with DF).
func ipDefaults(local netip.Addr) link.PacketInfo {
	return link.PacketInfo{TTL: defaultTTL, DF: local.Is4()}
}

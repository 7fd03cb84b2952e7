package stack

import (
	"net/netip"
	"syscall"

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

// The IP header fields of a connection's packets, per connection (RFC 9293
// 3.9.1.9 and 3.9.2: MUST-48, the application sets the DS field; MUST-49,
// the TTL or hop limit is configurable), with the methods and meanings of
// golang.org/x/net/ipv4.Conn (SetTTL, SetTOS) and ipv6.Conn (SetHopLimit,
// SetTrafficClass). They apply to every segment sent from then on
// (SHLD-21: also in mid-connection); the ECN bits of the TOS octet stay
// the stack's (RFC 3168 6.1.1), so only the six DS bits are taken, and
// are passed to IP unchanged (SHLD-22).

// SetTTL sets the IPv4 TTL of the connection's packets: 1 to 255, or -1
// for the default (64). It fails on an IPv6 connection.
func (c *Conn) SetTTL(ttl int) error {
	return c.setIP("setsockopt", true, ttl, 1, func(i *link.PacketInfo, v int) { i.TTL = uint8(v) })
}

// TTL returns the IPv4 TTL of the connection's packets.
func (c *Conn) TTL() (int, error) {
	return c.getIP("getsockopt", true, func(i link.PacketInfo) int { return int(i.TTL) })
}

// SetTOS sets the IPv4 TOS octet's DS field (RFC 2474) for the
// connection's packets: tos is the whole octet, 0 to 255, of which the
// low two (ECN) bits are ignored; -1 restores 0.
func (c *Conn) SetTOS(tos int) error { return c.setIP("setsockopt", true, tos, 0, setDS) }

// TOS returns the TOS octet of the connection's packets (ECN bits zero).
func (c *Conn) TOS() (int, error) {
	return c.getIP("getsockopt", true, func(i link.PacketInfo) int { return int(i.DS) << 2 })
}

// SetHopLimit sets the IPv6 hop limit of the connection's packets: 1 to
// 255, or -1 for the default (64). It fails on an IPv4 connection.
func (c *Conn) SetHopLimit(hoplim int) error {
	return c.setIP("setsockopt", false, hoplim, 1, func(i *link.PacketInfo, v int) { i.TTL = uint8(v) })
}

// HopLimit returns the IPv6 hop limit of the connection's packets.
func (c *Conn) HopLimit() (int, error) {
	return c.getIP("getsockopt", false, func(i link.PacketInfo) int { return int(i.TTL) })
}

// SetTrafficClass sets the IPv6 Traffic Class octet's DS field, as SetTOS
// does for IPv4.
func (c *Conn) SetTrafficClass(tclass int) error {
	return c.setIP("setsockopt", false, tclass, 0, setDS)
}

// TrafficClass returns the Traffic Class octet of the connection's
// packets (ECN bits zero).
func (c *Conn) TrafficClass() (int, error) {
	return c.getIP("getsockopt", false, func(i link.PacketInfo) int { return int(i.DS) << 2 })
}

func setDS(i *link.PacketInfo, v int) { i.DS = uint8(v) >> 2 }

// setIP validates v (lo..255, or -1 for the default) for a connection of
// the family v4 says and stores it with set.
func (c *Conn) setIP(op string, v4 bool, v, lo int, set func(*link.PacketInfo, int)) error {
	if c.id.local.Addr().Is4() != v4 {
		return c.opErr(op, syscall.ENOPROTOOPT) // as Linux answers IP_TTL on an IPv6 socket
	}
	if v != -1 && (v < lo || v > 255) {
		return c.opErr(op, syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v == -1 {
		d := ipDefaults(c.id.local.Addr())
		if lo == 1 {
			v = int(d.TTL)
		} else {
			v = 0
		}
	}
	set(&c.ip, v)
	return nil
}

func (c *Conn) getIP(op string, v4 bool, get func(link.PacketInfo) int) (int, error) {
	if c.id.local.Addr().Is4() != v4 {
		return 0, c.opErr(op, syscall.ENOPROTOOPT)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return get(c.ip), nil
}

// SoftError returns the latest soft ICMP error the connection heard (host
// or network unreachable, time exceeded, parameter problem) while it goes
// on, or nil: RFC 9293 3.9.1.8's ERROR_REPORT (MUST-47, SHLD-25). The
// same error ends the connection if it then times out.
func (c *Conn) SoftError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.tcb.SoftError(); err != nil {
		return c.opErr("read", mapErr(err))
	}
	return nil
}

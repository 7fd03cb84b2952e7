//go:build linux

package tun

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// addAddr assigns p (address and prefix length) to interface ifindex with
// one rtnetlink RTM_NEWADDR request, as `ip addr add P dev IF` does. The
// netlink socket belongs to the calling thread's network namespace.
func addAddr(ifindex int, p netip.Prefix) error {
	addr := p.Addr().Unmap()
	family := unix.AF_INET6
	if addr.Is4() {
		family = unix.AF_INET
	}
	bits := p.Bits()
	if addr.Is4() && p.Addr().Is4In6() {
		bits -= 96
	}
	raw := addr.AsSlice()

	const hdrs = unix.SizeofNlMsghdr + unix.SizeofIfAddrmsg
	msg := make([]byte, hdrs, hdrs+2*(unix.SizeofRtAttr+16))
	ne := binary.NativeEndian
	// struct nlmsghdr; the length is filled in below.
	ne.PutUint16(msg[4:], unix.RTM_NEWADDR)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	ne.PutUint32(msg[8:], 1) // sequence number
	// struct ifaddrmsg
	m := msg[unix.SizeofNlMsghdr:]
	m[0] = byte(family)
	m[1] = byte(bits)
	if family == unix.AF_INET6 {
		// No duplicate address detection: the device has no neighbours,
		// and a tentative address cannot be bound for a second or two.
		m[2] = unix.IFA_F_NODAD
	}
	m[3] = unix.RT_SCOPE_UNIVERSE
	ne.PutUint32(m[4:], uint32(ifindex))
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer's,
	// which on a non-point-to-point link is the same.
	for _, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		var rta [unix.SizeofRtAttr]byte
		ne.PutUint16(rta[0:], uint16(unix.SizeofRtAttr+len(raw)))
		ne.PutUint16(rta[2:], typ)
		msg = append(msg, rta[:]...)
		msg = append(msg, raw...) // 4 or 16 bytes: already aligned
	}
	ne.PutUint32(msg[0:], uint32(len(msg)))

	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(s)
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	if err := unix.Sendto(s, msg, 0, kernel); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	return readAck(s, 1)
}

// readAck waits for the kernel's NLMSG_ERROR acknowledgement of request
// seq and returns the errno it carries (nil for success).
func readAck(s int, seq uint32) error {
	ne := binary.NativeEndian
	buf := make([]byte, 8192)
	for range 16 { // an ack is due right away; bound the loop anyway
		n, _, err := unix.Recvfrom(s, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := int(ne.Uint32(b[0:]))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return fmt.Errorf("netlink: malformed reply")
			}
			typ, gotSeq := ne.Uint16(b[4:]), ne.Uint32(b[8:])
			if typ == unix.NLMSG_ERROR && gotSeq == seq {
				if l < unix.SizeofNlMsghdr+4 {
					return fmt.Errorf("netlink: short error message")
				}
				if code := int32(ne.Uint32(b[unix.SizeofNlMsghdr:])); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
			b = b[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
		}
	}
	return fmt.Errorf("netlink: no acknowledgement")
}

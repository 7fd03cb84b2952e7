package stack

import (
	"net/netip"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// DeliverPackets implements link.Receiver: each packet is parsed, demuxed
// and fed to its connection (with Config.GRO, consecutive in-order
// segments of one connection joined first: gro.go); the ACKs and data the batch makes due
// go out once per connection at the end (MUST-58, MUST-59). The IP header
// is authoritative for the packets' IP-level facts; of info, only the
// checksum state is read (offload.go).
func (s *Stack) DeliverPackets(pkts [][]byte, info []link.PacketInfo) {
	var r rx
	for i, p := range pkts {
		s.stats.PacketsIn.Add(1)
		if isICMP(p) {
			s.groFlush(&r)
			if r.cur != nil {
				r.cur.mu.Unlock() // icmpInput locks the connection it concerns
				r.cur = nil
			}
			s.icmpInput(p)
			continue
		}
		var h wire.TCP
		ip, payload, ok := s.parse(&r, p, &h, link.InfoAt(info, i).Csum)
		if !ok {
			continue
		}
		id := tuple{netip.AddrPortFrom(ip.Dst, h.DstPort), netip.AddrPortFrom(ip.Src, h.SrcPort)}
		ce := ip.TOS&ecnMask == ecnCE // RFC 3168 5: Congestion Experienced
		if !s.cfg.GRO {
			s.deliver(&r, id, &h, payload, ce)
			continue
		}
		if s.groMerge(&r, id, &h, payload, ce) {
			continue
		}
		s.groFlush(&r)
		r.hold(id, &h, payload, ce)
	}
	s.groFlush(&r)
	if r.cur != nil {
		r.cur.mu.Unlock()
	}
	for _, c := range r.touched[:r.nt] {
		c.mu.Lock()
		c.flushLocked(s.clk.Now())
		c.mu.Unlock()
	}
}

// rx is one DeliverPackets call's state.
type rx struct {
	touched [16]*Conn
	nt      int
	cur     *Conn // connection whose lock is held across consecutive packets
	// now is read after taking a connection's lock: a writer holding it
	// may have used a later instant, and time must not run backwards for a
	// connection (its timestamps would fail the peer's PAWS test).
	now timeT
	gro groSeg // the segment held for joining (gro.go)
	// The addresses of the last TCP packet that passed parse's address
	// checks, and their pseudo-header sum for a length of 0: the packets
	// of a burst come from one peer, and skip the checks and the sum.
	src, dst netip.Addr
	pseudo   uint32
}

// deliver feeds one segment to its connection.
func (s *Stack) deliver(r *rx, id tuple, h *wire.TCP, payload []byte, ce bool) {
	if r.cur != nil && r.cur.id == id {
		r.cur.tcb.SetCE(ce)
		r.cur.tcb.Input(r.now, h, payload)
		return
	}
	if r.cur != nil {
		r.cur.mu.Unlock()
		r.cur = nil
	}
	c := s.lookup(id)
	if c == nil {
		s.noConn(s.clk.Now(), id, h, payload)
		return
	}
	c.mu.Lock()
	r.now = s.clk.Now()
	c.tcb.SetCE(ce)
	c.tcb.Input(r.now, h, payload)
	r.cur = c
	if r.nt < len(r.touched) && !contains(r.touched[:r.nt], c) {
		r.touched[r.nt] = c
		r.nt++
	} else if r.nt == len(r.touched) && !contains(r.touched[:r.nt], c) {
		c.flushLocked(r.now) // more connections than we track: flush now
	}
}

func contains(cs []*Conn, c *Conn) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// parse validates one packet down to its TCP header, counting what it drops.
// A checksum the link vouches for (csum, offload.go) is not verified.
func (s *Stack) parse(r *rx, p []byte, h *wire.TCP, csum link.Csum) (wire.IPHeader, []byte, bool) {
	ip, seg, err := wire.ParseIP(p)
	if err != nil {
		s.stats.MalformedIP.Add(1)
		return ip, nil, false
	}
	if ip.Protocol != wire.ProtoTCP {
		s.stats.NotForUs.Add(1)
		return ip, nil, false
	}
	if ip.Src != r.src || ip.Dst != r.dst {
		if s.martianPacket(&ip) {
			return ip, nil, false // martian.go: MUST-57, MUST-63
		}
		if !s.isLocal(ip.Dst) {
			s.stats.NotForUs.Add(1)
			return ip, nil, false
		}
		r.src, r.dst = ip.Src, ip.Dst
		r.pseudo = wire.PseudoHeaderSum(ip.Src, ip.Dst, wire.ProtoTCP, 0)
	}
	// MUST-3: the pseudo-header sum is the addresses' plus the length.
	if csum == link.CsumNone && (len(seg) < wire.TCPMinHeaderLen || wire.Fold(wire.Checksum(seg, r.pseudo+uint32(len(seg)>>16)+uint32(len(seg)&0xffff))) != 0) {
		s.stats.BadChecksum.Add(1)
		return ip, nil, false
	}
	payload, err := h.Parse(seg)
	if err != nil {
		s.stats.MalformedTCP.Add(1)
		return ip, nil, false
	}
	return ip, payload, true
}

func (s *Stack) lookup(id tuple) *Conn {
	s.mu.RLock()
	c := s.conns[id]
	s.mu.RUnlock()
	return c
}

// noConn handles a segment that matches no connection: a listener's SYN
// makes a new connection; anything else gets the reply of 3.10.7.2 (to a
// listener) or 3.10.7.1 (CLOSED).
func (s *Stack) noConn(now timeT, id tuple, h *wire.TCP, payload []byte) {
	if s.tw.input(now, id, h, payload) {
		return
	}
	s.mu.RLock()
	l := s.listenerFor(id.local)
	s.mu.RUnlock()
	if l != nil {
		if h.Flags&(wire.SYN|wire.ACK|wire.RST) == wire.SYN {
			if h.Flags&wire.FIN != 0 && s.cfg.DropSynFin {
				s.stats.SynFinDropped.Add(1)
				return
			}
			l.syn(now, id, h, payload)
			return
		}
		if h.Flags&(wire.SYN|wire.ACK|wire.RST) == wire.ACK && l.cookieAck(now, id, h, payload) {
			return // syncookie.go
		}
		if h.Flags&wire.RST != 0 || h.Flags&wire.ACK == 0 {
			return // 3.10.7.2: ignore a reset; drop anything else without ACK
		}
	}
	rst, ok := tcp.ResetFor(h, len(payload))
	if !ok {
		return
	}
	s.stats.ResetsSent.Add(1)
	b := s.getBatch()
	b.add(id, &rst, nil, nil, ipDefaults(id.local.Addr()))
	s.sendBatch(b)
}

func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

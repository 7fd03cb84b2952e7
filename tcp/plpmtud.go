package tcp

import "time"

// Packetization-layer path MTU discovery (RFC 4821, RFC 8899) for paths
// that drop the ICMP that path MTU discovery needs (a black hole, RFC 2923
// 2.1). It is on by default: without it a connection through such a path
// retransmits its full-size segments until R2 gives up.
//
// Detection (RFC 4821 7.7, RFC 8899 4.3): a second consecutive
// retransmission timeout of a segment larger than the base size takes the MSS down to
// what the base PLPMTU carries (1200 bytes for IPv4, RFC 8899 5.1.2; 1280
// for IPv6), never below. A path that does not carry even that has some
// other trouble, and R2 deals with it.
//
// Search (RFC 4821 7.2, 7.3): every plpRaise the size halfway between the
// largest size known to work and the smallest known to fail (at first the
// handshake's MSS) is tried with the connection's own data; if it draws
// two timeouts in a row the connection returns to the size that worked and
// remembers the failure, otherwise the new size stands. The search ends
// when the two are within plpStep bytes; after plpReset the failure is
// forgotten, so a path that widened is found again (RFC 8899 5.1.1's
// PMTU_RAISE_TIMER is 600 s).
const (
	plpBase4 = 1200
	plpBase6 = minMTU6
	plpRaise = 30 * time.Second
	plpReset = 10 * time.Minute
	plpStep  = 32
)

type plpmtud struct {
	good    int           // largest MTU known to work (0: none yet)
	bad     int           // smallest MTU known to fail (0: none)
	trying  int           // the MTU being tried (0: none)
	raiseAt time.Duration // when to try a larger size (0: never)
	badAt   time.Duration // when bad was learnt
	events  uint64        // black holes detected (reductions)
}

func (c *TCB) plpBase() int {
	if c.cfg.IPv6 {
		return plpBase6
	}
	return plpBase4
}

// curMTU is the MTU the current send MSS fills.
func (c *TCB) curMTU() int {
	n := c.snd.mss + c.ipHeaderLen() + 20
	if c.ts.ok {
		n += tsOptionLen
	}
	return n
}

// maxMTU is the MTU the handshake's MSS fills.
func (c *TCB) maxMTU() int {
	if c.icmp == nil || c.icmp.maxMSS == 0 {
		return c.curMTU()
	}
	return c.icmp.maxMSS + c.curMTU() - c.snd.mss
}

// plpOnRTO runs black-hole detection at a retransmission timeout, before
// the resend: c.retrans counts the consecutive timeouts of the oldest
// outstanding data.
func (c *TCB) plpOnRTO(now time.Duration) {
	// The segment resent from SND.UNA is as large as the data in flight,
	// the MSS and the peer's window allow; only one larger than the base
	// size can be what the path drops (a small window makes the segments
	// smaller than the MSS, but not small enough).
	resend := min(int(c.snd.max.Sub(c.snd.una)), c.snd.mss, max(int(c.snd.wnd), 1))
	if c.retrans < 2 || !c.state.synchronized() || resend <= c.mssFor(c.plpBase()) {
		return
	}
	p := &c.icmpAlloc().plp
	cur := c.curMTU()
	switch {
	case p.trying != 0: // the larger size failed: back to what worked
		p.bad, p.badAt = p.trying, now
		p.trying = 0
		c.lowerMSS(c.mssFor(p.good))
	case cur > c.plpBase():
		p.bad, p.badAt = cur, now
		p.good = c.plpBase()
		c.lowerMSS(c.mssFor(p.good))
	default:
		return
	}
	p.events++
	p.raiseAt = now + plpRaise
	c.retrans = 1 // the resend at the smaller size starts its own count
}

// plpMaybeRaise tries a larger size when the raise timer is due: a
// connection that has sent full-size segments at the current size without
// two timeouts in a row confirms it.
func (c *TCB) plpMaybeRaise(now time.Duration) {
	if c.icmp == nil {
		return // no black hole yet: nothing to search
	}
	p := &c.icmp.plp
	if p.raiseAt == 0 || now < p.raiseAt || c.retrans > 0 {
		return
	}
	if p.trying != 0 {
		p.good, p.trying = p.trying, 0 // the tried size survived plpRaise
	}
	if p.bad != 0 && now-p.badAt >= plpReset {
		p.bad = 0 // RFC 8899 5.1.1: look again for a path that widened
	}
	hi := p.bad
	if hi == 0 {
		hi = c.maxMTU() + 1
	}
	p.raiseAt = 0
	if hi-p.good <= plpStep || p.good == 0 {
		if p.bad != 0 {
			p.raiseAt = p.badAt + plpReset
		}
		return
	}
	try := (p.good + hi) / 2
	mss := c.mssFor(try)
	if c.ccs.Cwnd < mss || int(c.snd.wnd) < mss {
		// RFC 4821 7.4: only when the windows can carry the larger
		// segments; a segment larger than the window would never be
		// worth sending (3.8.6.2.1), and the connection would stall.
		p.raiseAt = now + plpRaise
		return
	}
	p.trying = try
	c.snd.mss = mss
	c.ccs.MSS = mss
	p.raiseAt = now + plpRaise
}

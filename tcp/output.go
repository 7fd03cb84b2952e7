package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// output transmits what the state, the windows and the owed ACK allow.
func (c *TCB) output(now time.Duration) {
	c.plpMaybeRaise(now) // RFC 4821 7.3: try a larger size
	sent := false
	switch c.state {
	case SynSent, SynReceived:
		if c.snd.nxt == c.snd.iss {
			c.sendSyn(now)
			sent = true
		}
	case Established, CloseWait, FinWait1, Closing, LastAck:
		sent = c.sendData(now)
	}
	if c.ackNow && !sent && c.state != Closed && c.state != Listen && c.state != SynSent {
		c.sendAck(now)
	}
}

// sendSyn sends <SEQ=ISS><CTL=SYN> or, in SYN-RECEIVED,
// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with our options.
func (c *TCB) sendSyn(now time.Duration) {
	h := c.header(wire.TCP{Seq: uint32(c.snd.iss), Flags: wire.SYN})
	h.Options.HasMSS, h.Options.MSS = true, uint16(min(c.cfg.MSS, 0xffff)) // MUST-14, SHLD-5
	offerWS := c.cfg.WindowScale && (c.state == SynSent || c.wsOK)
	if offerWS {
		h.Options.HasWScale, h.Options.WScale = true, c.rcv.shift
	}
	if c.state == SynReceived {
		h.Flags |= wire.ACK
		h.Ack = uint32(c.rcv.nxt)
	}
	if c.cfg.SACK && (c.state == SynSent || c.sackOK) {
		h.Options.SACKPermitted = true // RFC 2018 2
	}
	if c.cfg.Timestamps && (c.state == SynSent || c.ts.ok) {
		h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, c.tsNow(now), c.ts.recent
	}
	c.ecnSyn(h)                   // RFC 3168 6.1.1
	w := min(c.rb.free(), 0xffff) // a SYN's window is never scaled (RFC 7323 2.2)
	h.Window = uint16(w)
	c.rcv.adv = c.rcv.nxt.Add(seq.Size(w))
	if c.snd.max != c.snd.iss {
		c.noteRetransmit()
	}
	c.transmit(h, nil, nil)
	c.snd.nxt = c.snd.iss.Add(1)
	c.snd.max = seq.Max(c.snd.max, c.snd.nxt)
	if c.rtoAt == 0 {
		c.rtoAt = now + c.rtt.rto
	}
	if c.snd.max == c.snd.nxt && !c.rtt.timing && c.retrans == 0 {
		c.rtt.start(now, c.snd.nxt)
	}
}

// sendData sends data segments (and the FIN) from SND.NXT as far as the
// send window, the congestion window and sender silly-window avoidance
// allow. It reports whether it sent anything.
func (c *TCB) sendData(now time.Duration) bool {
	if c.inRecov && c.sackOK {
		return c.sackRecovery(now)
	}
	sent := false
	for {
		// Going back after a timeout: skip what the peer SACKed, but never
		// the left edge (RFC 2018 8: the segment at SND.UNA MUST be
		// retransmitted whatever its SACKed bit says; a reneging receiver
		// or a bogus block over SND.UNA would otherwise leave the data
		// unacknowledged with no timer armed).
		if c.snd.nxt.LessThan(c.snd.max) && c.snd.nxt != c.snd.una {
			if r, in := c.board.sackedAt(c.snd.nxt); in {
				c.snd.nxt = r.end
				continue
			}
		}
		off := int(c.snd.nxt.Sub(c.sndHead))
		avail := c.sb.n - off
		finDue := c.finQueued && avail <= 0 && c.snd.nxt == c.sndHead.Add(seq.Size(c.sb.n))
		if avail <= 0 {
			if finDue {
				c.sendSegment(now, c.snd.nxt, 0, true)
				return true
			}
			return sent
		}
		if c.snd.max == c.snd.una && c.sentData && now-c.lastSend > c.rtt.rto && c.ccs.MSS > 0 {
			// RFC 5681 4.1: restart from the initial window after an idle RTO.
			c.ccs.Cwnd = min(c.ccs.Cwnd, c.ccs.InitialWindow())
		}
		win := c.usableWindow()
		// Going back, a hole before a SACKed range is resent in a whole
		// segment (SACKed bytes and all), never clipped to the hole: a
		// peer's confetti of 1-byte holes must not buy 1-byte segments.
		n := c.sendSize(avail, win) // one MSS, or with TSO several (tso.go)
		if n <= 0 || !c.worthSending(n, avail) {
			c.armPersist(now, avail)
			return sent
		}
		fin := c.finQueued && n == avail
		c.sendSegment(now, c.snd.nxt, n, fin)
		sent = true
	}
}

// usableWindow is SND.UNA + min(SND.WND, cwnd) - SND.NXT, or zero when the
// window shrank below what is in flight (MUST-34).
func (c *TCB) usableWindow() int {
	wnd := min(int(c.snd.wnd), c.ccs.Cwnd)
	inFlight := int(c.snd.nxt.Sub(c.snd.una))
	return max(wnd-inFlight, 0)
}

// worthSending is the sender's silly-window avoidance (RFC 9293 3.8.6.2.1,
// MUST-38) and Nagle (3.7.4, SHLD-7; off with NoDelay, MUST-17): send a full
// segment, data being retransmitted, all that is queued when nothing is
// unacknowledged (or Nagle is off), or at least half the largest window the
// peer offered.
func (c *TCB) worthSending(n, avail int) bool {
	switch {
	case n >= c.snd.mss, c.snd.nxt.LessThan(c.snd.max):
		return true // a full segment, or a retransmission: never held back
	case c.corked && !c.finQueued:
		return false // cork: full segments only
	case n == avail && (c.cfg.NoDelay || c.snd.max == c.snd.una || c.finQueued):
		return true
	case c.snd.maxWnd > 0 && n >= int(c.snd.maxWnd/2) && c.snd.max == c.snd.una:
		return true
	}
	return false
}

// armPersist starts the persist timer when the peer's window is what keeps
// queued data from going out and nothing in flight will bring an ACK
// (3.8.6.1, MUST-36; SHLD-29: the first probe after one RTO).
func (c *TCB) armPersist(now time.Duration, avail int) {
	// SND.NXT, not SND.MAX: after a timeout rewound SND.NXT into a window
	// that shrank to zero, nothing is sent and the RTO is disarmed, so
	// the probes must keep the connection alive (MUST-35, SHLD-17).
	if avail <= 0 || c.snd.nxt != c.snd.una || c.persistAt != 0 {
		return
	}
	if int(c.snd.wnd) >= min(avail, c.snd.mss) && c.ccs.Cwnd > 0 {
		return
	}
	if !c.persisting {
		c.persisting, c.persistT0 = true, now
	}
	c.persistAt = now + c.persistBackoff()
}

func (c *TCB) persistBackoff() time.Duration {
	d := c.rtt.base << min(c.persistExp, 16)
	return c.rtt.slop(min(d, c.cfg.MaxRTO)) // SHLD-30: exponential, bounded
}

// sendSegment sends n bytes of data from sequence number s (and the FIN
// when fin), carrying the ACK and our window.
func (c *TCB) sendSegment(now time.Duration, s seq.Value, n int, fin bool) {
	off := int(s.Sub(c.sndHead))
	p1, p2 := c.sb.peek(off, n)
	h := c.header(wire.TCP{Seq: uint32(s), Ack: uint32(c.rcv.nxt), Flags: wire.ACK})
	if n > 0 && off+n == c.sb.n {
		h.Flags |= wire.PSH // MUST-61: PSH on the last queued segment
	}
	end := s.Add(seq.Size(n))
	if fin {
		h.Flags |= wire.FIN
		end = end.Add(1)
		c.finSent = true
	}
	h.Window = c.windowField()
	c.stamp(now, h)
	if s.LessThan(c.snd.max) {
		c.noteRetransmit()
		c.stats.RetransmittedBytes += uint64(n)
		if _, sacked := c.board.sackedAt(s); sacked {
			c.stats.SACKedResent++ // should stay 0: counted independently of the skipping
		}
	} else {
		c.stats.BytesSent += uint64(n)
	}
	c.transmit(h, p1, p2)
	c.lastSend, c.sentData = now, true
	if s == c.snd.nxt {
		c.snd.nxt = end
	}
	if c.snd.max.LessThan(end) {
		if c.snd.max == c.snd.una {
			c.unaSince = now // the flight begins: the user timeout counts from here
		}
		if c.snd.max == s {
			c.rtt.start(now, end)
		}
		c.snd.max = end
	}
	if c.rtoAt == 0 {
		c.rtoAt = now + c.rtt.rto // RFC 6298 5.1
	}
	c.persistAt = 0
	c.rackSent(now, s, end) // RFC 8985 6.1, 7.2
}

// noteRetransmit counts a retransmission and applies Karn's rule.
func (c *TCB) noteRetransmit() {
	c.stats.Retransmits++
	c.rtt.cancel()
}

// retransmitHead resends the oldest unacknowledged segment (fast
// retransmit, RFC 5681 3.2; NewReno partial ACK, RFC 6582 3.2 step 4).
func (c *TCB) retransmitHead(now time.Duration) {
	dataEnd := c.sndHead.Add(seq.Size(c.sb.n))
	n := min(int(dataEnd.Sub(c.snd.una)), c.snd.mss)
	if c.snd.una.LessThan(c.sndHead) || n < 0 {
		return
	}
	fin := c.finSent && c.snd.una.Add(seq.Size(n)) == dataEnd
	if n == 0 && !fin {
		return
	}
	c.sendSegment(now, c.snd.una, n, fin)
}

// sendAck sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. The RFC's SND.NXT is
// the highest sequence number sent, snd.max here: snd.nxt is the
// retransmission point, which a timeout rewinds, and an ACK carrying that
// older number would fail the peer's sequence check and be dropped with
// the acknowledgment it carries.
func (c *TCB) sendAck(now time.Duration) {
	h := c.header(wire.TCP{Seq: uint32(c.snd.max), Ack: uint32(c.rcv.nxt), Flags: wire.ACK})
	h.Window = c.windowField()
	c.stamp(now, h)
	c.sackBlocks(&h.Options)
	c.transmit(h, nil, nil)
}

// sendProbe is a zero-window probe (3.8.6.1): <SEQ=SND.UNA-1><CTL=ACK>, an
// old sequence number the peer must answer with its current window.
func (c *TCB) sendProbe(now time.Duration) {
	h := c.header(wire.TCP{Seq: uint32(c.snd.una.Add(^seq.Size(0))), Ack: uint32(c.rcv.nxt), Flags: wire.ACK})
	h.Window = c.windowField()
	c.stamp(now, h)
	c.transmit(h, nil, nil)
}

// sendReset sends <SEQ=s><CTL=RST>, or <SEQ=s><ACK=a><CTL=RST,ACK>.
func (c *TCB) sendReset(s, a seq.Value, withAck bool) {
	h := c.header(wire.TCP{Seq: uint32(s), Flags: wire.RST})
	if withAck {
		h.Flags |= wire.ACK
		h.Ack = uint32(a)
	}
	c.emitReset(h)
}

func (c *TCB) emitReset(h *wire.TCP) {
	c.stats.ResetsOut++
	c.stats.SegsOut++
	c.out.SendSegment(h, nil, nil)
}

// header fills the Sender's scratch header: segments are built in place so
// nothing escapes to the heap through the Sender interface.
func (c *TCB) header(h wire.TCP) *wire.TCP {
	p := c.out.Scratch()
	*p = h
	return p
}

// transmit hands a segment to the Sender; every segment but a reset
// carries our ACK, so nothing more is owed.
func (c *TCB) transmit(h *wire.TCP, p1, p2 []byte) {
	c.stats.SegsOut++
	if h.Flags&wire.ACK != 0 {
		c.ackNow, c.rcvUnacked, c.delackAt = false, 0, 0
		c.ts.lastAck = c.rcv.nxt
	}
	c.ecnOut(h, len(p1)+len(p2)) // RFC 3168: ECE, CWR, and whether it is ECT
	c.stampUrgent(h)             // 3.8.5: URG and SEG.UP before SND.UP
	c.out.SendSegment(h, p1, p2)
	c.ecn.ect = false
}

// rcvWnd is the window we could offer now: the free receive buffer
// (within the memory budget).
func (c *TCB) rcvWnd() uint32 { return uint32(c.rcvSpace()) }

// windowEdge is RCV.NXT plus the free receive buffer (within the budget).
func (c *TCB) windowEdge() seq.Value { return c.rcv.nxt.Add(seq.Size(c.rcvSpace())) }

// advertisableEdge is windowEdge as far as the 16-bit window field (and our
// scale) can express it.
func (c *TCB) advertisableEdge() seq.Value {
	shift := c.rcv.shift
	if !c.wsOK {
		shift = 0
	}
	return c.rcv.nxt.Add(seq.Size(min(c.rcvSpace(), 0xffff<<shift)))
}

// swsThreshold is min(Fr * RCV.BUFF, Eff.snd.MSS) with Fr = 1/2 (3.8.6.2.2).
func (c *TCB) swsThreshold() int { return min(c.rb.size/2, c.cfg.MSS) }

// windowField picks the window to advertise: the right edge moves right
// only by a worthwhile amount (receiver SWS avoidance, MUST-39) and never
// moves left (SHLD-14), except by less than one scale unit when a scaled
// value rounds down (RFC 7323 2.4, Appendix F): rounding up would promise
// window the buffer cannot hold.
func (c *TCB) windowField() uint16 {
	edge := c.windowEdge()
	if c.rcv.adv.LessThan(c.rcv.nxt) {
		c.rcv.adv = c.rcv.nxt
	}
	prev, target := c.rcv.adv, c.rcv.adv
	if edge.GreaterThan(prev) && (edge.Sub(prev) >= seq.Size(c.swsThreshold()) || prev == c.rcv.nxt && edge.Sub(c.rcv.nxt) >= seq.Size(c.swsThreshold())) {
		target = edge
	}
	w := uint32(target.Sub(c.rcv.nxt))
	shift := c.rcv.shift
	if !c.wsOK {
		shift = 0
	}
	v := w >> shift // RFC 7323 2.4: SEG.WND = RCV.WND >> Rcv.Wind.Shift, rounding down (Appendix F)
	if v > 0xffff {
		v = 0xffff
	}
	// RCV.ADV is the acceptance edge: the highest edge ever offered. A
	// rounded-down field may sit a little left of it, but the peer may
	// still send up to what it was offered, and the buffer (whose edge never
	// moves left) holds it.
	c.rcv.adv = seq.Max(prev, c.rcv.nxt.Add(seq.Size(v<<shift)))
	return uint16(v)
}

// sendNew sends one new segment (or the FIN) from SND.NXT = SND.MAX within
// the peer's window, for RFC 6675 NextSeg rule 2. It reports whether it did.
func (c *TCB) sendNew(now time.Duration) bool {
	if c.snd.nxt != c.snd.max {
		return false
	}
	off := int(c.snd.nxt.Sub(c.sndHead))
	avail := c.sb.n - off
	if avail <= 0 {
		if c.finQueued && avail == 0 && !c.finSent {
			c.sendSegment(now, c.snd.nxt, 0, true)
			return true
		}
		return false
	}
	rwnd := int(c.snd.una.Add(seq.Size(c.snd.wnd)).Sub(c.snd.nxt))
	if c.snd.una.Add(seq.Size(c.snd.wnd)).LessThan(c.snd.nxt) {
		rwnd = 0
	}
	n := min(avail, c.snd.mss, rwnd)
	if n <= 0 {
		return false
	}
	c.sendSegment(now, c.snd.nxt, n, c.finQueued && n == avail)
	return true
}

package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// Segment is SEGMENT ARRIVES (RFC 9293 3.10.7) followed by Flush.
func (c *TCB) Segment(now time.Duration, h *wire.TCP, payload []byte) {
	c.Input(now, h, payload)
	c.Flush(now)
}

// Input processes one arriving segment without sending the ACKs and data it
// makes due; the caller calls Flush after a batch, so one ACK answers many
// segments (MUST-58, MUST-59). Resets it must send go out at once.
func (c *TCB) Input(now time.Duration, h *wire.TCP, payload []byte) {
	c.stats.SegsIn++
	switch c.state {
	case Closed:
		c.arriveClosed(h, len(payload))
	case Listen:
		c.arriveListen(now, h)
	case SynSent:
		c.arriveSynSent(now, h, payload)
	case TimeWait:
		c.arriveTimeWait(now, h, payload)
	default:
		c.arriveOther(now, h, payload)
	}
	c.ecn.ce = false // SetCE marks one segment
}

// Flush sends whatever the processed segments and the windows allow.
func (c *TCB) Flush(now time.Duration) {
	if c.state != Closed && c.state != Listen {
		c.output(now)
	}
}

// segLen is SEG.LEN: the payload plus one for each of SYN and FIN.
func segLen(h *wire.TCP, n int) seq.Size {
	l := seq.Size(n)
	if h.Flags&wire.SYN != 0 {
		l++
	}
	if h.Flags&wire.FIN != 0 {
		l++
	}
	return l
}

// ResetFor is the reply RFC 9293 3.10.7.1 prescribes for a segment that
// reaches no connection (CLOSED); ok is false when none is due (the segment
// was itself a reset).
func ResetFor(h *wire.TCP, payloadLen int) (rst wire.TCP, ok bool) {
	if h.Flags&wire.RST != 0 {
		return rst, false
	}
	if h.Flags&wire.ACK == 0 {
		rst.Seq = 0
		rst.Ack = uint32(seq.Value(h.Seq).Add(segLen(h, payloadLen)))
		rst.Flags = wire.RST | wire.ACK
	} else {
		rst.Seq = h.Ack
		rst.Flags = wire.RST
	}
	rst.SrcPort, rst.DstPort = h.DstPort, h.SrcPort
	return rst, true
}

func (c *TCB) arriveClosed(h *wire.TCP, n int) {
	if rst, ok := ResetFor(h, n); ok {
		c.emitReset(c.header(rst))
	}
}

// arriveListen is 3.10.7.2.
func (c *TCB) arriveListen(now time.Duration, h *wire.TCP) {
	switch {
	case h.Flags&wire.RST != 0: // first: ignore a reset
	case h.Flags&wire.ACK != 0: // second: <SEQ=SEG.ACK><CTL=RST>
		c.sendReset(seq.Value(h.Ack), 0, false)
	case h.Flags&wire.SYN != 0: // third
		c.rcv.irs = seq.Value(h.Seq)
		c.rcv.nxt = c.rcv.irs.Add(1)
		// Anchor the window our SYN,ACK will offer now, as SYN-SENT does:
		// a segment Input before the flush is checked against it.
		c.rcv.adv = c.rcv.nxt.Add(seq.Size(min(c.rb.free(), 0xffff)))
		c.takeSynOptions(now, h)
		c.snd.wnd = uint32(h.Window) // never scaled on a SYN (RFC 7323 2.2)
		c.snd.maxWnd = c.snd.wnd
		c.snd.wl1 = c.rcv.irs
		c.snd.nxt = c.snd.iss // the SYN,ACK goes out at the flush
		c.synSent = now
		// Data on the SYN is not acknowledged: the peer sends it again
		// once we are ESTABLISHED (synack does not queue it; 3.10.7.2
		// allows dropping what it does not process).
		c.setState(SynReceived, causeOf(h.Flags))
	}
}

// takeSynOptions applies the options of a SYN: MSS (MUST-14, MUST-15,
// MUST-16) and window scaling (RFC 7323 2.2).
func (c *TCB) takeSynOptions(now time.Duration, h *wire.TCP) {
	mss := c.cfg.DefaultSendMSS
	if h.Options.HasMSS {
		mss = int(h.Options.MSS)
	}
	c.snd.mss = max(min(mss, c.cfg.MSS), 64) // a tiny MSS cannot make us spray tiny segments
	c.takeSynTimestamps(now, h)
	c.sackOK = c.cfg.SACK && h.Options.SACKPermitted
	c.ecnTakeSyn(h) // RFC 3168 6.1.1
	if c.ts.ok {
		c.snd.mss -= tsOptionLen // MUST-16: the effective MSS leaves room for the option
	}
	if c.cfg.WindowScale && h.Options.HasWScale {
		c.wsOK = true
		c.snd.shift = min(h.Options.WScale, 14)
	} else {
		c.wsOK = false
		c.snd.shift, c.rcv.shift = 0, 0
	}
	c.ccs.MSS = c.snd.mss
	c.cc.Init(now, c.ccState())
}

// arriveSynSent is 3.10.7.3.
func (c *TCB) arriveSynSent(now time.Duration, h *wire.TCP, payload []byte) {
	f, ack := h.Flags, seq.Value(h.Ack)
	if f&wire.ACK != 0 { // first: the ACK bit
		if ack.LessThanEq(c.snd.iss) || ack.GreaterThan(c.snd.max) {
			if f&wire.RST == 0 {
				c.sendReset(ack, 0, false)
			}
			return
		}
	}
	if f&wire.RST != 0 { // second: the RST bit (acceptable only with our SYN's ACK)
		if f&wire.ACK != 0 {
			c.fail(ErrRefused, causeOf(f))
		}
		return
	}
	if f&wire.SYN == 0 { // fifth: neither SYN nor RST
		return
	}
	c.rcv.irs = seq.Value(h.Seq) // fourth: the SYN bit
	c.rcv.nxt = c.rcv.irs.Add(1)
	// Our SYN's window was measured from an unknown RCV.NXT: anchor it at
	// the real one (3.10.7.4 first step tests against this edge).
	c.rcv.adv = c.rcv.nxt.Add(seq.Size(min(c.rb.free(), 0xffff)))
	c.takeSynOptions(now, h)
	c.snd.wnd = uint32(h.Window)
	c.snd.maxWnd = c.snd.wnd
	c.snd.wl1 = c.rcv.irs
	if f&wire.ACK == 0 {
		// Simultaneous open (MUST-10): answer <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
		c.snd.nxt = c.snd.iss
		c.setState(SynReceived, causeOf(f))
		return
	}
	c.snd.wl2 = ack
	if c.ts.ok {
		c.ts.segTSecr = h.Options.TSEcr // an unambiguous SYN RTT even after retransmission
	}
	c.ackNew(now, ack)
	c.heardFrom(now)
	c.setState(Established, causeOf(f))
	c.ackNow = true
	c.arriveUrgent(h, seq.Value(h.Seq)) // step six, as for the text
	if len(payload) > 0 || f&wire.FIN != 0 {
		// Text or FIN on the SYN,ACK: continue at step six of 3.10.7.4.
		c.acceptText(now, h, c.rcv.nxt, payload, f&wire.FIN != 0)
	}
}

// arriveOther is 3.10.7.4, for SYN-RECEIVED and the synchronized states,
// step by step.
func (c *TCB) arriveOther(now time.Duration, h *wire.TCP, payload []byte) {
	f, sq := h.Flags, seq.Value(h.Seq)
	fin := f&wire.FIN != 0
	dataSeq := sq
	if f&wire.SYN != 0 {
		dataSeq = dataSeq.Add(1)
	}
	n := segLen(h, len(payload))
	if c.state == SynReceived && f&wire.SYN != 0 && sq == c.rcv.irs {
		if f&wire.ACK == 0 { // the peer's SYN again: our SYN,ACK was lost
			c.snd.nxt = c.snd.iss
			return
		}
		// Simultaneous open (Figure 7 line 6): the SYN,ACK repeats the SYN
		// we hold; drop the old SYN and keep the ACK.
		f &^= wire.SYN
		sq, n = dataSeq, n-1
	}
	if !c.paws(now, h) { // RFC 7323 5.3: before the sequence check
		return
	}
	ok, zeroWnd := c.acceptable(sq, n)
	if !ok && n == 0 && f&wire.RST == 0 && sq == c.rcv.adv && c.rcv.adv.GreaterThan(c.rcv.nxt) {
		// Deliberately one past RFC 9293's table, as Linux and the BSDs
		// do: an empty segment at exactly the right edge is taken. A peer
		// that filled our window sends its ACKs with SEQ = SND.NXT = that
		// edge; rejecting them drops the acknowledgment they carry, and two
		// peers that filled each other's windows then trade ACKs until R2
		// (found by the soak harness; see internal/simharness regressions).
		ok = true
	}
	if !ok { // first: sequence number check
		c.unacceptable(now, h, len(payload))
		return
	}
	if zeroWnd { // RCV.WND = 0: keep only the ACK, RST and URG (MUST-66)
		// The text is unacceptable and owed an ACK (Table 6): this is how
		// a peer's zero-window probe learns the window (3.8.6.1).
		c.ackNow = c.ackNow || len(payload) > 0
		payload, fin = nil, fin && len(payload) == 0
	}
	c.heardFrom(now)
	if f&wire.RST != 0 { // second: RST (RFC 5961 3.2)
		c.arriveReset(now, sq, f)
		return
	}
	if f&wire.SYN != 0 { // fourth: SYN (RFC 5961 4.2)
		if c.state == SynReceived && c.passive && !c.userCalled() {
			c.backToListen(ErrReset, causeOf(f))
			return
		}
		c.challengeAck(now)
		return
	}
	if f&wire.ACK == 0 { // fifth: ACK off, drop
		return
	}
	if !c.arriveAck(now, h, len(payload)) {
		return
	}
	c.ecnArrive(now, h, len(payload)) // RFC 3168 6.1.2, 6.1.3
	// sixth: the URG bit (urgent.go)
	c.arriveUrgent(h, sq)
	c.acceptText(now, h, dataSeq, payload, fin) // seventh and eighth
	if c.state == FinWait1 && c.finAcked {
		c.setState(FinWait2, causeOf(f))
	}
}

// acceptable is the four-case test of 3.10.7.4 step one against the window
// we advertised. zeroWnd marks a segment taken only for its ACK, RST and
// URG because the window is zero.
func (c *TCB) acceptable(sq seq.Value, n seq.Size) (ok, zeroWnd bool) {
	wnd := c.rcv.adv.Sub(c.rcv.nxt)
	if c.rcv.adv.LessThan(c.rcv.nxt) {
		wnd = 0
	}
	switch {
	case n == 0 && wnd == 0:
		return sq == c.rcv.nxt, false
	case n == 0:
		return sq.InWindow(c.rcv.nxt, wnd), false
	case wnd == 0:
		return sq == c.rcv.nxt, true
	}
	return sq.InWindow(c.rcv.nxt, wnd) || sq.Add(n-1).InWindow(c.rcv.nxt, wnd), false
}

// unacceptable answers a segment that failed the sequence check: an ACK
// unless it was a reset. (TIME-WAIT has its own rules: timewait.go.)
func (c *TCB) unacceptable(now time.Duration, h *wire.TCP, n int) {
	c.stats.UnacceptableSegsIn++
	if h.Flags&wire.RST != 0 {
		return
	}
	if sq := seq.Value(h.Seq); c.sackOK && n > 0 && sq.Add(seq.Size(n)).LessThanEq(c.rcv.nxt) {
		// RFC 2883: a duplicate of data already received goes in a D-SACK block.
		c.dsack, c.dsackOn = span{sq, sq.Add(seq.Size(n))}, true
		c.stats.DSACKsSent++
	}
	c.answer(now) // rate-limited (ratelimit.go; RFC 5961 7)
}

// arriveReset is step two: a reset counts only when its sequence number is
// exactly RCV.NXT; one elsewhere in the window draws a challenge ACK
// (RFC 5961 3.2).
func (c *TCB) arriveReset(now time.Duration, sq seq.Value, f wire.Flags) {
	if sq != c.rcv.nxt {
		c.challengeAck(now)
		return
	}
	cause := causeOf(f)
	switch c.state {
	case SynReceived:
		if c.passive {
			c.backToListen(ErrReset, cause)
			return
		}
		c.fail(ErrRefused, cause)
	case Established, FinWait1, FinWait2, CloseWait:
		c.fail(ErrReset, cause) // MUST-12: the user learns it was a reset
	default: // CLOSING, LAST-ACK, TIME-WAIT
		c.setState(Closed, cause)
	}
}

// backToListen returns a passive SYN-RECEIVED connection to LISTEN
// (3.10.7.4: "The user need not be informed"). That holds while no user
// call has touched the half-open connection, as in Linux, where it has no
// user until accept. In synack's API the user may SEND (3.10.2 queues the
// data) or CLOSE (3.10.4 queues the FIN) in SYN-RECEIVED, and was told
// the data was taken: the connection is the user's, so it ends with err
// as an active one would, instead of dropping the data silently and
// handing the rest to whichever SYN comes next.
func (c *TCB) backToListen(err error, cause Cause) {
	if c.userCalled() {
		c.fail(err, cause)
		return
	}
	c.deleteTCB()
	iss := c.snd.iss // the ISS the passive OPEN was given, for the next SYN
	c.snd = sendVars{}
	c.rcv = recvVars{}
	c.initSend(iss)
	c.setState(Listen, cause)
}

// userCalled reports whether the user has SENT data or CLOSEd on this
// connection.
func (c *TCB) userCalled() bool { return c.sb.n > 0 || c.finQueued }

// challengeAck sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 5961 3.2,
// 4.2, 5.2), within the rate limit of RFC 5961 7.
func (c *TCB) challengeAck(now time.Duration) {
	if c.answer(now) {
		c.stats.ChallengeAcks++
	}
}

// arriveAck is step five. It reports whether processing continues.
func (c *TCB) arriveAck(now time.Duration, h *wire.TCP, n int) bool {
	ack, sq := seq.Value(h.Ack), seq.Value(h.Seq)
	if c.state == SynReceived {
		if !c.snd.una.LessThan(ack) || ack.GreaterThan(c.snd.max) {
			c.sendReset(ack, 0, false)
			return false
		}
		c.updateRecent(now, h) // RFC 7323 4.3: only from a segment whose ACK passed
		c.snd.wnd = uint32(h.Window) << c.snd.shift
		c.snd.wl1, c.snd.wl2 = sq, ack
		c.ackNew(now, ack)
		c.setState(Established, causeOf(h.Flags))
		if c.finQueued { // a CLOSE issued in SYN-RECEIVED now takes effect
			c.setState(FinWait1, CauseClose)
		}
		return true
	}
	// RFC 5961 5.2: acceptable if SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
	if ack.GreaterThan(c.snd.max) || ack.LessThan(c.snd.una.Add(-seq.Size(c.snd.maxWnd))) {
		c.challengeAck(now)
		return false
	}
	c.updateRecent(now, h) // RFC 7323 4.3: only from a segment whose ACK passed
	c.ackedAt = now
	wnd := uint32(h.Window) << c.snd.shift
	advanced := c.snd.una.LessThan(ack)
	newSACK := c.sackOK && h.Options.NumSACK > 0 && c.board.add(&h.Options, ack, c.snd.max)
	if advanced {
		c.ackNew(now, ack)
	} else if ack == c.snd.una {
		c.dupAck(now, h, n, wnd, newSACK)
	}
	if c.sackOK {
		c.rackOnAck(now, h, n) // RFC 8985 6.2, 7.4
		c.sackLossCheck(now)
	}
	// 3.10.7.4 step five's SND.WL1/WL2 rule, plus any ACK that advances
	// SND.UNA (as Linux does): otherwise an ACK on an older segment (a
	// retransmitted FIN, say) moves SND.UNA while keeping an older window,
	// and the right edge drifts past what the peer offered.
	if advanced || c.snd.wl1.LessThan(sq) || (c.snd.wl1 == sq && c.snd.wl2.LessThanEq(ack)) {
		c.updateWindow(wnd, sq, ack)
	}
	switch c.state {
	case Closing:
		if c.finAcked {
			c.enterTimeWait(now, causeOf(h.Flags))
		}
	case LastAck:
		if c.finAcked {
			c.setState(Closed, causeOf(h.Flags))
			return false
		}
	}
	return true
}

func (c *TCB) updateWindow(wnd uint32, sq, ack seq.Value) {
	if c.snd.wnd == 0 && wnd > 0 {
		c.persistAt, c.persistExp, c.persisting = 0, 0, false
	}
	c.snd.wnd = wnd
	c.snd.wl1, c.snd.wl2 = sq, ack
	c.snd.maxWnd = max(c.snd.maxWnd, wnd)
}

// ackNew takes an ACK of new data: SND.UNA < SEG.ACK =< SND.NXT.
func (c *TCB) ackNew(now time.Duration, ack seq.Value) {
	acked := int(ack.Sub(c.snd.una))
	// RFC 7661 (and RFC 5681 4.1's spirit): grow cwnd only while it is what
	// limits the flight; a window capped by the peer or the application
	// would otherwise inflate without bound and burst when the cap lifts.
	c.cwndLimited = 2*int(c.snd.max.Sub(c.snd.una)) >= c.ccs.Cwnd
	dataEnd := c.sndHead.Add(seq.Size(c.sb.n))
	if ack.GreaterThan(c.sndHead) {
		n := int(seq.Min(ack, dataEnd).Sub(c.sndHead))
		c.sb.discard(n)
		if c.sb.n == 0 {
			c.sb.clear() // memory follows the data: an emptied send buffer holds nothing
		}
		c.sndHead = c.sndHead.Add(seq.Size(n))
		c.stats.BytesAcked += uint64(n)
	}
	if c.finSent && ack == dataEnd.Add(1) {
		c.finAcked = true
		c.finWait2From = now
	}
	c.board.ackTo(ack)
	sample := c.rtt.ack(now, ack)
	if sample == 0 {
		if sample = c.tsSample(now); sample > 0 {
			c.rtt.sample(sample)
		}
	}
	if c.snd.una == c.snd.iss && c.retrans > 0 && c.cfg.InitialRTO < 3*time.Second {
		// RFC 6298 5.7: our SYN (or SYN,ACK) timed out, and Karn left no
		// sample: data transmission begins with an RTO of 3 s.
		c.rtt.set(3 * time.Second)
	}
	c.snd.una = ack
	if c.snd.nxt.LessThan(ack) {
		c.snd.nxt = ack
	}
	c.onNewAck(now, acked, sample)
	c.dupAcks, c.retrans, c.firstRtx = 0, 0, 0
	c.unaSince = now // progress: the user timeout counts again from here
	if c.snd.una == c.snd.max {
		c.rtoAt = 0 // RFC 6298 5.2
	} else {
		c.rtoAt = now + c.rtt.rto // RFC 6298 5.3
	}
}

// acceptText is steps seven and eight: queue the text and take the FIN.
// dataSeq is the sequence number of payload's first byte.
func (c *TCB) acceptText(now time.Duration, h *wire.TCP, dataSeq seq.Value, payload []byte, fin bool) {
	switch c.state {
	case Established, FinWait1, FinWait2:
	default:
		return // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the FIN came already
	}
	if c.finPending { // 3.10.7.4 step eight: nothing lies beyond a FIN we hold
		if end := dataSeq.Add(seq.Size(len(payload))); c.finRcvdAt.LessThan(end) || (fin && c.finRcvdAt.LessThan(end.Add(1))) {
			// Text at or past the held FIN's sequence number would be taken
			// as in order once the hole before it fills, carry RCV.NXT past
			// the FIN, and the FIN would never be consumed. A FIN of this
			// segment beyond the held one is the peer contradicting itself:
			// the first one stands.
			n := int(c.finRcvdAt.Sub(dataSeq))
			if !dataSeq.LessThan(c.finRcvdAt) {
				n = 0
			}
			payload, fin = payload[:n], false
			c.ackNow = true // what was dropped draws an ACK, as out-of-order text does
		}
	}
	finSeq := dataSeq.Add(seq.Size(len(payload)))
	if len(payload) > 0 {
		if c.readClosed { // SHLD-3: data after a full CLOSE resets
			// At SEG.ACK, the peer's RCV.NXT, which its RFC 5961 3.2 check
			// takes as exact; SND.NXT may lie past it (our FIN unacknowledged)
			// and would only draw a challenge ACK (as Linux does).
			c.sendReset(seq.Value(h.Ack), 0, false)
			c.fail(ErrReset, "rcv data after CLOSE")
			return
		}
		if !c.queueText(now, dataSeq, payload) {
			fin = false // trimmed at the right edge: the FIN lies beyond
		}
	}
	if fin {
		c.finPending, c.finRcvdAt = true, finSeq
		c.ackNow = true // at RCV.NXT: step eight; beyond it: out of order (RFC 5681 4.2)
	}
	if c.finPending && c.finRcvdAt == c.rcv.nxt {
		c.takeFin(now, causeOf(h.Flags))
	}
}

// queueText places payload in the receive ring at its offset from RCV.NXT,
// trimming what lies outside the window, and advances RCV.NXT over what is
// now contiguous. It reports false when it trimmed the tail.
func (c *TCB) queueText(now time.Duration, dataSeq seq.Value, p []byte) bool {
	if dataSeq.LessThan(c.rcv.nxt) { // trim the part already received
		skip := int(c.rcv.nxt.Sub(dataSeq))
		if skip >= len(p) {
			c.ackNow = true
			if c.sackOK { // RFC 2883: report the duplicate
				c.dsack, c.dsackOn = span{dataSeq, dataSeq.Add(seq.Size(len(p)))}, true
				c.stats.DSACKsSent++
			}
			return true
		}
		p, dataSeq = p[skip:], c.rcv.nxt
	}
	off := int(dataSeq.Sub(c.rcv.nxt))
	whole := true
	if room := c.rb.free() - off; len(p) > room {
		p, whole = p[:max(room, 0)], false
	}
	if len(p) > 0 && c.cfg.Pool.level() == memOver {
		p, whole = c.admitOverLimit(dataSeq, off, p, whole)
	}
	if len(p) == 0 {
		c.ackNow = true
		return whole
	}
	// Out-of-order text is recorded before it is stored: a segment the
	// map has no room for is dropped (the sender retransmits it) and
	// takes no chunk.
	if off > 0 && !c.ooo.add(dataSeq, dataSeq.Add(seq.Size(len(p)))) {
		c.ackNow = true
		c.stats.ReassemblyOverflowSegs++
		return whole
	}
	c.rb.writeAt(c.rb.n+off, p)
	c.stats.BytesReceived += uint64(len(p))
	if off > 0 {
		c.stats.OutOfOrderSegs++
		c.ackNow = true // RFC 5681 4.2: out-of-order data draws an immediate ACK
		c.lastOOO = dataSeq
		return whole
	}
	nxt := c.ooo.advance(dataSeq.Add(seq.Size(len(p))))
	if nxt != dataSeq.Add(seq.Size(len(p))) {
		c.ackNow = true // a hole was filled
	}
	c.rb.n += int(nxt.Sub(c.rcv.nxt))
	c.rcv.nxt = nxt
	// Text past the advertised edge was taken because the buffer had room
	// (a sender's edge drifts right with SND.UNA under the 3.10.7.4
	// SND.WL1 rule): the edge is now at least RCV.NXT.
	c.rcv.adv = seq.Max(c.rcv.adv, nxt)
	c.rcvUnacked += len(p)
	switch {
	case c.cfg.AckDelay < 0 || c.rcvUnacked >= 2*c.cfg.MSS: // SHLD-19
		c.ackNow = true
	case c.quickAcks > 0: // the peer is in slow start: do not slow it down
		c.quickAcks--
		c.ackNow = true
	case c.delackAt == 0:
		c.delackAt = now + c.cfg.AckDelay // SHLD-18, MUST-40
	}
	return whole
}

// takeFin is step eight for a FIN at RCV.NXT.
func (c *TCB) takeFin(now time.Duration, cause Cause) {
	// Nothing lies beyond the FIN (3.10.7.4 step eight: it is the end of
	// the peer's sequence space): out-of-order text a broken or hostile
	// peer placed past it is dropped, or it would sit at RCV.NXT once the
	// FIN is consumed, be SACKed, and never be read (FuzzConnPair input
	// 081ead911bb8a370).
	c.dropOOO()
	c.finPending = false
	c.finRcvd = true
	c.rcv.nxt = c.rcv.nxt.Add(1)
	c.ackNow = true
	switch c.state {
	case SynReceived, Established:
		c.setState(CloseWait, cause)
	case FinWait1:
		if c.finAcked { // our FIN acknowledged by this very segment
			c.enterTimeWait(now, cause)
		} else {
			c.setState(Closing, cause) // simultaneous close
		}
	case FinWait2:
		c.enterTimeWait(now, cause)
	}
}

func (c *TCB) enterTimeWait(now time.Duration, cause Cause) {
	c.rtoAt, c.persistAt = 0, 0
	c.tw = c.timeWaitRecord(now)
	c.timeWaitAt = c.tw.expires // MUST-13
	c.setState(TimeWait, cause)
}

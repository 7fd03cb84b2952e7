package tcp

import (
	"fmt"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// RACK-TLP (RFC 8985), for connections that negotiated SACK. RACK (6)
// marks a segment lost once a segment sent after it has been delivered and
// a reordering window has passed, instead of counting duplicate ACKs; TLP
// (7) sends a probe when the tail of a flight goes unacknowledged, so the
// peer's ACK reveals a tail loss long before the RTO would.
//
// The losses RACK finds are repaired by the RFC 6675 machinery of sack.go:
// the scoreboard's lost boundary (IsLost) is at least the end of the
// highest segment RACK marked, so Pipe and NextSeg treat them as lost; a
// lost retransmission, below HighRxt, goes again through
// rackRetransmitLost. RFC 6675's DupThresh rules stay in force beside RACK.

const (
	wcDelAckT   = 200 * time.Millisecond // 7.2: WCDelAckT, the worst-case delayed ACK
	minPTO      = 10 * time.Millisecond  // floor under 2*SRTT on very short paths
	rackMinSegs = 16                     // first allocation of the segment ring
	maxRACKSegs = 1024                   // ring bound: then new data merges into the newest entry
	reoPersist  = 16                     // 6.2 step 4: DSACK-free recoveries before reo_wnd shrinks back
)

// rackSeg is one transmitted segment: RFC 8985 5.2's per-segment variables.
type rackSeg struct {
	start, end seq.Value     // its sequence space [start, end), a FIN included
	xmit       time.Duration // Segment.xmit_ts: its latest transmission
	rtx        bool          // Segment.retransmitted
	lost       bool          // Segment.lost, since its latest transmission
	sacked     bool          // delivered by a SACK block
}

// rackState is RFC 8985 5.2's RACK and TLP variables and the ring of
// segments in flight. The ring is allocated on first use and grows by
// doubling up to maxRACKSegs, then is reused: nothing is allocated per
// segment at steady state.
type rackState struct {
	segs    []rackSeg // a ring, len a power of two: sorted by sequence number
	head, n int
	high    seq.Value // end of the highest segment recorded (SND.MAX as the ring sees it)
	highOK  bool
	una     seq.Value // SND.UNA at the last ACK (to see it advance)

	valid          bool          // RACK.xmit_ts and RACK.end_seq are set
	xmitTS         time.Duration // RACK.xmit_ts
	endSeq         seq.Value     // RACK.end_seq
	rtt            time.Duration // RACK.rtt
	minRTT         time.Duration // RACK.min_RTT (0: no sample yet)
	fack           seq.Value     // RACK.fack
	fackOK         bool
	reorderingSeen bool          // RACK.reordering_seen
	reoWnd         time.Duration // RACK.reo_wnd
	reoWndInc      int           // RACK.reo_wnd_mult - 1
	reoWndPersist  int           // RACK.reo_wnd_persist
	dsackRound     seq.Value     // RACK.dsack_round
	dsackRoundOK   bool
	sacked         int // RACK.segs_sacked: SACKed entries in the ring
	lostRtx        int // entries lost after being retransmitted
	lastRecover    seq.Value
	recovOpen      bool // a recovery episode began that has not been seen to end

	tlpOn      bool      // TLP.end_seq is set: a probe is outstanding
	tlpEnd     seq.Value // TLP.end_seq
	tlpRetrans bool      // TLP.is_retrans
	tlpFlight  int       // bytes in flight when the probe went out
	probing    bool      // a probe is being sent: it does not re-arm the PTO

	reoAt time.Duration // the RACK reordering timer (0: disarmed)
	ptoAt time.Duration // the TLP probe timeout (0: disarmed)
}

func (r *rackState) at(i int) *rackSeg { return &r.segs[(r.head+i)&(len(r.segs)-1)] }

func (r *rackState) pop() {
	r.head = (r.head + 1) & (len(r.segs) - 1)
	r.n--
}

// push appends a segment; at the bound it merges into the newest entry
// (conservatively: the merged bytes look recently sent) or, when that one
// is marked, goes untracked (RFC 6675 and the RTO still cover it).
func (r *rackState) push(s rackSeg) {
	if r.n == len(r.segs) {
		if len(r.segs) < maxRACKSegs {
			segs := make([]rackSeg, max(2*len(r.segs), rackMinSegs))
			for i := 0; i < r.n; i++ {
				segs[i] = *r.at(i)
			}
			r.segs, r.head = segs, 0
		} else {
			if t := r.at(r.n - 1); !t.lost && !t.sacked && t.end == s.start {
				t.end, t.xmit = s.end, s.xmit
			}
			return
		}
	}
	*r.at(r.n) = s
	r.n++
}

// find is the index of the first entry ending after v (r.n if none).
func (r *rackState) find(v seq.Value) int {
	lo, hi := 0, r.n
	for lo < hi {
		m := (lo + hi) / 2
		if r.at(m).end.GreaterThan(v) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func (r *rackState) clearLost(e *rackSeg) {
	if e.lost {
		e.lost = false
		if e.rtx {
			r.lostRtx--
		}
	}
}

// sentAfter is RFC 8985's RACK_sent_after: was (t1, seq1) sent after (t2, seq2)?
func sentAfter(t1 time.Duration, seq1 seq.Value, t2 time.Duration, seq2 seq.Value) bool {
	return t1 > t2 || t1 == t2 && seq1.GreaterThan(seq2)
}

// rackInRecovery is "in Fast or RTO recovery" (RFC 8985 6.2, 7.2).
func (c *TCB) rackInRecovery() bool { return c.inRecov || c.snd.una.LessThan(c.recover) }

// rackSent records the transmission of [s, end) at now (RFC 8985 6.1):
// new data is appended; a retransmission re-times the entries it covers.
// sendSegment calls it once SND.MAX and the RTO are up to date.
func (c *TCB) rackSent(now time.Duration, s, end seq.Value) {
	if !c.sackOK {
		return
	}
	if c.rack == nil {
		c.rack = &rackState{} // made on first use: an idle connection holds none
	}
	r := c.rack
	from := s
	if r.highOK && s.LessThan(r.high) {
		for i := r.find(s); i < r.n; i++ {
			e := r.at(i)
			if !e.start.LessThan(end) {
				break
			}
			if !e.sacked {
				r.clearLost(e)
				e.xmit, e.rtx = now, true
			}
		}
		from = r.high
	}
	if !from.LessThan(end) {
		return
	}
	r.push(rackSeg{start: from, end: end, xmit: now})
	r.high, r.highOK = end, true
	if !r.probing {
		c.tlpArm(now) // 7.2: after new data that was not itself a probe
	}
}

// rackDelivered gathers the segments one ACK newly delivered.
type rackDelivered struct {
	found  bool // a segment valid for RACK.xmit_ts (6.2 step 2)
	xmit   time.Duration
	end    seq.Value
	any    bool
	maxEnd seq.Value
}

// deliver takes one newly delivered segment: 6.2 steps 1 to 3.
func (r *rackState) deliver(now time.Duration, e *rackSeg, d *rackDelivered) {
	rtt := now - e.xmit
	if !e.rtx && rtt > 0 && (r.minRTT == 0 || rtt < r.minRTT) {
		r.minRTT = rtt // step 1, from unambiguous samples only (Karn)
	}
	if r.fackOK && e.end.LessThan(r.fack) && !e.rtx {
		r.reorderingSeen = true // step 3: an original filled a hole below RACK.fack
	}
	if !d.any || d.maxEnd.LessThan(e.end) {
		d.any, d.maxEnd = true, e.end
	}
	if e.rtx && rtt < r.minRTT {
		return // step 2: too fast to answer the retransmission: the original's ACK
	}
	if !d.found || sentAfter(e.xmit, e.end, d.xmit, d.end) {
		d.found, d.xmit, d.end = true, e.xmit, e.end
	}
}

// rackOnAck is RFC 8985 6.2 (steps 1-5) and 7.4 for an acceptable ACK,
// after the scoreboard took its SACK blocks and SND.UNA moved; n is the
// segment's payload length.
func (c *TCB) rackOnAck(now time.Duration, h *wire.TCP, n int) {
	r := c.rack
	if r == nil {
		return
	}
	advanced := r.una != c.snd.una
	r.una = c.snd.una
	var d rackDelivered
	for r.n > 0 && r.at(0).end.LessThanEq(c.snd.una) {
		e := r.at(0)
		if e.sacked {
			r.sacked--
		} else {
			r.deliver(now, e, &d)
		}
		r.clearLost(e)
		r.pop()
	}
	if h.Options.NumSACK > 0 {
		c.rackSACKed(now, h, &d)
	}
	if d.found {
		if !r.valid || sentAfter(d.xmit, d.end, r.xmitTS, r.endSeq) {
			r.xmitTS, r.endSeq = d.xmit, d.end
		}
		r.rtt, r.valid = now-d.xmit, true
	}
	if d.any && (!r.fackOK || r.fack.LessThan(d.maxEnd)) {
		r.fack, r.fackOK = d.maxEnd, true
	}
	ds, dsOK := dsackBlock(h)
	c.rackDSACK(dsOK)
	c.tlpOnAck(now, h, n, advanced, ds, dsOK)
	if c.board.rackOn && !c.snd.una.LessThan(c.board.rackLost) {
		c.board.rackOn = false
	}
	c.rackDetect(now)
	if advanced {
		c.tlpArm(now) // 7.2: an ACK of new data restarts the PTO
	} else if !c.tlpAllowed() {
		r.ptoAt = 0
	}
}

// rackSACKed marks the entries this ACK's SACK blocks newly cover.
func (c *TCB) rackSACKed(now time.Duration, h *wire.TCP, d *rackDelivered) {
	r, o := c.rack, &h.Options
	if r == nil {
		return
	}
	for b := 0; b < int(o.NumSACK) && b < wire.MaxSACKBlocks; b++ {
		l, rt := seq.Value(o.SACK[b].Left), seq.Value(o.SACK[b].Right)
		if !l.LessThan(rt) || !c.snd.una.LessThan(rt) {
			continue
		}
		for i := r.find(seq.Max(l, c.snd.una)); i < r.n; i++ {
			e := r.at(i)
			if !e.start.LessThan(rt) {
				break
			}
			if e.sacked {
				continue
			}
			// The scoreboard decides (it may have refused a block).
			if sp, in := c.board.sackedAt(seq.Max(e.start, c.snd.una)); !in || sp.end.LessThan(e.end) {
				continue
			}
			e.sacked = true
			r.sacked++
			r.clearLost(e)
			r.deliver(now, e, d)
		}
	}
}

// dsackBlock returns the D-SACK block an ACK carries (RFC 2883 4): the
// first block, when it lies at or below the cumulative ACK or inside the
// second block.
func dsackBlock(h *wire.TCP) (wire.SACKBlock, bool) {
	o := &h.Options
	if o.NumSACK == 0 {
		return wire.SACKBlock{}, false
	}
	b := o.SACK[0]
	l, r := seq.Value(b.Left), seq.Value(b.Right)
	if r.LessThanEq(seq.Value(h.Ack)) {
		return b, true
	}
	if o.NumSACK > 1 {
		l2, r2 := seq.Value(o.SACK[1].Left), seq.Value(o.SACK[1].Right)
		if l2.LessThanEq(l) && r.LessThanEq(r2) {
			return b, true
		}
	}
	return b, false
}

// rackDSACK is 6.2 step 4's DSACK-based adaptation of the reordering
// window: widen it by min_RTT/4 per round trip that sees a D-SACK (a
// spurious retransmission), and shrink it back after 16 recoveries
// without one.
func (c *TCB) rackDSACK(dsack bool) {
	r := c.rack
	if r == nil {
		return
	}
	if r.dsackRoundOK && !c.snd.una.LessThan(r.dsackRound) {
		r.dsackRoundOK = false
	}
	if !r.dsackRoundOK && dsack {
		r.dsackRound, r.dsackRoundOK = c.snd.max, true
		r.reoWndInc = min(r.reoWndInc+1, 64)
		r.reoWndPersist = reoPersist
		return
	}
	if c.recover != r.lastRecover { // a recovery episode began (or an RTO)
		r.lastRecover, r.recovOpen = c.recover, true
	}
	if r.recovOpen && !c.rackInRecovery() { // ... and has ended
		r.recovOpen = false
		if r.reoWndPersist--; r.reoWndPersist <= 0 {
			r.reoWndInc = 0
		}
	}
}

// rackReoWnd is RACK_update_reo_wnd's result (6.2 step 4): zero while no
// reordering was seen and we are in recovery or DupThresh segments are
// SACKed (RACK then acts as fast as DupThresh would), else a quarter of
// min_RTT per multiple, at most SRTT.
func (c *TCB) rackReoWnd() time.Duration {
	r := c.rack
	if r == nil {
		return 0
	}
	if !r.reorderingSeen && (c.rackInRecovery() || r.sacked >= dupThresh) {
		return 0
	}
	return min(time.Duration(1+r.reoWndInc)*r.minRTT/4, c.rtt.srtt)
}

// rackDetect is RACK_detect_loss_and_arm_timer (6.2 step 5): every
// segment sent before RACK.xmit_ts and outstanding longer than RACK.rtt +
// reo_wnd is lost; the timer waits for the others sent before it.
func (c *TCB) rackDetect(now time.Duration) {
	r := c.rack
	if r == nil {
		return
	}
	r.reoAt = 0
	if !r.valid {
		return
	}
	r.reoWnd = c.rackReoWnd()
	var timeout time.Duration
	for i := 0; i < r.n; i++ {
		e := r.at(i)
		if !e.rtx && sentAfter(e.xmit, e.end, r.xmitTS, r.endSeq) {
			// Entries never retransmitted were sent in sequence order:
			// all from here on were sent after RACK.xmit_ts too.
			break
		}
		if e.sacked || e.lost || !sentAfter(r.xmitTS, r.endSeq, e.xmit, e.end) {
			continue
		}
		if remaining := e.xmit + r.rtt + r.reoWnd - now; remaining > 0 {
			timeout = max(timeout, remaining)
			continue
		}
		e.lost = true
		if e.rtx {
			r.lostRtx++
		}
		c.stats.RACKLost++
		if !c.board.rackOn || c.board.rackLost.LessThan(e.end) {
			c.board.rackLost, c.board.rackOn = e.end, true
		}
	}
	if timeout > 0 {
		r.reoAt = now + timeout
	}
}

// withRACK makes the scoreboard's IsLost boundary at least the end of the
// highest segment RACK marked lost.
func (s *scoreboard) withRACK(lost seq.Value, ok bool) (seq.Value, bool) {
	if s.rackOn && (!ok || lost.LessThan(s.rackLost)) {
		return s.rackLost, true
	}
	return lost, ok
}

// rackRetransmitLost resends the first RACK-lost segment that was lost
// after being retransmitted (RFC 8985 2.2: RACK detects lost
// retransmissions); NextSeg's holes above HighRxt cover the others. It
// reports whether it sent anything.
func (c *TCB) rackRetransmitLost(now time.Duration) bool {
	r := c.rack
	if r == nil {
		return false
	}
	if r.lostRtx == 0 {
		return false
	}
	for i := 0; i < r.n; i++ {
		e := r.at(i)
		if !e.lost || e.sacked {
			continue
		}
		s := seq.Max(e.start, c.snd.una)
		for s.LessThan(e.end) {
			if sp, in := c.board.sackedAt(s); in {
				s = sp.end
				continue
			}
			break
		}
		end := seq.Min(e.end, c.board.nextSACKed(s, e.end))
		if s.LessThan(end) && c.resendRange(now, s, end) {
			c.stats.SACKRetransmits++
			return true
		}
		r.clearLost(e) // nothing left to send of it
	}
	return false
}

// resendRange retransmits one MSS from s, the lost range [s, end) and
// what follows it up to SND.MAX (a range shorter than a segment is never
// sent alone: no tiny retransmissions), with the FIN when it reaches the
// end of the data. It reports whether it sent anything.
func (c *TCB) resendRange(now time.Duration, s, end seq.Value) bool {
	if s.LessThan(c.sndHead) {
		return false
	}
	dataEnd := c.sndHead.Add(seq.Size(c.sb.n))
	n := 0
	if dEnd := seq.Min(seq.Max(end, s.Add(seq.Size(c.snd.mss))), seq.Min(dataEnd, c.snd.max)); s.LessThan(dEnd) {
		n = min(int(dEnd.Sub(s)), c.snd.mss)
	}
	fin := c.finSent && s.Add(seq.Size(n)) == dataEnd
	if n == 0 && !fin {
		return false
	}
	c.sendSegment(now, s, n, fin)
	return true
}

// tlpAllowed is 7.2's condition for a loss probe: data outstanding, no
// recovery, nothing SACKed (RACK then has the information it needs), and
// not going back after a timeout.
func (c *TCB) tlpAllowed() bool {
	switch c.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
	default:
		return false
	}
	return c.sackOK && c.snd.una != c.snd.max && c.snd.nxt == c.snd.max &&
		!c.rackInRecovery() && len(c.board.ranges) == 0
}

// tlpArm (re)starts the probe timeout (7.2): PTO = 2*SRTT, plus WCDelAckT
// when one segment is in flight (its ACK may be delayed), at least minPTO,
// 1 s before any RTT sample, and never later than the RTO. "One segment"
// is read as less than two full-sized ones: a receiver may delay its ACK
// until two full-sized segments have arrived (RFC 9293 3.8.6.3, SHLD-19;
// synack's own receiver does), so a full segment and a partial one may
// wait for a delayed ACK too.
func (c *TCB) tlpArm(now time.Duration) {
	r := c.rack
	if r == nil {
		return
	}
	if !c.tlpAllowed() {
		r.ptoAt = 0
		return
	}
	pto := time.Second
	if srtt := c.rtt.srtt; srtt > 0 {
		pto = 2 * srtt
		if int(c.snd.max.Sub(c.snd.una)) < 2*c.snd.mss {
			pto += wcDelAckT
		}
	}
	at := now + max(pto, minPTO)
	rto := c.rtoAt
	if rto == 0 {
		rto = now + c.rtt.rto
	}
	r.ptoAt = min(at, rto)
}

// onPTO sends a tail loss probe (7.3): a new segment if the peer's window
// allows, else the last segment again; at most one probe is outstanding.
// Then the RTO, not the PTO, guards the flight: restarted after a probe,
// left as it was (armed: it runs beside the PTO) when none went out.
func (c *TCB) onPTO(now time.Duration) {
	r := c.rack
	if r == nil {
		return
	}
	r.ptoAt = 0
	if c.snd.una == c.snd.max || !c.tlpAllowed() || r.tlpOn {
		return
	}
	flight := int(c.snd.max.Sub(c.snd.una))
	r.probing = true
	retrans := false
	sent := c.sendNew(now)
	if !sent {
		sent, retrans = c.tlpResendLast(now), true
	}
	r.probing = false
	if sent {
		r.tlpOn, r.tlpEnd, r.tlpRetrans, r.tlpFlight = true, c.snd.max, retrans, flight
		c.stats.TLPProbes++
		c.rtoAt = now + c.rtt.rto
	}
}

// tlpResendLast retransmits the highest-sequence segment sent (7.3: it
// lets the ACK tell which transmission arrived).
func (c *TCB) tlpResendLast(now time.Duration) bool {
	r := c.rack
	if r == nil {
		return false
	}
	dataEnd := c.sndHead.Add(seq.Size(c.sb.n))
	end := seq.Min(c.snd.max, dataEnd)
	s := seq.Max(seq.Max(c.snd.una, c.sndHead), end.Add(-seq.Size(c.snd.mss)))
	if r.n > 0 {
		s = seq.Max(s, r.at(r.n-1).start)
	}
	return c.resendRange(now, seq.Min(s, end), c.snd.max)
}

// tlpOnAck is TLP_process_ack (7.4): a probe whose ACK shows it repaired
// a loss (no D-SACK says the original arrived too) reduces the window as a
// fast recovery would have.
func (c *TCB) tlpOnAck(now time.Duration, h *wire.TCP, n int, advanced bool, ds wire.SACKBlock, dsOK bool) {
	r := c.rack
	if r == nil {
		return
	}
	ack := seq.Value(h.Ack)
	if !r.tlpOn || ack.LessThan(r.tlpEnd) {
		return
	}
	switch {
	case !r.tlpRetrans: // a probe of new data was delivered
		r.tlpOn = false
	case dsOK && seq.Value(ds.Right) == r.tlpEnd: // the probe was redundant
		r.tlpOn = false
	case ack.GreaterThan(r.tlpEnd), !advanced && n == 0 && h.Options.NumSACK == 0:
		r.tlpOn = false // the probe repaired a single loss
		st := c.ccState()
		st.InFlight = max(st.InFlight, r.tlpFlight)
		c.cc.OnCongestion(now, st)
		c.stats.TLPRecoveries++
	}
}

// rackTick runs the PTO and the RACK reordering timer.
func (c *TCB) rackTick(now time.Duration) {
	r := c.rack
	if r == nil {
		return
	}
	if r.ptoAt != 0 && now >= r.ptoAt {
		c.onPTO(now)
	}
	if r.reoAt != 0 && now >= r.reoAt {
		c.rackDetect(now)
		c.sackLossCheck(now)
	}
}

// rackOnRTO: the RTO takes over (go-back-N resends and re-times what it
// must); the probe and the reordering timer are dropped.
func (c *TCB) rackOnRTO() {
	r := c.rack
	if r == nil {
		return
	}
	r.ptoAt, r.reoAt, r.tlpOn = 0, 0, false
}

// rackInvariants checks the segment ring against the send variables.
func (c *TCB) rackInvariants() error {
	r := c.rack
	if r == nil {
		return nil
	}
	sacked, lostRtx := 0, 0
	for i := 0; i < r.n; i++ {
		e := r.at(i)
		switch {
		case !e.start.LessThan(e.end):
			return fmt.Errorf("RACK entry %d empty [%d,%d)", i, e.start, e.end)
		case i > 0 && e.start.LessThan(r.at(i-1).end):
			return fmt.Errorf("RACK entries %d and %d overlap", i-1, i)
		case e.end.GreaterThan(c.snd.max) || !e.end.GreaterThan(c.snd.una):
			return fmt.Errorf("RACK entry [%d,%d) outside (SND.UNA %d, SND.MAX %d]", e.start, e.end, c.snd.una, c.snd.max)
		}
		if e.sacked {
			sacked++
		}
		if e.lost && e.rtx {
			lostRtx++
		}
	}
	if sacked != r.sacked || lostRtx != r.lostRtx {
		return fmt.Errorf("RACK counts: %d SACKed (%d counted), %d lost retransmissions (%d counted)", sacked, r.sacked, lostRtx, r.lostRtx)
	}
	return nil
}

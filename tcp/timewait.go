package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// TimeWaitRecord is everything a connection in TIME-WAIT needs (RFC 9293 3.6.1,
// 3.10.7.4): the sequence numbers to answer with, TS.Recent, the 2*MSL
// deadline and the answer throttle. A connection entering TIME-WAIT builds
// one, and from then on its TIME-WAIT behaviour is this type's alone, so
// the stack can drop the TCB and its buffers and keep only this record
// (about 80 bytes) until the 2*MSL timer ends it.
type TimeWaitRecord struct {
	sndNxt   seq.Value     // SND.NXT: one past our FIN
	rcvNxt   seq.Value     // RCV.NXT: one past the peer's FIN
	rcvWnd   seq.Size      // the window our last ACK offered, unscaled
	wndField uint16        // ...and as its window field
	tsOK     bool          // timestamps in use (RFC 7323)
	answered bool          // ackAt is set
	tsRecent uint32        // TS.Recent
	tsOffset uint32        // our timestamp clock's offset
	tsLast   uint32        // the last TSval we sent (never goes back)
	recentAt time.Duration // when TS.Recent was set (RFC 7323 5.5)
	expires  time.Duration // end of TIME-WAIT
	msl      time.Duration
	ackAt    time.Duration // when a throttled answer last went out
	interval time.Duration // the spacing of throttled answers (Config.AnswerInterval)
}

// TimeWaitVerdict is what the stack does with a segment that reached a
// TIME-WAIT record.
type TimeWaitVerdict uint8

const (
	TimeWaitDrop   TimeWaitVerdict = iota // nothing to send
	TimeWaitAnswer                        // send the ACK that Arrive filled in
	// TimeWaitReopen: the segment is a SYN that may open a new incarnation
	// of the connection (RFC 6191, MAY-2, SHLD-4). The stack ends the
	// record and hands the SYN to its listener, with an ISS above NextISS;
	// with no listener it sends the ACK Arrive filled in.
	TimeWaitReopen
)

// Expires is when TIME-WAIT ends (2*MSL after it began or after the peer's
// FIN last arrived again).
func (t *TimeWaitRecord) Expires() time.Duration { return t.expires }

// NextISS is the lowest initial sequence number a new incarnation may use:
// above every sequence number of this one (RFC 9293 3.6.1, MAY-2), by a
// full unscaled window as Linux does, so no old segment of ours can be
// taken for new data.
func (t *TimeWaitRecord) NextISS() seq.Value { return t.sndNxt.Add(0xffff + 2) }

// timeWaitRecord builds the record when the TCB enters TIME-WAIT.
func (c *TCB) timeWaitRecord(now time.Duration) *TimeWaitRecord {
	w := c.windowField()
	return &TimeWaitRecord{
		sndNxt: c.snd.max, rcvNxt: c.rcv.nxt,
		rcvWnd: c.rcv.adv.Sub(c.rcv.nxt), wndField: w,
		tsOK: c.ts.ok, tsRecent: c.ts.recent, recentAt: c.ts.recentAt,
		tsOffset: c.cfg.TSOffset, tsLast: c.ts.lastVal,
		expires: now + 2*c.cfg.MSL, msl: c.cfg.MSL, // MUST-13
		answered: c.answered, ackAt: c.answeredAt, interval: c.cfg.AnswerInterval,
	}
}

// TakeTimeWait hands the TIME-WAIT record to the caller, who from now on
// delivers the connection's segments to it instead of to the TCB; nil
// unless the TCB is in TIME-WAIT. The TCB keeps the data the user has not
// read yet and drops everything else.
func (c *TCB) TakeTimeWait() *TimeWaitRecord {
	t := c.tw
	if c.state != TimeWait || t == nil {
		return nil
	}
	c.tw = nil
	c.deleteTCB()    // timers, send buffer, out-of-order data: all but the unread bytes
	c.onChange = nil // the record's owner reports TIME-WAIT -> CLOSED
	return t
}

// Arrive is SEGMENT ARRIVES in TIME-WAIT (3.10.7.4), with RFC 1337's
// remedy for hazard H1 (a reset never ends TIME-WAIT), RFC 6191's reopening
// by a newer SYN, and RFC 5961 7's throttle on every answer to a segment
// that is not a retransmission of the peer's FIN. When the verdict is
// TimeWaitAnswer (or TimeWaitReopen without a listener) ack holds the
// segment to send: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, ports unset.
func (t *TimeWaitRecord) Arrive(now time.Duration, h *wire.TCP, payloadLen int, ack *wire.TCP) TimeWaitVerdict {
	f, sq := h.Flags, seq.Value(h.Seq)
	if f&wire.RST != 0 {
		// RFC 1337 H1: ignore it, and send nothing (a challenge ACK would
		// draw from the closed peer the exact reset that ends TIME-WAIT).
		return TimeWaitDrop
	}
	if f&(wire.SYN|wire.ACK|wire.FIN) == wire.SYN && t.newIncarnation(h) {
		t.fillAck(now, ack)
		return TimeWaitReopen
	}
	if t.tsOK {
		if !h.Options.HasTimestamps {
			return TimeWaitDrop // RFC 7323 3.2: SHOULD silently drop
		}
		if int32(h.Options.TSVal-t.tsRecent) < 0 && now-t.recentAt <= pawsIdle {
			return t.throttled(now, ack) // 5.3: an old duplicate, answered with an ACK
		}
	}
	n := segLen(h, payloadLen)
	if f&wire.FIN != 0 && sq.Add(n) == t.rcvNxt {
		// The peer's FIN again: our last ACK was lost. Acknowledge it and
		// restart the 2 MSL timeout (3.10.7.4 step eight).
		t.expires = now + 2*t.msl
		t.fillAck(now, ack)
		return TimeWaitAnswer
	}
	if t.acceptable(sq, n) && f&wire.SYN == 0 {
		if t.tsOK && sq.LessThanEq(t.rcvNxt) && int32(h.Options.TSVal-t.tsRecent) >= 0 {
			t.tsRecent, t.recentAt = h.Options.TSVal, now // RFC 7323 4.3
		}
		switch {
		case f&wire.ACK == 0:
			return TimeWaitDrop // step five: no ACK, drop
		case seq.Value(h.Ack).GreaterThan(t.sndNxt):
			// An ACK of something never sent (RFC 5961 5.2): answered below.
		case f&wire.FIN == 0:
			// An ACK of our FIN again, or text after the peer's FIN, which
			// step seven ignores ("this should not occur").
			return TimeWaitDrop
		default:
			t.expires = now + 2*t.msl // step eight: a FIN restarts the timer
		}
	}
	// Anything else (outside the window, a SYN, an ACK of something we
	// never sent, data after the FIN) is answered with an ACK, throttled.
	return t.throttled(now, ack)
}

// newIncarnation is RFC 6191 section 2: a SYN may reopen the connection if
// its timestamp is newer than TS.Recent or, without timestamps on the old
// connection, if it carries them or its sequence number lies beyond
// RCV.NXT.
func (t *TimeWaitRecord) newIncarnation(h *wire.TCP) bool {
	if t.tsOK {
		return h.Options.HasTimestamps && int32(h.Options.TSVal-t.tsRecent) > 0
	}
	return h.Options.HasTimestamps || seq.Value(h.Seq).GreaterThan(t.rcvNxt)
}

// acceptable is the sequence check of 3.10.7.4 step one against the window
// last offered.
func (t *TimeWaitRecord) acceptable(sq seq.Value, n seq.Size) bool {
	if t.rcvWnd == 0 {
		return n == 0 && sq == t.rcvNxt
	}
	if n == 0 {
		return sq.InWindow(t.rcvNxt, t.rcvWnd)
	}
	return sq.InWindow(t.rcvNxt, t.rcvWnd) || sq.Add(n-1).InWindow(t.rcvNxt, t.rcvWnd)
}

// throttled answers with an ACK at most once per AnswerInterval, as the
// TCB's answers to unacceptable segments are (ratelimit.go).
func (t *TimeWaitRecord) throttled(now time.Duration, ack *wire.TCP) TimeWaitVerdict {
	if t.interval > 0 && t.answered && now-t.ackAt < t.interval {
		return TimeWaitDrop
	}
	t.answered, t.ackAt = true, now
	t.fillAck(now, ack)
	return TimeWaitAnswer
}

func (t *TimeWaitRecord) fillAck(now time.Duration, ack *wire.TCP) {
	*ack = wire.TCP{Seq: uint32(t.sndNxt), Ack: uint32(t.rcvNxt), Flags: wire.ACK, Window: t.wndField}
	if t.tsOK {
		v := t.tsOffset + uint32(now/time.Millisecond)
		if int32(v-t.tsLast) < 0 {
			v = t.tsLast
		}
		t.tsLast = v
		ack.Options.HasTimestamps, ack.Options.TSVal, ack.Options.TSEcr = true, v, t.tsRecent
	}
}

// arriveTimeWait runs a TCB's TIME-WAIT segments through its record.
func (c *TCB) arriveTimeWait(now time.Duration, h *wire.TCP, payload []byte) {
	if c.tw == nil {
		return // the record was handed over: the segment went astray
	}
	ack := c.out.Scratch()
	switch c.tw.Arrive(now, h, len(payload), ack) {
	case TimeWaitAnswer:
		c.stats.SegsOut++
		c.out.SendSegment(ack, nil, nil)
	case TimeWaitReopen:
		// A TCB on its own has no listener to hand the SYN to: the old
		// incarnation ends, and the caller opens the new one.
		c.setState(Closed, causeOf(h.Flags))
		return
	}
	c.timeWaitAt = c.tw.expires
}

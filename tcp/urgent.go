package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// The urgent mechanism (RFC 9293 3.8.5, MUST-30): urgent bytes stay in the
// byte stream (as with SO_OOBINLINE); the urgent pointer marks where they
// end. SND.UP and RCV.UP are the sequence numbers of the octet following
// the urgent data (MUST-62), so a sequence of urgent data has any length
// (MUST-31): the pointer just moves on.

// urgState says which of SND.UP and RCV.UP hold a pointer: both are
// meaningless until the first urgent SEND or arriving URG, and become so
// again once the data before them is acknowledged or read.
type urgState struct {
	sndOn    bool // SND.UP marks urgent data not yet acknowledged
	rcvOn    bool // RCV.UP marks urgent data not yet read
	rcvMoved bool // RCV.UP advanced since TakeUrgentSignal (MUST-32)
}

// SendUrgent is the SEND call with the URGENT flag (3.10.2): it queues p
// as Send does and sets SND.UP to the octet after the last byte taken, so
// every segment sent before that point carries URG and the pointer.
func (c *TCB) SendUrgent(now time.Duration, p []byte) (int, error) {
	return c.send(now, p, true)
}

// markSendUrgent sets SND.UP at the end of the queued data.
func (c *TCB) markSendUrgent() {
	c.snd.up = c.sndHead.Add(seq.Size(c.sb.n))
	c.urg.sndOn = true
}

// stampUrgent sets URG and SEG.UP on an outgoing segment whose sequence
// number lies before SND.UP: data, retransmissions, ACKs and window probes
// alike, so a peer whose window holds our data back still learns that
// urgent data is coming (it must process URG at RCV.WND = 0, MUST-66).
// A pointer more than 65535 octets ahead is sent as 65535, as Linux does;
// later segments carry the rest of the way.
func (c *TCB) stampUrgent(h *wire.TCP) {
	if !c.urg.sndOn || h.Flags&wire.SYN != 0 {
		return
	}
	if !c.snd.una.LessThan(c.snd.up) {
		c.urg.sndOn = false // every urgent byte is acknowledged: urgent mode ends
		return
	}
	s := seq.Value(h.Seq)
	if !s.LessThan(c.snd.up) {
		return
	}
	h.Flags |= wire.URG
	h.Urgent = uint16(min(c.snd.up.Sub(s), 0xffff))
}

// readSeq is the sequence number of the next byte Receive returns.
func (c *TCB) readSeq() seq.Value {
	r := c.rcv.nxt.Add(-seq.Size(c.rb.n))
	if c.finRcvd {
		r = r.Add(^seq.Size(0)) // the FIN occupies RCV.NXT-1
	}
	return r
}

// arriveUrgent is 3.10.7.4 step six for a segment at sq: RCV.UP <-
// max(RCV.UP, SEG.SEQ+SEG.UP). A pointer at or before what the user has
// read is stale (a retransmission) and ignored; one that moves RCV.UP
// forward raises the signal (MUST-32). The pointer is at most 65535 octets
// past the segment, so a peer cannot make it mean more than that.
func (c *TCB) arriveUrgent(h *wire.TCP, sq seq.Value) {
	if h.Flags&wire.URG == 0 || h.Urgent == 0 {
		return
	}
	switch c.state {
	case Established, FinWait1, FinWait2:
	default:
		return // the FIN came already: ignore the URG
	}
	c.urgentRead()
	up := sq.Add(seq.Size(h.Urgent))
	if !c.readSeq().LessThan(up) || (c.urg.rcvOn && !c.rcv.up.LessThan(up)) {
		return
	}
	c.rcv.up = up
	c.urg.rcvOn, c.urg.rcvMoved = true, true
}

// urgentRead leaves urgent mode once the user has read up to RCV.UP.
func (c *TCB) urgentRead() {
	if c.urg.rcvOn && !c.readSeq().LessThan(c.rcv.up) {
		c.urg.rcvOn = false
	}
}

// urgentLimit shortens a RECEIVE buffer so that urgent and following
// non-urgent data never come back in one call (3.10.3: not in the same
// buffer unless the boundary is marked).
func (c *TCB) urgentLimit(p []byte) []byte {
	if n, ok := c.UrgentMark(); ok && n < len(p) {
		return p[:n]
	}
	return p
}

// UrgentMark reports whether the peer has sent urgent data the user has
// not read past (MUST-33), and how many bytes Receive must return before
// the end of it. The bytes may not all have arrived yet.
func (c *TCB) UrgentMark() (n int, ok bool) {
	c.urgentRead()
	if !c.urg.rcvOn {
		return 0, false
	}
	return int(c.rcv.up.Sub(c.readSeq())), true
}

// TakeUrgentSignal reports whether RCV.UP advanced since the last call:
// the asynchronous "urgent data" signal of 3.8.5 (MUST-32).
func (c *TCB) TakeUrgentSignal() bool {
	s := c.urg.rcvMoved
	c.urg.rcvMoved = false
	return s
}

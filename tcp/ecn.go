package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// Explicit Congestion Notification (RFC 3168). The TCB negotiates it on the
// SYNs (6.1.1), echoes a Congestion Experienced mark back with ECE until
// the sender answers with CWR (6.1.3), and reacts to an echo by reducing
// its window once per window of data without retransmitting (6.1.2). The
// IP ECN field is the stack's: it tells the TCB about a CE mark with SetCE
// before Input, and asks SegmentECT while sending which codepoint a
// segment carries.

// ecnState is a connection's ECN state.
type ecnState struct {
	offered bool      // our SYN was an ECN-setup SYN, and no SYN without it followed
	ok      bool      // ECN negotiated (6.1.1)
	ce      bool      // the segment being processed arrived marked CE
	echo    bool      // set ECE on every ACK until a CWR arrives (6.1.3)
	cwr     bool      // set CWR on the next new data segment (6.1.2)
	reduced bool      // recover is set
	recover seq.Value // SND.MAX at the last reduction: none again until SND.UNA passes it
	ect     bool      // the segment being handed to the Sender is ECT(0)
}

// SetCE tells the TCB whether the packet carrying the segment of the next
// Input call had its IP ECN field set to CE, Congestion Experienced
// (RFC 3168 5). The mark applies to that one call.
func (c *TCB) SetCE(ce bool) { c.ecn.ce = ce }

// SegmentECT reports, during a Sender.SendSegment call, whether the
// segment goes out as ECT(0): new data on a connection that negotiated
// ECN. SYNs, pure ACKs, window probes and retransmissions are not ECT
// (RFC 3168 6.1.1, 6.1.5, 6.1.6); nor is any segment outside the call.
func (c *TCB) SegmentECT() bool { return c.ecn.ect }

// ecnSyn sets the ECN bits of our SYN or SYN,ACK: an ECN-setup SYN carries
// ECE and CWR, an ECN-setup SYN,ACK ECE alone (6.1.1). A SYN sent again
// after a timeout goes without them once Config.ECNSynRetries
// retransmissions have (at once by default), in case a middlebox drops
// SYNs for their ECN bits (6.1.1.1); having sent it, we do not use ECN.
func (c *TCB) ecnSyn(h *wire.TCP) {
	switch c.state {
	case SynSent:
		first := c.snd.max == c.snd.iss
		c.ecn.offered = c.cfg.ECN && (first || c.retrans > 0 && c.retrans <= int(c.cfg.ECNSynRetries))
		if c.ecn.offered {
			h.Flags |= wire.ECE | wire.CWR
		}
	case SynReceived:
		if c.ecn.ok {
			h.Flags |= wire.ECE
		}
	}
}

// ecnTakeSyn negotiates from the peer's SYN or SYN,ACK (6.1.1): a SYN with
// ECE and CWR asks for ECN, which we grant when configured (or, in a
// simultaneous open, when we asked too); a SYN,ACK with ECE and without
// CWR grants what our SYN asked.
func (c *TCB) ecnTakeSyn(h *wire.TCP) {
	f := h.Flags & (wire.ECE | wire.CWR)
	if h.Flags&wire.ACK == 0 {
		c.ecn.ok = c.cfg.ECN && f == wire.ECE|wire.CWR && (c.state == Listen || c.ecn.offered)
	} else {
		c.ecn.ok = c.ecn.offered && f == wire.ECE
	}
}

// ecnArrive takes the ECN signals of an acceptable segment carrying an
// ACK; n is its payload length.
func (c *TCB) ecnArrive(now time.Duration, h *wire.TCP, n int) {
	if !c.ecn.ok {
		return
	}
	if h.Flags&wire.CWR != 0 {
		c.ecn.echo = false // 6.1.3: the sender reduced its window
	}
	if c.ecn.ce && n > 0 {
		c.stats.CEReceived++
		if !c.ecn.echo {
			c.ackNow = true // let the sender hear of it now
		}
		c.ecn.echo = true // 6.1.3: ECE on every ACK until CWR arrives
	}
	if h.Flags&wire.ECE != 0 {
		c.ecnReduce(now)
	}
}

// ecnReduce is the sender's answer to an ECN-Echo (6.1.2): halve the
// window as for a loss (the congestion controller's reduction), without
// retransmitting anything, at most once per window of data: not again
// until SND.UNA passes SND.MAX as it was at the reduction. The next new
// data segment carries CWR; until it has gone out the receiver cannot
// have stopped echoing, so echoes then are still the old mark's. When
// loss recovery already reduced the window for this window of data, only
// the CWR goes out.
func (c *TCB) ecnReduce(now time.Duration) {
	if c.ecn.cwr || c.ecn.reduced && !c.snd.una.GreaterThan(c.ecn.recover) {
		return
	}
	c.ecn.reduced, c.ecn.recover, c.ecn.cwr = true, c.snd.max, true
	if c.inRecov || c.snd.una.LessThan(c.recover) {
		return
	}
	c.cc.OnCongestion(now, c.ccState())
	c.stats.ECNReductions++
}

// ecnOut sets the ECN bits of an outgoing segment carrying n bytes, and
// whether it is ECT, just before it goes to the Sender.
func (c *TCB) ecnOut(h *wire.TCP, n int) {
	c.ecn.ect = false
	if !c.ecn.ok || h.Flags&wire.SYN != 0 {
		return
	}
	if c.ecn.echo {
		h.Flags |= wire.ECE
	}
	if n > 0 && !seq.Value(h.Seq).LessThan(c.snd.max) { // new data (6.1.5)
		c.ecn.ect = true
		if c.ecn.cwr {
			h.Flags |= wire.CWR
			c.ecn.cwr = false
		}
	}
}

package tcp

// Loss recovery: NewReno (RFC 5681 3.2, RFC 6582) and the entry into
// RFC 6675 SACK recovery. The SACK scoreboard and the SACK-driven
// retransmissions are in sack.go, RACK-TLP (RFC 8985) in rack.go.

import (
	"time"

	"github.com/synack-tcp/synack/wire"
)

// onNewAck runs congestion control for an ACK of acked new bytes, with
// NewReno recovery (RFC 6582).
func (c *TCB) onNewAck(now time.Duration, acked int, rtt time.Duration) {
	if !c.inRecov {
		if c.cwndLimited {
			c.cc.OnAck(now, c.ccState(), acked, rtt)
		}
		return
	}
	if !c.snd.una.LessThan(c.recover) { // full ACK
		c.inRecov = false
		c.cc.OnRecoveryEnd(now, c.ccState())
		return
	}
	if c.sackOK {
		return // RFC 6675: the pipe, not the partial ACK, drives retransmission
	}
	// Partial ACK: retransmit the next hole and deflate (RFC 6582 3.2 step 4).
	c.retransmitHead(now)
	c.ccs.Cwnd = max(c.ccs.Cwnd-acked+c.snd.mss, c.snd.mss)
}

// dupAck counts duplicate ACKs (RFC 5681 2) and enters fast retransmit and
// recovery on the third (3.2).
func (c *TCB) dupAck(now time.Duration, h *wire.TCP, n int, wnd uint32, newSACK bool) {
	if c.snd.una == c.snd.max {
		return
	}
	if c.sackOK { // RFC 6675 2: an ACK bringing new SACK information counts
		if newSACK || (n == 0 && wnd == c.snd.wnd && h.Flags&(wire.SYN|wire.FIN) == 0) {
			c.stats.DupAcksIn++
			c.dupAcks++
		}
		return // sackLossCheck decides on recovery
	}
	if n != 0 || h.Flags&(wire.SYN|wire.FIN) != 0 || wnd != c.snd.wnd {
		return
	}
	c.stats.DupAcksIn++
	c.dupAcks++
	switch {
	case c.inRecov:
		c.ccs.Cwnd += c.snd.mss // inflate for each segment that left the network
	case c.dupAcks == 3 && c.recover.LessThanEq(c.snd.una):
		c.inRecov = true
		c.recover = c.snd.max
		c.cc.OnCongestion(now, c.ccState())
		c.ccs.Cwnd += 3 * c.snd.mss // RFC 5681 3.2 step 3: inflate by the three segments that left
		c.stats.FastRetransmits++
		c.retransmitHead(now)
	}
}

// sackLossCheck enters RFC 6675 recovery on the DupThresh-th duplicate ACK
// or when the scoreboard shows SND.UNA lost (5, step 4; IsLost).
func (c *TCB) sackLossCheck(now time.Duration) {
	if c.inRecov || c.snd.una == c.snd.max || !c.recover.LessThanEq(c.snd.una) {
		return
	}
	lost, ok := c.board.lostBelow(c.snd.mss)
	if c.dupAcks >= dupThresh || (ok && c.snd.una.LessThan(lost)) {
		c.enterSACKRecovery(now)
	}
}

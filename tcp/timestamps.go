package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// RFC 7323: the timestamps option, RTT measurement from it (RTTM, 4) and
// protection against wrapped sequence numbers (PAWS, 5).

const (
	tsOptionLen = 12                  // NOP, NOP, kind, length, TSval, TSecr
	pawsIdle    = 24 * 24 * time.Hour // 5.5: TS.Recent older than 24 days is invalid
)

// tsState is the timestamp state of a connection.
type tsState struct {
	ok        bool          // both sides sent the option on their SYNs
	recent    uint32        // TS.Recent
	recentAt  time.Duration // when TS.Recent was last set
	lastAck   seq.Value     // Last.ACK.sent
	segTSecr  uint32        // TSecr of the segment being processed (0: none)
	lastVal   uint32        // the last TSval we sent
	valSet    bool
	pawsDrops uint64
}

// tsNow is our timestamp clock: 1 ms ticks (7.1: 1 ms to 1 s) from a
// per-connection offset, so outsiders learn nothing of our uptime.
func (c *TCB) tsNow(now time.Duration) uint32 {
	v := c.cfg.TSOffset + uint32(now/time.Millisecond)
	if c.ts.valSet && int32(v-c.ts.lastVal) < 0 {
		v = c.ts.lastVal // never backwards, whatever order callers' clocks arrive in
	}
	c.ts.lastVal, c.ts.valSet = v, true
	return v
}

// stamp adds the timestamps option to an outgoing segment once negotiated
// (3.2: on every segment but resets).
func (c *TCB) stamp(now time.Duration, h *wire.TCP) {
	if c.ts.ok {
		h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, c.tsNow(now), c.ts.recent
	}
}

// takeSynTimestamps negotiates the option from a SYN (3.2).
func (c *TCB) takeSynTimestamps(now time.Duration, h *wire.TCP) {
	c.ts.ok = c.cfg.Timestamps && h.Options.HasTimestamps
	if c.ts.ok {
		c.ts.recent, c.ts.recentAt = h.Options.TSVal, now
	}
}

// paws runs before the sequence check (5.3 R1, R2). It reports false when
// the segment must be dropped: a timestamp older than TS.Recent (an old
// duplicate from a wrapped sequence space), answered with an ACK; or, 3.2,
// a non-RST segment without the option once it was negotiated.
func (c *TCB) paws(now time.Duration, h *wire.TCP) bool {
	c.ts.segTSecr = 0
	if !c.ts.ok || h.Flags&wire.RST != 0 {
		return true
	}
	if !h.Options.HasTimestamps {
		return false // 3.2: SHOULD silently drop
	}
	c.ts.segTSecr = h.Options.TSEcr
	if h.Options.TSEcr != 0 {
		if ms := int32(c.tsNow(now) - h.Options.TSEcr); ms > 0 {
			c.noteRcvRTT(time.Duration(ms) * time.Millisecond) // for receive autotuning
		}
	}
	if int32(h.Options.TSVal-c.ts.recent) >= 0 {
		return true
	}
	if now-c.ts.recentAt > pawsIdle { // 5.5: TS.Recent went stale
		c.ts.recent, c.ts.recentAt = h.Options.TSVal, now
		return true
	}
	c.ts.pawsDrops++
	// 5.3 acknowledges the dropped segment, within the one limit on answers
	// to unacceptable segments (ratelimit.go; Linux skips them the same way,
	// TCPACKSKIPPEDPAWS): when corrupted timestamps have pushed both ends'
	// TS.Recent ahead of the other's clock, each drops the other's ACKs and
	// would answer each with an ACK until R2 (FuzzConnPair c2005dad6b334377).
	c.answer(now)
	return false
}

// updateRecent is 4.3: take SEG.TSval as TS.Recent when the segment covers
// Last.ACK.sent, after it passed the sequence check and the ACK check
// (3.10.7.4 step five): a segment whose ACK is beyond SND.NXT, say, is
// dropped and must not move TS.Recent, or a forged one would make PAWS
// drop the peer's next valid segment.
func (c *TCB) updateRecent(now time.Duration, h *wire.TCP) {
	if c.ts.ok && h.Options.HasTimestamps && seq.Value(h.Seq).LessThanEq(c.ts.lastAck) &&
		int32(h.Options.TSVal-c.ts.recent) >= 0 {
		c.ts.recent, c.ts.recentAt = h.Options.TSVal, now
	}
}

// tsSample is an RTT sample from the echoed timestamp of an ACK of new
// data (4.2), or 0. It needs no Karn's rule: the echo names the very
// transmission being acknowledged.
func (c *TCB) tsSample(now time.Duration) time.Duration {
	if !c.ts.ok || c.ts.segTSecr == 0 {
		return 0
	}
	if c.rtoSeen && int32(c.ts.segTSecr-c.lastRTOTS) < 0 {
		// A Karn's rule for timestamps: an echo of a segment sent before
		// the latest timeout may answer a retransmission of data the peer
		// held all along (its sequence check rejects the duplicate before
		// RFC 7323 4.3 updates TS.Recent), and would measure the timeout,
		// not the path (found by the soak harness, seed 11019).
		return 0
	}
	ms := int32(c.tsNow(now) - c.ts.segTSecr)
	if ms < 0 {
		return 0
	}
	return max(time.Duration(ms)*time.Millisecond, time.Millisecond/2)
}

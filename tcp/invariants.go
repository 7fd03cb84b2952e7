package tcp

import (
	"fmt"

	"github.com/synack-tcp/synack/seq"
)

// CheckInvariants reports the first broken internal invariant, or nil. Tests
// and fuzzers call it after every step.
func (c *TCB) CheckInvariants() error {
	s := &c.snd
	switch {
	case c.state == Closed || c.state == Listen:
		return nil
	case s.nxt.GreaterThan(s.max) || s.una.GreaterThan(s.nxt):
		return fmt.Errorf("SND.UNA %d <= SND.NXT %d <= SND.MAX %d broken", s.una, s.nxt, s.max)
	case c.sb.n < 0 || c.sb.n > c.sb.size || c.rb.n < 0 || c.rb.n > c.rb.size:
		return fmt.Errorf("buffer accounting: send %d/%d, recv %d/%d", c.sb.n, c.sb.size, c.rb.n, c.rb.size)
	case c.state != SynSent && c.rcv.adv.LessThan(c.rcv.nxt):
		return fmt.Errorf("advertised edge %d left of RCV.NXT %d", c.rcv.adv, c.rcv.nxt)
	}
	// The send ring starts at SND.UNA once the SYN is acknowledged (one
	// past it after our FIN is acknowledged).
	lead := s.una.Sub(c.sndHead)
	switch {
	case s.una == s.iss:
		if c.sndHead != s.iss.Add(1) {
			return fmt.Errorf("send ring head %d, want ISS+1 %d", c.sndHead, s.iss.Add(1))
		}
	case lead == 1 && !c.finAcked, lead > 1:
		return fmt.Errorf("send ring head %d behind SND.UNA %d", c.sndHead, s.una)
	}
	if end := c.sndHead.Add(seq.Size(c.sb.n)); c.finSent {
		end = end.Add(1)
		if s.max.GreaterThan(end) {
			return fmt.Errorf("SND.MAX %d past FIN %d", s.max, end)
		}
	} else if s.max.GreaterThan(end) {
		return fmt.Errorf("SND.MAX %d past queued data %d", s.max, end)
	}
	if s.una != s.max && c.state != TimeWait && c.rtoAt == 0 && c.persistAt == 0 {
		return fmt.Errorf("%d bytes unacknowledged in %v with no timer armed", s.max.Sub(s.una), c.state)
	}
	limit := c.rcv.nxt.Add(seq.Size(c.rb.size - c.rb.n))
	for _, sp := range c.ooo.spans {
		if !c.rcv.nxt.LessThan(sp.start) || sp.end.GreaterThan(limit) || !sp.start.LessThan(sp.end) {
			return fmt.Errorf("out-of-order span [%d,%d) outside (RCV.NXT %d, %d]", sp.start, sp.end, c.rcv.nxt, limit)
		}
	}
	// Buffers hold chunks for bytes (DESIGN.md "Buffers belong to the
	// connection"): past the head's chunk, each lies over queued or
	// readable bytes or, in the receive ring, an out-of-order span.
	if i := c.sb.stray(func(lo, _ int) bool { return lo < c.sb.n }); i >= 0 {
		return fmt.Errorf("send buffer holds chunk %d past its %d bytes", i, c.sb.n)
	}
	if i := c.rb.stray(func(lo, hi int) bool {
		if lo < c.rb.n {
			return true
		}
		start, end := c.rcv.nxt.Add(seq.Size(lo-c.rb.n)), c.rcv.nxt.Add(seq.Size(hi-c.rb.n))
		for _, sp := range c.ooo.spans {
			if sp.start.LessThan(end) && start.LessThan(sp.end) {
				return true
			}
		}
		return false
	}); i >= 0 {
		return fmt.Errorf("receive buffer holds chunk %d over a hole (%d readable, spans %v)", i, c.rb.n, c.ooo.spans)
	}
	if c.state == TimeWait && c.timeWaitAt == 0 {
		return fmt.Errorf("TIME-WAIT without its timer")
	}
	return c.rackInvariants()
}

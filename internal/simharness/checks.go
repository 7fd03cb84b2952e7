package simharness

import (
	"strings"
	"time"

	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// checkConns runs after every clock step, on every connection of both
// stacks: the TCB's own invariants (SND.UNA <= SND.NXT, buffer accounting,
// a timer armed while anything is unacknowledged...), buffers within
// their configured bounds, nothing in flight beyond what the peer's
// buffer can take, something scheduled while data is unacknowledged, and
// nothing taken in after the peer's FIN.
func (r *runner) checkConns() {
	if r.fail != "" {
		return
	}
	// A window is at most the receive buffer, rounded up to the window
	// scale's unit (at most 2^14); SYN and FIN take one number each.
	maxFlight := r.rcvBuf + 1<<14 + 2
	for i, st := range [2]*stack.Stack{r.cs, r.ss} {
		side := [2]string{"client", "server"}[i]
		for _, c := range st.Conns() {
			name := func() string {
				return side + " " + c.LocalAddrPort().String() + "->" + c.RemoteAddrPort().String()
			}
			if err := c.CheckInvariants(); err != nil {
				r.failf("%s in %v: invariant broken: %v", name(), c.State(), err)
				return
			}
			s := c.Status()
			r.maxSRTT = max(r.maxSRTT, s.SRTT)
			switch {
			case s.SendQueued > r.sndBuf:
				r.failf("%s holds %d bytes to send, buffer %d", name(), s.SendQueued, r.sndBuf)
			case s.RecvHeld > r.rcvBuf:
				r.failf("%s holds %d received bytes, buffer %d", name(), s.RecvHeld, r.rcvBuf)
			case s.Unacked > maxFlight:
				r.failf("%s has %d bytes in flight, more than the peer's %d-byte buffer allows", name(), s.Unacked, r.rcvBuf)
			case s.Unacked > 0 && s.State != tcp.TimeWait && !r.scheduled():
				r.failf("%s in %v has %d bytes unacknowledged and nothing is scheduled", name(), s.State, s.Unacked)
			}
			if r.fail != "" {
				return
			}
			r.checkAfterFin(c, s, name)
		}
	}
}

func (r *runner) scheduled() bool {
	_, ok := r.clk.Next()
	return ok
}

// checkAfterFin: once the peer's FIN is in, RCV.NXT and the bytes
// received never move again (RFC 9293 3.10.7.4 step seven: text after a
// FIN is ignored).
func (r *runner) checkAfterFin(c *stack.Conn, s tcp.Status, name func() string) {
	switch s.State {
	case tcp.CloseWait, tcp.Closing, tcp.TimeWait, tcp.LastAck:
	default:
		return
	}
	w := r.conns[c]
	if w == nil {
		w = &connWatch{}
		r.conns[c] = w
	}
	if !w.finSeen {
		w.finSeen, w.rcvNxt, w.received = true, uint32(s.RcvNxt), s.Stats.BytesReceived
		return
	}
	if uint32(s.RcvNxt) != w.rcvNxt || s.Stats.BytesReceived != w.received {
		r.failf("%s in %v took data after the peer's FIN: RCV.NXT %d -> %d, bytes received %d -> %d",
			name(), s.State, w.rcvNxt, uint32(s.RcvNxt), w.received, s.Stats.BytesReceived)
	}
}

// TimeoutsExpected reports whether the spec's network is bad enough that
// a connection may legitimately give up (R2, 100 s of fruitless
// retransmission): a round trip fails with probability 10% or more, burst
// loss with a bad state losing a quarter or more, an outage of 30 s or
// more, or corruption no checksum catches (it can poison RFC 7323
// timestamps, so that PAWS drops everything after). On a better network
// a timeout counts as a failure. (In 20,000 grid seeds, none with a
// round-trip failure rate under 10% timed out; one between 10 and 15% did,
// through RTT samples inflated by echoed timestamps: see
// regressions_test.go.)
func (s Spec) TimeoutsExpected() bool {
	if 1-(1-dirLoss(s.AB))*(1-dirLoss(s.BA)) >= 0.0999 || s.undetectedCorruption() || s.unreachable() { // 10% lands at 0.09999...
		return true
	}
	for _, c := range [...]*sim.Config{&s.AB, &s.BA} {
		if c.GEGoodToBad > 0 && c.GELossBad >= 0.25 {
			return true
		}
		for _, w := range append(append([]sim.Window(nil), c.Flaps...), c.Partition...) {
			if w.End-w.Start >= 30*time.Second {
				return true
			}
		}
	}
	return false
}

// unreachable reports whether the router has windows without a route: a
// connection may then end with EHOSTUNREACH (RFC 1122 4.2.3.9).
func (s Spec) unreachable() bool {
	return len(s.AB.Router.Unreachable) > 0 || len(s.BA.Router.Unreachable) > 0
}

// dirLoss is the average probability that a packet in one direction is
// lost or caught corrupted.
func dirLoss(c sim.Config) float64 {
	p := c.Loss + c.Corrupt
	if g := c.GEGoodToBad + c.GEBadToGood; c.GEGoodToBad > 0 && g > 0 {
		bad := c.GEGoodToBad / g
		p += bad*c.GELossBad + (1-bad)*c.GELossGood
	}
	return min(p, 1)
}

func (s Spec) undetectedCorruption() bool {
	return s.AB.CorruptKeepChecksum > 0 || s.BA.CorruptKeepChecksum > 0
}

// faultSummary is the spec's flags, for messages.
func (s Spec) faultSummary() string {
	a := s.Args()
	if len(a) == 0 {
		return "default network"
	}
	return strings.Join(a, " ")
}

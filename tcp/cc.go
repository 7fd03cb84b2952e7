package tcp

import (
	"fmt"
	"time"

	"github.com/synack-tcp/synack/seq"
)

// CongestionState is what a congestion controller reads and sets. The TCB
// keeps it; the controller changes Cwnd and Ssthresh.
type CongestionState struct {
	MSS      int           // sender MSS in bytes
	Cwnd     int           // congestion window, bytes
	Ssthresh int           // slow-start threshold, bytes
	SRTT     time.Duration // smoothed RTT (0 before the first sample)
	SndUna   seq.Value     // oldest unacknowledged sequence number
	SndMax   seq.Value     // highest sequence number sent
	InFlight int           // bytes outstanding
}

// InitialWindow is RFC 6928's initial window: 10 segments.
func (s *CongestionState) InitialWindow() int { return 10 * s.MSS }

// Congestion is a congestion controller (RFC 5681 framework, MUST-19).
// Every hook receives now; none reads a clock.
type Congestion interface {
	// Name is how Config.CongestionControl names it ("newreno", "cubic").
	Name() string
	// Init starts a connection (or takes one over, keeping Cwnd).
	Init(now time.Duration, s *CongestionState)
	// OnAck is an ACK of acked new bytes outside loss recovery, with an
	// RTT sample when the ACK gave one (0 otherwise).
	OnAck(now time.Duration, s *CongestionState, acked int, rtt time.Duration)
	// OnCongestion enters loss recovery (three duplicate ACKs, a SACK or
	// RACK loss, or an ECN echo): reduce Ssthresh and Cwnd once.
	OnCongestion(now time.Duration, s *CongestionState)
	// OnRecoveryEnd leaves recovery at the ACK that covers the recovery
	// point (RFC 6582 3.2 step 3).
	OnRecoveryEnd(now time.Duration, s *CongestionState)
	// OnTimeout is an RTO: the window collapses (RFC 5681 3.1 eq. 4).
	OnTimeout(now time.Duration, s *CongestionState)
}

// NewCongestion returns the controller called name: "cubic" (the default,
// RFC 9438 with HyStart++, RFC 9406) or "newreno" (RFC 5681, RFC 6582).
func NewCongestion(name string) (Congestion, error) {
	switch name {
	case "", "cubic":
		return &Cubic{}, nil
	case "newreno", "reno":
		return &NewReno{}, nil
	}
	return nil, fmt.Errorf("tcp: unknown congestion control %q (want cubic or newreno)", name)
}

// NewReno is RFC 5681 slow start and congestion avoidance; the TCB does
// RFC 6582's fast recovery around it.
type NewReno struct {
	acc int // bytes acknowledged toward the next congestion-avoidance increase
}

// Name implements Congestion.
func (*NewReno) Name() string { return "newreno" }

// Init implements Congestion.
func (r *NewReno) Init(now time.Duration, s *CongestionState) {
	if s.Cwnd == 0 {
		s.Cwnd = s.InitialWindow() // RFC 6928
		s.Ssthresh = 1 << 30
	}
}

// OnAck implements Congestion.
func (r *NewReno) OnAck(now time.Duration, s *CongestionState, acked int, rtt time.Duration) {
	if s.Cwnd < s.Ssthresh {
		s.Cwnd += min(acked, s.MSS) // RFC 5681 3.1 slow start (byte counting, L=1 SMSS)
		return
	}
	r.acc += acked // congestion avoidance: one MSS per window (RFC 5681 eq. 3)
	if r.acc >= s.Cwnd {
		r.acc -= s.Cwnd
		s.Cwnd += s.MSS
	}
}

// OnCongestion implements Congestion (RFC 5681 3.2 step 2).
func (r *NewReno) OnCongestion(now time.Duration, s *CongestionState) {
	s.Ssthresh = max(s.InFlight/2, 2*s.MSS)
	s.Cwnd = s.Ssthresh // the TCB adds the 3*MSS inflation of step 3
	r.acc = 0
}

// OnRecoveryEnd implements Congestion (RFC 6582 3.2 step 3, option 1).
func (r *NewReno) OnRecoveryEnd(now time.Duration, s *CongestionState) {
	s.Cwnd = min(s.Ssthresh, max(s.InFlight, s.MSS)+s.MSS)
}

// OnTimeout implements Congestion (RFC 5681 eq. 4 and 5).
func (r *NewReno) OnTimeout(now time.Duration, s *CongestionState) {
	s.Ssthresh = max(s.InFlight/2, 2*s.MSS)
	s.Cwnd = s.MSS
	r.acc = 0
}

package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
)

// rttState is the RFC 6298 estimator (MUST-18), timing one segment at a
// time and never one that was retransmitted (Karn's rule).
//
// base is RFC 6298's RTO: from the estimate (2.2, 2.3), doubled on each
// expiry (5.5), clamped (2.4, 2.5). rto, what the timers use, is base plus
// Config.RTOSlop, at most MaxRTO: the slop is added to each value computed
// from a sample or backed off, never to the initial RTO, and it does not
// compound, as FreeBSD adds net.inet.tcp.rexmit_slop where it sets its
// retransmission timer (its TCPT_RANGESET). With no slop, rto is base.
type rttState struct {
	cfg    *Config
	srtt   time.Duration
	rttvar time.Duration
	base   time.Duration
	rto    time.Duration
	timing bool
	seq    seq.Value     // segment being timed ends here
	sent   time.Duration // when it was sent
}

func (r *rttState) init(cfg *Config) {
	r.cfg = cfg
	r.base, r.rto = cfg.InitialRTO, cfg.InitialRTO // RFC 6298 2.1, without slop
}

// start times a segment ending at end, unless one is already being timed.
func (r *rttState) start(now time.Duration, end seq.Value) {
	if r.timing {
		return
	}
	r.timing, r.seq, r.sent = true, end, now
}

// cancel forgets the segment being timed: it was retransmitted (Karn).
func (r *rttState) cancel() { r.timing = false }

// ack takes an acknowledgment up to ack and updates the estimate when it
// covers the timed segment; it returns the sample (0 when none).
func (r *rttState) ack(now time.Duration, ack seq.Value) time.Duration {
	if !r.timing || ack.LessThan(r.seq) {
		return 0
	}
	r.timing = false
	m := max(now-r.sent, time.Microsecond)
	r.sample(m)
	return m
}

// sample applies RFC 6298 2.2 and 2.3.
func (r *rttState) sample(m time.Duration) {
	if m <= 0 {
		m = time.Microsecond
	}
	if r.srtt == 0 {
		r.srtt = m
		r.rttvar = m / 2
	} else {
		d := r.srtt - m
		if d < 0 {
			d = -d
		}
		r.rttvar = (3*r.rttvar + d) / 4 // beta = 1/4
		r.srtt = (7*r.srtt + m) / 8     // alpha = 1/8
	}
	r.set(r.srtt + max(time.Millisecond, 4*r.rttvar)) // G = 1ms clock granularity
}

// backoff doubles the RTO (RFC 6298 5.5).
func (r *rttState) backoff() { r.set(2 * r.base) }

// set makes d, clamped, the RTO, and adds the slop for the timers.
func (r *rttState) set(d time.Duration) {
	r.base = min(max(d, r.cfg.MinRTO), r.cfg.MaxRTO) // 2.4, 2.5
	r.rto = r.slop(r.base)
}

// slop is d with Config.RTOSlop added, at most MaxRTO.
func (r *rttState) slop(d time.Duration) time.Duration {
	return min(d+r.cfg.RTOSlop, r.cfg.MaxRTO)
}

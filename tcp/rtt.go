package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
)

// rttState is the RFC 6298 estimator (MUST-18), timing one segment at a
// time and never one that was retransmitted (Karn's rule).
type rttState struct {
	cfg    *Config
	srtt   time.Duration
	rttvar time.Duration
	rto    time.Duration
	timing bool
	seq    seq.Value     // segment being timed ends here
	sent   time.Duration // when it was sent
}

func (r *rttState) init(cfg *Config) {
	r.cfg = cfg
	r.rto = cfg.InitialRTO // RFC 6298 2.1
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
	r.rto = r.srtt + max(time.Millisecond, 4*r.rttvar) // G = 1ms clock granularity
	r.clamp()
}

// backoff doubles the RTO (RFC 6298 5.5).
func (r *rttState) backoff() {
	r.rto *= 2
	r.clamp()
}

func (r *rttState) clamp() {
	r.rto = min(max(r.rto, r.cfg.MinRTO), r.cfg.MaxRTO) // 2.4, 2.5
}

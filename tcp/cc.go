package tcp

// newReno is RFC 5681 slow start and congestion avoidance with RFC 6582
// fast recovery (MUST-19). It counts in bytes.
type newReno struct {
	mss      int
	cwnd     int
	ssthresh int
	acc      int // bytes acknowledged toward the next congestion-avoidance increase
}

func (r *newReno) init(mss int) {
	r.mss = mss
	r.cwnd = 10 * mss // RFC 6928 initial window
	r.ssthresh = 1 << 30
}

// onAck grows the window for acked new bytes outside recovery.
func (r *newReno) onAck(acked int) {
	if r.cwnd < r.ssthresh {
		r.cwnd += min(acked, r.mss) // RFC 5681 3.1 slow start (appropriate byte counting, L=1)
		return
	}
	r.acc += acked
	if r.acc >= r.cwnd {
		r.acc -= r.cwnd
		r.cwnd += r.mss // congestion avoidance: one MSS per window
	}
}

// onLoss enters fast recovery (RFC 5681 3.2 step 2-3).
func (r *newReno) onLoss(flight int) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.ssthresh + 3*r.mss
	r.acc = 0
}

// onTimeout collapses the window after an RTO (RFC 5681 3.1 eq. 4, 5).
func (r *newReno) onTimeout(flight int) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.mss
	r.acc = 0
}

// onExitRecovery deflates the window at a full ACK (RFC 6582 3.2 step 3).
func (r *newReno) onExitRecovery(flight int) {
	r.cwnd = min(r.ssthresh, max(flight, r.mss)+r.mss)
}

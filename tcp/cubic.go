package tcp

import (
	"math"
	"time"

	"github.com/synack-tcp/synack/seq"
)

// CUBIC constants (RFC 9438 4.1-4.3).
const (
	cubicC    = 0.4
	cubicBeta = 0.7
)

// HyStart++ constants (RFC 9406 4.3).
const (
	hsMinRTTThresh   = 4 * time.Millisecond
	hsMaxRTTThresh   = 16 * time.Millisecond
	hsMinRTTDivisor  = 8
	hsNRTTSample     = 8
	hsCSSGrowthDiv   = 4
	hsCSSRounds      = 5
	hsL              = 8 // segments per ACK growth limit (non-paced)
	hsNoRTT          = time.Duration(math.MaxInt64)
	cubicSegmentsMin = 2
)

// Cubic is RFC 9438 CUBIC with HyStart++ (RFC 9406) slow start. Windows are
// computed in segments as float64, as the RFC's formulas are.
type Cubic struct {
	wMax       float64       // window before the last reduction, segments
	k          float64       // seconds to reach wMax again
	epoch      time.Duration // start of the current congestion-avoidance epoch (-1: none)
	wEst       float64       // Reno-friendly estimate, segments
	cwndPrior  float64
	ackedBytes int // bytes acked toward the next whole-segment increase

	// HyStart++ round tracking.
	hsWindowEnd   seq.Value
	hsRoundActive bool
	hsLastMin     time.Duration
	hsCurMin      time.Duration
	hsSamples     int
	hsCSS         bool
	hsCSSBase     time.Duration
	hsCSSRounds   int
	hsDone        bool
}

// Name implements Congestion.
func (*Cubic) Name() string { return "cubic" }

// Init implements Congestion.
func (c *Cubic) Init(now time.Duration, s *CongestionState) {
	if s.Cwnd == 0 {
		s.Cwnd = s.InitialWindow()
		s.Ssthresh = 1 << 30
	}
	c.epoch = -1
	c.hsLastMin, c.hsCurMin = hsNoRTT, hsNoRTT
}

func (c *Cubic) segs(s *CongestionState) float64 { return float64(s.Cwnd) / float64(s.MSS) }

// OnAck implements Congestion.
func (c *Cubic) OnAck(now time.Duration, s *CongestionState, acked int, rtt time.Duration) {
	if s.Cwnd < s.Ssthresh {
		c.slowStart(now, s, acked, rtt)
		return
	}
	c.avoid(now, s, acked)
}

// slowStart is RFC 5681 slow start with HyStart++ (RFC 9406 4.2).
func (c *Cubic) slowStart(now time.Duration, s *CongestionState, acked int, rtt time.Duration) {
	if !c.hsRoundActive || !s.SndUna.LessThan(c.hsWindowEnd) {
		// A round ends when the ACK covers what was in flight at its start.
		c.hsRoundActive = true
		c.hsWindowEnd = s.SndMax
		c.hsLastMin, c.hsCurMin, c.hsSamples = c.hsCurMin, hsNoRTT, 0
		if c.hsCSS {
			c.hsCSSRounds++
			if c.hsCSSRounds >= hsCSSRounds { // leave slow start for good
				s.Ssthresh = s.Cwnd
				c.hsDone = true
				return
			}
		}
	}
	if rtt > 0 {
		c.hsCurMin = min(c.hsCurMin, rtt)
		c.hsSamples++
	}
	grow := min(acked, hsL*s.MSS)
	if c.hsCSS {
		grow /= hsCSSGrowthDiv
		if c.hsCurMin < c.hsCSSBase { // the RTT rise was spurious: back to slow start
			c.hsCSS = false
		}
	} else if !c.hsDone && c.hsSamples >= hsNRTTSample && c.hsLastMin != hsNoRTT && c.hsCurMin != hsNoRTT {
		eta := min(max(c.hsLastMin/hsMinRTTDivisor, hsMinRTTThresh), hsMaxRTTThresh)
		if c.hsCurMin >= c.hsLastMin+eta { // delay is rising: conservative slow start
			c.hsCSS, c.hsCSSBase, c.hsCSSRounds = true, c.hsCurMin, 0
		}
	}
	s.Cwnd += max(grow, 1)
}

// avoid is CUBIC congestion avoidance (RFC 9438 4.2-4.4).
func (c *Cubic) avoid(now time.Duration, s *CongestionState, acked int) {
	cwnd := c.segs(s)
	if c.epoch < 0 {
		c.epoch = now
		if cwnd < c.wMax {
			c.k = math.Cbrt((c.wMax - cwnd) / cubicC)
		} else {
			c.k, c.wMax = 0, cwnd
		}
		c.wEst = cwnd
	}
	rttSec := s.SRTT.Seconds()
	t := (now - c.epoch).Seconds()
	target := cubicC*math.Pow(t+rttSec-c.k, 3) + c.wMax // W_cubic(t + RTT), eq. 1
	target = min(max(target, cwnd), 1.5*cwnd)           // 4.2: bounded growth
	// Reno-friendly region (4.3): alpha = 3(1-beta)/(1+beta).
	alpha := 3 * (1 - cubicBeta) / (1 + cubicBeta)
	if c.wEst >= c.wMax {
		alpha = 1
	}
	c.wEst += alpha * float64(acked) / float64(s.Cwnd)
	if c.wEst > target {
		target = c.wEst
	}
	// Grow by (target - cwnd) / cwnd segments per acked segment.
	c.ackedBytes += int((target - cwnd) / cwnd * float64(acked))
	if c.ackedBytes > 0 {
		s.Cwnd += c.ackedBytes
		c.ackedBytes = 0
	}
}

// OnCongestion implements Congestion: multiplicative decrease with fast
// convergence (RFC 9438 4.6, 4.7).
func (c *Cubic) OnCongestion(now time.Duration, s *CongestionState) {
	cwnd := c.segs(s)
	c.cwndPrior = cwnd
	if cwnd < c.wMax {
		c.wMax = cwnd * (1 + cubicBeta) / 2 // fast convergence
	} else {
		c.wMax = cwnd
	}
	s.Ssthresh = max(int(cwnd*cubicBeta*float64(s.MSS)), cubicSegmentsMin*s.MSS)
	s.Cwnd = s.Ssthresh
	c.epoch = -1
	c.hsDone = true
}

// OnRecoveryEnd implements Congestion.
func (c *Cubic) OnRecoveryEnd(now time.Duration, s *CongestionState) {
	s.Cwnd = max(s.Ssthresh, cubicSegmentsMin*s.MSS)
}

// OnTimeout implements Congestion (RFC 9438 4.8).
func (c *Cubic) OnTimeout(now time.Duration, s *CongestionState) {
	c.OnCongestion(now, s)
	s.Cwnd = s.MSS
	c.epoch = -1
}

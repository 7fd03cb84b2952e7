package tcp

import (
	"math"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
)

const tmss = 1000

func ccStateFor() *CongestionState { return &CongestionState{MSS: tmss, SRTT: 100 * time.Millisecond} }

// RFC 5681 3.1: slow start doubles per round trip; congestion avoidance
// adds one MSS per window; RFC 6928: IW10.
func TestNewRenoGrowth(t *testing.T) {
	r, s := &NewReno{}, ccStateFor()
	r.Init(0, s)
	if s.Cwnd != 10*tmss {
		t.Fatalf("IW %d", s.Cwnd)
	}
	for i := 0; i < 10; i++ { // one window of ACKs, one segment each
		r.OnAck(0, s, tmss, 0)
	}
	if s.Cwnd != 20*tmss {
		t.Fatalf("after a round of slow start cwnd %d, want 20 MSS", s.Cwnd)
	}
	s.InFlight = 20 * tmss
	r.OnCongestion(0, s)
	if s.Ssthresh != 10*tmss || s.Cwnd != 10*tmss {
		t.Fatalf("after loss ssthresh %d cwnd %d", s.Ssthresh, s.Cwnd)
	}
	for i := 0; i < 10; i++ {
		r.OnAck(0, s, tmss, 0)
	}
	if s.Cwnd != 11*tmss {
		t.Fatalf("congestion avoidance: cwnd %d after one window, want 11 MSS", s.Cwnd)
	}
	r.OnTimeout(0, s)
	if s.Cwnd != tmss {
		t.Fatalf("after RTO cwnd %d, want 1 MSS", s.Cwnd)
	}
}

// RFC 9438: a loss leaves beta*cwnd; the window then grows along the cubic
// curve, concave up to W_max at t = K, then convex beyond it.
func TestCubicCurve(t *testing.T) {
	c, s := &Cubic{}, ccStateFor()
	c.Init(0, s)
	s.Cwnd, s.Ssthresh = 100*tmss, 1<<30
	c.OnCongestion(0, s)
	if s.Cwnd != 70*tmss {
		t.Fatalf("after loss cwnd %d, want 0.7 * 100 MSS", s.Cwnd)
	}
	k := math.Cbrt(100 * (1 - cubicBeta) / cubicC) // seconds
	now := time.Duration(0)
	step := 10 * time.Millisecond
	var atK int
	for now < time.Duration(2*k*float64(time.Second)) {
		for i := 0; i < 10; i++ {
			c.OnAck(now, s, tmss, 0)
		}
		if atK == 0 && now.Seconds() >= k {
			atK = s.Cwnd
		}
		now += step
	}
	if math.Abs(float64(atK)/tmss-100) > 8 {
		t.Fatalf("at t=K=%.2fs cwnd is %.1f MSS, want about W_max = 100", k, float64(atK)/tmss)
	}
	if s.Cwnd <= 100*tmss {
		t.Fatalf("past K the window should exceed W_max: %d", s.Cwnd)
	}
	// Fast convergence (4.7): a loss below the previous W_max lowers it.
	s.Cwnd = 50 * tmss
	c.OnCongestion(now, s)
	if want := 50 * (1 + cubicBeta) / 2; math.Abs(c.wMax-want) > 1e-9 {
		t.Fatalf("W_max %.2f, want %.2f", c.wMax, want)
	}
}

// RFC 9406: when a round's minimum RTT rises past the last round's by eta,
// HyStart++ enters conservative slow start, and after CSS_ROUNDS leaves
// slow start with ssthresh = cwnd, long before any loss.
func TestHyStartPlusPlus(t *testing.T) {
	c, s := &Cubic{}, ccStateFor()
	c.Init(0, s)
	una := seq.Value(0)
	rtt := 20 * time.Millisecond
	for round := 0; round < 40 && s.Cwnd < s.Ssthresh; round++ {
		s.SndUna, s.SndMax = una, una.Add(seq.Size(s.Cwnd))
		if round >= 4 {
			rtt += 10 * time.Millisecond // the queue builds
		}
		n := s.Cwnd / tmss
		for i := 0; i < n; i++ {
			una = una.Add(tmss)
			s.SndUna = una
			c.OnAck(0, s, tmss, rtt)
		}
	}
	if s.Ssthresh == 1<<30 {
		t.Fatal("HyStart++ never ended slow start")
	}
	if !c.hsCSS && !c.hsDone {
		t.Fatal("no conservative slow start")
	}
	if s.Cwnd > 2000*tmss {
		t.Fatalf("slow start ran to %d MSS", s.Cwnd/tmss)
	}
}

func TestNewCongestionNames(t *testing.T) {
	for _, n := range []string{"", "cubic", "newreno", "reno"} {
		if _, err := NewCongestion(n); err != nil {
			t.Error(n, err)
		}
	}
	if _, err := NewCongestion("bbr"); err == nil {
		t.Error("unknown controller accepted")
	}
	c := New(Config{CongestionControl: "newreno"}, &recorder{}, nil)
	if c.CongestionName() != "newreno" {
		t.Fatal(c.CongestionName())
	}
	if err := c.SetCongestion(0, "cubic"); err != nil || c.CongestionName() != "cubic" {
		t.Fatal(err)
	}
}

package simharness

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/synack-tcp/synack/link/sim"
)

// GridSpec derives a whole spec from a seed: the faults in each direction
// (loss 0-30%, bursts, duplication, reordering, corruption, jitter, delay
// spikes, bandwidth and queue limits, flaps and partitions), the round
// trip (1-200 ms), the MTU, MSS and buffer sizes, a memory budget
// (sometimes tight), which options are offered, IPv4 or IPv6, the transfer sizes, the close and the reader.
// "synack soak --grid" runs these; the spec's own flags replay one.
func GridSpec(seed int64) Spec {
	g := rand.New(rand.NewPCG(uint64(seed), 0x67726964)) // "grid": independent of the link's streams
	chance := func(p float64) bool { return g.Float64() < p }
	s := DefaultSpec()
	s.Seed = seed

	rtt := []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}[g.IntN(6)]
	base := sim.Config{Delay: rtt / 2}
	s.IPv6 = chance(0.25)
	switch x := g.IntN(10); {
	case x < 6:
		base.MTU = 1500
	case x < 8:
		base.MTU = 1280
	case x < 9 && !s.IPv6:
		base.MTU = 576
	default:
		base.MTU = 9000
	}
	if chance(0.3) {
		base.Jitter = []time.Duration{time.Millisecond, rtt / 4, rtt}[g.IntN(3)]
	}
	if chance(0.25) {
		base.Rate = []int64{125_000, 1_250_000, 12_500_000}[g.IntN(3)] // 1, 10, 100 Mbit/s
		if chance(0.5) {
			base.QueueBytes = max(base.MTU, []int{16 << 10, 64 << 10, 256 << 10}[g.IntN(3)])
		}
	}
	s.AB, s.BA = base, base
	gridRouter(&s, base.MTU) // a stream of its own: the draws here stay as they were
	// Faults: each either both ways or in one direction only.
	for _, f := range faultPicks {
		if !chance(f.p) {
			continue
		}
		v := g.Uint64()
		switch g.IntN(4) {
		case 0:
			f.apply(&s.AB, v, rtt)
		case 1:
			f.apply(&s.BA, v, rtt)
		default:
			f.apply(&s.AB, v, rtt)
			f.apply(&s.BA, v, rtt)
		}
	}
	if chance(0.1) { // a link flap, both ways
		w := sim.Flap(time.Duration(g.IntN(5000))*time.Millisecond,
			[]time.Duration{500 * time.Millisecond, 3 * time.Second, 20 * time.Second}[g.IntN(3)])
		s.AB.Flaps, s.BA.Flaps = []sim.Window{w}, []sim.Window{w}
	}

	switch x := g.IntN(10); {
	case x < 5:
		s.MSS = 0
	case x < 8:
		s.MSS = 536
	default:
		s.MSS = 1220
	}
	bufs := []int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}
	s.SendBuf, s.RecvBuf = bufs[g.IntN(len(bufs))], bufs[g.IntN(len(bufs))]
	switch g.IntN(3) { // autotuning: the stack's ceiling, 1 MiB, or none
	case 1:
		s.SendBufMax, s.RecvBufMax = max(s.SendBuf, 1<<20), max(s.RecvBuf, 1<<20)
	case 2:
		s.SendBufMax, s.RecvBufMax = s.SendBuf, s.RecvBuf
	}
	s.NoWindowScale, s.NoTimestamps, s.NoSACK = chance(0.2), chance(0.2), chance(0.2)
	s.NoDelay = chance(0.3)
	s.Close = CloseMode(g.IntN(3))
	if chance(0.1) {
		r := []struct {
			n int
			d time.Duration
		}{{1 << 10, 10 * time.Millisecond}, {16 << 10, 50 * time.Millisecond}, {4 << 10, 100 * time.Millisecond}}[g.IntN(3)]
		s.ReadChunk, s.ReadEvery = r.n, r.d
	}
	size := func() int {
		switch x := g.IntN(100); {
		case x < 5:
			return 0
		case x < 15:
			return 1 + g.IntN(1000)
		case x < 45:
			return 64<<10 + g.IntN(1000)
		case x < 80:
			return 256 << 10
		case x < 97:
			return 1 << 20
		default:
			return 4 << 20
		}
	}
	s.ClientBytes, s.ServerBytes = size(), size()
	s.MSL = []time.Duration{time.Second, time.Second, 5 * time.Second}[g.IntN(3)]
	// Memory pressure, drawn last so the draws above stay as they were: a
	// budget below what the buffers would hold prunes, holds windows small
	// and slows writers; the transfer must still be byte-exact.
	if chance(0.15) {
		s.MemBudget = []int{24 << 10, 64 << 10, 256 << 10, 1 << 20}[g.IntN(4)]
	}
	return s
}

// gridRouter puts a router on the path of some seeds, drawn from a random
// stream of its own so the rest of every seed's spec is what it was
// before routers existed: a hop
// narrower than the link answering with ICMP (RFC 1191, RFC 8201), or
// dropping it too (a black hole, left to RFC 4821's PLPMTUD, so never
// below its 1200-byte base), and windows without a route, answered with
// host unreachable.
func gridRouter(s *Spec, mtu int) {
	g := rand.New(rand.NewPCG(uint64(s.Seed), 0x726f75746572)) // "router"
	if g.Float64() < 0.1 {
		hops := []int{1280, 1400, 1492}
		if !s.IPv6 {
			hops = append(hops, 576, 1006)
		}
		hop := hops[g.IntN(len(hops))]
		bh := g.Float64() < 0.3
		if hop < mtu && (!bh || hop >= 1280) {
			s.AB.Router.MTU, s.BA.Router.MTU = hop, hop
			s.AB.Router.BlackHole, s.BA.Router.BlackHole = bh, bh
		}
	}
	if g.Float64() < 0.03 {
		w := sim.Flap(time.Duration(g.IntN(5000))*time.Millisecond,
			[]time.Duration{time.Second, 10 * time.Second, time.Minute}[g.IntN(3)])
		switch g.IntN(3) {
		case 0:
			s.AB.Router.Unreachable = []sim.Window{w}
		case 1:
			s.BA.Router.Unreachable = []sim.Window{w}
		default:
			s.AB.Router.Unreachable, s.BA.Router.Unreachable = []sim.Window{w}, []sim.Window{w}
		}
	}
}

// faultPicks are the grid's faults with their odds of being on.
var faultPicks = []struct {
	p     float64
	apply func(c *sim.Config, v uint64, rtt time.Duration)
}{
	{0.6, func(c *sim.Config, v uint64, _ time.Duration) { // loss
		c.Loss = []float64{0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3}[v%7]
	}},
	{0.1, func(c *sim.Config, v uint64, _ time.Duration) { // bursts
		c.GEGoodToBad, c.GEBadToGood, c.GELossBad = 0.01, 0.3, []float64{0.5, 0.9}[v%2]
	}},
	{0.25, func(c *sim.Config, v uint64, _ time.Duration) { c.Dup = []float64{0.01, 0.05}[v%2] }},
	{0.25, func(c *sim.Config, v uint64, rtt time.Duration) {
		c.Reorder = []float64{0.02, 0.1}[v%2]
		c.ReorderDelay = []time.Duration{time.Millisecond, 5 * time.Millisecond, rtt}[v/2%3]
	}},
	{0.2, func(c *sim.Config, v uint64, _ time.Duration) { c.Corrupt = []float64{0.01, 0.05}[v%2] }},
	{0.03, func(c *sim.Config, v uint64, _ time.Duration) { c.CorruptKeepChecksum = 0.001 }},
	{0.1, func(c *sim.Config, v uint64, _ time.Duration) {
		c.SpikeProb, c.SpikeDelay = 0.01, []time.Duration{500 * time.Millisecond, 2 * time.Second}[v%2]
	}},
	{0.05, func(c *sim.Config, v uint64, _ time.Duration) {
		c.Partition = []sim.Window{sim.Flap(time.Duration(v%4000)*time.Millisecond, 5*time.Second)}
	}},
}

// MatrixCase is one cell of the test matrix.
type MatrixCase struct {
	Name string
	Spec Spec
}

// Matrix is the test matrix of the issue: loss 0-30% x round trip 1-200
// ms x buffer size x MSS (1460, 1220, 536), with transfers of 1-16 MiB in
// each direction at once, ending in a normal close. full gives the whole
// cross product; otherwise a representative subset that covers every
// value of every axis.
func Matrix(full bool) []MatrixCase {
	losses := []float64{0, 0.01, 0.05, 0.1, 0.3}
	rtts := []time.Duration{time.Millisecond, 20 * time.Millisecond, 200 * time.Millisecond}
	bufs := []int{16 << 10, 64 << 10, 1 << 20}
	msss := []int{0, 1220, 536}
	var cs []MatrixCase
	i := 0
	for li, loss := range losses {
		for ri, rtt := range rtts {
			for bi, buf := range bufs {
				for mi, mss := range msss {
					i++
					// The subset: a Latin-square walk that meets every pair of
					// loss and round trip once, each buffer and MSS often.
					if !full && (bi != (li+ri)%len(bufs) || mi != (li+2*ri)%len(msss)) {
						continue
					}
					s := DefaultSpec()
					s.Seed = int64(i)
					l := sim.Config{Delay: rtt / 2, MTU: 1500, Loss: loss}
					s.SetFaults(l)
					s.MSS, s.SendBuf, s.RecvBuf = mss, buf, buf
					s.SendBufMax, s.RecvBufMax = buf, buf // the buffer axis: no autotuning
					s.ClientBytes, s.ServerBytes = matrixSize(loss), matrixSize(loss)
					if loss >= 0.2 {
						// Patient, as Linux's 15 retries (about 15 minutes) are:
						// the transfer should finish, not give up.
						s.R2 = 30 * time.Minute
						s.Limit = 48 * time.Hour
					}
					s.Close = CloseMode(i % 3)
					mssName := "auto"
					if mss != 0 {
						mssName = fmt.Sprint(mss)
					}
					cs = append(cs, MatrixCase{
						Name: fmt.Sprintf("loss=%v/rtt=%v/buf=%s/mss=%s", fmtProb(loss), rtt, FormatSize(buf), mssName),
						Spec: s,
					})
				}
			}
		}
	}
	return cs
}

// matrixSize is the transfer per direction: 16 MiB on good networks, less
// where loss makes every megabyte cost many round trips (1 MiB at 30%).
func matrixSize(loss float64) int {
	switch {
	case loss >= 0.2:
		return 1 << 20
	case loss >= 0.05:
		return 4 << 20
	}
	return 16 << 20
}

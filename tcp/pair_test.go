package tcp

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// Two TCBs wired to each other through an in-memory network the test
// controls: every segment is delayed, and by a seeded math/rand dropped,
// duplicated or reordered (random extra delay). Time is virtual: the loop
// jumps to the next delivery or the next deadline of either TCB.

type pairPacket struct {
	to   int
	at   time.Duration
	id   uint64 // ties at the same instant go in sending order
	h    wire.TCP
	data []byte
}

type pairEnd struct {
	scratchHdr
	net  *pairNet
	id   int
	name string
	c    *TCB
	walk []State
	// readAt is when a slow reader next reads.
	readAt time.Duration
}

// SendSegment is the TCB's Sender: the segment goes into the network.
func (e *pairEnd) SendSegment(h *wire.TCP, p1, p2 []byte) {
	if h.Flags&wire.RST != 0 && e.c.State() != Closed {
		e.net.t.Errorf("t=%v: %s sent a reset in %v", e.net.now, e.name, e.c.State())
	}
	e.net.send(e.id, h, p1, p2)
}

type pairNet struct {
	t      *testing.T
	rng    *rand.Rand
	now    time.Duration
	loss   float64 // probability a segment is dropped
	dup    float64 // probability a segment is delivered twice
	delay  time.Duration
	jitter time.Duration // extra random delay: reorders
	cut    int           // > 0: segments longer are cut into pieces of this size first, as a TSO link does (tso_test.go)
	q      []pairPacket
	nextID uint64
	stats  struct{ sent, dropped, duplicated, delivered int }
}

func (n *pairNet) send(from int, h *wire.TCP, p1, p2 []byte) {
	if data := append(append([]byte(nil), p1...), p2...); n.cut > 0 && len(data) > n.cut {
		for _, p := range cut([]sent{{*h, data}}, n.cut) {
			n.send(from, &p.h, p.data, nil)
		}
		return
	}
	n.stats.sent++
	if n.rng.Float64() < n.loss {
		n.stats.dropped++
		return
	}
	copies := 1
	if n.rng.Float64() < n.dup {
		copies = 2
		n.stats.duplicated++
	}
	data := append(append([]byte(nil), p1...), p2...)
	for i := 0; i < copies; i++ {
		at := n.now + n.delay
		if n.jitter > 0 {
			at += time.Duration(n.rng.Int63n(int64(n.jitter)))
		}
		n.q = append(n.q, pairPacket{to: 1 - from, at: at, id: n.nextID, h: *h, data: data})
		n.nextID++
	}
}

type pairScenario struct {
	name       string
	seed       int64
	loss, dup  float64
	jitter     time.Duration
	cfg        Config
	issA, issB seq.Value
	aBytes     int // client (active opener, active closer) sends
	bBytes     int // server (passive opener) sends
	wantLoss   bool
	slowReader bool // read rarely and little: zero windows, persist probes
	anyOrder   bool // A may finish reading before it closes (seed sweeps)
	cut        int  // the network cuts segments at this size (TSO)
}

func TestPairTransfer(t *testing.T) {
	base := Config{MSS: 1000, SendBuf: 16 << 10, RecvBuf: 16 << 10, MSL: time.Minute}
	small := base
	small.SendBuf, small.RecvBuf = 4<<10, 3<<10 // zero windows, persist probing
	nodelay := base
	nodelay.NoDelay = true
	scaled := base
	scaled.WindowScale, scaled.RecvBuf, scaled.SendBuf = true, 200<<10, 200<<10
	const wrapA, wrapB = seq.Value(0xffffff00), seq.Value(0xfffffff0)
	for _, sc := range []pairScenario{
		{name: "clean", seed: 1, cfg: base, issA: 1000, issB: 2000000, aBytes: 100 << 10, bBytes: 150 << 10},
		{name: "clean wrap", seed: 2, cfg: base, issA: wrapA, issB: wrapB, aBytes: 100 << 10, bBytes: 150 << 10},
		{name: "lossy wrap", seed: 9, loss: 0.05, dup: 0.02, jitter: 15 * time.Millisecond, cfg: base, issA: wrapA, issB: wrapB, aBytes: 200 << 10, bBytes: 300 << 10, wantLoss: true},
		{name: "lossy wrap nodelay", seed: 4, loss: 0.05, dup: 0.03, jitter: 25 * time.Millisecond, cfg: nodelay, issA: wrapA, issB: wrapB, aBytes: 200 << 10, bBytes: 300 << 10, wantLoss: true},
		{name: "lossy small buffers", seed: 5, loss: 0.08, dup: 0.02, jitter: 10 * time.Millisecond, cfg: small, issA: wrapA, issB: 12345, aBytes: 60 << 10, bBytes: 90 << 10, wantLoss: true},
		{name: "slow reader", seed: 8, loss: 0.02, jitter: 5 * time.Millisecond, cfg: small, issA: wrapA, issB: wrapB, aBytes: 40 << 10, bBytes: 40 << 10, wantLoss: true, slowReader: true},
		{name: "heavy loss", seed: 6, loss: 0.15, dup: 0.05, jitter: 30 * time.Millisecond, cfg: base, issA: wrapA, issB: wrapB, aBytes: 80 << 10, bBytes: 120 << 10, wantLoss: true},
		{name: "lossy window scale", seed: 7, loss: 0.03, dup: 0.02, jitter: 20 * time.Millisecond, cfg: scaled, issA: wrapA, issB: wrapB, aBytes: 400 << 10, bBytes: 500 << 10, wantLoss: true},
	} {
		t.Run(sc.name, func(t *testing.T) { runPair(t, sc) })
	}
}

// runPair opens, transfers both ways, closes (A first, B after A reached
// FIN-WAIT-2) and checks bytes, states and errors. RFC 9293 3.5 Figure 6,
// 3.6 Figure 12 and 3.6.1 (half-close: A keeps receiving in FIN-WAIT-2),
// 3.8.1 retransmission under loss, 3.4 sequence numbers modulo 2^32.
func runPair(t *testing.T, sc pairScenario) {
	rng := rand.New(rand.NewSource(sc.seed))
	n := &pairNet{t: t, rng: rng, loss: sc.loss, dup: sc.dup, delay: 10 * time.Millisecond, jitter: sc.jitter, cut: sc.cut}
	a := &pairEnd{net: n, id: 0, name: "A"}
	b := &pairEnd{net: n, id: 1, name: "B"}
	ends := [2]*pairEnd{a, b}
	for _, e := range ends {
		e := e
		e.c = New(sc.cfg, e, func(from, to State, _ Cause) {
			if len(e.walk) == 0 {
				e.walk = append(e.walk, from)
			}
			e.walk = append(e.walk, to)
		})
	}
	aOut, bOut := make([]byte, sc.aBytes), make([]byte, sc.bBytes)
	rng.Read(aOut)
	rng.Read(bOut)
	var aIn, bIn []byte
	aWritten, bWritten := 0, 0
	aClosed, bClosed, aEOF, bEOF := false, false, false, false
	aReadInFW2 := 0
	buf := make([]byte, 8192)

	if err := b.c.OpenPassive(sc.issB); err != nil {
		t.Fatal(err)
	}
	if err := a.c.OpenActive(0, sc.issA); err != nil {
		t.Fatal(err)
	}

	check := func() {
		t.Helper()
		for _, e := range ends {
			if err := e.c.CheckInvariants(); err != nil {
				t.Fatalf("t=%v: %s in %v: %v", n.now, e.name, e.c.State(), err)
			}
		}
	}
	// read drains up to a random amount, so windows sometimes close;
	// force (when nothing else is scheduled) makes every reader read.
	force := false
	read := func(e *pairEnd, in *[]byte, eof *bool) int {
		if *eof || !force && (sc.slowReader && n.now < e.readAt || rng.Intn(4) == 0) {
			return 0
		}
		limit := 1 + rng.Intn(len(buf))
		if sc.slowReader { // about 10 KB/s
			limit = 1 + rng.Intn(1500)
			e.readAt = n.now + time.Duration(50+rng.Intn(100))*time.Millisecond
		}
		if force {
			limit = 1 << 30
		}
		got := 0
		for got < limit {
			k, err := e.c.Receive(n.now, buf[:min(len(buf), limit-got)])
			*in = append(*in, buf[:k]...)
			got += k
			if errors.Is(err, ErrEOF) {
				*eof = true
				break
			}
			if err != nil {
				t.Fatalf("t=%v: %s Receive: %v", n.now, e.name, err)
			}
			if k == 0 {
				break
			}
		}
		return got
	}
	app := func() {
		// A: write everything, then CLOSE once established; keep reading.
		if aWritten < len(aOut) {
			k, err := a.c.Send(n.now, aOut[aWritten:])
			if err != nil {
				t.Fatalf("t=%v: A Send in %v: %v", n.now, a.c.State(), err)
			}
			aWritten += k
		}
		if aWritten == len(aOut) && !aClosed && a.c.State() == Established {
			if err := a.c.Close(n.now); err != nil {
				t.Fatalf("A Close: %v", err)
			}
			aClosed = true
		}
		inFW2 := a.c.State() == FinWait2
		if k := read(a, &aIn, &aEOF); inFW2 {
			aReadInFW2 += k
		}
		// B: start sending once half of A's data is in, so that most of
		// it flows after A's CLOSE; CLOSE after A's FIN is read and A is
		// in FIN-WAIT-2 (so both walks are the canonical ones).
		read(b, &bIn, &bEOF)
		if s := b.c.State(); bWritten < len(bOut) && len(bIn) >= len(aOut)/2 && (s == Established || s == CloseWait) {
			k, err := b.c.Send(n.now, bOut[bWritten:])
			if err != nil {
				t.Fatalf("t=%v: B Send in %v: %v", n.now, s, err)
			}
			bWritten += k
		}
		if bWritten == len(bOut) && bEOF && !bClosed && a.c.State() == FinWait2 {
			if err := b.c.Close(n.now); err != nil {
				t.Fatalf("B Close: %v", err)
			}
			bClosed = true
		}
		check()
	}

	for iter := 0; ; iter++ {
		if iter > 2_000_000 {
			t.Fatalf("no end after %d events: A %v B %v", iter, a.c.State(), b.c.State())
		}
		app()
		if a.c.State() == Closed && b.c.State() == Closed {
			break
		}
		next, ok := time.Duration(0), false
		for _, p := range n.q {
			if !ok || p.at < next {
				next, ok = p.at, true
			}
		}
		for _, e := range ends {
			if d, armed := e.c.NextDeadline(); armed && (!ok || d < next) {
				next, ok = d, true
			}
			if sc.slowReader && e.c.Readable() && e.readAt > n.now && (!ok || e.readAt < next) {
				next, ok = e.readAt, true
			}
		}
		if !ok && !force {
			force = true // the applications may be all that is left to run
			continue
		}
		force = false
		if !ok {
			t.Logf("A %+v\nB %+v", a.c.Status(), b.c.Status())
			t.Fatalf("t=%v: stalled with nothing in flight or armed: A %v B %v (A wrote %d/%d read %d, B wrote %d/%d read %d)",
				n.now, a.c.State(), b.c.State(), aWritten, len(aOut), len(aIn), bWritten, len(bOut), len(bIn))
		}
		if next > time.Hour {
			t.Fatalf("virtual time ran to %v", next)
		}
		n.now = max(n.now, next)
		// Deliver what is due, in time then sending order.
		sort.Slice(n.q, func(i, j int) bool {
			if n.q[i].at != n.q[j].at {
				return n.q[i].at < n.q[j].at
			}
			return n.q[i].id < n.q[j].id
		})
		k := 0
		for k < len(n.q) && n.q[k].at <= n.now {
			k++
		}
		due := append([]pairPacket(nil), n.q[:k]...)
		n.q = n.q[k:]
		for _, p := range due {
			n.stats.delivered++
			ends[p.to].c.Segment(n.now, &p.h, p.data)
			check()
		}
		for _, e := range ends {
			if d, armed := e.c.NextDeadline(); armed && d <= n.now {
				e.c.Tick(n.now)
				check()
			}
		}
	}

	// A closed TCB keeps what the user has not read yet.
	for _, x := range []struct {
		e   *pairEnd
		in  *[]byte
		eof *bool
	}{{a, &aIn, &aEOF}, {b, &bIn, &bEOF}} {
		for !*x.eof {
			k, err := x.e.c.Receive(n.now, buf)
			*x.in = append(*x.in, buf[:k]...)
			if errors.Is(err, ErrEOF) {
				*x.eof = true
			} else if err != nil || k == 0 {
				t.Fatalf("%s: draining after CLOSED: %d, %v", x.e.name, k, err)
			}
		}
	}
	if !bytes.Equal(bIn, aOut) {
		t.Errorf("B received %d bytes, A sent %d: mismatch at %d", len(bIn), len(aOut), firstDiff(bIn, aOut))
	}
	if !bytes.Equal(aIn, bOut) {
		t.Errorf("A received %d bytes, B sent %d: mismatch at %d", len(aIn), len(bOut), firstDiff(aIn, bOut))
	}
	if !aEOF || !bEOF {
		t.Errorf("EOF seen: A %v B %v", aEOF, bEOF)
	}
	for _, e := range ends {
		if e.c.Err() != nil {
			t.Errorf("%s ended with %v", e.name, e.c.Err())
		}
	}
	wantA := []State{Closed, SynSent, Established, FinWait1, FinWait2, TimeWait, Closed}
	wantB := []State{Closed, Listen, SynReceived, Established, CloseWait, LastAck, Closed}
	if !equalStates(a.walk, wantA) {
		t.Errorf("A walked %v, want %v", a.walk, wantA)
	}
	if !equalStates(b.walk, wantB) {
		t.Errorf("B walked %v, want %v", b.walk, wantB)
	}
	if aReadInFW2 == 0 && !sc.anyOrder {
		t.Errorf("A read nothing in FIN-WAIT-2: the half-close was not exercised")
	}
	sa, sb := a.c.Status(), b.c.Status()
	if sc.issA == 0xffffff00 && uint32(sa.SndUna) >= uint32(sc.issA) {
		t.Errorf("A's sequence numbers did not wrap: ISS %#x, SND.UNA %#x", uint32(sc.issA), uint32(sa.SndUna))
	}
	if sc.issB == 0xfffffff0 && uint32(sb.SndUna) >= uint32(sc.issB) {
		t.Errorf("B's sequence numbers did not wrap: ISS %#x, SND.UNA %#x", uint32(sc.issB), uint32(sb.SndUna))
	}
	// Every byte was acknowledged: SND.UNA = ISS + 1 + data + 1 (FIN).
	if got, want := sa.SndUna, sc.issA.Add(seq.Size(len(aOut)+2)); got != want {
		t.Errorf("A SND.UNA %#x, want %#x", uint32(got), uint32(want))
	}
	if got, want := sb.SndUna, sc.issB.Add(seq.Size(len(bOut)+2)); got != want {
		t.Errorf("B SND.UNA %#x, want %#x", uint32(got), uint32(want))
	}
	if sc.slowReader && !sc.anyOrder && sa.Stats.ZeroWindowProbes+sb.Stats.ZeroWindowProbes == 0 {
		t.Errorf("slow reader, yet no zero-window probe")
	}
	rtx := sa.Stats.Retransmits + sb.Stats.Retransmits
	rto := sa.Stats.RTOExpirations + sb.Stats.RTOExpirations
	if sc.wantLoss {
		if n.stats.dropped == 0 || rtx == 0 || rto == 0 {
			t.Errorf("loss not exercised: dropped %d, retransmits %d, RTOs %d", n.stats.dropped, rtx, rto)
		}
	} else if sc.loss == 0 && sc.dup == 0 && sc.jitter == 0 && (rtx != 0 || rto != 0) {
		t.Errorf("clean network, yet %d retransmissions (%d RTOs)", rtx, rto)
	}
	if testing.Verbose() {
		t.Logf("%v virtual; net %+v; A %s; B %s", n.now, n.stats, pairSummary(sa), pairSummary(sb))
	}
}

func pairSummary(s Status) string {
	return fmt.Sprintf("rtx %d (RTO %d, fast %d), probes %d, dupacks in %d, ooo %d, challenge %d",
		s.Stats.Retransmits, s.Stats.RTOExpirations, s.Stats.FastRetransmits, s.Stats.ZeroWindowProbes,
		s.Stats.DupAcksIn, s.Stats.OutOfOrderSegs, s.Stats.ChallengeAcks)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

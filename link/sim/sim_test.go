package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
)

// arrival is one packet as a receiver saw it.
type arrival struct {
	at    time.Duration
	seq   uint32 // the packet's first four bytes
	data  []byte
	batch int // index of the DeliverPackets call
}

// recorder is a receiver that keeps copies of what it is given.
type recorder struct {
	clk     *clock.Virtual
	got     []arrival
	batches []int
}

func (r *recorder) DeliverPackets(pkts [][]byte, _ []link.PacketInfo) {
	for _, p := range pkts {
		a := arrival{at: r.clk.Now(), data: append([]byte(nil), p...), batch: len(r.batches)}
		if len(p) >= 4 {
			a.seq = binary.BigEndian.Uint32(p)
		}
		r.got = append(r.got, a)
	}
	r.batches = append(r.batches, len(pkts))
}

func pair(t *testing.T, seed int64, ab, ba Config) (*clock.Virtual, *Endpoint, *Endpoint, *recorder, *recorder) {
	t.Helper()
	clk := clock.NewVirtual()
	a, b := New(clk, seed, ab, ba)
	ra, rb := &recorder{clk: clk}, &recorder{clk: clk}
	a.Attach(ra)
	b.Attach(rb)
	return clk, a, b, ra, rb
}

// packet returns a size-byte packet starting with seq.
func packet(seq, size int) []byte {
	p := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(p, uint32(seq))
	for i := 4; i < len(p); i++ {
		p[i] = byte(seq*7 + i)
	}
	return p[:size]
}

func write(t *testing.T, e *Endpoint, pkts ...[]byte) {
	t.Helper()
	if n, err := e.WritePackets(pkts, nil); n != len(pkts) || err != nil {
		t.Fatalf("WritePackets: %d, %v", n, err)
	}
}

// every writes n packets of size bytes on e, one every interval from
// start, in the goroutine advancing the clock.
func every(clk *clock.Virtual, e *Endpoint, start, interval time.Duration, n, size int) {
	for i := range n {
		clk.At(start+time.Duration(i)*interval, func() { e.WritePackets([][]byte{packet(i, size)}, nil) })
	}
}

func drain(clk *clock.Virtual) {
	for clk.Step() {
	}
}

func checkInvariant(t *testing.T, name string, s Stats) {
	t.Helper()
	if s.Sent+s.Duplicated != s.Delivered+s.Lost()+s.InFlight {
		t.Errorf("%s: sent %d + dup %d != delivered %d + lost %d + in flight %d",
			name, s.Sent, s.Duplicated, s.Delivered, s.Lost(), s.InFlight)
	}
}

func TestPerfectLink(t *testing.T) {
	clk, a, b, ra, rb := pair(t, 1, Config{}, Config{})
	if a.MTU() != DefaultMTU {
		t.Fatalf("MTU %d", a.MTU())
	}
	buf := packet(0, 100)
	write(t, a, buf)
	copy(buf, packet(1, 100)) // the link copied the packet
	write(t, a, buf, packet(2, 50))
	write(t, b, packet(9, 60))
	if len(rb.got) != 0 {
		t.Fatal("delivered inside WritePackets")
	}
	drain(clk)
	if clk.Now() != 0 {
		t.Fatalf("zero delay took %v", clk.Now())
	}
	if len(rb.got) != 3 || len(rb.batches) != 1 {
		t.Fatalf("got %d packets in %v", len(rb.got), rb.batches)
	}
	for i, g := range rb.got {
		want := packet(i, 100)
		if i == 2 {
			want = packet(2, 50)
		}
		if string(g.data) != string(want) {
			t.Fatalf("packet %d differs", i)
		}
	}
	if len(ra.got) != 1 || ra.got[0].seq != 9 {
		t.Fatal("b->a")
	}
	s := a.Stats()
	if s.Sent != 3 || s.Delivered != 3 || s.SentBytes != 250 || s.DeliveredBytes != 250 || s.Lost() != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkInvariant(t, "a", s)
}

// everything is a config exercising every fault.
func everything() Config {
	return Config{
		Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond,
		SpikeProb: 0.01, SpikeDelay: time.Second,
		Loss:        0.02,
		GEGoodToBad: 0.01, GEBadToGood: 0.3, GELossBad: 0.5,
		Dup:     0.02,
		Reorder: 0.05, ReorderDelay: 20 * time.Millisecond,
		Corrupt: 0.01, CorruptKeepChecksum: 0.01,
		Rate: 2_000_000, QueueBytes: 30_000,
		MTU:       1400,
		Flaps:     []Window{Flap(150*time.Millisecond, 20*time.Millisecond)},
		Partition: []Window{Flap(250*time.Millisecond, 5*time.Millisecond)},
	}
}

// run drives a faulty link for a while and returns a transcript of every
// fate and every arrival (with a hash of its bytes).
func run(seed int64, ab, ba Config) (string, Stats, Stats) {
	var sb strings.Builder
	trace := func(ev Event) { fmt.Fprintln(&sb, ev) }
	ab.OnPacket, ba.OnPacket = trace, trace
	clk := clock.NewVirtual()
	a, b := New(clk, seed, ab, ba)
	recv := func(name string) link.Receiver {
		return link.ReceiverFunc(func(pkts [][]byte, _ []link.PacketInfo) {
			for _, p := range pkts {
				h := fnv.New64a()
				h.Write(p)
				fmt.Fprintf(&sb, "%v %s got %d bytes %x\n", clk.Now(), name, len(p), h.Sum64())
			}
		})
	}
	a.Attach(recv("a"))
	b.Attach(recv("b"))
	sizes := rand.New(rand.NewPCG(7, 7))
	for i := range 3000 {
		at := time.Duration(i) * 100 * time.Microsecond
		pa, pb := packet(i, 40+sizes.IntN(1400)), packet(i, 40+sizes.IntN(100))
		clk.At(at, func() {
			a.WritePackets([][]byte{pa}, nil)
			b.WritePackets([][]byte{pb}, nil)
		})
	}
	drain(clk)
	return sb.String(), a.Stats(), b.Stats()
}

func TestDeterminism(t *testing.T) {
	t1, sa, sb := run(42, everything(), everything())
	t2, _, _ := run(42, everything(), everything())
	if t1 != t2 {
		t.Fatal("same seed, different traces")
	}
	if t3, _, _ := run(43, everything(), everything()); t1 == t3 {
		t.Fatal("different seeds, same trace")
	}
	for name, s := range map[string]Stats{"a": sa, "b": sb} {
		checkInvariant(t, name, s)
		if s.InFlight != 0 {
			t.Errorf("%s: %d in flight after drain", name, s.InFlight)
		}
		// Every fault happened at least once.
		for what, n := range map[string]uint64{
			"random": s.LostRandom, "burst": s.LostBurst, "mtu": s.LostMTU,
			"down": s.LostDown, "dup": s.Duplicated, "reorder": s.Reordered,
			"corrupt": s.Corrupted, "undetected": s.CorruptedUndetected,
		} {
			if n == 0 && !(name == "b" && what == "mtu") {
				t.Errorf("%s: no %s (%+v)", name, what, s)
			}
		}
	}
	if sa.LostQueue == 0 {
		t.Errorf("a: no queue drops (%+v)", sa)
	}
	t.Logf("a->b: %+v", sa)
}

// TestDirectionsIndependent checks that faults added in one direction do
// not change the other direction's fate sequence.
func TestDirectionsIndependent(t *testing.T) {
	only := func(tr, dir string) string {
		var keep []string
		for _, l := range strings.Split(tr, "\n") {
			if strings.Contains(l, " "+dir+" ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	t1, _, _ := run(5, everything(), Config{})
	t2, _, _ := run(5, everything(), Config{Loss: 0.3, Jitter: time.Millisecond, Dup: 0.1})
	if x, y := only(t1, "a->b"), only(t2, "a->b"); x != y || x == "" {
		t.Fatal("a->b trace changed with b->a config")
	}
}

func TestLossRate(t *testing.T) {
	const n = 100_000
	clk, a, _, _, rb := pair(t, 1, Config{Loss: 0.1}, Config{})
	p := packet(0, 60)
	for i := range n {
		write(t, a, p)
		if i%1000 == 999 {
			drain(clk)
		}
	}
	drain(clk)
	s := a.Stats()
	// Binomial sd is ~95; the seed is fixed, so this cannot flake.
	if s.LostRandom < 9700 || s.LostRandom > 10300 || s.Lost() != s.LostRandom {
		t.Fatalf("lost %d of %d (%+v)", s.LostRandom, n, s)
	}
	if uint64(len(rb.got)) != n-s.LostRandom || s.Delivered != uint64(len(rb.got)) {
		t.Fatalf("delivered %d, stats %+v", len(rb.got), s)
	}
}

func TestBurstLoss(t *testing.T) {
	const n = 100_000
	var lost []bool
	cfg := Config{GEGoodToBad: 0.01, GEBadToGood: 0.2, GELossBad: 0.5}
	cfg.OnPacket = func(ev Event) {
		for uint64(len(lost)) <= ev.Seq {
			lost = append(lost, false)
		}
		lost[ev.Seq] = ev.Fate == LostBurst
	}
	clk, a, _, _, _ := pair(t, 3, cfg, Config{})
	p := packet(0, 60)
	for i := range n {
		write(t, a, p)
		if i%1000 == 999 {
			drain(clk)
		}
	}
	drain(clk)
	s := a.Stats()
	// Stationary P(bad) = 0.01/(0.01+0.2); loss = P(bad) * 0.5 ~ 2.4%.
	want := 0.01 / 0.21 * 0.5 * n
	if f := float64(s.LostBurst); f < 0.8*want || f > 1.2*want {
		t.Fatalf("lost %d, want about %.0f", s.LostBurst, want)
	}
	// Losses cluster: after a loss, another is far likelier than average.
	var after, pairs int
	for i := 1; i < n; i++ {
		if lost[i-1] {
			after++
			if lost[i] {
				pairs++
			}
		}
	}
	if cond := float64(pairs) / float64(after); cond < 0.25 {
		t.Fatalf("P(loss | loss before) = %.3f, want bursts", cond)
	}
}

func TestFIFOWithoutJitter(t *testing.T) {
	cfg := Config{Delay: 5 * time.Millisecond, SpikeProb: 0.05, SpikeDelay: 200 * time.Millisecond,
		Rate: 1_000_000, Dup: 0.1}
	clk, a, _, _, rb := pair(t, 9, cfg, Config{})
	sizes := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		clk.At(time.Duration(i)*time.Millisecond, func() { a.WritePackets([][]byte{packet(i, 40+sizes.IntN(1400))}, nil) })
	}
	drain(clk)
	s := a.Stats()
	if len(rb.got) != 1000+int(s.Duplicated) || s.Duplicated == 0 {
		t.Fatalf("got %d, stats %+v", len(rb.got), s)
	}
	for i := 1; i < len(rb.got); i++ {
		if rb.got[i].seq < rb.got[i-1].seq || rb.got[i].at < rb.got[i-1].at {
			t.Fatalf("arrival %d: #%d at %v after #%d at %v", i,
				rb.got[i].seq, rb.got[i].at, rb.got[i-1].seq, rb.got[i-1].at)
		}
	}
	if s.Reordered != 0 {
		t.Fatalf("Reordered = %d on a FIFO link", s.Reordered)
	}
}

func TestReorder(t *testing.T) {
	for _, reorder := range []float64{0, 0.1} {
		cfg := Config{Delay: time.Millisecond, Reorder: reorder, ReorderDelay: 5 * time.Millisecond}
		clk, a, _, _, rb := pair(t, 4, cfg, Config{})
		every(clk, a, 0, time.Millisecond, 2000, 100)
		drain(clk)
		var late int
		var high uint32
		for i, g := range rb.got {
			if i > 0 && g.seq < high {
				late++
			}
			high = max(high, g.seq)
		}
		s := a.Stats()
		if uint64(late) != s.Reordered || len(rb.got) != 2000 {
			t.Fatalf("reorder %v: %d late arrivals, stats %+v", reorder, late, s)
		}
		if reorder == 0 && late != 0 || reorder > 0 && (late < 150 || late > 250) {
			t.Fatalf("reorder %v: %d of 2000 late", reorder, late)
		}
	}
}

func TestJitterReorders(t *testing.T) {
	clk, a, _, _, rb := pair(t, 4, Config{Delay: time.Millisecond, Jitter: 3 * time.Millisecond}, Config{})
	every(clk, a, 0, time.Millisecond, 1000, 100)
	drain(clk)
	if s := a.Stats(); s.Reordered == 0 || len(rb.got) != 1000 {
		t.Fatalf("stats %+v", s)
	}
	for _, g := range rb.got {
		if d := g.at - time.Duration(g.seq)*time.Millisecond; d < time.Millisecond || d >= 4*time.Millisecond {
			t.Fatalf("#%d took %v", g.seq, d)
		}
	}
}

func TestDuplicate(t *testing.T) {
	clk, a, _, _, rb := pair(t, 5, Config{Dup: 0.1, Jitter: time.Millisecond}, Config{})
	every(clk, a, 0, 10*time.Microsecond, 10_000, 80)
	drain(clk)
	s := a.Stats()
	if s.Duplicated < 850 || s.Duplicated > 1150 {
		t.Fatalf("duplicated %d of 10000", s.Duplicated)
	}
	count := map[uint32]int{}
	for _, g := range rb.got {
		count[g.seq]++
		if string(g.data) != string(packet(int(g.seq), 80)) {
			t.Fatalf("#%d corrupted", g.seq)
		}
	}
	var twice uint64
	for _, c := range count {
		if c == 2 {
			twice++
		}
	}
	if len(count) != 10_000 || twice != s.Duplicated || s.Delivered != 10_000+s.Duplicated {
		t.Fatalf("%d distinct, %d twice, stats %+v", len(count), twice, s)
	}
}

func TestBandwidth(t *testing.T) {
	const delay = 10 * time.Millisecond
	clk, a, _, _, rb := pair(t, 1, Config{Rate: 1_000_000, Delay: delay}, Config{})
	for i := range 1000 {
		write(t, a, packet(i, 1000))
	}
	drain(clk)
	if len(rb.got) != 1000 {
		t.Fatalf("got %d", len(rb.got))
	}
	// 1000 bytes at 1 MB/s take 1 ms each.
	for i, g := range rb.got {
		if want := time.Duration(i+1)*time.Millisecond + delay; g.at != want {
			t.Fatalf("#%d arrived at %v, want %v", i, g.at, want)
		}
	}
}

func TestQueueTailDrop(t *testing.T) {
	clk, a, _, _, rb := pair(t, 1, Config{Rate: 1_000_000, QueueBytes: 10_000}, Config{})
	for i := range 100 {
		write(t, a, packet(i, 1000))
	}
	if s := a.Stats(); s.LostQueue != 90 {
		t.Fatalf("stats %+v", s)
	}
	clk.Advance(5 * time.Millisecond) // five packets serialized
	for i := 100; i < 110; i++ {
		write(t, a, packet(i, 1000))
	}
	drain(clk)
	s := a.Stats()
	if s.LostQueue != 95 || len(rb.got) != 15 {
		t.Fatalf("got %d, stats %+v", len(rb.got), s)
	}
	for i, g := range rb.got {
		want := uint32(i)
		if i >= 10 {
			want = uint32(100 + i - 10)
		}
		if g.seq != want {
			t.Fatalf("arrival %d is #%d, want #%d", i, g.seq, want)
		}
	}
	if last := rb.got[14].at; last != 15*time.Millisecond {
		t.Fatalf("last arrival at %v", last)
	}
}

func TestMTU(t *testing.T) {
	clk, a, b, ra, rb := pair(t, 1, Config{MTU: 1000}, Config{MTU: 1500})
	if a.MTU() != 1000 || b.MTU() != 1000 {
		t.Fatalf("MTU %d %d", a.MTU(), b.MTU())
	}
	write(t, a, packet(0, 1000), packet(1, 1001))
	write(t, b, packet(2, 1200))
	drain(clk)
	if len(rb.got) != 1 || len(ra.got) != 1 {
		t.Fatalf("got %d and %d", len(rb.got), len(ra.got))
	}
	if s := a.Stats(); s.LostMTU != 1 || s.Lost() != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFlapAndPartition(t *testing.T) {
	flap := Flap(10*time.Millisecond, 5*time.Millisecond)
	ab := Config{Delay: 3 * time.Millisecond, Flaps: []Window{flap}, Partition: []Window{Flap(20*time.Millisecond, 2*time.Millisecond)}}
	ba := Config{Delay: 3 * time.Millisecond, Flaps: []Window{flap}}
	clk, a, b, ra, rb := pair(t, 1, ab, ba)
	every(clk, a, 0, time.Millisecond, 30, 60)
	every(clk, b, 0, time.Millisecond, 30, 60)
	drain(clk)
	seqs := func(r *recorder) map[uint32]bool {
		m := map[uint32]bool{}
		for _, g := range r.got {
			m[g.seq] = true
		}
		return m
	}
	gotB, gotA := seqs(rb), seqs(ra)
	for i := range uint32(30) {
		inFlap := i >= 10 && i < 15
		inPart := i >= 20 && i < 22
		if gotB[i] == (inFlap || inPart) {
			t.Errorf("a->b #%d delivered=%v", i, gotB[i])
		}
		if gotA[i] == inFlap {
			t.Errorf("b->a #%d delivered=%v", i, gotA[i])
		}
	}
	if s := a.Stats(); s.LostDown != 7 {
		t.Errorf("a stats %+v", s)
	}
	if s := b.Stats(); s.LostDown != 5 {
		t.Errorf("b stats %+v", s)
	}
}

func TestSetDown(t *testing.T) {
	clk, a, b, ra, rb := pair(t, 1, Config{Delay: time.Millisecond}, Config{Delay: time.Millisecond})
	write(t, a, packet(0, 60)) // on the wire before the link goes down
	a.SetDown(true)
	write(t, a, packet(1, 60))
	write(t, b, packet(2, 60))
	drain(clk)
	a.SetDown(false)
	write(t, a, packet(3, 60))
	write(t, b, packet(4, 60))
	drain(clk)
	if len(rb.got) != 2 || rb.got[0].seq != 0 || rb.got[1].seq != 3 {
		t.Fatalf("b got %v", rb.got)
	}
	if len(ra.got) != 1 || ra.got[0].seq != 4 {
		t.Fatalf("a got %v", ra.got)
	}
	if a.Stats().LostDown != 1 || b.Stats().LostDown != 1 {
		t.Fatal("LostDown not counted")
	}
}

func TestCorrupt(t *testing.T) {
	clk, a, _, _, rb := pair(t, 1, Config{Corrupt: 1}, Config{})
	for i := range 500 {
		write(t, a, packet(i, 20+i))
	}
	drain(clk)
	if s := a.Stats(); s.Corrupted != 500 || s.CorruptedUndetected != 0 {
		t.Fatalf("stats %+v", s)
	}
	for i, g := range rb.got {
		want := packet(i, 20+i)
		if len(g.data) != len(want) {
			t.Fatalf("#%d: length %d, want %d", i, len(g.data), len(want))
		}
		bits := 0
		for k := range want {
			for x := g.data[k] ^ want[k]; x != 0; x &= x - 1 {
				bits++
			}
		}
		if bits != 1 {
			t.Fatalf("#%d: %d bits differ", i, bits)
		}
	}
}

// checksum is the Internet checksum (RFC 1071) of the given byte slices
// taken as one sequence (each but the last of even length).
func checksum(bs ...[]byte) uint16 {
	var sum uint32
	for _, b := range bs {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// tcpPacket builds an IPv4/TCP packet with valid checksums.
func tcpPacket(payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8], p[9] = 64, 6
	copy(p[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	tcp := p[20:]
	binary.BigEndian.PutUint16(tcp[0:], 1234)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	tcp[12] = 5 << 4
	copy(tcp[20:], payload)
	binary.BigEndian.PutUint16(tcp[16:], checksum(pseudo(p), tcp))
	return p
}

func pseudo(p []byte) []byte {
	ph := make([]byte, 12)
	copy(ph, p[12:20])
	ph[9] = 6
	binary.BigEndian.PutUint16(ph[10:], uint16(len(p)-20))
	return ph
}

func TestCorruptKeepChecksum(t *testing.T) {
	clk, a, _, _, rb := pair(t, 1, Config{CorruptKeepChecksum: 1}, Config{})
	rng := rand.New(rand.NewPCG(1, 1))
	var sent [][]byte
	for i := range 200 {
		payload := make([]byte, 4+rng.IntN(1000))
		for k := range payload {
			payload[k] = byte(rng.Uint32())
		}
		p := tcpPacket(payload)
		sent = append(sent, p)
		write(t, a, p)
		_ = i
	}
	short := tcpPacket([]byte{1, 2, 3}) // one whole word after byte 40
	same := tcpPacket(make([]byte, 100))
	write(t, a, short, same)
	drain(clk)
	if s := a.Stats(); s.CorruptedUndetected != 200 || s.Corrupted != 0 {
		t.Fatalf("stats %+v", s)
	}
	for i, g := range rb.got[:200] {
		p := g.data
		if len(p) != len(sent[i]) || string(p) == string(sent[i]) {
			t.Fatalf("#%d unchanged or resized", i)
		}
		if string(p[:40]) != string(sent[i][:40]) {
			t.Fatalf("#%d: headers changed", i)
		}
		if checksum(p[:20]) != 0 {
			t.Fatalf("#%d: IPv4 header checksum broken", i)
		}
		if checksum(pseudo(p), p[20:]) != 0 {
			t.Fatalf("#%d: TCP checksum broken", i)
		}
	}
	if string(rb.got[200].data) != string(short) || string(rb.got[201].data) != string(same) {
		t.Fatal("packet with nothing to swap was changed")
	}
}

func TestBatchSameInstant(t *testing.T) {
	clk, a, _, _, rb := pair(t, 1, Config{Delay: time.Millisecond}, Config{})
	write(t, a, packet(0, 40))
	write(t, a, packet(1, 40), packet(2, 40))
	clk.Advance(500 * time.Microsecond)
	write(t, a, packet(3, 40)) // due at 1.5ms
	drain(clk)
	if len(rb.batches) != 2 || rb.batches[0] != 3 || rb.batches[1] != 1 {
		t.Fatalf("batches %v", rb.batches)
	}
	for i, g := range rb.got {
		if g.seq != uint32(i) {
			t.Fatalf("order %v", rb.got)
		}
	}
}

func TestClose(t *testing.T) {
	clk, a, b, ra, rb := pair(t, 1, Config{Delay: time.Millisecond}, Config{Delay: time.Millisecond})
	write(t, a, packet(0, 40))
	write(t, b, packet(1, 40))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.WritePackets([][]byte{packet(2, 40)}, nil); n != 0 || !errors.Is(err, link.ErrClosed) {
		t.Fatalf("write after Close: %d, %v", n, err)
	}
	write(t, b, packet(3, 40))
	drain(clk)
	if len(rb.got) != 1 || len(ra.got) != 0 {
		t.Fatalf("b got %d, closed a got %d", len(rb.got), len(ra.got))
	}
	s := b.Stats()
	if s.LostDown != 2 || s.Delivered != 0 {
		t.Fatalf("b stats %+v", s)
	}
	checkInvariant(t, "b", s)
}

// TestEcho has b answer every packet from inside DeliverPackets, as a stack
// does, and checks that round trips take two one-way delays.
func TestEcho(t *testing.T) {
	clk := clock.NewVirtual()
	a, b := New(clk, 1, Config{Delay: 10 * time.Millisecond}, Config{Delay: 10 * time.Millisecond})
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { b.WritePackets(p, nil) }))
	var rounds int
	a.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) {
		if rounds++; rounds < 100 {
			a.WritePackets(p, nil)
		}
	}))
	write(t, a, packet(0, 40))
	drain(clk)
	if rounds != 100 || clk.Now() != 2*time.Second {
		t.Fatalf("%d rounds in %v", rounds, clk.Now())
	}
}

// TestConcurrentWriters is for -race: writes from several goroutines while
// another advances the clock.
func TestConcurrentWriters(t *testing.T) {
	clk := clock.NewVirtual()
	a, b := New(clk, 1, Config{Delay: time.Millisecond, Jitter: time.Millisecond, Dup: 0.1, Loss: 0.1}, Config{})
	var mu sync.Mutex
	var got int
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { mu.Lock(); got += len(p); mu.Unlock() }))
	a.Attach(link.ReceiverFunc(func([][]byte, []link.PacketInfo) {}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				a.WritePackets([][]byte{packet(w*1000+i, 100)}, nil)
				_ = a.Stats()
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			clk.Advance(100 * time.Microsecond)
		}
	}()
	wg.Wait()
	<-done
	drain(clk)
	s := a.Stats()
	checkInvariant(t, "a", s)
	if s.Sent != 2000 || uint64(got) != s.Delivered || s.InFlight != 0 {
		t.Fatalf("got %d, stats %+v", got, s)
	}
}

package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func newTestBuf(t *testing.T, size int) (*buf, *Pool) {
	t.Helper()
	p := NewPool(0, 0, nil)
	b := &buf{}
	b.init(size, p, 1460)
	if b.chunkSize() != cs {
		t.Fatalf("chunk %d, want %d for MSS 1460", b.chunkSize(), cs)
	}
	return b, p
}

// cs is the chunk size for an Ethernet MSS.
const cs = 16 << 10

func inUse(p *Pool) int64 { return p.Stats().InUse.Load() }

func TestBufWriteReadReturnsChunks(t *testing.T) {
	b, p := newTestBuf(t, 256<<10)
	in := make([]byte, 40000)
	for i := range in {
		in[i] = byte(i * 7)
	}
	if n := b.write(in); n != len(in) {
		t.Fatalf("wrote %d", n)
	}
	if b.held() != 3*cs || inUse(p) != 3*cs {
		t.Fatalf("held %d, pool %d: want 3 chunks for 40000 bytes", b.held(), inUse(p))
	}
	out := make([]byte, 20000)
	if n := b.read(out); n != 20000 || !bytes.Equal(out, in[:20000]) {
		t.Fatal("first read")
	}
	// The chunk read past is kept as a spare, charged to the pool, and the
	// next bytes written take it instead of a new one.
	if b.held() != 3*cs || inUse(p) != 3*cs || b.r.nspare != 1 {
		t.Fatalf("held %d, %d spares after reading past the first chunk, want 3 chunks, 1 spare", b.held(), b.r.nspare)
	}
	b.write(make([]byte, cs))
	if b.held() != 3*cs || inUse(p) != 3*cs || b.r.nspare != 0 {
		t.Fatalf("held %d after writing a chunk's worth: the spare was not reused", b.held())
	}
	if n := b.read(out); n != 20000 || !bytes.Equal(out, in[20000:]) {
		t.Fatal("second read")
	}
	b.discard(cs)
	b.clear()
	if b.held() != 0 || inUse(p) != 0 {
		t.Fatalf("held %d, pool %d after draining", b.held(), inUse(p))
	}
}

func TestBufRespectsCapacity(t *testing.T) {
	b, _ := newTestBuf(t, 5000)
	if n := b.write(make([]byte, 8000)); n != 5000 || b.free() != 0 {
		t.Fatalf("took %d of a 5000-byte buffer", n)
	}
	if b.write([]byte{1}) != 0 {
		t.Fatal("a full buffer takes no more")
	}
	b.grow(6000)
	if b.write(make([]byte, 2000)) != 1000 {
		t.Fatal("grown buffer")
	}
}

// Out-of-order bytes sit beyond the readable ones at their offsets; a hole
// takes no chunk, and draining the readable bytes must not move them.
func TestBufOutOfOrderCostsWhatItHolds(t *testing.T) {
	b, p := newTestBuf(t, 1<<20)
	b.write([]byte("abcdef"))
	b.writeAt(b.n+400000, []byte("XYZ")) // far beyond: one chunk, not 25
	if b.held() != 2*cs {
		t.Fatalf("held %d, want 2 chunks (readable + one out of order)", b.held())
	}
	buf := make([]byte, 6)
	if n := b.read(buf); n != 6 || string(buf) != "abcdef" {
		t.Fatalf("read %q", buf[:n])
	}
	if need := b.needs(0, 400000); need != 23*cs { // chunks 1-23: 0 and 24 are held
		t.Fatalf("needs %d for the hole", need)
	}
	hole := bytes.Repeat([]byte{'.'}, 400000)
	b.writeAt(0, hole) // the hole is filled
	b.n += 400003
	got := make([]byte, 400003)
	if n := b.read(got); n != len(got) || !bytes.Equal(got[400000:], []byte("XYZ")) || got[0] != '.' {
		t.Fatalf("reassembled tail %q", got[400000:])
	}
	b.clear()
	if inUse(p) != 0 {
		t.Fatalf("pool %d after draining", inUse(p))
	}
}

func TestBufTruncatePrunesOutOfOrder(t *testing.T) {
	b, p := newTestBuf(t, 1<<20)
	b.write([]byte("hello"))
	b.writeAt(b.n+10, []byte("near")) // shares the first chunk
	b.writeAt(200000, []byte("far"))
	b.truncate(b.n)
	if b.held() != cs || inUse(p) != cs {
		t.Fatalf("held %d after pruning, want the readable chunk only", b.held())
	}
	out := make([]byte, 5)
	if b.read(out); string(out) != "hello" {
		t.Fatalf("read %q", out)
	}
}

// Many write/read rounds with a moving head wrap the slot ring and keep
// every byte; peek never hands out more than two pieces.
func TestBufWrapsAndPeeks(t *testing.T) {
	b, p := newTestBuf(t, 20000)
	r := rand.New(rand.NewPCG(1, 2))
	var want []byte
	next := byte(0)
	for i := 0; i < 5000; i++ {
		in := make([]byte, r.IntN(9000))
		for j := range in {
			in[j] = next
			next++
		}
		n := b.write(in)
		want = append(want, in[:n]...)
		if b.n > 0 {
			off := r.IntN(b.n)
			l := min(b.n-off, r.IntN(4097))
			p1, p2 := b.peek(off, l)
			if got := append(append([]byte{}, p1...), p2...); !bytes.Equal(got, want[off:off+l]) {
				t.Fatalf("round %d: peek(%d, %d) wrong", i, off, l)
			}
		}
		out := make([]byte, r.IntN(9000))
		m := b.read(out)
		if !bytes.Equal(out[:m], want[:m]) {
			t.Fatalf("round %d: read wrong bytes", i)
		}
		want = want[m:]
		if b.held() > b.size+2*cs+maxSpare || int64(b.held()) != inUse(p) {
			t.Fatalf("held %d, pool %d, size %d", b.held(), inUse(p), b.size)
		}
	}
	b.clear()
	if inUse(p) != 0 {
		t.Fatalf("pool %d at the end", inUse(p))
	}
}

func TestChunkClassHoldsASegment(t *testing.T) {
	for _, mss := range []int{536, 1460, 4096, 8960, 16384, 65495} {
		if s := chunkClasses[classFor(mss)]; s < mss {
			t.Errorf("MSS %d: chunk %d", mss, s)
		}
	}
}

func TestPoolMarks(t *testing.T) {
	p := NewPool(2*cs, 4*cs, nil)
	var b buf
	b.init(1<<20, p, 1460)
	if p.level() != memNormal {
		t.Fatal("empty pool under pressure")
	}
	b.write(make([]byte, 2*cs))
	if p.level() != memPressure || p.Stats().PressureEvents.Load() != 1 {
		t.Fatalf("level %d at the pressure mark", p.level())
	}
	b.write(make([]byte, 2*cs))
	if p.level() != memOver || p.Stats().LimitEvents.Load() != 1 {
		t.Fatalf("level %d at the limit", p.level())
	}
	b.discard(b.n)
	b.clear()
	if p.level() != memNormal || inUse(p) != 0 {
		t.Fatalf("level %d, in use %d after giving back", p.level(), inUse(p))
	}
}

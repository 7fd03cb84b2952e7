package tcp

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/synack-tcp/synack/seq"
)

// Two fuzz targets for the buffer pieces, each against a model simple
// enough to be right by inspection:
//
//   - FuzzBuf drives a chunked buffer (buf.go) with the calls the send and
//     receive paths make (write, writeAt out of order, advancing over what
//     is contiguous, peek, read, discard, truncate, clear, drop, grow)
//     under a pool budget the input picks, and checks every byte read or
//     peeked, the pool's accounting, and that no chunk is held for bytes
//     the buffer does not hold (DESIGN.md "Buffers belong to the
//     connection").
//   - FuzzReasm drives the out-of-order map (reasm.go) with add and
//     advance near a sequence-space wrap and checks it against a bitmap:
//     spans sorted, disjoint and non-adjacent, at most maxHoles, and a
//     refusal only when one more span would be needed.
//
//	go test -run='^$' -fuzz=FuzzBuf -fuzztime=5m ./tcp
//	go test -run='^$' -fuzz=FuzzReasm -fuzztime=5m ./tcp

// Byte states in FuzzBuf's model.
const (
	bHole  = iota // never written, or forgotten
	bKnown        // written: peek, read and advance may use it
	bStale        // beyond a truncate: may sit in a kept chunk, never used
)

type bufModel struct {
	t     *testing.T
	b     *buf
	p     *Pool
	base  int     // stream offset of logical byte 0
	n     int     // readable bytes
	size  int     // capacity
	st    []uint8 // state of logical bytes [0, size)
	trace []string
}

// bufPattern holds the stream's bytes: byte i of the stream is
// bufPattern[i%len]. The length is a prime, so a byte copied from any
// offset a power of two away shows.
var bufPattern = func() []byte {
	p := make([]byte, 65521)
	for i := range p {
		p[i] = fzStream(0x5eed, i)
	}
	return p
}()

// fill is the stream's bytes at logical offsets [off, off+n).
func (m *bufModel) fill(off, n int) []byte {
	p := make([]byte, 0, n)
	for len(p) < n {
		i := (m.base + off + len(p)) % len(bufPattern)
		p = append(p, bufPattern[i:min(len(bufPattern), i+n-len(p))]...)
	}
	return p
}

func (m *bufModel) fail(format string, a ...any) {
	m.t.Helper()
	for _, s := range m.trace {
		m.t.Log(s)
	}
	m.t.Fatalf(format, a...)
}

// shift drops k bytes from the front of the model.
func (m *bufModel) shift(k int) {
	m.base += k
	m.n -= k
	m.st = append(m.st[k:], make([]uint8, k)...)
}

func (m *bufModel) setSize(s int) {
	if s > m.size {
		m.st = append(m.st, make([]uint8, s-m.size)...)
		m.size = s
	}
}

// check compares the buffer with the model after every call.
func (m *bufModel) check() {
	m.t.Helper()
	b := m.b
	if b.n != m.n || b.size != m.size || b.free() != m.size-m.n {
		m.fail("n %d size %d free %d, model n %d size %d", b.n, b.size, b.free(), m.n, m.size)
	}
	cs := b.chunkSize()
	if b.head < 0 || b.head >= cs {
		m.fail("head %d outside its chunk of %d", b.head, cs)
	}
	held := 0
	if r := b.r; r != nil {
		if r.cnt > len(r.ring) || len(r.ring)&(len(r.ring)-1) != 0 {
			m.fail("%d slots in use of a ring of %d", r.cnt, len(r.ring))
		}
		k := 0
		for c := r.spare; c != nil; c = c.next {
			k++
		}
		if k != r.nspare || r.nspare*cs > maxSpare {
			m.fail("%d spares listed, %d counted, bound %d bytes", k, r.nspare, maxSpare)
		}
		held = r.nspare * cs
		for i := 0; i < r.cnt; i++ {
			if *b.slot(i) == nil {
				continue
			}
			held += cs
			if i == 0 {
				continue // the head's chunk: kept for the tail even when read
			}
			lo := i*cs - b.head
			if lo >= m.size {
				m.fail("slot %d holds a chunk beyond the capacity (offset %d, size %d)", i, lo, m.size)
			}
			live := false
			for o := max(lo, 0); o < min(lo+cs, m.size); o++ {
				if m.st[o] != bHole {
					live = true
					break
				}
			}
			if !live {
				m.fail("slot %d (offsets %d-%d) holds a chunk for a hole", i, lo, lo+cs)
			}
		}
	}
	if b.held() != held {
		m.fail("held %d, chunks and spares make %d", b.held(), held)
	}
	if u := m.p.Stats().InUse.Load(); u != int64(held) {
		m.fail("pool charges %d, the buffer holds %d", u, held)
	}
}

func FuzzBuf(f *testing.F) {
	f.Add([]byte("\x00\x00\x10\x00\x00\x40\x00\x03\x00\x20\x04\x00\x30"))
	f.Add([]byte("\x01\x00\x01\x02\x00\x50\x00\x10\x01\x00\x80\x02\x02\x00\x00\x06\x00\x00\x04\xff\xff"))
	f.Add([]byte("\x02\x03\x00\x00\x7f\xff\x01\x90\x00\x00\x40\x06\x00\x10\x02\xff\xff\x04\xff\xff\x07"))
	f.Add([]byte("\x11\x01\x00\x00\x00\x80\x00\xff\x05\x00\x40\x09\x08\x7f\xff\x00\x7f\xff\x03\x00\x00\x40\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fzIn{b: data}
		cfg := in.u8()
		mss := []int{536, 1460, 9000, 65495}[cfg&3]
		cs := chunkClasses[classFor(mss)]
		var pressure, limit int64
		switch cfg >> 2 & 3 {
		case 1:
			pressure = int64(cs)
		case 2:
			pressure, limit = int64(cs), int64(3*cs)
		case 3:
			limit = int64(2 * cs)
		}
		p := NewPool(pressure, limit, nil)
		m := &bufModel{t: t, p: p, b: &buf{}}
		size := 1 + int(in.u16())%(5*cs)
		m.b.init(size, p, mss)
		m.setSize(size)
		if m.b.chunkSize() != cs {
			t.Fatalf("MSS %d: chunk %d, want %d", mss, m.b.chunkSize(), cs)
		}
		b := m.b
		for step := 0; in.more() && step < 200; step++ {
			op := in.u8() % 11
			spares, tight := 0, p.level() != memNormal
			if b.r != nil {
				spares = b.r.nspare
			}
			switch op {
			case 0: // write: the send path queues, or in-order text arrives
				l := int(in.u16()) % (3 * cs)
				want := min(l, m.size-m.n)
				if got := b.write(m.fill(m.n, l)); got != want {
					m.fail("write %d took %d, want %d", l, got, want)
				}
				for i := m.n; i < m.n+want; i++ {
					m.st[i] = bKnown
				}
				m.n += want
				m.trace = append(m.trace, fmt.Sprintf("write(%d) = %d", l, want))
			case 1: // writeAt beyond the readable bytes: out-of-order text
				if m.size == m.n {
					continue
				}
				off := m.n + int(in.u16())%(m.size-m.n)
				l := min(1+int(in.u16())%(2*cs), m.size-off)
				need, before := b.needs(off, l), b.held()
				b.writeAt(off, m.fill(off, l))
				k := need / b.chunkSize()
				if grew := b.held() - before; grew != (k-min(k, spares))*b.chunkSize() {
					m.fail("writeAt(%d, %d): held grew by %d; it needed %d with %d spares", off, l, grew, need, spares)
				}
				for i := off; i < off+l; i++ {
					m.st[i] = bKnown
				}
				m.trace = append(m.trace, fmt.Sprintf("writeAt(%d, %d)", off, l))
			case 2: // advance over contiguous bytes, as RCV.NXT does
				run := 0
				for m.n+run < m.size && m.st[m.n+run] == bKnown {
					run++
				}
				k := min(run, int(in.u16()))
				b.n += k
				m.n += k
				m.trace = append(m.trace, fmt.Sprintf("advance(%d)", k))
			case 3: // peek: the send path builds a segment
				if m.n == 0 {
					continue
				}
				off := int(in.u16()) % m.n
				l := min(int(in.u16())%(3*cs), m.n-off)
				p1, p2 := b.peek(off, l)
				want := min(l, b.peekable(off))
				if len(p1)+len(p2) != want {
					m.fail("peek(%d, %d) gave %d+%d bytes, want %d", off, l, len(p1), len(p2), want)
				}
				if got := append(append([]byte{}, p1...), p2...); !bytes.Equal(got, m.fill(off, want)) {
					m.fail("peek(%d, %d): wrong bytes", off, l)
				}
				m.trace = append(m.trace, fmt.Sprintf("peek(%d, %d)", off, l))
			case 4: // read: the application reads
				out := make([]byte, int(in.u16())%(3*cs))
				got := b.read(out)
				if got != min(len(out), m.n) {
					m.fail("read(%d) = %d with %d readable", len(out), got, m.n)
				}
				if !bytes.Equal(out[:got], m.fill(0, got)) {
					m.fail("read(%d): wrong bytes", len(out))
				}
				m.shift(got)
				m.trace = append(m.trace, fmt.Sprintf("read(%d) = %d", len(out), got))
			case 5: // discard: SND.UNA advances
				if m.n == 0 {
					continue
				}
				k := 1 + int(in.u16())%m.n
				b.discard(k)
				m.shift(k)
				m.trace = append(m.trace, fmt.Sprintf("discard(%d)", k))
			case 6: // truncate: out-of-order data pruned
				off := m.n
				if m.size > m.n {
					off += int(in.u16()) % (m.size - m.n + 1)
				}
				b.truncate(off)
				for i := off; i < m.size; i++ {
					if m.st[i] == bKnown {
						m.st[i] = bStale
					}
				}
				// Chunks wholly beyond off are gone: their bytes are holes.
				cs := b.chunkSize()
				keep := (b.head+off+cs-1)/cs*cs - b.head
				for i := max(keep, 0); i < m.size; i++ {
					m.st[i] = bHole
				}
				if b.r != nil && b.r.nspare != 0 {
					m.fail("truncate(%d) kept %d spares", off, b.r.nspare)
				}
				m.trace = append(m.trace, fmt.Sprintf("truncate(%d)", off))
			case 7, 10: // clear or drop: everything is given back
				if op == 7 {
					b.clear()
				} else {
					b.drop()
				}
				if b.held() != 0 || p.Stats().InUse.Load() != 0 || (op == 10 && b.r != nil) {
					m.fail("op %d: %d held, %d charged after giving everything back", op, b.held(), p.Stats().InUse.Load())
				}
				m.base += m.n
				m.n = 0
				clear(m.st)
				m.trace = append(m.trace, fmt.Sprintf("op %d (clear/drop)", op))
			case 8: // grow: autotuning or SetRecvBuffer
				s := int(in.u16()) % (6 * cs)
				b.grow(s)
				m.setSize(s)
				m.trace = append(m.trace, fmt.Sprintf("grow(%d)", s))
			case 9:
				if b.r != nil {
					b.dropSpares()
				}
				m.trace = append(m.trace, "dropSpares")
			}
			// A release that brings the pool back under its marks may keep
			// the next chunk: tight means tight before and after the call.
			if tight && p.level() != memNormal && b.r != nil && b.r.nspare > spares {
				m.fail("op %d kept a spare with the budget tight (%d spares, was %d)", op, b.r.nspare, spares)
			}
			if r := b.tailRoom(); r > 0 && b.needs(m.n, r) != 0 {
				m.fail("tailRoom %d, but writing it needs %d", r, b.needs(m.n, r))
			}
			m.check()
		}
		b.drop()
		if u := p.Stats().InUse.Load(); u != 0 {
			t.Fatalf("pool charges %d after drop", u)
		}
	})
}

func FuzzReasm(f *testing.F) {
	f.Add([]byte("\xff\xff\xf0\x00\x00\x00\x10\x08\x00\x00\x30\x08\x01\x00\x10"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x02\x01\x00\x00\x04\x01\x00\x00\x03\x01\x01\x00\x02"))
	f.Add([]byte("\x7f\xff\xff\xf0\x00\x01\x00\x01\x00\x03\x01\x00\x05\x01\x00\x07\x01\x00\x09\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fzIn{b: data}
		const w = 4096 // offsets from the first RCV.NXT the model tracks
		base := seq.Value(in.u32())
		var q reasm
		var have [w + 256]bool
		nxt := 0 // offset of RCV.NXT from base
		var trace []string
		fail := func(format string, a ...any) {
			t.Helper()
			for _, s := range trace {
				t.Log(s)
			}
			t.Fatalf(format, a...)
		}
		runs := func() (r []span) {
			for i := nxt; i < len(have); i++ {
				if have[i] && (i == nxt || !have[i-1]) {
					r = append(r, span{base.Add(seq.Size(i)), 0})
				}
				if have[i] && (i+1 == len(have) || !have[i+1]) {
					r[len(r)-1].end = base.Add(seq.Size(i + 1))
				}
			}
			return r
		}
		for step := 0; in.more() && step < 500; step++ {
			switch in.u8() % 2 {
			case 0: // out-of-order text [s, e) beyond RCV.NXT
				if nxt+1 >= w {
					continue
				}
				s := nxt + 1 + int(in.u16())%(w-nxt-1)
				e := s + 1 + int(in.u8())
				before := append([]span{}, q.spans...)
				for i := s; i < e; i++ {
					have[i] = true
				}
				want := runs()
				ok := q.add(base.Add(seq.Size(s)), base.Add(seq.Size(e)))
				trace = append(trace, fmt.Sprintf("add(%d, %d) = %v", s, e, ok))
				if ok != (len(want) <= maxHoles) {
					fail("add(%d, %d) = %v with %d spans after it", s, e, ok, len(want))
				}
				if !ok {
					if !slices.Equal(q.spans, before) {
						fail("a refused add changed the spans: %v, was %v", q.spans, before)
					}
					for i := s; i < e; i++ {
						have[i] = false
					}
					for _, sp := range before { // the refused bytes that overlapped stay
						for i := sp.start.Sub(base); i < sp.end.Sub(base); i++ {
							have[i] = true
						}
					}
				}
			case 1: // in-order text arrives up to x: RCV.NXT moves
				x := nxt + int(in.u16())%(w-nxt+1)
				want := x
				for want < len(have) && have[want] {
					want++
				}
				got := q.advance(base.Add(seq.Size(x)))
				trace = append(trace, fmt.Sprintf("advance(%d) = %d", x, got.Sub(base)))
				if got != base.Add(seq.Size(want)) {
					fail("advance(%d) = %d, want %d", x, got.Sub(base), want)
				}
				for i := nxt; i < want; i++ {
					have[i] = false
				}
				nxt = want
				if nxt >= w {
					return
				}
			}
			if len(q.spans) > maxHoles {
				fail("%d spans, bound %d", len(q.spans), maxHoles)
			}
			for i, sp := range q.spans {
				if !sp.start.LessThan(sp.end) || (i > 0 && !q.spans[i-1].end.LessThan(sp.start)) {
					fail("spans not sorted, disjoint and apart: %v", q.spans)
				}
			}
			if want := runs(); !slices.Equal(want, q.spans) {
				fail("spans %v, the bytes held make %v", q.spans, want)
			}
		}
	})
}

package tcp

// buf is a send or receive buffer made of chunks taken from a Pool as
// bytes are written or arrive and given back as soon as they are read or
// acknowledged, so a connection holds memory for what it queues, not for
// what it may queue (DESIGN.md "Buffers belong to the connection").
//
// Bytes sit at logical offsets from the head: the send buffer's first
// unacknowledged byte, the receive buffer's first unread one. The receive
// buffer also keeps out-of-order bytes at their offsets beyond the
// readable ones; a chunk of a hole is never taken, so out-of-order data
// costs what it holds. size is the capacity the window honours; it is a
// number, not an allocation, so growing it costs nothing.
type buf struct {
	pool  *Pool
	r     *slots // nil until the first chunk: an idle connection holds none
	size  int    // capacity: bytes the buffer may hold from the head
	n     int    // bytes held from the head (send: queued; receive: readable)
	head  int    // offset of logical byte 0 in the first slot's chunk
	class uint8  // chunk class: every chunk is chunkClasses[class] bytes
	shift uint8  // log2 of the chunk size
}

// slots is a buffer's ring of chunks, from the one holding the head.
type slots struct {
	ring   []*chunk // length a power of two; nil in a hole
	first  int      // index in ring of the head's chunk
	cnt    int      // slots in use from first
	held   int      // bytes of chunks held, spares included
	spare  *chunk   // chunks the head left behind, for the tail to take
	nspare int
}

// maxSpare bounds a buffer's spares: a chunk acknowledged or read is
// kept for the next bytes written or arriving, so a connection in steady
// flow trades chunks with itself under its own lock instead of with the
// pool across cores (measured: the pool round trip per chunk cost 10-20%
// more CPU per GB at MTU 1500). Spares are charged to the budget like
// any chunk and go back whenever the buffer empties.
const maxSpare = 64 << 10

func (b *buf) init(size int, pool *Pool, mss int) {
	b.pool, b.size = pool, size
	b.class = classFor(mss)
	for 1<<b.shift < chunkClasses[b.class] {
		b.shift++
	}
}

func (b *buf) chunkSize() int { return 1 << b.shift }

func (b *buf) free() int { return b.size - b.n }

// held is how many bytes of chunks the buffer holds.
func (b *buf) held() int {
	if b.r == nil {
		return 0
	}
	return b.r.held
}

// count is how many slots are in use.
func (b *buf) count() int {
	if b.r == nil {
		return 0
	}
	return b.r.cnt
}

// slot is the chunk i slots after the head's (nil if not taken); i is
// below count().
func (b *buf) slot(i int) **chunk { return &b.r.ring[(b.r.first+i)&(len(b.r.ring)-1)] }

// extend makes at least k slots in use, growing the ring by doubling.
func (b *buf) extend(k int) {
	if b.r == nil {
		b.r = &slots{}
	}
	r := b.r
	if k <= r.cnt {
		return
	}
	if k > len(r.ring) {
		n := max(4, len(r.ring))
		for n < k {
			n *= 2
		}
		ns := make([]*chunk, n)
		for i := 0; i < r.cnt; i++ {
			ns[i] = *b.slot(i)
		}
		r.ring, r.first = ns, 0
	}
	r.cnt = k
}

// write appends as much of p as fits and returns how much it took.
func (b *buf) write(p []byte) int {
	if len(p) > b.free() {
		p = p[:b.free()]
	}
	b.writeAt(b.n, p)
	b.n += len(p)
	return len(p)
}

// writeAt copies p to logical offset off without changing n, taking the
// chunks it needs. The caller ensures off+len(p) <= size.
func (b *buf) writeAt(off int, p []byte) {
	mask := b.chunkSize() - 1
	for len(p) > 0 {
		a := b.head + off
		i := a >> b.shift
		b.extend(i + 1)
		s := b.slot(i)
		if *s == nil {
			*s = b.take()
		}
		k := copy((*s).b[a&mask:], p)
		p, off = p[k:], off+k
	}
}

// needs reports how many bytes of chunks writing [off, off+n) would take.
func (b *buf) needs(off, n int) int {
	if n <= 0 {
		return 0
	}
	need := 0
	for i := (b.head + off) >> b.shift; i <= (b.head+off+n-1)>>b.shift; i++ {
		if i >= b.count() || *b.slot(i) == nil {
			need += b.chunkSize()
		}
	}
	return need
}

// tailRoom is how many bytes can be appended without taking a chunk.
func (b *buf) tailRoom() int {
	a := b.head + b.n
	if i := a >> b.shift; i < b.count() && *b.slot(i) != nil {
		return b.chunkSize() - a&(b.chunkSize()-1)
	}
	return 0
}

// peek returns the bytes at logical offsets [off, off+n) as up to two
// slices, p1 from one chunk and p2 from the next. A run that spans more
// than two chunks is cut at the second's end: with a chunk at least an
// MSS long, a segment never is.
func (b *buf) peek(off, n int) (p1, p2 []byte) {
	if n <= 0 {
		return nil, nil
	}
	a := b.head + off
	i, j := a>>b.shift, a&(b.chunkSize()-1)
	c := (*b.slot(i)).b
	if j+n <= len(c) {
		return c[j : j+n], nil
	}
	p1 = c[j:]
	rest := min(n-len(p1), b.chunkSize())
	return p1, (*b.slot(i + 1)).b[:rest]
}

// peekable is the most peek can return from logical offset off: the rest
// of off's chunk and the whole next one.
func (b *buf) peekable(off int) int {
	return 2*b.chunkSize() - (b.head+off)&(b.chunkSize()-1)
}

// read copies up to len(p) readable bytes out and discards them.
func (b *buf) read(p []byte) int {
	n := min(len(p), b.n)
	done := 0
	for done < n {
		p1, p2 := b.peek(done, n-done)
		done += copy(p[done:], p1)
		done += copy(p[done:], p2)
	}
	b.discard(n)
	return n
}

// discard drops k bytes from the front, giving back every chunk the head
// leaves behind. Bytes beyond n (the receive buffer's out-of-order ones)
// keep their offsets from the new head.
func (b *buf) discard(k int) {
	if k <= 0 {
		return
	}
	b.n -= k
	b.head += k
	for b.head >= b.chunkSize() {
		if r := b.r; r != nil && r.cnt > 0 {
			b.release(0)
			r.first = (r.first + 1) & (len(r.ring) - 1)
			r.cnt--
		}
		b.head -= b.chunkSize()
	}
}

// take is a chunk for the tail: a spare, or one from the pool.
func (b *buf) take() *chunk {
	r := b.r
	if c := r.spare; c != nil {
		r.spare, c.next = c.next, nil
		r.nspare--
		return c
	}
	r.held += b.chunkSize()
	return b.pool.get(b.class)
}

// release lets slot i's chunk go: kept as a spare while the budget is
// not tight and there is room, or given back to the pool.
func (b *buf) release(i int) {
	s := b.slot(i)
	c := *s
	if c == nil {
		return
	}
	*s = nil
	r := b.r
	if (r.nspare+1)*b.chunkSize() <= maxSpare && b.pool.level() == memNormal {
		c.next, r.spare = r.spare, c
		r.nspare++
		return
	}
	b.pool.put(b.class, c)
	r.held -= b.chunkSize()
}

// dropSpares gives every spare back to the pool.
func (b *buf) dropSpares() {
	r := b.r
	for c := r.spare; c != nil; c = r.spare {
		r.spare, c.next = c.next, nil
		b.pool.put(b.class, c)
		r.held -= b.chunkSize()
	}
	r.nspare = 0
}

// truncate gives back every chunk that holds only bytes at offsets off
// and beyond (the receive buffer pruning its out-of-order data).
func (b *buf) truncate(off int) {
	if b.r == nil {
		return
	}
	keep := (b.head + off + b.chunkSize() - 1) >> b.shift
	for i := keep; i < b.r.cnt; i++ {
		b.release(i)
	}
	b.r.cnt = min(b.r.cnt, keep)
	b.dropSpares()
}

// clear gives back every chunk: the buffer holds nothing beyond n == 0.
// The slot ring stays (a few pointers per chunk of capacity), so a bulk
// sender that drains its buffer now and then allocates nothing.
func (b *buf) clear() {
	b.n, b.head = 0, 0
	if r := b.r; r != nil {
		for i := 0; i < r.cnt; i++ {
			b.release(i)
		}
		r.cnt, r.first = 0, 0
		b.dropSpares()
	}
}

// drop clears the buffer and lets its slot ring go too: the connection
// will not use it again.
func (b *buf) drop() {
	b.clear()
	b.r = nil
}

// grow raises the capacity to size bytes; chunks are taken only as bytes
// come.
func (b *buf) grow(size int) { b.size = max(b.size, size) }

// stray returns the first slot past the head's whose chunk lies over no
// byte the owner holds (live reports whether logical offsets [lo, hi)
// hold any), or -1: a chunk is held for bytes, never for a hole or for
// bytes gone (CheckInvariants).
func (b *buf) stray(live func(lo, hi int) bool) int {
	for i := 1; i < b.count(); i++ {
		if *b.slot(i) == nil {
			continue
		}
		if lo := i*b.chunkSize() - b.head; !live(lo, lo+b.chunkSize()) {
			return i
		}
	}
	return -1
}

package tcp

// ring is a fixed-capacity byte ring allocated on first use, so an idle
// connection holds no buffer (docs/DESIGN.md, "Memory").
type ring struct {
	buf  []byte
	size int // capacity; buf is allocated lazily with this length
	head int // index of the first byte
	n    int // bytes held
}

func (r *ring) init(size int) { r.size = size }

func (r *ring) alloc() {
	if r.buf == nil && r.size > 0 {
		r.buf = make([]byte, r.size)
	}
}

func (r *ring) free() int { return r.size - r.n }

// write appends as much of p as fits and returns how much it took.
func (r *ring) write(p []byte) int {
	if len(p) > r.free() {
		p = p[:r.free()]
	}
	if len(p) == 0 {
		return 0
	}
	r.alloc()
	r.writeAt(r.n, p)
	r.n += len(p)
	return len(p)
}

// writeAt copies p to logical offset off (from head) without changing n.
// The caller ensures off+len(p) <= size.
func (r *ring) writeAt(off int, p []byte) {
	r.alloc()
	i := (r.head + off) % r.size
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// peek returns the bytes at logical offsets [off, off+n) as up to two slices.
func (r *ring) peek(off, n int) (a, b []byte) {
	if n <= 0 {
		return nil, nil
	}
	i := (r.head + off) % r.size
	if i+n <= r.size {
		return r.buf[i : i+n], nil
	}
	return r.buf[i:], r.buf[:n-(r.size-i)]
}

// read copies up to len(p) bytes out and discards them.
func (r *ring) read(p []byte) int {
	n := min(len(p), r.n)
	a, b := r.peek(0, n)
	copy(p[copy(p, a):], b)
	r.discard(n)
	return n
}

// discard drops n bytes from the front. The head never jumps back to 0
// when the ring empties: the receive ring keeps out-of-order bytes beyond
// its readable ones, at offsets from the head.
func (r *ring) discard(n int) {
	if n <= 0 {
		return
	}
	r.n -= n
	r.head = (r.head + n) % r.size
}

// grow enlarges the ring to size bytes, keeping every byte at its logical
// offset from the head (the receive ring's out-of-order bytes included).
func (r *ring) grow(size int) {
	if size <= r.size {
		return
	}
	if r.buf != nil {
		nb := make([]byte, size)
		a, b := r.peek(0, r.size)
		copy(nb[copy(nb, a):], b)
		r.buf, r.head = nb, 0
	}
	r.size = size
}

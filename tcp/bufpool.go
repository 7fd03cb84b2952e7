package tcp

import (
	"sync"
	"sync/atomic"
)

// Chunk sizes. A connection's buffers take chunks of one class: the
// smallest that holds a full segment of the connection's MSS, so a segment
// never spans more than two chunks and goes to the link as (p1, p2)
// without a copy. 16 KiB serves every MSS up to jumbo frames; MTUs past
// 16 KiB take 64 KiB. Measured in the bench harness at MTU 1500 (bulk, 1
// GiB, runs alternating): 4 KiB chunks cost 37% more CPU per GB than 16
// KiB ones (every chunk is a trip to the pool on two cores), while 16 KiB
// matches the old whole-buffer ring; a connection holding a few bytes
// holds 16 KiB.
var chunkClasses = [...]int{16 << 10, 64 << 10}

// chunk is one piece of a buffer.
type chunk struct {
	b    []byte
	next *chunk // in a buffer's list of spares
}

// MemStats counts what a Pool's buffers hold and what the memory budget
// did. All fields are updated atomically; read them with Load.
type MemStats struct {
	InUse          atomic.Int64  // bytes of chunks held by send and receive buffers
	PressureEvents atomic.Uint64 // times InUse rose to the pressure mark
	LimitEvents    atomic.Uint64 // times InUse rose to the hard limit
	AutotuneHeld   atomic.Uint64 // buffer growths skipped under pressure
	PrunedBytes    atomic.Uint64 // out-of-order bytes dropped over the limit
	DroppedSegs    atomic.Uint64 // segments dropped over the limit (beyond what the window promised)
	Refused        atomic.Uint64 // new connections refused over the limit (the stack counts these)
}

// Pool is the stack-wide source of buffer chunks and the memory budget
// they are charged to, like Linux's tcp_mem: below Pressure bytes in use
// everything is normal; from Pressure on, autotuning stops growing
// buffers and receive windows stop opening beyond four segments; from
// Limit on, out-of-order data is pruned, data beyond the advertised
// window is dropped, and a buffer takes a new chunk only for data already
// promised or to keep a connection that holds nothing moving. The stack
// refuses new connections over the limit. A Pool is safe for concurrent
// use by the TCBs of many connections.
type Pool struct {
	free     [len(chunkClasses)]sync.Pool
	st       *MemStats
	pressure int64 // 0: no pressure mark
	limit    int64 // 0: no limit
	// lvl is the memLevel, stored only when it changes: the TCBs read it
	// for every segment, and a line that InUse's updates keep bouncing
	// between cores would cost a cache miss each time.
	_   [64]byte
	lvl atomic.Uint32
	_   [60]byte
}

// NewPool returns a pool with the given marks in bytes (0: none) that
// keeps its figures in st (nil: its own).
func NewPool(pressure, limit int64, st *MemStats) *Pool {
	if st == nil {
		st = new(MemStats)
	}
	p := &Pool{st: st, pressure: pressure, limit: limit}
	for i := range p.free {
		size := chunkClasses[i]
		p.free[i].New = func() any { return &chunk{b: make([]byte, size)} }
	}
	return p
}

// Stats returns the pool's figures.
func (p *Pool) Stats() *MemStats { return p.st }

// defaultPool serves TCBs whose Config names no pool: no budget.
var defaultPool = NewPool(0, 0, nil)

// memLevel is where the pool stands against its budget.
type memLevel uint8

const (
	memNormal memLevel = iota
	memPressure
	memOver
)

func (p *Pool) level() memLevel { return memLevel(p.lvl.Load()) }

// levelAt is the level with u bytes in use.
func (p *Pool) levelAt(u int64) memLevel {
	switch {
	case p.limit > 0 && u >= p.limit:
		return memOver
	case p.pressure > 0 && u >= p.pressure:
		return memPressure
	}
	return memNormal
}

// classFor picks the chunk class for a connection of this MSS.
func classFor(mss int) uint8 {
	for i, s := range chunkClasses {
		if s >= mss {
			return uint8(i)
		}
	}
	return uint8(len(chunkClasses) - 1)
}

func (p *Pool) get(class uint8) *chunk {
	size := int64(chunkClasses[class])
	u := p.st.InUse.Add(size)
	if p.pressure > 0 && u >= p.pressure && u-size < p.pressure {
		p.st.PressureEvents.Add(1)
	}
	if p.limit > 0 && u >= p.limit && u-size < p.limit {
		p.st.LimitEvents.Add(1)
	}
	p.setLevel(u)
	return p.free[class].Get().(*chunk)
}

func (p *Pool) put(class uint8, c *chunk) {
	p.setLevel(p.st.InUse.Add(-int64(chunkClasses[class])))
	p.free[class].Put(c)
}

// setLevel stores the level for u bytes in use if it changed. Two cores
// racing may store in either order, so after a store it looks again at
// what is in use now, until the level stored agrees.
func (p *Pool) setLevel(u int64) {
	if p.pressure == 0 && p.limit == 0 {
		return
	}
	for l := uint32(p.levelAt(u)); p.lvl.Load() != l; l = uint32(p.levelAt(p.st.InUse.Load())) {
		p.lvl.Store(l)
	}
}

// OverLimit reports whether the buffers hold the pool's hard limit or
// more (the stack then refuses new connections).
func (p *Pool) OverLimit() bool { return p.level() == memOver }

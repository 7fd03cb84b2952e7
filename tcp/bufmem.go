package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
)

// How a TCB's buffers answer to the Pool's memory budget (see Pool).

// sendQueueFloor is the least an autotuned send buffer lets SEND queue,
// whatever the windows: enough for a reply to go out at once.
const sendQueueFloor = 64 << 10

// sendSpace is how many bytes SEND may queue now: the free send buffer,
// but no more than the budget has room for (one SEND must not take half
// a megabyte past the limit), and over the limit only what fits in the
// chunk already held at the tail, or one chunk for a connection that
// holds none, so every writer keeps moving.
func (c *TCB) sendSpace() int {
	free := c.sb.free()
	if c.cfg.SendBufMax > c.cfg.SendBuf {
		// An autotuned buffer queues only what the connection can use
		// soon: twice the larger of cwnd and the peer's window, at least
		// sendQueueFloor (Linux sizes sk_sndbuf at about 2*cwnd). A peer
		// that takes a request and then holds its window shut makes us
		// hold no more than that, not the whole buffer (issue 10). A
		// buffer the user sized (SetSendBuffer, SO_SNDBUF) is all theirs.
		lim := max(sendQueueFloor, 2*max(c.ccs.Cwnd, int(c.snd.wnd)))
		free = min(free, max(lim-c.sb.n, 0))
	}
	p := c.cfg.Pool
	if p.limit == 0 {
		return free
	}
	// Below the pressure mark, one SEND takes at most the gap between the
	// marks (read without touching InUse, which other cores keep writing).
	room := int(p.limit - p.pressure)
	if p.level() != memNormal {
		room = int(max(p.limit-p.st.InUse.Load(), 0))
	}
	room += c.sb.tailRoom()
	if c.sb.held() == 0 {
		room = max(room, c.sb.chunkSize())
	}
	return min(free, room)
}

// rcvSpace is the free receive buffer the window may offer beyond
// RCV.NXT: all of it normally; under pressure at most four segments (as
// Linux clamps rcv_ssthresh); over the limit nothing more, except two
// segments to a connection that holds no receive memory (one full
// segment even after the window scale rounds down). The advertised
// edge never moves left (SHLD-14): what was promised stays promised.
func (c *TCB) rcvSpace() int {
	if c.rb.size > c.cfg.RecvBufMax { // SetRecvBuffer shrank it: as far as the promise allows
		c.rb.size = max(c.cfg.RecvBufMax, c.rb.n+c.promised())
	}
	free := c.rb.free()
	switch c.cfg.Pool.level() {
	case memPressure:
		return min(free, 4*c.cfg.MSS)
	case memOver:
		if c.rb.held() == 0 {
			return min(free, 2*c.cfg.MSS)
		}
		return 0
	}
	return free
}

// admitOverLimit trims text arriving while the pool is over its limit:
// text that fits in chunks already held costs nothing and is taken;
// otherwise the out-of-order queue is pruned first, out-of-order text is
// dropped, and in-order text is taken up to the advertised edge (the
// promise) and no further. off is the text's offset from RCV.NXT.
func (c *TCB) admitOverLimit(dataSeq seq.Value, off int, p []byte, whole bool) ([]byte, bool) {
	if c.rb.needs(c.rb.n+off, len(p)) == 0 {
		return p, whole
	}
	c.pruneOOO()
	if off > 0 {
		c.cfg.Pool.st.DroppedSegs.Add(1)
		return nil, false
	}
	promised := 0
	if c.rcv.adv.GreaterThan(dataSeq) {
		promised = int(c.rcv.adv.Sub(dataSeq))
	}
	if len(p) > promised {
		c.cfg.Pool.st.DroppedSegs.Add(1)
		return p[:promised], false
	}
	return p, whole
}

// pruneOOO drops the out-of-order queue and its chunks (reneging, which
// RFC 2018 8 allows: the sender keeps SACKed data until it is
// cumulatively acknowledged).
func (c *TCB) pruneOOO() {
	var n uint64
	for _, sp := range c.ooo.spans {
		n += uint64(sp.end.Sub(sp.start))
	}
	if n == 0 {
		return
	}
	c.cfg.Pool.st.PrunedBytes.Add(n)
	c.ooo.spans = c.ooo.spans[:0]
	c.finPending = false
	c.rb.truncate(c.rb.n)
}

// dropOOO forgets the out-of-order queue of a connection that is done.
func (c *TCB) dropOOO() {
	c.ooo = reasm{}
	c.finPending = false
	c.rb.truncate(c.rb.n)
	if c.rb.n == 0 {
		c.rb.drop()
	}
}

// rcvDrained gives the receive buffer's chunks back once the application
// has read everything and nothing waits out of order.
func (c *TCB) rcvDrained() {
	if c.rb.n == 0 && len(c.ooo.spans) == 0 {
		c.rb.clear()
	}
}

// growthAllowed reports whether the budget lets autotuning grow a buffer,
// counting a growth it holds back.
func (c *TCB) growthAllowed() bool {
	if c.cfg.Pool.level() != memNormal {
		c.cfg.Pool.st.AutotuneHeld.Add(1)
		return false
	}
	return true
}

// promised is how far beyond RCV.NXT the receive buffer is committed:
// the window advertised, and out-of-order text already taken (which may
// lie past it).
func (c *TCB) promised() int {
	p := 0
	if c.state != SynSent && c.rcv.adv.GreaterThan(c.rcv.nxt) {
		p = int(c.rcv.adv.Sub(c.rcv.nxt))
	}
	if k := len(c.ooo.spans); k > 0 {
		p = max(p, int(c.ooo.spans[k-1].end.Sub(c.rcv.nxt)))
	}
	return p
}

// minBuf is the smallest buffer SetRecvBuffer and SetSendBuffer set.
const minBuf = 4 << 10

// SetRecvBuffer sets the receive buffer to n bytes and stops autotuning
// from growing it (SO_RCVBUF; at least 4 KiB). It shrinks only as far as
// what is held and what the window already promised allow (SHLD-14),
// then further as the promise is used up. A larger
// buffer may open the window at once. The window scale was fixed by the
// handshake (from Config.RecvBufMax), so a window past 65535 << shift is
// not offered.
func (c *TCB) SetRecvBuffer(now time.Duration, n int) {
	n = max(n, minBuf)
	c.cfg.RecvBuf, c.cfg.RecvBufMax = n, n
	c.rb.size = max(n, c.rb.n+c.promised())
	c.afterRead(now)
}

// SetSendBuffer sets the send buffer to n bytes and stops autotuning from
// growing it (SO_SNDBUF; at least 4 KiB, and never below what is queued).
func (c *TCB) SetSendBuffer(n int) {
	n = max(n, minBuf, c.sb.n)
	c.cfg.SendBuf, c.cfg.SendBufMax, c.sb.size = n, n, n
}

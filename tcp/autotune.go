package tcp

import "time"

// Buffer autotuning: buffers start at Config.SendBuf and RecvBuf and grow
// toward the bandwidth-delay product, up to SendBufMax and RecvBufMax.
// Memory is spent only where a connection shows it needs it; an idle
// connection still holds no buffer at all. Growing a buffer raises its
// capacity only: chunks are taken as bytes come (buf.go). Under memory
// pressure nothing grows (bufmem.go).

// rcvTune is the receive side's dynamic right-sizing state: how much the
// application consumed over the current epoch of one minimum RTT.
type rcvTune struct {
	epochStart time.Duration
	copied     int
	minRTT     time.Duration // smallest RTT seen by the receiver (0: none)
}

// noteRcvRTT records a receiver-side RTT sample: the age of our timestamp
// that a data segment echoes (RFC 7323 4), or our own SRTT.
func (c *TCB) noteRcvRTT(d time.Duration) {
	if d > 0 && (c.tune.minRTT == 0 || d < c.tune.minRTT) {
		c.tune.minRTT = d
	}
}

// tuneRecv runs after the application read n bytes. Once per minimum RTT
// it compares what the application consumed with the buffer: a reader that
// drains more than half the buffer per RTT would be held back by the
// window, so the buffer grows to twice that (at least doubling), up to
// RecvBufMax. Without an RTT of a millisecond or more (an in-memory link)
// it does nothing: the initial size covers such paths.
func (c *TCB) tuneRecv(now time.Duration, n int) {
	if c.rb.size >= c.cfg.RecvBufMax {
		return
	}
	c.tune.copied += n
	rtt := c.tune.minRTT
	if s := c.rtt.srtt; s > 0 && (rtt == 0 || s < rtt) {
		rtt = s
	}
	if rtt < time.Millisecond || now-c.tune.epochStart < rtt {
		return
	}
	if target := 2 * c.tune.copied; target > c.rb.size && c.growthAllowed() {
		size := max(2*c.rb.size, target)
		c.rb.grow(min(size, c.cfg.RecvBufMax))
		c.stats.RecvBufGrowths++
	}
	c.tune.epochStart, c.tune.copied = now, 0
}

// growSend is called when a SEND finds the buffer full. It doubles when the
// peer's window and the congestion window would both let more than the
// buffer holds be in flight: the buffer is the bottleneck.
func (c *TCB) growSend() {
	if c.sb.size >= c.cfg.SendBufMax {
		return
	}
	if int(c.snd.wnd) < c.sb.size || c.ccs.Cwnd < c.sb.size || !c.growthAllowed() {
		return
	}
	c.sb.grow(min(2*c.sb.size, c.cfg.SendBufMax))
	c.stats.SendBufGrowths++
}

package tcp

// TSO (TCP segmentation offload): with Config.TSOMax above the MSS, the
// sender hands the link one segment of several MSS-sized pieces where it
// would send the pieces one by one, and the link (a TUN device with
// virtio-net offloads: the kernel's GSO) cuts it at every SendMSS bytes,
// copying the header into each piece, PSH and FIN only into the last.
//
// Only what the one-by-one loop of sendData would send in the same call
// is joined, so every rule still holds per piece: each piece but the last
// of the queue is a full MSS (sender SWS avoidance, MUST-38), the tail
// piece goes only when Nagle would let it go with the pieces before it in
// flight (SHLD-7, MUST-17), and the whole lies within the congestion and
// the peer's window (MUST-34 via usableWindow). Only new data is joined:
// retransmissions (after a timeout, in SACK recovery, by RACK and TLP) go
// one MSS at a time, so a repair never resends more than was lost. RACK and
// the RTT sample see the joined segment as one transmission.

// sendSize is the payload of the next segment from SND.NXT, given avail
// bytes queued after it and a usable window of win: min(avail, MSS, win),
// or with TSO a run of whole MSS pieces (plus the queue's tail piece when
// it may go now) up to TSOMax.
func (c *TCB) sendSize(avail, win int) int {
	mss := c.snd.mss
	n := min(avail, mss, win)
	if c.cfg.TSOMax <= mss || n < mss || c.snd.nxt != c.snd.max {
		return n
	}
	// The payload goes to the Sender as at most two pieces of the send
	// buffer (p1, p2): never more than peek can return from SND.NXT.
	big := min(avail, win, c.cfg.TSOMax, c.sb.peekable(int(c.snd.nxt.Sub(c.sndHead))))
	full := big - big%mss
	// The tail piece (the end of the queue, shorter than an MSS) would be
	// sent after the full ones only if worthSending passed with them in
	// flight: the FIN is queued, or Nagle is off and the cork is not on.
	if big == avail && full < big && (c.finQueued || c.cfg.NoDelay && !c.corked) {
		return big
	}
	return full
}

// SendMSS reports, during a Sender.SendSegment call, the size of the
// pieces a segment with more payload than it is to be cut into (TSO);
// no segment but such a one carries more.
func (c *TCB) SendMSS() int { return c.snd.mss }

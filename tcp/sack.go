package tcp

import (
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// SACK: RFC 2018 blocks and RFC 2883 D-SACK on the receiving side, and on
// the sending side a scoreboard with RFC 6675 loss recovery.

// maxScoreboard bounds the SACKed ranges a sender tracks, so a hostile
// confetti of SACK blocks costs bounded memory and time; blocks past it are
// ignored (SACK is advisory: ignoring one only delays recovery).
const maxScoreboard = 64

// dupThresh is RFC 6675's DupThresh.
const dupThresh = 3

// scoreboard holds the ranges the peer SACKed above SND.UNA.
type scoreboard struct {
	ranges   []span    // sorted, disjoint, within (SND.UNA, SND.MAX]
	highRxt  seq.Value // HighRxt: end of the highest retransmission in recovery
	rackLost seq.Value // end of the highest segment RACK marked lost (RFC 8985)
	rackOn   bool      // rackLost is set
	sacked   uint64    // bytes newly SACKed (a statistic)
}

// add takes the SACK blocks of an ACK, ignoring any outside (una, max]
// (a D-SACK block below SND.UNA included). It reports whether the
// scoreboard changed.
func (s *scoreboard) add(o *wire.Options, una, max seq.Value) bool {
	changed := false
	for i := 0; i < int(o.NumSACK) && i < wire.MaxSACKBlocks; i++ {
		l, r := seq.Value(o.SACK[i].Left), seq.Value(o.SACK[i].Right)
		if !l.LessThan(r) || !una.LessThan(r) || r.GreaterThan(max) {
			continue
		}
		l = seq.Max(l, una)
		if s.insert(l, r) {
			changed = true
		}
	}
	return changed
}

// insert merges [l, r) into the ranges; it reports whether that added bytes.
func (s *scoreboard) insert(l, r seq.Value) bool {
	i := 0
	for i < len(s.ranges) && s.ranges[i].end.LessThan(l) {
		i++
	}
	j, nl, nr := i, l, r
	for j < len(s.ranges) && s.ranges[j].start.LessThanEq(r) {
		nl, nr = seq.Min(nl, s.ranges[j].start), seq.Max(nr, s.ranges[j].end)
		j++
	}
	if j == i+1 && s.ranges[i].start == nl && s.ranges[i].end == nr {
		return false // nothing new
	}
	if i == j && len(s.ranges) >= maxScoreboard {
		return false
	}
	before := s.bytes()
	s.ranges = append(s.ranges[:i], append([]span{{nl, nr}}, s.ranges[j:]...)...)
	s.sacked += uint64(s.bytes() - before)
	return true
}

func (s *scoreboard) bytes() int {
	n := 0
	for _, r := range s.ranges {
		n += int(r.end.Sub(r.start))
	}
	return n
}

// ackTo forgets what SND.UNA passed.
func (s *scoreboard) ackTo(una seq.Value) {
	k := 0
	for _, r := range s.ranges {
		if !r.end.GreaterThan(una) {
			continue
		}
		r.start = seq.Max(r.start, una)
		s.ranges[k] = r
		k++
	}
	s.ranges = s.ranges[:k]
}

// lostBelow is the boundary under which every un-SACKed byte counts as
// lost (RFC 6675 IsLost): more than (DupThresh-1)*SMSS bytes, or DupThresh
// discontiguous ranges, SACKed above it.
func (s *scoreboard) lostBelow(mss int) (seq.Value, bool) {
	bytes := 0
	for i := len(s.ranges) - 1; i >= 0; i-- {
		r := s.ranges[i]
		bytes += int(r.end.Sub(r.start))
		if bytes > (dupThresh-1)*mss || len(s.ranges)-i >= dupThresh {
			return s.withRACK(r.start, true)
		}
	}
	return s.withRACK(0, false)
}

// sackedAt reports the SACKed range holding v, if any.
func (s *scoreboard) sackedAt(v seq.Value) (span, bool) {
	for _, r := range s.ranges {
		if v.InRange(r.start, r.end) {
			return r, true
		}
		if v.LessThan(r.start) {
			break
		}
	}
	return span{}, false
}

// nextSACKed is the start of the first SACKed range above v (or max).
func (s *scoreboard) nextSACKed(v, max seq.Value) seq.Value {
	for _, r := range s.ranges {
		if v.LessThan(r.start) {
			return r.start
		}
	}
	return max
}

// pipe is RFC 6675's estimate of bytes in the network: un-SACKed bytes not
// deemed lost, plus retransmitted bytes below HighRxt.
func (s *scoreboard) pipe(una, max seq.Value, mss int) int {
	lost, haveLost := s.lostBelow(mss)
	n := 0
	at := una
	for i := 0; i <= len(s.ranges); i++ {
		end := max
		if i < len(s.ranges) {
			end = s.ranges[i].start
		}
		for hole := at; hole.LessThan(end); { // a hole [at, end)
			if !haveLost || !hole.LessThan(lost) {
				n += int(end.Sub(hole)) // not lost: still in flight
				break
			}
			lostEnd := seq.Min(end, lost)
			if hole.LessThan(s.highRxt) { // retransmitted and in flight again
				n += int(seq.Min(lostEnd, s.highRxt).Sub(hole))
			}
			hole = lostEnd
		}
		if i < len(s.ranges) {
			at = s.ranges[i].end
		}
	}
	return n
}

// nextLostHole is RFC 6675 NextSeg rule 1: the first lost, un-SACKed byte
// above HighRxt, and how much to retransmit from it: one MSS (or what is
// left below SND.MAX), whatever the SACKed ranges above it. A hole a
// segment can fill is resent with the SACKed bytes after it, as Linux
// resends whole segments: SACK blocks that leave 1-byte holes must not
// make us send 1-byte segments (the peer would pay one packet of ours
// per byte of its blocks).
func (s *scoreboard) nextLostHole(una, max seq.Value, mss int) (start seq.Value, n int, ok bool) {
	lost, haveLost := s.lostBelow(mss)
	if !haveLost {
		return 0, 0, false
	}
	at := seq.Max(una, s.highRxt)
	for at.LessThan(lost) {
		if r, in := s.sackedAt(at); in {
			at = r.end
			continue
		}
		return at, min(int(max.Sub(at)), mss), true
	}
	return 0, 0, false
}

// sackBlocks fills the SACK option of an outgoing ACK: a pending D-SACK
// first (RFC 2883), then the block holding the latest out-of-order arrival
// (RFC 2018 4), then the others from the highest down.
func (c *TCB) sackBlocks(o *wire.Options) {
	if !c.sackOK {
		return
	}
	maxBlocks := wire.MaxSACKBlocks
	if c.ts.ok {
		maxBlocks = 3 // 40 option bytes hold 3 blocks beside timestamps
	}
	add := func(l, r seq.Value) {
		if int(o.NumSACK) < maxBlocks {
			o.SACK[o.NumSACK] = wire.SACKBlock{Left: uint32(l), Right: uint32(r)}
			o.NumSACK++
		}
	}
	if c.dsackOn {
		add(c.dsack.start, c.dsack.end)
		c.dsackOn = false
	}
	first := -1
	for i, sp := range c.ooo.spans {
		if c.lastOOO.InRange(sp.start, sp.end) {
			first = i
			add(sp.start, sp.end)
		}
	}
	for i := len(c.ooo.spans) - 1; i >= 0; i-- {
		if i != first {
			add(c.ooo.spans[i].start, c.ooo.spans[i].end)
		}
	}
}

// sackRecovery is RFC 6675 5 (steps 3 and 4 onward): while the pipe leaves
// room for a segment, retransmit the next lost hole, else send new data.
// It reports whether it sent anything.
func (c *TCB) sackRecovery(now time.Duration) bool {
	sent := false
	for i := 0; i < 1000; i++ {
		pipe := c.board.pipe(c.snd.una, c.snd.max, c.snd.mss)
		if c.ccs.Cwnd-pipe < c.snd.mss {
			break
		}
		if s, n, ok := c.board.nextLostHole(c.snd.una, c.snd.max, c.snd.mss); ok {
			// A hole that runs to SND.MAX ends in the FIN's sequence
			// number, which is no data byte: send the data before it and
			// the FIN, never a byte read past the send buffer.
			dataEnd := c.sndHead.Add(seq.Size(c.sb.n))
			if c.finSent && s.Add(seq.Size(n)).GreaterThan(dataEnd) {
				n = int(dataEnd.Sub(s))
			}
			fin := c.finSent && s.Add(seq.Size(n)) == dataEnd
			c.sendSegment(now, s, n, fin)
			c.board.highRxt = s.Add(seq.Size(n))
			if fin {
				c.board.highRxt = c.board.highRxt.Add(1)
			}
			c.stats.SACKRetransmits++
			sent = true
			continue
		}
		if c.rackRetransmitLost(now) { // RFC 8985: a lost retransmission
			sent = true
			continue
		}
		if !c.sendNew(now) {
			break
		}
		sent = true
	}
	return sent
}

// enterSACKRecovery starts RFC 6675 loss recovery (5, step 4).
func (c *TCB) enterSACKRecovery(now time.Duration) {
	c.inRecov = true
	c.recover = c.snd.max // RecoveryPoint = HighData
	c.board.highRxt = c.snd.una
	c.cc.OnCongestion(now, c.ccState())
	c.stats.FastRetransmits++
}

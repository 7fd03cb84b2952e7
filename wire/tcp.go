package wire

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// TCP option kinds (RFC 9293 3.2, RFC 7323, RFC 2018).
const (
	OptEOL           = 0 // End of Option List, RFC 9293 3.2
	OptNOP           = 1 // No-Operation, RFC 9293 3.2
	OptMSS           = 2 // Maximum Segment Size, RFC 9293 3.2, 3.7.1
	OptWScale        = 3 // Window Scale, RFC 7323 2.2
	OptSACKPermitted = 4 // SACK-Permitted, RFC 2018 2
	OptSACK          = 5 // SACK, RFC 2018 3
	OptTimestamps    = 8 // Timestamps, RFC 7323 3.2
)

// Option lengths, counting the kind and length bytes.
const (
	optLenMSS           = 4
	optLenWScale        = 3
	optLenSACKPermitted = 2
	optLenTimestamps    = 10
	optLenSACKBlock     = 8
	maxOptionsLen       = TCPMaxHeaderLen - TCPMinHeaderLen // 40
)

// Parse errors, built once so that Parse never allocates.
var (
	errTCPShort     = fmt.Errorf("%w: TCP segment shorter than 20 bytes", ErrTruncated)
	errTCPOffShort  = fmt.Errorf("%w: TCP data offset past end of segment", ErrTruncated)
	errTCPOffSmall  = fmt.Errorf("%w: TCP data offset below 5 words", ErrBadHeader)
	errOptNoLen     = fmt.Errorf("%w: option kind without length byte", ErrBadOptions)
	errOptLenSmall  = fmt.Errorf("%w: option length below 2", ErrBadOptions)
	errOptOverrun   = fmt.Errorf("%w: option overruns the header", ErrBadOptions)
	errOptMSSLen    = fmt.Errorf("%w: MSS option length is not 4", ErrBadOptions)
	errOptWScaleLen = fmt.Errorf("%w: window scale option length is not 3", ErrBadOptions)
	errOptSACKPLen  = fmt.Errorf("%w: SACK-permitted option length is not 2", ErrBadOptions)
	errOptTSLen     = fmt.Errorf("%w: timestamps option length is not 10", ErrBadOptions)
	errOptSACKLen   = fmt.Errorf("%w: SACK option length is not 2+8n, n>=1", ErrBadOptions)
)

// Parse parses the TCP header at the start of b, the whole segment
// (RFC 9293 3.1), and returns the payload that follows the header. It
// sets DataOffset to the header length in bytes and replaces all of
// h.Options. It neither verifies the checksum (that needs the
// pseudo-header: see VerifyTCPChecksum) nor allocates. The reserved bits
// are ignored. On error the payload is nil and h may be partly filled.
func (h *TCP) Parse(b []byte) (payload []byte, err error) {
	if len(b) < TCPMinHeaderLen {
		return nil, errTCPShort
	}
	off := int(b[12]>>4) * 4
	if off < TCPMinHeaderLen {
		return nil, errTCPOffSmall
	}
	if len(b) < off {
		return nil, errTCPOffShort
	}
	be := binary.BigEndian
	h.SrcPort = be.Uint16(b[0:2])
	h.DstPort = be.Uint16(b[2:4])
	h.Seq = be.Uint32(b[4:8])
	h.Ack = be.Uint32(b[8:12])
	h.DataOffset = uint8(off)
	h.Flags = Flags(b[13])
	h.Window = be.Uint16(b[14:16])
	h.Checksum = be.Uint16(b[16:18])
	h.Urgent = be.Uint16(b[18:20])
	if err := h.Options.parse(b[TCPMinHeaderLen:off]); err != nil {
		return nil, err
	}
	return b[off:], nil
}

// parse resets o and fills it from the options area b (RFC 9293 3.2).
// EOL ends the list; NOP is skipped; every other option must carry a
// length byte of at least 2 that stays inside b. Unknown kinds are skipped
// by their length and counted. A repeated option overwrites the earlier
// one. Values are stored raw: the tcp package applies the limits (for
// example a window shift above 14, RFC 7323 2.3).
func (o *Options) parse(b []byte) error {
	*o = Options{}
	for len(b) > 0 {
		kind := b[0]
		if kind == OptEOL {
			return nil
		}
		if kind == OptNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return errOptNoLen
		}
		n := int(b[1])
		if n < 2 {
			return errOptLenSmall
		}
		if n > len(b) {
			return errOptOverrun
		}
		if err := o.parseOne(kind, b[2:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// parseOne stores the option kind whose data (after kind and length) is
// d, checking its length.
func (o *Options) parseOne(kind byte, d []byte) error {
	be := binary.BigEndian
	switch kind {
	case OptMSS: // RFC 9293 3.2: length 4
		if len(d) != optLenMSS-2 {
			return errOptMSSLen
		}
		o.MSS, o.HasMSS = be.Uint16(d), true
	case OptWScale: // RFC 7323 2.2: length 3
		if len(d) != optLenWScale-2 {
			return errOptWScaleLen
		}
		o.WScale, o.HasWScale = d[0], true
	case OptSACKPermitted: // RFC 2018 2: length 2
		if len(d) != optLenSACKPermitted-2 {
			return errOptSACKPLen
		}
		o.SACKPermitted = true
	case OptTimestamps: // RFC 7323 3.2: length 10
		if len(d) != optLenTimestamps-2 {
			return errOptTSLen
		}
		o.TSVal, o.TSEcr, o.HasTimestamps = be.Uint32(d[0:4]), be.Uint32(d[4:8]), true
	case OptSACK: // RFC 2018 3: length 2+8n
		return o.parseSACK(d)
	default:
		if o.Unknown < 255 {
			o.Unknown++
		}
	}
	return nil
}

// parseSACK stores the blocks of a SACK option (RFC 2018 3). At most
// MaxSACKBlocks are kept; a 40-byte options area cannot hold more anyway.
func (o *Options) parseSACK(d []byte) error {
	if len(d) == 0 || len(d)%optLenSACKBlock != 0 {
		return errOptSACKLen
	}
	o.SACK = [MaxSACKBlocks]SACKBlock{}
	n := min(len(d)/optLenSACKBlock, MaxSACKBlocks)
	for i := range n {
		blk := d[i*optLenSACKBlock:]
		o.SACK[i] = SACKBlock{
			Left:  binary.BigEndian.Uint32(blk[0:4]),
			Right: binary.BigEndian.Uint32(blk[4:8]),
		}
	}
	o.NumSACK = uint8(n)
	return nil
}

// baseLen is the length of the options Append writes before any SACK
// blocks: every piece is padded with NOPs to a multiple of 4.
func (o *Options) baseLen() int {
	n := 0
	if o.HasMSS {
		n += 4 // MSS
	}
	switch {
	case o.HasTimestamps:
		n += 12 // SACK-permitted+TS, or NOP,NOP,TS
	case o.SACKPermitted:
		n += 4 // NOP,NOP,SACK-permitted
	}
	if o.HasWScale {
		n += 4 // NOP,WS
	}
	return n
}

// sackBlocks is how many SACK blocks Append writes: NumSACK (at most
// MaxSACKBlocks) less any trailing blocks that would push the options
// past 40 bytes. RFC 2018 4 puts the most recent block first, so the
// blocks dropped are the oldest news.
func (o *Options) sackBlocks() int {
	n := min(int(o.NumSACK), MaxSACKBlocks)
	room := maxOptionsLen - o.baseLen()
	for n > 0 && 4+optLenSACKBlock*n > room {
		n--
	}
	return n
}

// EncodedLen returns the number of bytes Append writes for o: a multiple
// of 4 and at most 40.
func (o *Options) EncodedLen() int {
	n := o.baseLen()
	if k := o.sackBlocks(); k > 0 {
		n += 4 + optLenSACKBlock*k
	}
	return (n + 3) &^ 3
}

// HeaderLen returns the length in bytes of the header Append writes.
func (h *TCP) HeaderLen() int { return TCPMinHeaderLen + h.Options.EncodedLen() }

// Append appends the header and options to dst and returns the extended
// slice (RFC 9293 3.1). The data offset is computed from the options and
// h.DataOffset is ignored; h.Checksum is written as it is, so the caller
// fills the payload in and then calls SetTCPChecksum over the segment.
// Options are laid out as Linux lays them out (see appendOptions). It
// does not allocate when dst has room for HeaderLen more bytes.
func (h *TCP) Append(dst []byte) []byte {
	hl := h.HeaderLen()
	dst, b := grow(dst, hl)
	be := binary.BigEndian
	be.PutUint16(b[0:2], h.SrcPort)
	be.PutUint16(b[2:4], h.DstPort)
	be.PutUint32(b[4:8], h.Seq)
	be.PutUint32(b[8:12], h.Ack)
	b[12] = uint8(hl/4) << 4
	b[13] = uint8(h.Flags)
	be.PutUint16(b[14:16], h.Window)
	be.PutUint16(b[16:18], h.Checksum)
	be.PutUint16(b[18:20], h.Urgent)
	h.Options.put(b[TCPMinHeaderLen:])
	return dst
}

// put writes the options into b, which is exactly EncodedLen bytes long.
// The order and NOP padding follow Linux (tcp_options_write), which keeps
// every 32-bit field aligned:
//
//	MSS                          kind 2, len 4
//	SACK-permitted + timestamps  4,2 then 8,10 (no NOPs, 12 bytes)
//	  or NOP,NOP, timestamps     when SACK is not permitted
//	  or NOP,NOP,SACK-permitted  without timestamps
//	NOP, window scale            kind 3, len 3
//	NOP,NOP, SACK                kind 5, len 2+8n (see sackBlocks)
//
// and any remainder is zero (EOL), RFC 9293 3.2.
func (o *Options) put(b []byte) {
	be := binary.BigEndian
	i := 0
	if o.HasMSS {
		b[i], b[i+1] = OptMSS, optLenMSS
		be.PutUint16(b[i+2:], o.MSS)
		i += 4
	}
	switch {
	case o.HasTimestamps && o.SACKPermitted:
		b[i], b[i+1] = OptSACKPermitted, optLenSACKPermitted
		i += 2
	case o.HasTimestamps:
		b[i], b[i+1] = OptNOP, OptNOP
		i += 2
	case o.SACKPermitted:
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACKPermitted, optLenSACKPermitted
		i += 4
	}
	if o.HasTimestamps {
		b[i], b[i+1] = OptTimestamps, optLenTimestamps
		be.PutUint32(b[i+2:], o.TSVal)
		be.PutUint32(b[i+6:], o.TSEcr)
		i += 10
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptWScale, optLenWScale, o.WScale
		i += 4
	}
	i = o.putSACK(b, i)
	clear(b[i:])
}

// putSACK writes NOP,NOP and the SACK option at b[i:] and returns the
// index after it.
func (o *Options) putSACK(b []byte, i int) int {
	n := o.sackBlocks()
	if n == 0 {
		return i
	}
	b[i], b[i+1], b[i+2], b[i+3] = OptNOP, OptNOP, OptSACK, uint8(2+optLenSACKBlock*n)
	i += 4
	for _, blk := range o.SACK[:n] {
		binary.BigEndian.PutUint32(b[i:], blk.Left)
		binary.BigEndian.PutUint32(b[i+4:], blk.Right)
		i += optLenSACKBlock
	}
	return i
}

// grow extends b by n bytes and returns the extended slice and its last n
// bytes. It allocates only when b lacks capacity.
func grow(b []byte, n int) (all, tail []byte) {
	b = slices.Grow(b, n)
	all = b[:len(b)+n]
	return all, all[len(b):]
}

package wire

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
)

func TestFlagsString(t *testing.T) {
	for _, c := range []struct {
		f    Flags
		want string
	}{
		{0, "none"}, {SYN, "SYN"}, {SYN | ACK, "SYN,ACK"}, {FIN | ACK, "FIN,ACK"},
		{RST, "RST"}, {RST | ACK, "RST,ACK"}, {PSH | ACK, "PSH,ACK"},
		{FIN | PSH | ACK, "FIN,PSH,ACK"}, {SYN | ECE | CWR, "SYN,ECE,CWR"},
		{0xff, "SYN,RST,FIN,PSH,ACK,URG,ECE,CWR"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint8(c.f), got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = (SYN | ACK).String() }); n != 0 {
		t.Errorf("String allocates %v times", n)
	}
	if !(SYN | ACK).Has(ACK) || SYN.Has(SYN|ACK) {
		t.Error("Has is wrong")
	}
}

// sackBlocks fills n SACK blocks with recognisable values.
func sackBlocks(n int) (b [MaxSACKBlocks]SACKBlock) {
	for i := range n {
		b[i] = SACKBlock{uint32(1000 * (i + 1)), uint32(1000*(i+1) + 500)}
	}
	return b
}

// roundTrip appends h, parses the result and checks it against h, with
// DataOffset set and the SACK blocks Append had to drop removed.
func roundTrip(t *testing.T, h TCP, payload []byte) {
	t.Helper()
	b := h.Append(nil)
	if len(b) != h.HeaderLen() || len(b)%4 != 0 || len(b) > TCPMaxHeaderLen {
		t.Fatalf("Append wrote %d bytes, HeaderLen %d", len(b), h.HeaderLen())
	}
	b = append(b, payload...)
	var got TCP
	p, err := got.Parse(b)
	if err != nil {
		t.Fatalf("Parse(Append(%+v)): %v", h, err)
	}
	want := h
	want.DataOffset = uint8(h.HeaderLen())
	want.Options.Unknown = 0
	k := h.Options.sackBlocks()
	want.Options.NumSACK = uint8(k)
	clear(want.Options.SACK[k:])
	if got != want {
		t.Fatalf("round trip\n got %+v\nwant %+v\nbytes % x", got, want, b)
	}
	if !bytes.Equal(p, payload) {
		t.Fatalf("payload %q, want %q", p, payload)
	}
}

// TestTCPRoundTripAllCombinations covers every combination of the
// options, with 0..4 SACK blocks.
func TestTCPRoundTripAllCombinations(t *testing.T) {
	for mask := 0; mask < 16; mask++ {
		for n := 0; n <= MaxSACKBlocks; n++ {
			h := TCP{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: ACK | PSH, Window: 5, Checksum: 6, Urgent: 7}
			o := &h.Options
			o.HasMSS, o.MSS = mask&1 != 0, 1460*uint16(mask&1)
			o.HasWScale, o.WScale = mask&2 != 0, 14*uint8(mask>>1&1)
			o.SACKPermitted = mask&4 != 0
			if mask&8 != 0 {
				o.HasTimestamps, o.TSVal, o.TSEcr = true, 0xdeadbeef, 0x01020304
			}
			o.NumSACK, o.SACK = uint8(n), sackBlocks(n)
			roundTrip(t, h, []byte("xyz"))
		}
	}
}

func TestTCPRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewSource(9293))
	for i := 0; i < 20000; i++ {
		h := TCP{
			SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()),
			Seq: r.Uint32(), Ack: r.Uint32(), Flags: Flags(r.Intn(256)),
			Window: uint16(r.Uint32()), Checksum: uint16(r.Uint32()), Urgent: uint16(r.Uint32()),
		}
		o := &h.Options
		if r.Intn(2) == 0 {
			o.HasMSS, o.MSS = true, uint16(r.Uint32())
		}
		if r.Intn(2) == 0 {
			o.HasWScale, o.WScale = true, uint8(r.Uint32())
		}
		o.SACKPermitted = r.Intn(2) == 0
		if r.Intn(2) == 0 {
			o.HasTimestamps, o.TSVal, o.TSEcr = true, r.Uint32(), r.Uint32()
		}
		o.NumSACK = uint8(r.Intn(MaxSACKBlocks + 1))
		for j := range int(o.NumSACK) {
			o.SACK[j] = SACKBlock{r.Uint32(), r.Uint32()}
		}
		roundTrip(t, h, nil)
	}
}

// TestTCPOptionLayout checks the exact bytes Append writes for the
// layouts Linux uses.
func TestTCPOptionLayout(t *testing.T) {
	ts := Options{HasTimestamps: true, TSVal: 0x01020304, TSEcr: 0x05060708}
	tsBytes := []byte{8, 10, 1, 2, 3, 4, 5, 6, 7, 8}
	for _, c := range []struct {
		name string
		o    Options
		want []byte
	}{
		{"none", Options{}, nil},
		{"MSS", Options{HasMSS: true, MSS: 536}, []byte{2, 4, 2, 24}},
		{"SACKperm", Options{SACKPermitted: true}, []byte{1, 1, 4, 2}},
		{"TS", ts, append([]byte{1, 1}, tsBytes...)},
		{"SACKperm+TS", Options{SACKPermitted: true, HasTimestamps: true, TSVal: 0x01020304, TSEcr: 0x05060708}, append([]byte{4, 2}, tsBytes...)},
		{"WS", Options{HasWScale: true, WScale: 9}, []byte{1, 3, 3, 9}},
		{"MSS+SACKperm+WS", Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasWScale: true, WScale: 7},
			[]byte{2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}},
		{"SACK1", Options{NumSACK: 1, SACK: sackBlocks(1)}, []byte{1, 1, 5, 10, 0, 0, 3, 0xe8, 0, 0, 5, 0xdc}},
		{"SACK4", Options{NumSACK: 4, SACK: sackBlocks(4)}, []byte{1, 1, 5, 34,
			0, 0, 0x03, 0xe8, 0, 0, 0x05, 0xdc, 0, 0, 0x07, 0xd0, 0, 0, 0x09, 0xc4,
			0, 0, 0x0b, 0xb8, 0, 0, 0x0d, 0xac, 0, 0, 0x0f, 0xa0, 0, 0, 0x11, 0x94}},
	} {
		h := TCP{Options: c.o}
		b := h.Append(nil)
		if got := b[TCPMinHeaderLen:]; !bytes.Equal(got, c.want) {
			t.Errorf("%s: options % x, want % x", c.name, got, c.want)
		}
		if int(b[12]>>4)*4 != len(b) {
			t.Errorf("%s: data offset %d for %d bytes", c.name, b[12]>>4, len(b))
		}
	}
}

// TestTCPSACKDropped checks that SACK blocks that do not fit in 40 bytes
// are dropped from the end.
func TestTCPSACKDropped(t *testing.T) {
	for _, c := range []struct {
		o    Options
		keep int
	}{
		{Options{HasTimestamps: true, NumSACK: 4}, 3},                                // 12 + 4+24
		{Options{HasTimestamps: true, HasMSS: true, NumSACK: 4}, 2},                  // 16 + 4+16
		{Options{HasTimestamps: true, HasMSS: true, HasWScale: true, NumSACK: 4}, 2}, // 20 + 4+16
		{Options{HasTimestamps: true, HasMSS: true, HasWScale: true, SACKPermitted: true, NumSACK: 3}, 2},
		{Options{NumSACK: 200}, 4}, // NumSACK beyond the array is clamped
	} {
		c.o.SACK = sackBlocks(4)
		if got := c.o.sackBlocks(); got != c.keep {
			t.Errorf("%+v keeps %d blocks, want %d", c.o, got, c.keep)
		}
		if n := c.o.EncodedLen(); n > 40 || n%4 != 0 {
			t.Errorf("%+v EncodedLen %d", c.o, n)
		}
		h := TCP{Options: c.o}
		var got TCP
		if _, err := got.Parse(h.Append(nil)); err != nil || int(got.Options.NumSACK) != c.keep ||
			got.Options.SACK[c.keep-1] != c.o.SACK[c.keep-1] {
			t.Errorf("%+v parsed back as %+v, %v", c.o, got.Options, err)
		}
	}
}

// seg builds a 20-byte TCP header followed by options (padded by the
// caller) and payload, with the data offset covering the options.
func seg(opts []byte, payload ...byte) []byte {
	b := make([]byte, 20, 20+len(opts)+len(payload))
	b[12] = uint8((20+len(opts))/4) << 4
	b = append(b, opts...)
	return append(b, payload...)
}

func TestTCPParseOptionsAccepted(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []byte
		want Options
	}{
		{"EOL stops parsing", []byte{0, 2, 3, 4}, Options{}},
		{"NOPs", []byte{1, 1, 1, 1}, Options{}},
		{"unknown skipped", []byte{30, 4, 9, 9, 2, 4, 1, 0}, Options{Unknown: 1, HasMSS: true, MSS: 256}},
		{"unknown len 2", []byte{254, 2, 1, 0}, Options{Unknown: 1}},
		{"trailing junk after EOL", []byte{3, 3, 5, 0, 99, 99, 99, 99}, Options{HasWScale: true, WScale: 5}},
		{"last duplicate wins", []byte{2, 4, 0, 1, 2, 4, 0, 2}, Options{HasMSS: true, MSS: 2}},
		{"SACK 3", append([]byte{1, 1, 5, 26}, make([]byte, 24)...), Options{NumSACK: 3}},
		{"WS shift kept raw", []byte{3, 3, 200, 0}, Options{HasWScale: true, WScale: 200}},
	} {
		var h TCP
		h.Options = Options{MSS: 9, HasMSS: true, NumSACK: 4, Unknown: 3}
		if _, err := h.Parse(seg(c.opts)); err != nil || h.Options != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, h.Options, err, c.want)
		}
	}
	// Unknown saturates at 255. At most 20 unknown options fit in one
	// header, so check the saturation on parseOne directly.
	var o Options
	o.Unknown = 254
	o.parseOne(99, nil)
	o.parseOne(99, nil)
	if o.Unknown != 255 {
		t.Errorf("Unknown = %d, want saturation at 255", o.Unknown)
	}
}

func TestTCPParseErrors(t *testing.T) {
	long := seg(nil)
	long[12] = 15 << 4 // claims 60 bytes
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", make([]byte, 19), ErrTruncated},
		{"offset past end", long, ErrTruncated},
		{"offset 0", make([]byte, 40), ErrBadHeader},
		{"offset 4", append([]byte(nil), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4<<4, 0, 0, 0, 0, 0, 0, 0), ErrBadHeader},
		{"kind without length", seg([]byte{1, 1, 1, 2}), ErrBadOptions},
		{"length 0", seg([]byte{30, 0, 0, 0}), ErrBadOptions},
		{"length 1", seg([]byte{2, 1, 0, 0}), ErrBadOptions},
		{"overrun", seg([]byte{1, 1, 30, 3}), ErrBadOptions},
		{"MSS then payload", seg([]byte{2, 4, 5, 180}, 1, 2), nil},
		{"MSS overrun", seg([]byte{1, 1, 1, 1, 1, 1, 2, 4}, 5, 180), ErrBadOptions},
		{"MSS len 3", seg([]byte{2, 3, 5, 0}), ErrBadOptions},
		{"MSS len 5", seg([]byte{2, 5, 5, 0, 0, 0, 0, 0}), ErrBadOptions},
		{"WS len 4", seg([]byte{3, 4, 7, 0}), ErrBadOptions},
		{"WS len 2", seg([]byte{3, 2, 1, 1}), ErrBadOptions},
		{"SACKperm len 3", seg([]byte{4, 3, 0, 0}), ErrBadOptions},
		{"TS len 8", seg([]byte{8, 8, 0, 0, 0, 0, 0, 0}), ErrBadOptions},
		{"TS len 12", seg([]byte{8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrBadOptions},
		{"SACK len 2", seg([]byte{5, 2, 0, 0}), ErrBadOptions},
		{"SACK len 9", seg([]byte{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrBadOptions},
		{"SACK len 10 overrun", seg([]byte{1, 1, 5, 10, 0, 0, 0, 0}), ErrBadOptions},
	} {
		var h TCP
		p, err := h.Parse(c.b)
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if err != nil && p != nil {
			t.Errorf("%s: payload %v on error", c.name, p)
		}
	}
}

func TestTCPAppendReusesBuffer(t *testing.T) {
	buf := bytes.Repeat([]byte{0xaa}, 80)[:3]
	h := TCP{Options: Options{HasMSS: true, MSS: 1}}
	b := h.Append(buf)
	if &b[0] != &buf[0] || len(b) != 3+24 {
		t.Fatalf("Append reallocated or wrong length %d", len(b))
	}
	if !bytes.Equal(b[:3], []byte{0xaa, 0xaa, 0xaa}) || !bytes.Equal(b[3+20:], []byte{2, 4, 0, 1}) {
		t.Errorf("bytes % x", b)
	}
	// Stale bytes in the spare capacity must be overwritten.
	h = TCP{Options: Options{HasTimestamps: true}}
	b = h.Append(bytes.Repeat([]byte{0xaa}, 80)[:0])
	if !bytes.Equal(b, append(make([]byte, 12), 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0)) {
		t.Errorf("bytes % x", b)
	}
}

func TestTCPNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	var h TCP
	pkt := goldenSACK[20:]
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _ = h.Parse(pkt) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = h.Parse(pkt[:30]) }); n != 0 {
		t.Errorf("failing Parse allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = h.Append(buf[:0]) }); n != 0 {
		t.Errorf("Append allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { SetTCPChecksum(addrA, addrB, buf) }); n != 0 {
		t.Errorf("SetTCPChecksum allocates %v times", n)
	}
}

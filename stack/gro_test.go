package stack

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/wire"
)

// groConn is an established connection on a recLink stack (GRO on unless
// noGRO) whose peer, 10.0.0.9:40000, sends from sequence number 1001 on.
func groConn(t *testing.T, noGRO bool) (*Stack, *Conn, uint32) {
	t.Helper()
	r := &recLink{}
	s, err := New(r, Config{Addrs: []netip.Addr{addrB}, GRO: !noGRO})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := s.ListenTCP("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1000, Flags: wire.SYN, Options: wire.Options{HasMSS: true, MSS: 1000}}, 80, nil)}, nil)
	h, _ := parseOut(t, r.out[0])
	s.DeliverPackets([][]byte{segment(wire.TCP{Seq: 1001, Ack: h.Seq + 1, Flags: wire.ACK}, 80, nil)}, nil)
	c, err := l.TryAccept()
	if err != nil || c == nil {
		t.Fatalf("accept: %v %v", c, err)
	}
	return s, c, h.Seq + 1
}

// piece is one data segment of the peer's: n bytes of the stream at
// offset off (the stream's byte i is byte(i*7)).
func piece(ack uint32, off, n int, flags wire.Flags, mod func(*wire.TCP)) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte((off + i) * 7)
	}
	h := wire.TCP{Seq: 1001 + uint32(off), Ack: ack, Flags: wire.ACK | flags}
	if mod != nil {
		mod(&h)
	}
	return segment(h, 80, p)
}

func readAll(t *testing.T, c *Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n+1)
	got := 0
	for got < n {
		m, err := c.TryRead(buf[got:])
		if m == 0 || err != nil {
			break
		}
		got += m
	}
	return buf[:got]
}

func stream(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// TestGROJoinsARun: five in-order full segments in one batch, PSH on the
// last, reach TCP as one segment (one SegsIn) and read back as the same
// bytes; without Config.GRO, as five.
func TestGROJoinsARun(t *testing.T) {
	for _, noGRO := range []bool{false, true} {
		s, c, ack := groConn(t, noGRO)
		in0 := c.Status().Stats.SegsIn
		var batch [][]byte
		for i := range 5 {
			fl := wire.Flags(0)
			if i == 4 {
				fl = wire.PSH
			}
			batch = append(batch, piece(ack, i*1000, 1000, fl, nil))
		}
		s.DeliverPackets(batch, nil)
		segs, merged := c.Status().Stats.SegsIn-in0, s.Stats().GROMerged.Load()
		if want := map[bool][2]uint64{false: {1, 4}, true: {5, 0}}[noGRO]; segs != want[0] || merged != want[1] {
			t.Errorf("NoGRO %v: %d segments into TCP, %d merged; want %v", noGRO, segs, merged, want)
		}
		if got := readAll(t, c, 5000); !bytes.Equal(got, stream(5000)) {
			t.Errorf("NoGRO %v: read %d bytes, not the stream", noGRO, len(got))
		}
	}
}

// TestGROBreaks: what must not be joined is not, and the stream still
// reads back whole and in order: across a gap (the out-of-order piece is
// queued by text processing, RFC 9293 3.10.7.4), after a PSH, with a FIN,
// across a window change, a full piece after a short one, short pieces
// after a full one (the first ends the run), and across a pure ACK.
func TestGROBreaks(t *testing.T) {
	cases := []struct {
		name   string
		pieces func(ack uint32) [][]byte
		merged uint64
	}{
		{"gap", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), piece(a, 2000, 1000, 0, nil), piece(a, 1000, 1000, 0, nil)}
		}, 0},
		{"psh in the middle", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), piece(a, 1000, 1000, wire.PSH, nil), piece(a, 2000, 1000, 0, nil), piece(a, 3000, 1000, 0, nil)}
		}, 2},
		{"fin", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), piece(a, 1000, 1000, wire.FIN, nil)}
		}, 0},
		{"window", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), piece(a, 1000, 1000, 0, func(h *wire.TCP) { h.Window = 2000 })}
		}, 0},
		{"short then full", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 500, 0, nil), piece(a, 500, 1000, 0, nil), piece(a, 1500, 1000, 0, nil)}
		}, 1},
		{"full then short ends the run", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), piece(a, 1000, 300, 0, nil), piece(a, 1300, 300, 0, nil)}
		}, 1},
		{"pure ack between", func(a uint32) [][]byte {
			return [][]byte{piece(a, 0, 1000, 0, nil), segment(wire.TCP{Seq: 2001, Ack: a, Flags: wire.ACK}, 80, nil), piece(a, 1000, 1000, 0, nil)}
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c, ack := groConn(t, false)
			pk := tc.pieces(ack)
			s.DeliverPackets(pk, nil)
			if m := s.Stats().GROMerged.Load(); m != tc.merged {
				t.Errorf("%d merged, want %d", m, tc.merged)
			}
			n := 0
			for _, p := range pk {
				n += len(p) - 40
			}
			if got := readAll(t, c, n); !bytes.Equal(got, stream(n)) {
				t.Errorf("read %d bytes, not the %d of the stream", len(got), n)
			}
		})
	}
}

// TestGROPipeBulk: two stacks with GRO over link/pipe, whose batches
// carry many packets: a bulk transfer arrives whole, GRO joining segments.
func TestGROPipeBulk(t *testing.T) {
	a, b := pipe.NewQueue(1500, 1<<20)
	cli, err := New(a, Config{Addrs: []netip.Addr{addrA}, GRO: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := New(b, Config{Addrs: []netip.Addr{addrB}, GRO: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, err := srv.Listen("tcp", fmt.Sprintf("%s:80", addrB))
	if err != nil {
		t.Fatal(err)
	}
	want := stream(8 << 20)
	go func() {
		c, err := cli.Dial("tcp", fmt.Sprintf("%s:80", addrB))
		if err != nil {
			return
		}
		c.Write(want)
		c.Close()
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("received %d bytes, not the %d sent", got.Len(), len(want))
	}
	if srv.Stats().GROMerged.Load() == 0 {
		t.Errorf("no segment merged over a pipe")
	}
	t.Logf("%d packets in, %d merged", srv.Stats().PacketsIn.Load(), srv.Stats().GROMerged.Load())
}

// BenchmarkGRO is BenchmarkBulk1500 over link/pipe with GRO on and off.
func BenchmarkGRO(b *testing.B) {
	for _, noGRO := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoGRO=%v", noGRO), func(b *testing.B) {
			ea, eb := pipe.NewQueue(1500, 1<<20)
			cli, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, GRO: !noGRO})
			defer cli.Close()
			srv, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, GRO: !noGRO})
			defer srv.Close()
			runBulk(b, cli, srv)
		})
	}
}

// FuzzGRO delivers one batch of data segments, described by the input
// (per three bytes: offset in 100s, length in 8s, PSH/FIN and a window
// change), to a connection with GRO and to one without: both read back the
// same bytes, and the TCB invariants hold.
func FuzzGRO(f *testing.F) {
	f.Add([]byte{0, 125, 0, 10, 125, 0, 20, 125, 0x08})
	f.Add([]byte{0, 125, 0, 20, 125, 0, 10, 125, 0x01})
	f.Add([]byte{0, 50, 0x80, 4, 125, 0, 14, 10, 0x08, 15, 3, 0})
	f.Fuzz(func(t *testing.T, spec []byte) {
		build := func(ack uint32) [][]byte {
			var b [][]byte
			for i := 0; i+2 < len(spec) && len(b) < 64; i += 3 {
				off, n := int(spec[i])*100, int(spec[i+1])*8+1
				fl := wire.Flags(spec[i+2]) & (wire.PSH | wire.FIN)
				var mod func(*wire.TCP)
				if spec[i+2]&0x80 != 0 {
					mod = func(h *wire.TCP) { h.Window = 3000 }
				}
				b = append(b, piece(ack, off, n, fl, mod))
			}
			return b
		}
		var got [2][]byte
		for i, noGRO := range []bool{false, true} {
			s, c, ack := groConn(t, noGRO)
			s.DeliverPackets(build(ack), nil)
			c.mu.Lock()
			err := c.tcb.CheckInvariants()
			c.mu.Unlock()
			if err != nil {
				t.Fatalf("GRO %v: %v", !noGRO, err)
			}
			got[i] = readAll(t, c, 1<<20)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Fatalf("with GRO %d bytes read, without %d (or different bytes)", len(got[0]), len(got[1]))
		}
	})
}

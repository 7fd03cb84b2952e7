package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/sim"
)

type record struct {
	ts      time.Duration
	origLen int
	data    []byte
}

// parse reads a capture file, checking its global header.
func parse(t *testing.T, b []byte) []record {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("file of %d bytes", len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b); m != 0xa1b2c3d4 {
		t.Fatalf("magic %#x", m)
	}
	if maj, mnr := le.Uint16(b[4:]), le.Uint16(b[6:]); maj != 2 || mnr != 4 {
		t.Fatalf("version %d.%d", maj, mnr)
	}
	if zone, sig := le.Uint32(b[8:]), le.Uint32(b[12:]); zone != 0 || sig != 0 {
		t.Fatalf("thiszone %d sigfigs %d", zone, sig)
	}
	if snap, lt := le.Uint32(b[16:]), le.Uint32(b[20:]); snap != 65535 || lt != 101 {
		t.Fatalf("snaplen %d linktype %d", snap, lt)
	}
	var recs []record
	for b = b[24:]; len(b) > 0; {
		if len(b) < 16 {
			t.Fatalf("truncated record header: %d bytes", len(b))
		}
		sec, usec := le.Uint32(b), le.Uint32(b[4:])
		incl, orig := int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
		if usec >= 1e6 || incl > orig || incl > 65535 || len(b) < 16+incl {
			t.Fatalf("bad record: usec %d incl %d orig %d, %d bytes left", usec, incl, orig, len(b)-16)
		}
		recs = append(recs, record{
			ts:      time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond,
			origLen: orig,
			data:    b[16 : 16+incl],
		})
		b = b[16+incl:]
	}
	return recs
}

// ipPacket returns an IPv4 header followed by n bytes: a UDP datagram when
// n >= 8, so that capture readers decode it cleanly.
func ipPacket(id, n int) []byte {
	p := make([]byte, 20+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], uint16(id))
	p[8], p[9] = 64, 17
	copy(p[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	for i := 20; i < len(p); i++ {
		p[i] = byte(id + i)
	}
	if n >= 8 { // a UDP header, checksum zero (none)
		binary.BigEndian.PutUint32(p[20:], 1234<<16|9999)
		binary.BigEndian.PutUint32(p[24:], uint32(n)<<16)
	}
	return p
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	times := []time.Duration{0, 1500*time.Millisecond + 250*time.Microsecond + 999, 2 * time.Hour, -time.Second}
	for i, ts := range times {
		if err := w.WritePacket(ts, ipPacket(i, 10*i)); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 70000)
	big[0] = 0x45
	if err := w.WritePacket(time.Second, big); err != nil {
		t.Fatal(err)
	}
	recs := parse(t, buf.Bytes())
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	want := []time.Duration{0, 1500*time.Millisecond + 250*time.Microsecond, 2 * time.Hour, 0}
	for i, r := range recs[:4] {
		if r.ts != want[i] || r.origLen != 20+10*i || !bytes.Equal(r.data, ipPacket(i, 10*i)) {
			t.Fatalf("record %d: ts %v len %d", i, r.ts, r.origLen)
		}
	}
	if r := recs[4]; r.origLen != 70000 || len(r.data) != SnapLen {
		t.Fatalf("big record: orig %d incl %d", r.origLen, len(r.data))
	}
}

// TestTeeVirtual captures both directions of a simulated link under a
// virtual clock and checks the timestamps are exactly the virtual times.
func TestTeeVirtual(t *testing.T) {
	clk := clock.NewVirtual()
	cfg := sim.Config{Delay: 10 * time.Millisecond}
	a, b := sim.New(clk, 1, cfg, cfg)
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	ca, err := New(a, bw, clk)
	if err != nil {
		t.Fatal(err)
	}
	if ca.MTU() != a.MTU() {
		t.Fatal("MTU")
	}
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { b.WritePackets(p, nil) })) // echo
	var got int
	ca.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { got += len(p) }))
	for i := range 3 {
		clk.At(time.Duration(i)*time.Second+time.Microsecond, func() {
			ca.WritePackets([][]byte{ipPacket(i, 100*i)}, nil)
		})
	}
	for clk.Step() {
	}
	if buf.Len() != 0 {
		t.Fatal("bufio writer flushed early; test assumes it buffers")
	}
	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WritePackets([][]byte{ipPacket(9, 1)}, nil); !errors.Is(err, link.ErrClosed) {
		t.Fatal("inner not closed")
	}
	recs := parse(t, buf.Bytes())
	if got != 3 || len(recs) != 6 {
		t.Fatalf("delivered %d, %d records", got, len(recs))
	}
	for i := range 3 {
		out, in := recs[2*i], recs[2*i+1]
		sent := time.Duration(i)*time.Second + time.Microsecond
		if out.ts != sent || in.ts != sent+20*time.Millisecond {
			t.Fatalf("packet %d: out at %v, in at %v", i, out.ts, in.ts)
		}
		want := ipPacket(i, 100*i)
		if !bytes.Equal(out.data, want) || !bytes.Equal(in.data, want) || out.origLen != len(want) {
			t.Fatalf("packet %d bytes differ", i)
		}
	}
	if ca.Err() != nil {
		t.Fatal(ca.Err())
	}
}

// TestTeeConcurrent records a pipe under the real clock from several
// goroutines (for -race) and checks every packet made it to the file whole.
func TestTeeConcurrent(t *testing.T) {
	a, b := pipe.New(1500)
	var buf bytes.Buffer
	ca, err := New(a, &buf, clock.NewReal())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got int
	done := make(chan struct{})
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { b.WritePackets(p, nil) }))
	ca.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) {
		mu.Lock()
		defer mu.Unlock()
		if got += len(p); got == 400 {
			close(done)
		}
	}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				ca.WritePackets([][]byte{ipPacket(w*100+i, 50)}, nil)
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("echoes did not arrive")
	}
	ca.Close()
	b.Close()
	recs := parse(t, buf.Bytes())
	if len(recs) != 800 {
		t.Fatalf("%d records", len(recs))
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.data)]++
	}
	for i := range 400 {
		if seen[string(ipPacket(i, 50))] != 2 {
			t.Fatalf("packet %d recorded %d times", i, seen[string(ipPacket(i, 50))])
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	a, b := sim.New(clock.NewVirtual(), 1, sim.Config{}, sim.Config{})
	if _, err := New(a, &failWriter{}, clock.NewVirtual()); err == nil {
		t.Fatal("header write error not reported")
	}
	if _, err := New(nil, &bytes.Buffer{}, clock.NewVirtual()); err == nil {
		t.Fatal("nil inner accepted")
	}
	ca, err := New(a, &failWriter{after: 1}, clock.NewVirtual())
	if err != nil {
		t.Fatal(err)
	}
	// A failing capture does not stop the traffic.
	if n, err := ca.WritePackets([][]byte{ipPacket(1, 1)}, nil); n != 1 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if ca.Err() == nil || b.Stats().Sent != 0 || a.Stats().Sent != 1 {
		t.Fatalf("err %v, stats %+v", ca.Err(), a.Stats())
	}
}

// TestExternalReader checks that tshark or tcpdump reads the file, where
// one is installed.
func TestExternalReader(t *testing.T) {
	var cmd []string
	if p, err := exec.LookPath("tshark"); err == nil {
		cmd = []string{p, "-r"}
	} else if p, err := exec.LookPath("tcpdump"); err == nil {
		cmd = []string{p, "-n", "-r"}
	} else {
		t.Skip("neither tshark nor tcpdump is installed")
	}
	path := filepath.Join(t.TempDir(), "x.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w.WritePacket(time.Duration(i)*time.Millisecond, ipPacket(i, 8))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cmd[0], append(cmd[1:], path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd[0], err, out)
	}
	if n := bytes.Count(out, []byte("10.0.0.1")); n != 3 {
		t.Fatalf("%s saw %d packets:\n%s", cmd[0], n, out)
	}
	t.Logf("%s:\n%s", cmd[0], out)
}

package tcp

import (
	"bytes"
	"testing"
)

// Regression: out-of-order bytes sit in the receive ring beyond the
// readable ones; draining the readable bytes must not move them (the ring
// once reset its head to 0 when it emptied, corrupting reassembled data).
func TestRingKeepsBytesBeyondReadableWhenDrained(t *testing.T) {
	var r ring
	r.init(16)
	r.write([]byte("abcdef"))
	r.writeAt(r.n+4, []byte("XYZ")) // out of order: 4 bytes after the readable end
	buf := make([]byte, 6)
	if n := r.read(buf); n != 6 || string(buf) != "abcdef" {
		t.Fatalf("read %q", buf[:n])
	}
	r.writeAt(0, []byte("1234")) // the hole is filled
	r.n += 7
	got := make([]byte, 7)
	r.read(got)
	if !bytes.Equal(got, []byte("1234XYZ")) {
		t.Fatalf("reassembled %q, want 1234XYZ", got)
	}
}

func TestRingWrapsAround(t *testing.T) {
	var r ring
	r.init(8)
	for i := 0; i < 50; i++ {
		in := []byte{byte(i), byte(i + 1), byte(i + 2)}
		if r.write(in) != 3 {
			t.Fatal("short write")
		}
		a, b := r.peek(0, 3)
		if !bytes.Equal(append(append([]byte{}, a...), b...), in) {
			t.Fatalf("peek %v %v", a, b)
		}
		out := make([]byte, 3)
		r.read(out)
		if !bytes.Equal(out, in) {
			t.Fatalf("round %d: %v", i, out)
		}
	}
	if r.write(make([]byte, 20)) != 8 || r.free() != 0 {
		t.Fatal("a full ring takes no more")
	}
}

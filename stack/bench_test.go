package stack

import (
	"io"
	"testing"
)

// BenchmarkBulk moves data one way over an in-memory link at MTU 1500 (the
// issue 5 workload in miniature); bytes/s is the throughput.
func BenchmarkBulk1500(b *testing.B)  { benchBulk(b, 1500) }
func BenchmarkBulk65535(b *testing.B) { benchBulk(b, 65535) }

func benchBulk(b *testing.B, mtu int) {
	a, s := pair(b, mtu, nil)
	runBulk(b, a, s)
}

// runBulk writes b.N times 128 KiB from a to a reader on s, to the last
// byte.
func runBulk(b *testing.B, a, s *Stack) {
	l, _ := s.Listen("tcp", ":80")
	done := make(chan int64)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if n := <-done; n != int64(b.N*len(buf)) {
		b.Fatalf("received %d of %d", n, b.N*len(buf))
	}
}

// BenchmarkPingPong is one-byte request/response round trips on one
// connection.
func BenchmarkPingPong(b *testing.B) {
	a, s := pair(b, 1500, nil)
	l, _ := s.Listen("tcp", ":7")
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		var p [1]byte
		for {
			if _, err := c.Read(p[:]); err != nil {
				return
			}
			c.Write(p[:])
		}
	}()
	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		b.Fatal(err)
	}
	var p [1]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(p[:])
		if _, err := io.ReadFull(c, p[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect is connect, accept, close, one after another.
func BenchmarkConnect(b *testing.B) {
	a, s := pair(b, 1500, nil)
	l, _ := s.Listen("tcp", ":80")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

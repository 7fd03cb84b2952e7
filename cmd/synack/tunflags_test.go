package main

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/stack"
)

func TestBufferFlagsBad(t *testing.T) {
	badFlags(t, map[string][]string{
		"invalid value 100 for --rcvbuf: want 4KiB to 1GiB": {"serve", "--rcvbuf", "100"},
		"invalid value 2147483648 for --sndbuf":             {"nc", "--sndbuf", "2GiB", "-l", "5000"},
		`invalid value "lots"`:                              {"serve", "--rcvbuf", "lots"},
	})
}

// --rcvbuf and --sndbuf set every connection's buffers (no autotuning).
func TestBufferFlagsSetConnBuffers(t *testing.T) {
	peer := pipeTUN(t)
	o, err := parseServe([]string{"--rcvbuf", "64KiB", "--sndbuf", "32KiB", "--msl", "100ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.tun.rcvbuf != 64<<10 || o.tun.sndbuf != 32<<10 {
		t.Fatalf("parsed %d, %d", o.tun.rcvbuf, o.tun.sndbuf)
	}
	st, err := o.tun.open("synack serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.ListenTCP("tcp", ":9")
	if err != nil {
		t.Fatal(err)
	}
	go peer.Dial("tcp", "10.9.0.2:9")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := l.AcceptContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*stack.Conn)
	if s := c.Status(); s.RecvBuf != 64<<10 || s.SendBuf != 32<<10 || c.LocalAddrPort() != netip.MustParseAddrPort("10.9.0.2:9") {
		t.Fatalf("buffers %d/%d, want 64KiB/32KiB", s.RecvBuf, s.SendBuf)
	}
}

package stack

import (
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-tcp/synack/tcp"
)

// Listener defaults as package net's: the backlog is 4096 (Linux's
// somaxconn, which net.Listen uses), settable per listener; it bounds the
// accept queue, and SYNs beyond it are dropped (the peer retries).
func TestListenerBacklogDefault(t *testing.T) {
	for _, tc := range []struct{ backlog, want int }{{0, 4096}, {10, 10}} {
		n := newVnet(t)
		srv, _ := n.stack(hostSrv, Config{})
		cli, _ := n.stack(hostCli, Config{})
		l, err := srv.ListenWith(ListenConfig{Backlog: tc.backlog}, "tcp", ":80")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < tc.want+50; i++ {
			if _, err := cli.Open(netip.AddrPortFrom(hostSrv, 80)); err != nil {
				t.Fatal(err)
			}
		}
		n.runFor(100*time.Millisecond, nil)
		queued := 0
		for c, _ := l.TryAccept(); c != nil; c, _ = l.TryAccept() {
			queued++
		}
		if queued != tc.want || srv.Stats().ListenOverflow.Load() == 0 {
			t.Fatalf("backlog %d: %d queued (want %d), %d overflowed", tc.backlog, queued, tc.want, srv.Stats().ListenOverflow.Load())
		}
	}
}

// 10,000 connections opened in bursts of 500 a millisecond against a
// listener that accepts as they come: every one is accepted and not one
// SYN is retransmitted (the target, at a size that keeps the test
// fast; TestManyConnectsLong measures 100,000 on the real clock).
func TestManyConnectsNoSynRetransmissions(t *testing.T) {
	n := newVnet(t)
	srv, _ := n.stack(hostSrv, Config{})
	cli, _ := n.stack(hostCli, Config{})
	l, _ := srv.ListenTCP("tcp", ":80")
	const total, burst = 10_000, 500
	var conns []*Conn
	n.every(time.Millisecond, total/burst*time.Millisecond, func() {
		for i := 0; i < burst; i++ {
			c, err := cli.Open(netip.AddrPortFrom(hostSrv, 80))
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	})
	accepted := 0
	n.runUntil(10*time.Second, func() {
		for c, _ := l.TryAccept(); c != nil; c, _ = l.TryAccept() {
			accepted++
		}
	}, func() bool { return accepted == total })
	rtx := uint64(0)
	for _, c := range conns {
		if c.State() != tcp.Established {
			t.Fatalf("a connection in %v", c.State())
		}
		rtx += c.Status().Stats.Retransmits
	}
	t.Logf("%d connections accepted by %v, %d SYN retransmissions, %d cookies", accepted, n.clk.Now(), rtx, srv.Stats().SynCookiesSent.Load())
	if accepted != total || rtx != 0 {
		t.Fatalf("%d of %d accepted, %d SYN retransmissions", accepted, total, rtx)
	}
}

// TestManyConnectsLong opens 100,000 connections over a pipe on the real
// clock, 64 dialers at once, against an accept loop in its own goroutine,
// and counts SYN retransmissions (the target: none). It runs with
// SYNACK_LONG=1 and reports the time taken.
func TestManyConnectsLong(t *testing.T) {
	if os.Getenv("SYNACK_LONG") != "1" {
		t.Skip("SYNACK_LONG=1 runs it")
	}
	a, b := pair(t, 1500, nil)
	l, _ := b.Listen("tcp", ":80")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	const total, dialers = 100_000, 64
	var rtx, done atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for d := 0; d < dialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Add(1) <= total {
				c, err := a.Dial("tcp", "10.0.0.2:80")
				if err != nil {
					t.Error(err)
					return
				}
				rtx.Add(c.(*Conn).Status().Stats.Retransmits)
				c.(*Conn).Abort() // no TIME-WAIT: the ports are reused
			}
		}()
	}
	wg.Wait()
	t.Logf("%d connections in %v, %d SYN retransmissions, %d overflows, %d cookies",
		total, time.Since(start), rtx.Load(), b.Stats().ListenOverflow.Load(), b.Stats().SynCookiesSent.Load())
	if rtx.Load() != 0 {
		t.Fatalf("%d SYN retransmissions", rtx.Load())
	}
}

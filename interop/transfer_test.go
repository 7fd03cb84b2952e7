//go:build linux

package interop

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/synack-tcp/synack/tcp"
)

// TestSynackClientBulkBothWays: synack dials a kernel listener and each
// side sends 64 MiB (8 MiB under -short) at the same time, then
// half-closes; each side's SHA-256 of what it read equals that of what the
// other wrote. The kernel half-closes only after reading synack's FIN, so
// synack walks the active close, through TIME-WAIT to CLOSED.
func TestSynackClientBulkBothWays(t *testing.T) {
	t.Parallel()
	runBulk(t, newEnv(t))
}

func runBulk(t *testing.T, e *env) {
	ln := e.kernelListen(5001)
	n := transferSize()
	up, down := pattern(1, n), pattern(2, n) // up: synack -> kernel

	type result struct {
		n      int64
		digest string
		err    error
	}
	kres := make(chan result, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			kres <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(down)
			werr <- err
		}()
		n, d, err := digest(c)
		if err == nil {
			err = <-werr
		}
		if err == nil {
			// Only after synack's FIN: synack closes first.
			err = c.CloseWrite()
		}
		kres <- result{n, d, err}
	}()

	start := time.Now()
	c, err := e.st.DialTCP(ctx(t), "tcp", e.hostPort(5001).String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	swerr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, bytes.NewReader(up)) // several Writes: exercises the send ring
		if err == nil {
			err = c.CloseWrite()
		}
		swerr <- err
	}()
	sn, sd, err := digest(c)
	if err != nil {
		t.Fatalf("synack read after %d bytes: %v (status %+v)", sn, err, c.Status())
	}
	if err := <-swerr; err != nil {
		t.Fatalf("synack write: %v", err)
	}
	k := <-kres
	elapsed := time.Since(start)
	if k.err != nil {
		t.Fatalf("kernel side: %v", k.err)
	}
	if sn != int64(n) || sd != sum(down) {
		t.Errorf("synack read %d bytes, sha256 %s; kernel wrote %d, sha256 %s", sn, sd, n, sum(down))
	}
	if k.n != int64(n) || k.digest != sum(up) {
		t.Errorf("kernel read %d bytes, sha256 %s; synack wrote %d, sha256 %s", k.n, k.digest, n, sum(up))
	}
	st := c.Status()
	t.Logf("%d MiB each way in %v: %s each way (synack: %d segments out, %d retransmitted; %d in, %d out of order)",
		n>>20, elapsed.Round(time.Millisecond), mbps(int64(n), elapsed), st.Stats.SegsOut, st.Stats.Retransmits, st.Stats.SegsIn, st.Stats.OutOfOrderSegs)
	c.Close()
	local, remote := c.LocalAddrPort(), c.RemoteAddrPort()
	e.ev.waitState(t, local, remote, tcp.Closed)
	// synack's FIN went first; whether the kernel's ACK of it arrived on
	// its own or with the kernel's FIN depends on timing.
	w := e.ev.walk(local, remote)
	a := path("CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED")
	b := path("CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT", "CLOSED")
	if !slices.Equal(w, a) && !slices.Equal(w, b) {
		t.Errorf("synack walked %v\nwant %v\n  or %v", w, a, b)
	}
}

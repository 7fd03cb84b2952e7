//go:build linux

package interop

import (
	"testing"
)

// TestOffloadBulk runs the bulk transfer of TestSynackClientBulkBothWays
// over a device with its virtio-net offloads (the default): the kernel
// hands synack TCP super-packets with partial checksums and takes
// synack's TSO super-segments, cutting them itself, and both byte streams
// arrive whole (runBulk compares SHA-256 digests).
func TestOffloadBulk(t *testing.T) {
	t.Parallel()
	e := newEnvOffload(t, true, nil)
	o := e.ep.Offloads()
	if !e.ep.VnetHdr() || !o.Checksum || !o.TSO {
		t.Skipf("the kernel granted no TSO on a TUN device: vnet %v, %+v", e.ep.VnetHdr(), o)
	}
	runBulk(t, e)
	s := e.ep.Stats()
	t.Logf("tun: %+v", s)
	if s.SuperPacketsRead == 0 || s.SuperPacketsWritten == 0 {
		t.Errorf("no super-packets crossed the device: %d read, %d written", s.SuperPacketsRead, s.SuperPacketsWritten)
	}
	if n := e.st.Stats().BadChecksum.Load(); n != 0 {
		t.Errorf("%d packets failed checksum verification", n)
	}
}

// TestNoOffloadBulk forces the offloads off (tun.Config.NoOffload): no
// virtio-net header, every packet crosses alone with its checksum done in
// software, and the transfer is as whole as with them.
func TestNoOffloadBulk(t *testing.T) {
	t.Parallel()
	e := newEnvOffload(t, false, nil)
	if e.ep.VnetHdr() || e.ep.Offloads().Checksum {
		t.Fatalf("offloads forced off, yet vnet %v, %+v", e.ep.VnetHdr(), e.ep.Offloads())
	}
	runBulk(t, e)
	s := e.ep.Stats()
	if s.SuperPacketsRead != 0 || s.SuperPacketsWritten != 0 || s.BytesRead/s.PacketsRead > 1500 {
		t.Errorf("super-packets without offloads: %+v", s)
	}
}

package main

import (
	"testing"

	"github.com/synack-tcp/synack/internal/netns"
)

// TestToyTUN runs every workload at toy size on the TUN pairs, synack's
// and gVisor's (root only: a network namespace and a TUN device).
func TestToyTUN(t *testing.T) {
	netns.SkipUnlessAvailable(t)
	for _, name := range []string{"tun-tx", "tun-rx", "tun-tx-nooff", "gvisor-tun-tx", "gvisor-tun-rx-gso"} {
		t.Run(name, func(t *testing.T) { runToy(t, name, 1500) })
	}
}

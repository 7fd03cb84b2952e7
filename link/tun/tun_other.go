//go:build !linux

package tun

import (
	"errors"
	"fmt"

	"github.com/synack-tcp/synack/link"
)

// Endpoint is a TUN device; it exists only on Linux, and elsewhere Open
// always fails.
type Endpoint struct{}

var _ link.Endpoint = (*Endpoint)(nil)

// Open fails: TUN devices are supported only on Linux.
func Open(cfg Config) (*Endpoint, error) {
	return nil, fmt.Errorf("tun: TUN devices are supported only on Linux: %w", errors.ErrUnsupported)
}

// Name is the interface name.
func (e *Endpoint) Name() string { return "" }

// MTU implements link.Endpoint.
func (e *Endpoint) MTU() int { return 0 }

// Stats returns the traffic counters.
func (e *Endpoint) Stats() Stats { return Stats{} }

// Attach implements link.Endpoint.
func (e *Endpoint) Attach(r link.Receiver) {}

// WritePackets implements link.Endpoint.
func (e *Endpoint) WritePackets([][]byte, []link.PacketInfo) (int, error) { return 0, link.ErrClosed }

// Close implements link.Endpoint.
func (e *Endpoint) Close() error { return nil }

// Offloads reports the offloads granted: none.
func (e *Endpoint) Offloads() link.Offloads { return link.Offloads{} }

// VnetHdr reports whether packets carry a virtio-net header: never.
func (e *Endpoint) VnetHdr() bool { return false }

// Queues is how many queues the device has: none.
func (e *Endpoint) Queues() int { return 0 }

//go:build !linux

package netns

import (
	"errors"
	"fmt"
)

var errNotLinux = fmt.Errorf("netns: network namespaces exist only on Linux: %w", errors.ErrUnsupported)

// NS is a network namespace; they exist only on Linux.
type NS struct{}

// Available reports false: network namespaces exist only on Linux.
func Available() (ok bool, why string) {
	return false, "network namespaces exist only on Linux"
}

// New fails: network namespaces exist only on Linux.
func New(prefix string) (*NS, error) { return nil, errNotLinux }

// Name is the namespace's name.
func (ns *NS) Name() string { return "" }

// Path is the namespace's file.
func (ns *NS) Path() string { return "" }

// Run fails.
func (ns *NS) Run(name string, args ...string) ([]byte, error) { return nil, errNotLinux }

// Do fails.
func (ns *NS) Do(fn func() error) error { return errNotLinux }

// Close does nothing.
func (ns *NS) Close() error { return nil }

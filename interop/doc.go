// Package interop tests synack against the Linux kernel's TCP: each test
// creates its own network namespace, opens a TUN device in it for the
// synack stack (or runs the synack command in it), puts the kernel's side
// of the conversation (Go's package net, curl, ss) in the same namespace,
// and removes everything when it ends.
//
// Without the privilege to create namespaces and TUN devices the tests
// skip with one line saying why; SYNACK_REQUIRE_NETNS=1 (set by .ci/run)
// turns that skip into a failure.
//
// The tests are Linux-only; the package holds no code of its own.
package interop

// Package netns creates throwaway Linux network namespaces for tests and
// tools: each NS is a fresh, isolated network stack (only `lo`, up) in
// which a test can open TUN devices, listen and dial without touching the
// host's network.
//
// It drives iproute2 (`ip netns add/exec/del`), so namespaces are visible
// to `ip netns list` while they exist, and Go code can enter one with
// (*NS).Do. Creating namespaces needs root (CAP_SYS_ADMIN and
// CAP_NET_ADMIN); tests call SkipUnlessAvailable first.
package netns

import (
	"os"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a skip for missing
// privileges into a failure when set to "1" (CI sets it, so that interop
// tests cannot silently stop running).
const RequireEnv = "SYNACK_REQUIRE_NETNS"

// SkipUnlessAvailable skips t with one line saying why namespaces cannot
// be used here, or fails it if SYNACK_REQUIRE_NETNS=1.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	ok, why := Available()
	skipUnless(t, ok, why)
}

func skipUnless(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("network namespaces required (%s=1) but unavailable: %s", RequireEnv, why)
		return
	}
	t.Skipf("network namespaces unavailable: %s (set %s=1 to make this a failure)", why, RequireEnv)
}

// ForTest skips t unless namespaces are available, then creates a
// namespace named after the test and deletes it when the test ends.
func ForTest(t testing.TB) *NS {
	t.Helper()
	SkipUnlessAvailable(t)
	ns, err := New(t.Name())
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	return ns
}

// sanitize turns prefix into a short string of letters, digits, '-' and
// '_', usable in a namespace name.
func sanitize(prefix string) string {
	const max = 24
	var b strings.Builder
	for _, r := range prefix {
		if b.Len() >= max {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "synack"
	}
	return s
}

package packetdrill

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// corpora are the suites in ../shared/packetdrill (see its INDEX.md), each
// with the list of scripts expected not to pass (expected/NAME.txt).
var corpora = []struct {
	name, dir string
	opt       Options
}{
	{"gtests", "gtests/net", Options{}},
	// run_all.py runs them over IPv6 too.
	{"gtests-ipv6", "gtests/net", Options{IPv6: true}},
	// gVisor runs its scripts with --tolerance_usecs=100000.
	{"gvisor", "gvisor/test/packetdrill", Options{Tolerance: 100 * time.Millisecond}},
	{"freebsd", "freebsd", Options{}},
}

// corpusRoot finds ../shared/packetdrill from the package directory, or
// $SYNACK_PACKETDRILL.
func corpusRoot(t *testing.T) string {
	root := os.Getenv("SYNACK_PACKETDRILL")
	if root == "" {
		root = filepath.Join("..", "..", "shared", "packetdrill")
	}
	if _, err := os.Stat(filepath.Join(root, "INDEX.md")); err != nil {
		msg := "packetdrill corpora not found at " + root + " (set SYNACK_PACKETDRILL)"
		if os.Getenv("SYNACK_REQUIRE_CORPORA") == "1" {
			t.Fatal(msg + "; SYNACK_REQUIRE_CORPORA=1")
		}
		t.Skip(msg)
	}
	return root
}

type expectation struct {
	verdict Verdict
	reason  string
}

func readExpected(t *testing.T, name string) map[string]expectation {
	f, err := os.Open(filepath.Join("expected", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]expectation{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) < 3 || (f[1] != "FAIL" && f[1] != "SKIP") {
			t.Fatalf("expected/%s.txt:%d: want PATH FAIL|SKIP REASON", name, n)
		}
		v := Fail
		if f[1] == "SKIP" {
			v = Skip
		}
		if _, dup := out[f[0]]; dup {
			t.Fatalf("expected/%s.txt:%d: %s listed twice", name, n, f[0])
		}
		out[f[0]] = expectation{v, f[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeExpected rewrites expected/NAME.txt (SYNACK_UPDATE_EXPECTED=1):
// the header kept, every script that does not pass listed, with its old
// reason where the verdict is unchanged and a TODO to explain otherwise.
func writeExpected(t *testing.T, name string, entries []string) {
	path := filepath.Join("expected", name+".txt")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(old), "\n") {
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	out = append(out, entries...)
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %s: %d entries", path, len(entries))
}

// TestCorpora runs every script of every corpus: a script that stops
// passing, or an expected failure that starts passing (or fails in a
// different way: SKIP for FAIL), fails the test, so the lists stay true.
func TestCorpora(t *testing.T) {
	root := corpusRoot(t)
	for _, c := range corpora {
		t.Run(c.name, func(t *testing.T) {
			want := readExpected(t, c.name)
			var scripts []string
			err := filepath.WalkDir(filepath.Join(root, c.dir), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pkt") {
					rel, _ := filepath.Rel(root, p)
					scripts = append(scripts, filepath.ToSlash(rel))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(scripts)
			update := os.Getenv("SYNACK_UPDATE_EXPECTED") == "1"
			var newList []string
			passed := 0
			for _, rel := range scripts {
				src, err := os.ReadFile(filepath.Join(root, rel))
				if err != nil {
					t.Fatal(err)
				}
				res := RunFile(rel, string(src), c.opt)
				exp, listed := want[rel]
				delete(want, rel)
				switch {
				case !listed && res.Verdict != Pass:
					t.Errorf("%s\n(not in expected/%s.txt)", FormatResult(res), c.name)
				case listed && res.Verdict != exp.verdict:
					t.Errorf("%s: expected/%s.txt says %v (%s), now %s", rel, c.name, exp.verdict, exp.reason, FormatResult(res))
				}
				if res.Verdict == Pass {
					passed++
				} else if update {
					reason := exp.reason
					if !listed || exp.verdict != res.Verdict {
						reason = "TODO: " + strings.SplitN(res.Reason, "\n", 2)[0]
					}
					newList = append(newList, fmt.Sprintf("%s %v %s", rel, res.Verdict, reason))
				}
			}
			if update {
				writeExpected(t, c.name, newList)
				return
			}
			for rel := range want {
				t.Errorf("expected/%s.txt lists %s, which is not in the corpus", c.name, rel)
			}
			t.Logf("%s: %d of %d scripts pass", c.name, passed, len(scripts))
		})
	}
}

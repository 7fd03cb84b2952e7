package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// target is one fuzz target of the module.
type target struct {
	Pkg        string // "./tcp", relative to the module root
	ImportPath string
	Dir        string
	Name       string // "FuzzConnPair"
}

var fuzzFuncRE = regexp.MustCompile(`(?m)^func Fuzz\w*\(\w+ \*testing\.F\)`)

// discover lists every fuzz target in the module rooted at root: the
// packages whose test files declare a func FuzzX(f *testing.F), asked with
// go test -list which of them are targets.
func discover(root string) ([]target, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles \",\"}},{{join .XTestGoFiles \",\"}}", "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v", err)
	}
	var ts []target
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "|", 3)
		if len(f) != 3 || !hasFuzzFunc(f[1], strings.Split(f[2], ",")) {
			continue
		}
		rel, err := filepath.Rel(root, f[1])
		if err != nil {
			return nil, err
		}
		pkg := "./" + filepath.ToSlash(rel)
		lc := exec.Command("go", "test", "-list", "^Fuzz", pkg)
		lc.Dir = root
		lc.Stderr = os.Stderr
		lo, err := lc.Output()
		if err != nil {
			return nil, fmt.Errorf("go test -list %s: %v", pkg, err)
		}
		for _, name := range parseList(string(lo)) {
			ts = append(ts, target{Pkg: pkg, ImportPath: f[0], Dir: f[1], Name: name})
		}
	}
	return ts, nil
}

func hasFuzzFunc(dir string, files []string) bool {
	for _, name := range files {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil && fuzzFuncRE.Match(b) {
			return true
		}
	}
	return false
}

// only keeps the targets named in list (comma-separated; empty keeps all).
func only(ts []target, list string) ([]target, error) {
	if list == "" {
		return ts, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var r []target
	for _, t := range ts {
		if want[t.Name] {
			r = append(r, t)
			delete(want, t.Name)
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("no fuzz target %s in the module", strings.Join(missing, ", "))
	}
	return r, nil
}

// parseGoals reads "FuzzA=4h,FuzzB=30m": CPU time each target should have
// in the ledger; every other target's goal is def.
func parseGoals(s string) (map[string]time.Duration, error) {
	m := map[string]time.Duration{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		d, err := time.ParseDuration(v)
		if !ok || err != nil || d < 0 {
			return nil, fmt.Errorf("goal %q: want Target=duration", kv)
		}
		m[k] = d
	}
	return m, nil
}

const defaultGoal = time.Hour

func goalFor(goals map[string]time.Duration, name string) time.Duration {
	if d, ok := goals[name]; ok {
		return d
	}
	return defaultGoal
}

// slot is one planned run.
type slot struct {
	T   target
	Dur time.Duration
}

// plan gives each target its fuzzing time. With per > 0 every target gets
// per, in discovery order. Otherwise total is shared out in proportion to
// what each target still lacks of its goal (goal minus the CPU time in the
// ledger), largest first, at least floor each; targets at their goal get
// nothing, unless all are, when total is shared evenly.
func plan(ts []target, done map[string]*total, goals map[string]time.Duration, per, total, floor time.Duration) []slot {
	var s []slot
	if per > 0 {
		for _, t := range ts {
			s = append(s, slot{t, per})
		}
		return s
	}
	lack := make([]float64, len(ts))
	var sum float64
	for i, t := range ts {
		l := goalFor(goals, t.Name).Seconds()
		if d := done[key(t.Pkg, t.Name)]; d != nil {
			l -= d.CPU
		}
		lack[i] = max(l, 0)
		sum += lack[i]
	}
	for i, t := range ts {
		w := 1 / float64(len(ts))
		if sum > 0 {
			w = lack[i] / sum
		}
		if w == 0 {
			continue
		}
		d := max(time.Duration(w*float64(total)).Round(time.Second), floor)
		s = append(s, slot{t, d})
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].Dur > s[j].Dur })
	return s
}

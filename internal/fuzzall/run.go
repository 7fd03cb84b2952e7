package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type runner struct {
	root, tmp, cache, commit string
	opts                     *options
	bins                     map[string]string // package -> test binary built with fuzzing instrumentation
	sig                      chan os.Signal
}

// binary builds the package's test binary once, instrumented for fuzzing
// (go test -c -fuzz), so the CPU time measured is the fuzzing alone.
func (r *runner) binary(t target) (string, error) {
	if b, ok := r.bins[t.Pkg]; ok {
		return b, nil
	}
	b := filepath.Join(r.tmp, fmt.Sprintf("pkg%d.test", len(r.bins)))
	cmd := exec.Command("go", "test", "-c", "-fuzz=^Fuzz", "-o", b, t.Pkg)
	cmd.Dir = r.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go test -c %s: %v", t.Pkg, err)
	}
	r.bins[t.Pkg] = b
	return b, nil
}

// fuzz runs one target for its slot, as go test -fuzz would (in the
// package directory, with the go fuzz cache), and returns its ledger row.
func (r *runner) fuzz(s slot) (entry, error) {
	t := s.T
	bin, err := r.binary(t)
	if err != nil {
		return entry{}, err
	}
	args := []string{"-test.run=^$", "-test.fuzz=^" + t.Name + "$",
		"-test.fuzztime=" + s.Dur.String(), "-test.fuzzcachedir=" + r.cacheDir(t)}
	if r.opts.Parallel > 0 {
		args = append(args, fmt.Sprintf("-test.parallel=%d", r.opts.Parallel))
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.Dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	fmt.Printf("== fuzzing %s %s for %v\n", t.Pkg, t.Name, s.Dur)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return entry{}, err
	}
	var st runStats
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.follow(pr, &st, t)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()
	stopped := false
	var werr error
wait:
	for {
		select {
		case werr = <-waited:
			break wait
		case <-r.sig:
			stopped = true
			fmt.Printf("== stopping %s\n", t.Name)
			cmd.Process.Signal(os.Interrupt)
		}
	}
	<-done
	e := entry{Date: start, Commit: r.commit, Pkg: t.Pkg, Target: t.Name,
		Wall: time.Since(start).Seconds(), Execs: st.Execs, New: st.New, Result: "ok"}
	if ps := cmd.ProcessState; ps != nil {
		// wait4's usage includes the fuzz workers the binary waited for.
		e.CPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	switch {
	case st.outOfTime():
		fmt.Printf("== %s %s: go test reported only its own deadline (context deadline exceeded) and wrote no input: not a finding\n", t.Pkg, t.Name)
	case st.Failed || (werr != nil && !stopped):
		e.Result = "FAIL " + replayCommand(st, t.Name, t.Pkg)
		fmt.Printf("== FAIL %s %s\n", t.Pkg, t.Name)
		for _, m := range st.Messages {
			fmt.Println("   ", m)
		}
		if st.Input != "" {
			fmt.Printf("   input kept in %s\n", filepath.Join(t.Pkg, st.Input))
		}
		fmt.Printf("   replay: %s\n", replayCommand(st, t.Name, t.Pkg))
		if st.hung() {
			// go test gives up on a worker that is silent for 10 s: the
			// input may be slow (a loop, a storm) rather than failing.
			fmt.Println("   a worker hung or died: if the replay passes, time it (-v) and look for a slow input")
		}
		if werr != nil && !st.Failed {
			fmt.Printf("   %v\n", werr)
		}
	case stopped:
		e.Result = "stopped"
	}
	fmt.Printf("== %s %s: %d execs, %d new interesting (corpus %d), %.0fs CPU in %.0fs, %s\n",
		t.Pkg, t.Name, e.Execs, e.New, st.Total, e.CPU, e.Wall, e.Result)
	if r.opts.Keep > 0 {
		n, err := keepCorpus(filepath.Join(r.cacheDir(t), t.Name), filepath.Join(t.Dir, "testdata", "fuzz", t.Name), r.opts.Keep)
		if err != nil {
			return e, err
		}
		fmt.Printf("== kept %d new corpus entries in %s\n", n, filepath.Join(t.Pkg, "testdata", "fuzz", t.Name))
	}
	return e, nil
}

// cacheDir is where go test keeps the package's generated corpus.
func (r *runner) cacheDir(t target) string {
	return filepath.Join(r.cache, "fuzz", t.ImportPath)
}

// follow reads the run's output: everything but progress lines is printed,
// progress once a minute (every line with -v).
func (r *runner) follow(rd io.Reader, st *runStats, t target) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last time.Time
	for sc.Scan() {
		l := sc.Text()
		st.observe(l)
		if strings.HasPrefix(l, "fuzz: elapsed:") {
			if !r.opts.Verbose && time.Since(last) < time.Minute {
				continue
			}
			last = time.Now()
		}
		fmt.Printf("   %s: %s\n", t.Name, l)
	}
	io.Copy(io.Discard, rd)
}

// keepCorpus copies up to n of the smallest entries of the fuzz cache for
// one target (dir cache/FuzzX) that testdata (testdata/fuzz/FuzzX) does not
// hold yet, by content; it returns how many it copied.
func keepCorpus(cache, testdata string, n int) (int, error) {
	have := map[[32]byte]bool{}
	if fs, err := os.ReadDir(testdata); err == nil {
		for _, f := range fs {
			if b, err := os.ReadFile(filepath.Join(testdata, f.Name())); err == nil {
				have[sha256.Sum256(b)] = true
			}
		}
	}
	fs, err := os.ReadDir(cache)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	type cand struct {
		name string
		data []byte
	}
	var cs []cand
	for _, f := range fs {
		if !f.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(cache, f.Name()))
		if err != nil {
			return 0, err
		}
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) || have[sha256.Sum256(b)] {
			continue
		}
		cs = append(cs, cand{f.Name(), b})
	}
	sort.Slice(cs, func(i, j int) bool {
		if len(cs[i].data) != len(cs[j].data) {
			return len(cs[i].data) < len(cs[j].data)
		}
		return cs[i].name < cs[j].name
	})
	if len(cs) > n {
		cs = cs[:n]
	}
	if len(cs) > 0 {
		if err := os.MkdirAll(testdata, 0o755); err != nil {
			return 0, err
		}
	}
	kept := 0
	for _, c := range cs {
		dst := filepath.Join(testdata, c.name)
		if _, err := os.Stat(dst); err == nil {
			continue // same name, other content: leave the committed one
		}
		if err := os.WriteFile(dst, c.data, 0o644); err != nil {
			return kept, err
		}
		kept++
	}
	return kept, nil
}

package simharness

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The same spec gives the same run, byte for byte: the digest covers
// every packet written, every fate and every transition.
func TestSameSeedSameTrace(t *testing.T) {
	specs := []Spec{DefaultSpec(), GridSpec(7), GridSpec(42), GridSpec(1234)}
	lossy := DefaultSpec()
	lossy.SetFaults(lossy.AB)
	lossy.AB.Loss, lossy.BA.Loss, lossy.AB.Dup, lossy.BA.Reorder = 0.05, 0.05, 0.02, 0.05
	lossy.AB.Jitter, lossy.BA.Jitter = 3*time.Millisecond, 3*time.Millisecond
	specs = append(specs, lossy)
	for _, s := range specs {
		first := Run(s)
		if !first.OK {
			t.Fatalf("%s: %s", s, first.Failure)
		}
		// Again, concurrently with itself: nothing is shared between runs.
		var wg sync.WaitGroup
		res := make([]Result, 3)
		for i := range res {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = Run(s) }()
		}
		wg.Wait()
		for _, r := range res {
			if r.Digest != first.Digest || r.End != first.End || r.Steps != first.Steps || r.Link != first.Link {
				t.Fatalf("%s: runs differ: %s\nvs %s", s, first.Summary(), r.Summary())
			}
		}
		// Tracing does not change the run, and the trace is the same too.
		var t1, t2 bytes.Buffer
		r1, r2 := RunTrace(s, &t1), RunTrace(s, &t2)
		if r1.Digest != first.Digest || r2.Digest != first.Digest {
			t.Fatalf("%s: traced run has digest %v, untraced %v", s, r1.Digest, first.Digest)
		}
		if !bytes.Equal(t1.Bytes(), t2.Bytes()) || t1.Len() == 0 {
			t.Fatalf("%s: traces differ (%d and %d bytes)", s, t1.Len(), t2.Len())
		}
	}
}

func TestDifferentSeedDifferentTrace(t *testing.T) {
	seen := map[Digest]int64{}
	for seed := int64(1); seed <= 20; seed++ {
		s := DefaultSpec()
		s.Seed = seed
		s.SetFaults(s.AB)
		s.AB.Loss, s.BA.Loss = 0.02, 0.02
		r := Run(s)
		if !r.OK {
			t.Fatalf("seed %d: %s", seed, r.Failure)
		}
		if other, dup := seen[r.Digest]; dup {
			t.Fatalf("seeds %d and %d gave the same digest %v", other, seed, r.Digest)
		}
		seen[r.Digest] = seed
	}
}

// A run leaves no goroutine behind: the stacks start none under the
// virtual clock, and Run closes both.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for seed := int64(1); seed <= 30; seed++ {
		if r := Run(GridSpec(seed)); !r.OK {
			t.Fatalf("seed %d: %s", seed, r.Failure)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
		}
		time.Sleep(10 * time.Millisecond) // only for goroutines of other tests to finish
	}
}

func TestReplayCommand(t *testing.T) {
	s := DefaultSpec()
	s.Seed = 77
	s.AB.Loss, s.BA.Loss = 0.05, 0.05
	s.BA.Dup = 0.01
	got := ReplayCommand(s)
	want := "go run ./cmd/synack soak --from 77 --seeds 1 --dup 0/1% --loss 5%"
	if got != want {
		t.Fatalf("ReplayCommand = %q, want %q", got, want)
	}
	if ReplayCommand(DefaultSpec()) != "go run ./cmd/synack soak --from 1 --seeds 1" {
		t.Fatalf("default spec: %q", ReplayCommand(DefaultSpec()))
	}
	if !strings.Contains(s.String(), "--seed 77") {
		t.Fatalf("String %q lacks the seed", s.String())
	}
}

package simharness

import (
	"flag"
	"os"
	"strconv"
	"testing"
	"time"
)

var long = flag.Bool("long", false, "run the full simulation matrix (also SYNACK_LONG=1)")

func fullMatrix() bool { return *long || os.Getenv("SYNACK_LONG") == "1" }

// TestMatrix is the matrix: loss 0-30% x round trip 1-200 ms x
// buffer sizes x MSS 1460/1220/536, megabytes each way at once, a normal
// close; every check of Run after every event. By default a subset that
// meets every value of every axis; -long (or SYNACK_LONG=1) runs all of it.
func TestMatrix(t *testing.T) {
	var cases []MatrixCase
	for _, mc := range Matrix(fullMatrix()) {
		cases = append(cases, mc)
		if fullMatrix() { // each cell under two more seeds
			for k := int64(1); k <= 2; k++ {
				c := mc
				c.Spec.Seed += 1000 * k
				c.Name += "/seed=" + strconv.FormatInt(c.Spec.Seed, 10)
				cases = append(cases, c)
			}
		}
	}
	for _, mc := range cases {
		t.Run(mc.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := Run(mc.Spec)
			if !r.OK {
				t.Fatalf("%s\nreplay: %s", r.Failure, ReplayCommand(mc.Spec))
			}
			if r.Outcome == Completed && (r.ClientGot != mc.Spec.ServerBytes || r.ServerGot != mc.Spec.ClientBytes) {
				t.Fatalf("completed with %d and %d bytes read, want %d and %d", r.ClientGot, r.ServerGot, mc.Spec.ServerBytes, mc.Spec.ClientBytes)
			}
			if mc.Spec.AB.Loss >= 0.05 && r.Client.Retransmits+r.Server.Retransmits == 0 {
				t.Errorf("loss %v and not one retransmission", mc.Spec.AB.Loss)
			}
			if testing.Verbose() {
				t.Logf("%s (wall %v)", r.Summary(), time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

// TestGridSweep runs seeds of the fault grid (GridSpec): every fault, both
// IP versions, every option on and off, slow readers, all three closes.
// -long runs 5000 of them.
func TestGridSweep(t *testing.T) {
	n := 150
	if fullMatrix() {
		n = 5000
	}
	if testing.Short() {
		n = 20
	}
	for seed := int64(1); seed <= int64(n); seed++ {
		s := GridSpec(seed)
		if r := Run(s); !r.OK {
			t.Errorf("seed %d: %s\nreplay: %s", seed, r.Failure, ReplayCommand(s))
		}
	}
}

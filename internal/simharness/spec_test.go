package simharness

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link/sim"
)

// Args and ParseArgs round-trip every spec the grid and the matrix make,
// so a replay command is the spec exactly.
func TestArgsRoundTrip(t *testing.T) {
	var specs []Spec
	for seed := int64(1); seed <= 2000; seed++ {
		specs = append(specs, GridSpec(seed))
	}
	for _, mc := range Matrix(true) {
		specs = append(specs, mc.Spec)
	}
	odd := DefaultSpec()
	odd.AB = sim.Config{Loss: 1.0 / 3, Delay: 1234567 * time.Nanosecond, GEGoodToBad: 0.01, GEBadToGood: 0.2,
		GELossBad: 0.7, GELossGood: 0.001, SpikeProb: 0.001, SpikeDelay: 3 * time.Second, Rate: 12345,
		QueueBytes: 100000, MTU: 1400, Reorder: 0.5, ReorderDelay: 7 * time.Millisecond,
		Flaps: []sim.Window{sim.Flap(time.Second, 2*time.Second), sim.Flap(time.Minute, time.Second)}}
	odd.BA.Partition = []sim.Window{sim.Flap(500*time.Millisecond, 5*time.Second)}
	odd.BA.MTU = 1300
	odd.ClientBytes, odd.ServerBytes, odd.ReadChunk, odd.ReadEvery = 12345, 0, 100, time.Millisecond
	odd.Close, odd.IPv6, odd.NoSACK, odd.R2 = CloseServer, true, true, time.Hour
	specs = append(specs, odd)
	for _, s := range specs {
		got, err := ParseArgs(s.Seed, s.Args())
		if err != nil && s.Validate() == nil {
			t.Fatalf("ParseArgs(%q): %v", s.Args(), err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip of %q:\ngot  %+v\nwant %+v", s.Args(), got, s)
		}
	}
}

func TestParseArgs(t *testing.T) {
	s, err := ParseArgs(9, strings.Fields("--loss 5%/0.01 --delay 1ms --size 1MiB/64KiB --rate 10Mbit --flap 2s+1s --reorder 2%@5ms --burst 1%,30%,50%"))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case s.Seed != 9 || s.AB.Loss != 0.05 || s.BA.Loss != 0.01 || s.AB.Delay != time.Millisecond:
		t.Fatalf("loss/delay: %+v", s)
	case s.ClientBytes != 1<<20 || s.ServerBytes != 64<<10:
		t.Fatalf("sizes %d %d", s.ClientBytes, s.ServerBytes)
	case s.AB.Rate != 1_250_000 || len(s.BA.Flaps) != 1 || s.BA.Flaps[0] != (sim.Window{Start: 2 * time.Second, End: 3 * time.Second}):
		t.Fatalf("rate/flap: %+v", s)
	case s.BA.Reorder != 0.02 || s.BA.ReorderDelay != 5*time.Millisecond || s.AB.GEBadToGood != 0.3:
		t.Fatalf("reorder/burst: %+v", s)
	}
	for _, bad := range []string{"--loss 101%", "--loss x", "--size -1", "--mtu 100", "--rate 3bit",
		"--flap 2s", "--read 4KiB", "--close sideways", "--spike 1%", "extra", "--queue 100 --rate 1Mbit"} {
		if _, err := ParseArgs(1, strings.Fields(bad)); err == nil {
			t.Errorf("ParseArgs(%q) accepted it", bad)
		}
	}
}

// The checks catch what they are for: corruption no checksum sees (with
// the data check left on) shows as a wrong byte at its offset; a time
// limit too short for the transfer fails with where both sides were.
func TestChecksCatchFaults(t *testing.T) {
	s := DefaultSpec()
	s.AB.CorruptKeepChecksum = 0.05
	s.ClientBytes = 1 << 20
	r := runWith(s, nil, true)
	if r.OK || !strings.Contains(r.Failure, "wrong byte at stream offset") {
		t.Fatalf("undetected corruption passed the data check: %s", r.Summary())
	}
	s = DefaultSpec()
	s.Limit = 50 * time.Millisecond
	if r := Run(s); r.OK || !strings.Contains(r.Failure, "time limit") {
		t.Fatalf("a 50ms limit passed: %s", r.Summary())
	}
	s = DefaultSpec()
	s.AB.MTU = 100
	if r := Run(s); r.OK || !strings.Contains(r.Failure, "invalid spec") {
		t.Fatalf("an invalid spec ran: %s", r.Summary())
	}
}

// A network that can make connections give up does, and the run passes
// with the applications told (ETIMEDOUT, or ECONNRESET from the peer).
func TestCleanTimeout(t *testing.T) {
	s := DefaultSpec()
	s.AB.Partition = []sim.Window{sim.Flap(100*time.Millisecond, time.Hour)}
	r := Run(s)
	if !r.OK || r.Outcome != TimedOut || r.Timeouts == 0 {
		t.Fatalf("partitioned for an hour: %s", r.Summary())
	}
	if !s.TimeoutsExpected() || DefaultSpec().TimeoutsExpected() {
		t.Fatal("TimeoutsExpected is wrong")
	}
}

package wire

import "testing"

// MUST-64: options need not be word aligned. A window scale option (3
// bytes) puts the MSS that follows at offset 3 and the timestamps at 7.
func TestTCPOptionsUnaligned(t *testing.T) {
	opts := []byte{3, 3, 7, 2, 4, 5, 180, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}
	opts = append(opts, make([]byte, 20-len(opts))...) // EOL and zero padding
	var h TCP
	if _, err := h.Parse(seg(opts)); err != nil {
		t.Fatal(err)
	}
	o := h.Options
	if !o.HasWScale || o.WScale != 7 || !o.HasMSS || o.MSS != 1460 || !o.HasTimestamps || o.TSVal != 1 || o.TSEcr != 2 {
		t.Fatalf("unaligned options parsed as %+v", o)
	}
}

// MUST-69: whatever options a header carries, the bytes after an EOL are
// zero, also when Append reuses a dirty buffer; every option but EOL and
// NOP has its length byte (MUST-68).
func TestTCPOptionPaddingZero(t *testing.T) {
	for m := 0; m < 1<<4; m++ {
		for nsack := 0; nsack <= 4; nsack++ {
			h := TCP{Options: Options{HasMSS: m&1 != 0, SACKPermitted: m&2 != 0, HasTimestamps: m&4 != 0, HasWScale: m&8 != 0, MSS: 1460, WScale: 7}}
			h.Options.NumSACK = uint8(nsack)
			dirty := make([]byte, 0, 128)
			for i := 0; i < 128; i++ {
				dirty = append(dirty, 0xaa)
			}
			b := h.Append(dirty[:0])
			opts := b[TCPMinHeaderLen:h.HeaderLen()]
			for i := 0; i < len(opts); {
				switch opts[i] {
				case OptEOL:
					for _, z := range opts[i:] {
						if z != 0 {
							t.Fatalf("%+v: padding after EOL is % x", h.Options, opts[i:])
						}
					}
					i = len(opts)
				case OptNOP:
					i++
				default:
					if i+1 >= len(opts) || opts[i+1] < 2 {
						t.Fatalf("%+v: option %d without a length: % x", h.Options, opts[i], opts)
					}
					i += int(opts[i+1])
				}
			}
		}
	}
}

package wire

// flagNames lists the control bits in the order Flags.String prints them.
var flagNames = [...]struct {
	f    Flags
	name string
}{
	{SYN, "SYN"}, {RST, "RST"}, {FIN, "FIN"}, {PSH, "PSH"},
	{ACK, "ACK"}, {URG, "URG"}, {ECE, "ECE"}, {CWR, "CWR"},
}

// flagStrings holds String for all 256 flag combinations, built once so
// that String never allocates.
var flagStrings = buildFlagStrings()

func buildFlagStrings() (t [256]string) {
	for i := range t {
		s := ""
		for _, n := range flagNames {
			if Flags(i)&n.f == 0 {
				continue
			}
			if s != "" {
				s += ","
			}
			s += n.name
		}
		if s == "" {
			s = "none"
		}
		t[i] = s
	}
	return t
}

// String returns the set bits as comma-joined names in the order
// SYN, RST, FIN, PSH, ACK, URG, ECE, CWR (for example "SYN,ACK" or
// "FIN,PSH,ACK"), or "none" when no bit is set. It does not allocate.
func (f Flags) String() string { return flagStrings[f] }

// Has reports whether every bit of mask is set in f.
func (f Flags) Has(mask Flags) bool { return f&mask == mask }

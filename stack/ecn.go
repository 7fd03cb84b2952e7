package stack

// The ECN field of the IP header: the low two bits of the IPv4 TOS octet
// or the IPv6 Traffic Class (RFC 3168 5).
const (
	ecnMask = 0b11
	ecnECT0 = 0b10 // ECN-Capable Transport, ECT(0): what a TCB's new data carries
	ecnCE   = 0b11 // Congestion Experienced, set by a router instead of dropping
)

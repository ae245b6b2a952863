package limit

import "net/netip"

// IPKey returns the key under which to limit a client at addr: the IPv4
// address itself, or for IPv6 the /64 network it is in — one host usually
// owns a whole /64, so keying by full address would give it 2⁶⁴ fresh
// buckets and let it fill a Keyed table alone. IPv4-mapped IPv6 addresses
// count as IPv4. The zero Addr gives "".
func IPKey(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return ""
	case addr.Is4():
		return addr.String()
	}
	p, _ := addr.WithZone("").Prefix(64)
	return p.String()
}

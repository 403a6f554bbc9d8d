package symcache

// LookupAny is Lookup's general path, which the tests check against the
// reference index as they check Lookup: Lookup takes it only for wide rows,
// deep chains and absolute addresses.
func LookupAny(c *Cache, addr uint64, dst []Frame) []Frame { return c.lookupAny(addr, dst) }

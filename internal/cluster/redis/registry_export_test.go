package redcluster

// ReapState returns, for tests, the Registry's completed reaper passes, the
// Reap calls running and the claims being worked on.
func (n *Node) ReapState() (passes uint64, reapers, busy int) {
	return n.reg.passes.Load(), int(n.reg.reapers.Load()), int(n.reg.busy.Load())
}

// NodeKeys returns, for tests, the keys of incarnation inc under prefix.
func NodeKeys(prefix, inc string) (lease, claim, conns, chans string) {
	return keys{prefix: prefix}.node(inc)
}

// NodesKeys returns, for tests, P{nodes}:all and P{nodes}:info.
func NodesKeys(prefix string) (all, info string) {
	k := keys{prefix: prefix}
	return k.nodes(), k.nodesInfo()
}

// Renewals returns, for tests, how many lease renewals succeeded.
func (n *Node) Renewals() uint64 { return n.reg.renewals.Load() }

//go:build unix && !linux

package sdk

// killChildGroups has no portable way to list children here; the CLIs'
// groups are killed by exec's context watch when the root context is
// cancelled, which Serve does first.
func killChildGroups() {}

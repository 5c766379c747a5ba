//go:build !linux && !darwin

package procid

// No boot id source here: BootID falls back to unknown-<hostname>.
func platformBootIDSources() []bootIDSource { return nil }

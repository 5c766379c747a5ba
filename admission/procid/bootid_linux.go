//go:build linux

package procid

import "os"

// The kernel generates boot_id once per boot; it is not namespaced, so every
// container on the host sees the same value.
func platformBootIDSources() []bootIDSource {
	return []bootIDSource{func() (string, error) {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		return string(b), err
	}}
}

//go:build linux

package procid

import (
	"strings"
	"testing"
)

func TestLinuxBootIDSource(t *testing.T) {
	sources := platformBootIDSources()
	if len(sources) != 1 {
		t.Fatalf("%d sources, want 1", len(sources))
	}
	id, err := sources[0]()
	if err != nil {
		t.Skipf("no boot_id here: %v", err)
	}
	// A UUID: 36 characters with four dashes.
	if id = strings.TrimSpace(id); len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Errorf("boot_id = %q, want a UUID", id)
	}
}

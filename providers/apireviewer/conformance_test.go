package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
	"github.com/relay-host/relay-host/sdk/conformance"
)

// TestConformance runs the SDK's conformance kit against the built plugin,
// on the custom route: reviews go to one fake, and the cancellation review
// to a second fake that never answers, so the cancel lands mid-request.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	bin := filepath.Join(t.TempDir(), "relay-provider-apireviewer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fast, slow := fakemodel.New(t), fakemodel.New(t)
	slow.SetDelay(time.Hour)
	conformance.Run(t, bin, conformance.Options{
		Route:          "custom",
		Settings:       map[string]string{"base_url": fast.URL + "/v1", "model": "conformance", "api_key_env": "CONFORMANCE_KEY"},
		CancelSettings: map[string]string{"base_url": slow.URL + "/v1"},
		Env:            []string{"CONFORMANCE_KEY=sk-conformance-0123456789"},
	})
	// The review check must have reached the answering fake. (Whether the
	// cancelled review's request reached the silent one before the cancel
	// is a race the kit's cancellation check does not depend on.)
	if len(fast.Requests()) == 0 {
		t.Errorf("no request reached the answering fake: the review check did not exercise the plugin")
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// requireCLI returns the path of a real provider CLI (claude, gemini, grok)
// installed by providers/install-clis.sh into .cache/clis, or at
// $RELAY_TEST_CLI_DIR/<name>. A test that needs one is skipped, saying why,
// when it is absent; .ci/run installs them and sets RELAY_REQUIRE_CLIS=1, so
// in CI an absent CLI fails the test instead of skipping it.
func requireCLI(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("RELAY_TEST_CLI_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := filepath.Abs(filepath.Join("..", "..", "..")); err == nil {
		dirs = append(dirs, filepath.Join(root, ".cache", "clis", "node_modules", ".bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("RELAY_REQUIRE_CLIS") == "1" {
		t.Fatalf("the %s CLI is not installed (looked in %v); run providers/install-clis.sh", name, dirs)
	}
	t.Skipf("the %s CLI is not installed: run providers/install-clis.sh to run this test", name)
	return ""
}

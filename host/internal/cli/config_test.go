package cli

import (
	"reflect"
	"testing"

	relay "github.com/relay-host/relay-host"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/admissioncmd"
)

// The lean front binary runs `admission run|status|clean` without parsing
// any relay.hcl when no file could apply, on admissioncmd's zero Config.
// That is right only while the embedded default's admission block is the
// zero Config; this pins it.
func TestEmbeddedAdmissionIsTheLeanDefault(t *testing.T) {
	cfg, err := config.Parse(relay.DefaultConfig, config.EmbeddedPath)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Admission
	got := admissioncmd.Config{LockRoot: a.LockRoot, MaxTotal: a.MaxTotal, Endpoints: a.Endpoints, Prefix: a.Prefix, TTL: a.TTL}
	if !reflect.DeepEqual(got, admissioncmd.Config{}) || a.Backend != "local" {
		t.Fatalf("the embedded admission block is %+v: the lean front binary would not apply it; make NeedsCore exec the core", a)
	}
}

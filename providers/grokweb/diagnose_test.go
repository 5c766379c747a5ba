package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relay-host/relay-host/sdk"
)

func TestDiagnoseCLICredentials(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("GROK_API_KEY", "")
	t.Setenv("PATH", "")
	p := &provider{}
	creds := func() sdk.Check {
		t.Helper()
		got, err := p.Diagnose(context.Background(), sdk.DiagnoseRequest{Route: routeCLI})
		if err != nil || len(got) != 2 || got[0].Name != "cli" || got[0].OK {
			t.Fatalf("Diagnose = %+v, %v; want a failed cli check (no grok on PATH) and credentials", got, err)
		}
		return got[1]
	}
	if c := creds(); c.OK || !strings.Contains(c.Fix, "set GROK_API_KEY") {
		t.Errorf("without a key: %+v", c)
	}
	if err := os.MkdirAll(filepath.Join(home, ".grok"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".grok", "user-settings.json"), []byte(`{"apiKey":"xai-stored"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := creds(); !c.OK || strings.Contains(c.Detail, "xai-stored") {
		t.Errorf("with a stored key: %+v", c)
	}
}

// TestDiagnoseWebEndpoint: the web route's check connects and sends
// nothing; a closed port fails with the fix.
func TestDiagnoseWebEndpoint(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n, _ := c.Read(make([]byte, 1))
		received <- n
		c.Close()
	}()
	t.Setenv("GROK2API_ENDPOINT", "http://"+l.Addr().String())
	p := &provider{}
	got, err := p.Diagnose(context.Background(), sdk.DiagnoseRequest{Route: routeWeb})
	if err != nil || len(got) != 1 || !got[0].OK || got[0].Name != "endpoint" {
		t.Fatalf("reachable: %+v, %v", got, err)
	}
	if n := <-received; n != 0 {
		t.Errorf("the check sent %d byte(s) to the endpoint", n)
	}
	addr := l.Addr().String()
	l.Close()
	got, _ = p.Diagnose(context.Background(), sdk.DiagnoseRequest{Route: routeWeb})
	if len(got) != 1 || got[0].OK || got[0].Detail != "the grok2api endpoint "+addr+" is not reachable" || !strings.Contains(got[0].Fix, "start the grok2api tunnel") {
		t.Errorf("closed: %+v", got)
	}
}

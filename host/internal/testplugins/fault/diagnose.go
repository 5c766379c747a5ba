package main

import (
	"context"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// Diagnose answers doctor's self-check. With mode = "secrets" it fails a
// check whose detail and fix carry the planted secrets (the key, home and
// state paths, the holder's pid), so a test can prove doctor scrubs what a
// plugin says; otherwise every route passes.
func (fault) Diagnose(_ context.Context, req sdk.DiagnoseRequest) ([]sdk.Check, error) {
	if req.Settings["mode"] == "secrets" {
		p := strings.ReplaceAll(strings.TrimSpace(planted()), "\n", " | ")
		return []sdk.Check{{Name: "leak", Detail: "leaking: " + p, Fix: "fix: " + p}}, nil
	}
	return []sdk.Check{{Name: "fault", OK: true, Detail: "route " + req.Route + " ready"}}, nil
}

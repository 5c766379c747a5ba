package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// The settings.json in the CLI's .gemini directory is the user's own file.
// The plugin changes as little as it can: it parses the file, sets only the
// keys below, keeps every other key and value, and writes nothing when they
// already hold. The write is atomic (temp file in the same directory, fsync,
// rename), keeps the file's mode, and goes through a symlinked settings.json
// to its target. The host holds the directory's shared_state lease
// meanwhile, so no other relay review writes it at the same time.
//
// Enforced on every review (the CLI has no flags or variables for them):
//   - general.maxAttempts = 1: a steady 429 fails at once (default 10
//     attempts ≈ 200 s);
//   - privacy.usageStatisticsEnabled = false: no telemetry;
//   - advanced.ignoreLocalEnv = true: the CLI does not load a .env from the
//     working directory upward (the scratch cwd keeps the reviewed repo's
//     out anyway; this covers a .env in a parent of the temp dir).
//
// security.auth.selectedType = "gemini-api-key" is set only when
// GEMINI_API_KEY is set and the user has chosen no auth type: an explicit
// choice (say "oauth-personal" after logging in) is the user's, and
// overwriting it would break their interactive CLI.
var enforced = []struct {
	path  []string
	value any
}{
	{[]string{"general", "maxAttempts"}, json.Number("1")},
	{[]string{"privacy", "usageStatisticsEnabled"}, false},
	{[]string{"advanced", "ignoreLocalEnv"}, true},
}

var selectedTypePath = []string{"security", "auth", "selectedType"}

const apiKeyAuth = "gemini-api-key"

// userSettings is a parsed settings.json.
type userSettings struct {
	path   string // the file written (a symlink's target)
	mode   fs.FileMode
	exists bool
	m      map[string]any
}

// readSettings parses <stateDir>/settings.json; a missing file is empty.
func readSettings(stateDir string) (*userSettings, error) {
	s := &userSettings{path: filepath.Join(stateDir, "settings.json"), mode: 0o600, m: map[string]any{}}
	if real, err := filepath.EvalSymlinks(s.path); err == nil {
		s.path = real
	}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json cannot be read: %s", errors.Unwrap(err))
	}
	s.exists = true
	if fi, err := os.Stat(s.path); err == nil {
		s.mode = fi.Mode().Perm()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep numbers exactly as written
	if err := dec.Decode(&s.m); err != nil || s.m == nil {
		return nil, sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json is not a plain JSON object (comments?): relay-host must add general.maxAttempts and other keys to it; remove the comments")
	}
	return s, nil
}

// selectedType is security.auth.selectedType, or "".
func (s *userSettings) selectedType() string {
	v, _ := lookup(s.m, selectedTypePath).(string)
	return v
}

// ensure sets the enforced keys (and the auth type, see above) and writes
// the file if anything changed.
func (s *userSettings) ensure(apiKey bool) error {
	changed := false
	for _, e := range enforced {
		c, err := set(s.m, e.path, e.value)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	if apiKey && s.selectedType() == "" {
		c, err := set(s.m, selectedTypePath, apiKeyAuth)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	if !changed {
		return nil
	}
	return s.write()
}

func (s *userSettings) write() error {
	data, err := json.MarshalIndent(s.m, "", "  ")
	if err != nil {
		return sdk.Errorf(sdk.CodeInternal, "encoding gemini settings: %v", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sdk.Errorf(sdk.CodeConfigInvalid, "gemini's state directory cannot be created: %s", errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".settings.json.relay-*")
	if err != nil {
		return sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json cannot be written: %s", errors.Unwrap(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	// One err for the whole chain: a failed write must stop the rename that
	// would put a truncated file over the user's settings.
	if err = f.Chmod(s.mode); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json cannot be written: %v", errors.Unwrap(err))
	}
	return nil
}

// lookup returns the value at path, or nil.
func lookup(m map[string]any, path []string) any {
	var cur any = m
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

// set puts v at path, creating objects on the way, and reports whether it
// changed anything. A non-object in the way is the user's data: refuse.
func set(m map[string]any, path []string, v any) (bool, error) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k]
		if !ok || next == nil {
			child := map[string]any{}
			m[k] = child
			m = child
			continue
		}
		child, ok := next.(map[string]any)
		if !ok {
			return false, sdk.Errorf(sdk.CodeConfigInvalid, "gemini's settings.json has a non-object %q: it must be an object holding %s", k, strings.Join(path, "."))
		}
		m = child
	}
	last := path[len(path)-1]
	if old, ok := m[last]; ok && equal(old, v) {
		return false, nil
	}
	m[last] = v
	return true, nil
}

func equal(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, _ := an.Float64()
		bf, _ := bn.Float64()
		return af == bf
	}
	return a == b
}

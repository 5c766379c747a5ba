package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// When the CLI runs in the user's own home (Vertex AI or compute ADC; a
// key and a Google login get a scratch home), it records every session
// there, and the pinned CLI has no setting to stop it: the project registry projects.json maps the working directory to a
// short id, and tmp/<id>/ (chats/session-*.jsonl, holding the prompt and
// the source) and history/<id>/ belong to that id, each marked with a
// .project_root file naming the directory. The working directory is this
// review's own scratch directory, so everything recorded under it is this
// review's: userState removes exactly that, and nothing else.

// userState is what the state directory held before the CLI ran.
type userState struct {
	dir                        string
	hadRegistry, hadTmp, hadHi bool
}

const registryName = "projects.json"

func snapshotState(dir string) userState {
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(dir, name))
		return err == nil
	}
	return userState{dir: dir, hadRegistry: exists(registryName), hadTmp: exists("tmp"), hadHi: exists("history")}
}

// cleanup removes what a CLI run in work recorded in the state directory.
// Failures are left for the README's "may remain" list: the review itself
// has already succeeded or failed.
func (s userState) cleanup(work string) {
	roots := map[string]bool{filepath.Clean(work): true}
	if real, err := filepath.EvalSymlinks(work); err == nil {
		roots[real] = true
	}
	for base, had := range map[string]bool{"tmp": s.hadTmp, "history": s.hadHi} {
		dir := filepath.Join(s.dir, base)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			owner, err := os.ReadFile(filepath.Join(dir, e.Name(), ".project_root"))
			if err == nil && roots[strings.TrimSpace(string(owner))] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		if !had {
			os.Remove(dir) // only if empty
		}
	}
	s.unregister(roots)
}

// unregister removes roots from projects.json under the CLI's own lock (a
// projects.json.lock directory, as its lockfile library makes), keeping
// the other entries in their order and in the CLI's format.
func (s userState) unregister(roots map[string]bool) {
	path := filepath.Join(s.dir, registryName)
	lock := path + ".lock"
	deadline := time.Now().Add(2 * time.Second)
	for os.Mkdir(lock, 0o700) != nil {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer os.Remove(lock)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	keys, vals, ok := parseRegistry(data)
	if !ok {
		return
	}
	var kk, vv []string
	for i, k := range keys {
		if !roots[k] {
			kk, vv = append(kk, k), append(vv, vals[i])
		}
	}
	if len(kk) == len(keys) {
		return
	}
	if len(kk) == 0 && !s.hadRegistry {
		os.Remove(path)
		return
	}
	tmp := path + ".relay-host.tmp"
	if os.WriteFile(tmp, formatRegistry(kk, vv), 0o600) != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
	}
}

// parseRegistry reads {"projects": {path: id, ...}} in file order; ok is
// false for anything else, which is then left alone.
func parseRegistry(data []byte) (keys, vals []string, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || len(top) != 1 || top["projects"] == nil {
		return nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(top["projects"]))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		v, err := dec.Token()
		ks, kok := k.(string)
		vs, vok := v.(string)
		if err != nil || !kok || !vok {
			return nil, nil, false
		}
		keys, vals = append(keys, ks), append(vals, vs)
	}
	return keys, vals, true
}

// formatRegistry writes the registry as the CLI does
// (JSON.stringify(data, null, 2), no trailing newline).
func formatRegistry(keys, vals []string) []byte {
	str := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		return strings.TrimSuffix(b.String(), "\n")
	}
	if len(keys) == 0 {
		return []byte("{\n  \"projects\": {}\n}")
	}
	var b strings.Builder
	b.WriteString("{\n  \"projects\": {\n")
	for i := range keys {
		b.WriteString("    " + str(keys[i]) + ": " + str(vals[i]))
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}")
	return []byte(b.String())
}

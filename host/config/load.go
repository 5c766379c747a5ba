package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"

	relay "github.com/relay-host/relay-host"
	"github.com/relay-host/relay-host/host/internal/trust"
)

// EmbeddedPath is Config.Path (and the file name in diagnostics) for the
// default configuration built into the binary.
const EmbeddedPath = "<embedded>"

// LoadOptions say where Load looks.
type LoadOptions struct {
	// Explicit is --config; "" means RELAY_CONFIG, if set.
	Explicit string
	// Dir is where a repository's relay.hcl is looked for; "" is the
	// current directory.
	Dir string
	// Getenv supplies HOME, XDG_CONFIG_HOME, XDG_STATE_HOME and
	// RELAY_CONFIG; nil is os.Getenv.
	Getenv func(string) string
	// Trust, when set, replaces the user's trust store (`config trust`
	// checks a file as if it were trusted).
	Trust *trust.Store
}

// Load builds the effective configuration from its layers, in order: the
// embedded default, the user's $XDG_CONFIG_HOME/relay/relay.hcl (else
// ~/.config/relay/relay.hcl), --config or RELAY_CONFIG, then a repository's
// ./relay.hcl or ./.relay.hcl, but only if the user trusted that exact file
// (config trust) and only to narrow (see merge.go). An untrusted or changed
// repository file is ignored with a line in Config.Warnings, never an
// error: a CI job reviewing a fork must not be stopped by the fork.
//
// A user or --config file that exists but cannot be read is an error,
// never skipped. The error is a *DiagError when the configuration is
// invalid, or a plain error when a file cannot be read.
func Load(o LoadOptions) (*Config, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home := getenv("HOME")
	cfg := newConfig()
	var layers []*layer
	var diags hcl.Diagnostics
	add := func(src []byte, path string, kind Layer) {
		l, de := decodeLayer(src, path, home, kind)
		if de != nil {
			diags = append(diags, de.Diags...)
			for name, f := range de.files {
				cfg.files[name] = f
			}
			return
		}
		cfg.files[path] = l.file
		layers = append(layers, l)
	}
	add(relay.DefaultConfig, EmbeddedPath, LayerEmbedded)
	cfg.Sources = append(cfg.Sources, Source{Path: EmbeddedPath, Layer: LayerEmbedded, Status: SourceUsed})
	var used []string // real paths of user and explicit files

	if path := UserFile(getenv); path != "" {
		src, err := trust.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cfg.Sources = append(cfg.Sources, Source{Path: path, Layer: LayerUser, Status: SourceAbsent})
		case err != nil:
			return nil, fmt.Errorf("read config %s: %w", path, withoutPath(err))
		default:
			add(src, path, LayerUser)
			cfg.Sources = append(cfg.Sources, Source{Path: path, Layer: LayerUser, Status: SourceUsed})
			used = append(used, trust.RealPath(path))
		}
	}
	explicit := o.Explicit
	if explicit == "" {
		explicit = getenv("RELAY_CONFIG")
	}
	if explicit != "" {
		src, err := trust.ReadFile(explicit)
		if err != nil {
			return nil, fmt.Errorf("read config %s: %w", explicit, withoutPath(err))
		}
		add(src, explicit, LayerExplicit)
		cfg.Sources = append(cfg.Sources, Source{Path: explicit, Layer: LayerExplicit, Status: SourceUsed})
		used = append(used, trust.RealPath(explicit))
	}

	store := o.Trust
	for _, name := range trust.RepoFiles {
		path, shown := name, "./"+name
		if o.Dir != "" {
			path = filepath.Join(o.Dir, name)
			shown = path
		}
		s := Source{Path: shown, Layer: LayerRepo}
		src, err := trust.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.Status = SourceAbsent
			cfg.Sources = append(cfg.Sources, s)
			continue
		case err != nil:
			s.Status, s.Reason = SourceIgnored, "cannot read it: "+withoutPath(err).Error()
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("ignoring %s: %s", shown, s.Reason))
			cfg.Sources = append(cfg.Sources, s)
			continue
		}
		if bytes.Equal(src, relay.DefaultConfig) {
			// relay-host's own repository (or a copy of the default): it
			// is the first layer already, so there is nothing to warn about.
			s.Status, s.Reason = SourceIgnored, "it is the built-in default"
			cfg.Sources = append(cfg.Sources, s)
			continue
		}
		if slices.Contains(used, trust.RealPath(path)) {
			s.Status, s.Reason = SourceIgnored, "it is the file already read as your own configuration"
			cfg.Sources = append(cfg.Sources, s)
			continue
		}
		if store == nil {
			if store, err = trust.Open(getenv); err != nil {
				return nil, err
			}
		}
		switch st := store.Check(path, src); st {
		case trust.Trusted:
			s.Status, s.Trusted = SourceUsed, true
			add(src, shown, LayerRepo)
		case trust.Changed:
			s.Status, s.Reason = SourceIgnored, "it changed since you trusted it"
			cfg.Warnings = append(cfg.Warnings, trust.Warning(shown, st))
		default:
			s.Status, s.Reason = SourceIgnored, "not trusted"
			cfg.Warnings = append(cfg.Warnings, trust.Warning(shown, st))
		}
		cfg.Sources = append(cfg.Sources, s)
	}
	if diags.HasErrors() {
		return nil, newDiagError(diags, cfg.files)
	}
	for _, l := range layers {
		cfg.merge(l, &diags)
		cfg.Path = l.path
	}
	cfg.finish(&diags)
	if diags.HasErrors() {
		return nil, newDiagError(diags, cfg.files)
	}
	return cfg, nil
}

// UserFile is $XDG_CONFIG_HOME/relay/relay.hcl, else
// ~/.config/relay/relay.hcl, or "" when neither can be named.
func UserFile(getenv func(string) string) string {
	// The XDG base directory spec says to ignore a relative XDG_CONFIG_HOME.
	if xdg := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "relay", "relay.hcl")
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".config", "relay", "relay.hcl")
	}
	return ""
}

func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	relay "github.com/relay-host/relay-host"
)

// EmbeddedPath is Config.Path (and the file name in diagnostics) for the
// default configuration built into the binary.
const EmbeddedPath = "<embedded>"

// Load finds, parses and checks the configuration. Lookup order: explicit
// (the --config flag) when not empty, ./relay.hcl, then
// $XDG_CONFIG_HOME/relay/relay.hcl (else ~/.config/relay/relay.hcl), then the
// embedded relay.DefaultConfig. The first file that exists is used; a file
// that exists but cannot be read is an error, never skipped. getenv (nil =
// os.Getenv) supplies HOME and XDG_CONFIG_HOME, so tests need no real home.
//
// The error is a *DiagError when the configuration is invalid, or a plain
// error when a file cannot be read.
func Load(explicit string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	home := getenv("HOME")
	if explicit != "" {
		src, err := os.ReadFile(explicit)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		return parse(src, explicit, home)
	}
	for _, path := range candidates(getenv) {
		src, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		return parse(src, path, home)
	}
	return parse(relay.DefaultConfig, EmbeddedPath, home)
}

func candidates(getenv func(string) string) []string {
	paths := []string{"relay.hcl"}
	// The XDG base directory spec says to ignore a relative XDG_CONFIG_HOME.
	if xdg := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(xdg) {
		paths = append(paths, filepath.Join(xdg, "relay", "relay.hcl"))
	} else if home := getenv("HOME"); filepath.IsAbs(home) {
		paths = append(paths, filepath.Join(home, ".config", "relay", "relay.hcl"))
	}
	return paths
}

package main

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// settings are the provider block's settings the plugin understands.
type settings struct {
	cliPath string // "" means "kimi" on PATH
	model   string // "" means kimi's default model
}

// known maps each setting to a check of its value ("" is always allowed).
var known = map[string]func(string) string{
	"cli_path": func(v string) string {
		// A relative path with a slash would be resolved against the
		// plugin's cwd, which nobody chose; a bare name is looked up on PATH.
		if strings.ContainsRune(v, '/') && !filepath.IsAbs(v) {
			return "must be an absolute path or a command name looked up on PATH, such as kimi"
		}
		return ""
	},
	"model": func(v string) string {
		// The value travels as the argument of -m: one starting with "-"
		// would be read as another flag.
		if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n\r") {
			return "must be a model name such as kimi-k2-turbo-preview, without spaces or a leading -"
		}
		return ""
	},
}

// checkSettings returns one AttributeError per unknown or invalid setting.
func checkSettings(route string, s map[string]string) (errs []sdk.AttributeError) {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "relay.") {
			continue // reserved for the host
		}
		check, ok := known[k]
		if !ok {
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "unknown setting; kimi takes cli_path and model"})
			continue
		}
		if v := s[k]; v != "" {
			if msg := check(v); msg != "" {
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: msg})
			}
		}
	}
	return errs
}

// parseSettings reads a Review's effective settings. Configure already
// checked them; a host that skipped Configure still gets config_invalid.
func parseSettings(s map[string]string) (settings, error) {
	if errs := checkSettings("", s); len(errs) > 0 {
		return settings{}, sdk.Errorf(sdk.CodeConfigInvalid, "setting %s: %s; fix it in relay.hcl", errs[0].Attribute, errs[0].Message)
	}
	return settings{cliPath: s["cli_path"], model: s["model"]}, nil
}

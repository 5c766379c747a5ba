package main

import (
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// Route names.
const (
	routeCLI = "cli"
	routeWeb = "web"
)

// Defaults.
const (
	defaultMaxTokens = 8192 // grok-cli's own default, 1536, cuts reviews short
	defaultWebModel  = "grok-4"
)

// settings are the effective settings of one review.
type settings struct {
	cliPath   string // cli: the grok binary; "" is "grok" on PATH
	model     string // both: the model; "" is the CLI's default / grok-4
	maxTokens int    // cli: GROK_MAX_TOKENS
}

// setting describes one attribute: which routes take it and how to check it.
type setting struct {
	routes string // "cli", "web" or "cli web"
	check  func(string) string
}

func positive(max int) func(string) string {
	return func(v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return "must be a whole number from 1 to " + strconv.Itoa(max)
		}
		return ""
	}
}

var known = map[string]setting{
	"cli_path": {"cli", func(v string) string {
		if strings.ContainsRune(v, '/') && !filepath.IsAbs(v) {
			return "must be an absolute path or a command name looked up on PATH, such as grok"
		}
		return ""
	}},
	"model": {"cli web", func(v string) string {
		if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n\r") {
			return "must be a model name such as grok-4, without spaces or a leading -"
		}
		return ""
	}},
	"max_tokens": {"cli", positive(1 << 20)},
	// The web route's grok2api tunnel (else GROK2API_ENDPOINT); it decides
	// the route's admission key, so it must name one account unambiguously.
	"endpoint": {"web", func(v string) string {
		if _, err := normalizeEndpoint(v); err != nil {
			return err.Error()
		}
		return ""
	}},
}

// checkSettings checks one block's settings; route "" is the provider
// block, whose settings apply to both routes.
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
		def, ok := known[k]
		switch {
		case !ok:
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "unknown setting; grokweb takes cli_path, model, max_tokens and endpoint"})
		case route != "" && !strings.Contains(def.routes, route):
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: "applies only to route " + def.routes})
		case s[k] != "":
			if msg := def.check(s[k]); msg != "" {
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: k, Message: msg})
			}
		}
	}
	return errs
}

// parseSettings reads a Review's effective settings (provider block
// overlaid by the route's). Keys of the other route may come from the
// provider block and are ignored.
func parseSettings(s map[string]string) (settings, error) {
	out := settings{cliPath: s["cli_path"], model: s["model"], maxTokens: defaultMaxTokens}
	if errs := checkSettings("", s); len(errs) > 0 {
		return settings{}, sdk.Errorf(sdk.CodeConfigInvalid, "setting %s %s; fix it in relay.hcl", errs[0].Attribute, errs[0].Message)
	}
	if v := s["max_tokens"]; v != "" {
		out.maxTokens, _ = strconv.Atoi(v)
	}
	return out, nil
}

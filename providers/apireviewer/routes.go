package main

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// routeSpec describes one route: its capability fact and where its base
// URL, model and key come from.
type routeSpec struct {
	name         string
	label        string // how messages name the service
	defaultLimit int
	capVar       string
	// baseURLEnv and keyEnv are fixed variable names; empty for custom,
	// whose key variable is named by the api_key_env setting.
	baseURLEnv, keyEnv string
	// defaultBaseURL and defaultModel apply when the settings leave them
	// empty; custom has none.
	defaultBaseURL, defaultModel string
	// glmCodes: the service reports errors by a string error.code that,
	// not the HTTP status, says what happened.
	glmCodes bool
}

var routes = []routeSpec{
	{
		name: "deepseek", label: "deepseek", defaultLimit: 4, capVar: "RELAY_DEEPSEEK_CONCURRENCY_LIMIT",
		baseURLEnv: "DEEPSEEK_BASE_URL", keyEnv: "DEEPSEEK_API_KEY",
		defaultBaseURL: "https://api.deepseek.com", defaultModel: "deepseek-v4-flash",
	},
	{
		name: "glm", label: "glm", defaultLimit: 4, capVar: "RELAY_GLM_CONCURRENCY_LIMIT",
		baseURLEnv: "GLM_BASE_URL", keyEnv: "GLM_API_KEY",
		// No /v1: GLM's OpenAI-compatible root is /api/paas/v4.
		defaultBaseURL: "https://open.bigmodel.cn/api/paas/v4", defaultModel: "glm-4.7",
		glmCodes: true,
	},
	{
		name: "custom", label: "custom endpoint", defaultLimit: 1, capVar: "RELAY_CUSTOM_DIRECT_API_CONCURRENCY_LIMIT",
	},
}

func lookupRoute(name string) (routeSpec, bool) {
	for _, r := range routes {
		if r.name == name {
			return r, true
		}
	}
	return routeSpec{}, false
}

// Setting names.
const (
	settingBaseURL   = "base_url"
	settingModel     = "model"
	settingAPIKeyEnv = "api_key_env"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// validateSetting checks one attribute of a route's settings (route "" for
// provider-level ones) and returns the problem, or "". Empty values are
// fine here: they mean "use the default" (or, for custom, "not configured
// yet", which the embedded relay.hcl ships), and Review reports them when
// the route is used.
func validateSetting(route, key, value string) string {
	switch key {
	case settingBaseURL:
		if value == "" {
			return ""
		}
		return checkBaseURL(value)
	case settingModel:
		if value != "" && (strings.ContainsAny(value, " \t\r\n") || !printable(value) || len(value) > 256) {
			return "must be a model name without spaces, such as deepseek-v4-flash"
		}
		return ""
	case settingAPIKeyEnv:
		if route != "custom" && route != "" {
			return "only the custom route takes api_key_env; the " + route + " route reads its key from its own variable"
		}
		if value != "" && !envNameRE.MatchString(value) {
			return "must be the name of an environment variable (such as LOCAL_LLM_API_KEY), not a key"
		}
		return ""
	default:
		if strings.HasPrefix(key, "relay.") {
			return "" // reserved for relay-host
		}
		return fmt.Sprintf("unknown setting; apireviewer takes %s, %s and (custom only) %s", settingBaseURL, settingModel, settingAPIKeyEnv)
	}
}

// checkBaseURL returns the problem with an API root URL, or "".
func checkBaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http(s) URL of the API root, such as https://api.deepseek.com"
	}
	if u.User != nil {
		return "must not carry credentials; put the key in an environment variable"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not have a query or fragment"
	}
	if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions") {
		return "must be the API root, without /chat/completions"
	}
	return ""
}

// Configure validates the provider block's settings.
func configure(s sdk.Settings) []sdk.AttributeError {
	var errs []sdk.AttributeError
	for _, key := range sortedKeys(s.Provider) {
		if msg := validateSetting("", key, s.Provider[key]); msg != "" {
			errs = append(errs, sdk.AttributeError{Attribute: key, Message: msg})
		}
	}
	for _, route := range sortedKeys(s.Routes) {
		if _, ok := lookupRoute(route); !ok {
			errs = append(errs, sdk.AttributeError{Route: route, Attribute: "route", Message: "unknown route; apireviewer has deepseek, glm and custom"})
			continue
		}
		for _, key := range sortedKeys(s.Routes[route]) {
			if msg := validateSetting(route, key, s.Routes[route][key]); msg != "" {
				errs = append(errs, sdk.AttributeError{Route: route, Attribute: key, Message: msg})
			}
		}
	}
	return errs
}

// target is everything a review needs to reach the service.
type target struct {
	spec    routeSpec
	baseURL string
	model   string
	key     string // may be empty only for custom without api_key_env
}

// resolve turns a route and its effective settings into a target, or a
// pre-send error (config_invalid, not_authenticated): nothing has been sent
// when it fails.
func resolve(route string, settings map[string]string, getenv func(string) string) (target, *sdk.Error) {
	spec, ok := lookupRoute(route)
	if !ok {
		return target{}, sdk.Errorf(sdk.CodeConfigInvalid, "unknown route %q; apireviewer has deepseek, glm and custom", route)
	}
	for _, key := range sortedKeys(settings) {
		if msg := validateSetting(route, key, settings[key]); msg != "" {
			return target{}, sdk.Errorf(sdk.CodeConfigInvalid, "route %s: setting %s %s", route, key, msg)
		}
	}
	t := target{spec: spec, baseURL: settings[settingBaseURL], model: settings[settingModel]}
	if spec.baseURLEnv != "" {
		if v := getenv(spec.baseURLEnv); v != "" {
			if msg := checkBaseURL(v); msg != "" {
				return target{}, sdk.Errorf(sdk.CodeConfigInvalid, "%s %s", spec.baseURLEnv, msg)
			}
			t.baseURL = v
		}
	}
	if t.baseURL == "" {
		t.baseURL = spec.defaultBaseURL
	}
	if t.model == "" {
		t.model = spec.defaultModel
	}
	if t.baseURL == "" {
		return target{}, sdk.Errorf(sdk.CodeConfigInvalid, "route %s has no base_url: set settings.base_url in relay.hcl to the API root of an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1)", route)
	}
	if t.model == "" {
		return target{}, sdk.Errorf(sdk.CodeConfigInvalid, "route %s has no model: set settings.model in relay.hcl", route)
	}
	keyVar := spec.keyEnv
	if spec.keyEnv == "" {
		keyVar = settings[settingAPIKeyEnv]
		if keyVar == "" {
			// A local model server usually needs no key: send none.
			return t, nil
		}
	}
	t.key = getenv(keyVar)
	if t.key == "" {
		return target{}, sdk.Errorf(sdk.CodeNotAuthenticated,
			"%s is not set in the plugin's environment: export it where relay-host runs and make sure %q is listed in env of provider \"apireviewer\" in relay.hcl",
			keyVar, keyVar)
	}
	return t, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

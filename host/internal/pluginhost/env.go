package pluginhost

import (
	"strings"
)

// allowed are the host variables every plugin receives: what a CLI needs to
// find programs, its home and temp directory, locale, time zone, proxies and
// XDG base directories. Nothing else of the host's environment reaches a
// plugin unless its provider block names it in env.
var allowed = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, "LANGUAGE": true, "TZ": true,
	"http_proxy": true, "https_proxy": true, "no_proxy": true, "all_proxy": true,
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "NO_PROXY": true, "ALL_PROXY": true,
	"XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true, "XDG_STATE_HOME": true, "XDG_CACHE_HOME": true,
	"XDG_RUNTIME_DIR": true, "XDG_CONFIG_DIRS": true, "XDG_DATA_DIRS": true,
}

// proxyVars may carry credentials (http://user:pass@proxy), so their values
// are redacted from plugin output like the block's own variables.
var proxyVars = map[string]bool{
	"http_proxy": true, "https_proxy": true, "all_proxy": true,
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true,
}

// Allowed reports whether the host passes variable name to every plugin.
func Allowed(name string) bool {
	return allowed[name] || strings.HasPrefix(name, "LC_")
}

// Env builds a plugin's environment from the host's environ: the allowlist
// plus exactly the variables named in names (the provider block's env).
// secrets are the values to redact from what the plugin returns: those of
// the named variables and of proxy variables.
func Env(environ []string, names []string) (env []string, secrets []string) {
	named := make(map[string]bool, len(names))
	for _, n := range names {
		named[n] = true
	}
	seen := map[string]bool{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			continue
		}
		if !Allowed(k) && !named[k] {
			continue
		}
		seen[k] = true
		env = append(env, kv)
		if (named[k] && !Allowed(k)) || proxyVars[k] {
			secrets = append(secrets, v)
		}
	}
	return env, secrets
}

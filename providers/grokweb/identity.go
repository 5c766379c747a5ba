package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/sdk"
)

// managedDefaultEndpoint is where a managed grok2api tunnel listens unless
// its home says otherwise: grok2api's own default address.
const managedDefaultEndpoint = "http://127.0.0.1:8000"

// normalizeEndpoint is the canonical spelling of a grok2api endpoint, so
// that spellings of one tunnel share one admission key: scheme and host
// lower-cased, the scheme's default port dropped, trailing slashes and the
// "/v1" API suffix (which the client adds itself) dropped, any other path
// kept (a tunnel behind a reverse proxy prefix is its own endpoint).
// Credentials, a query or a fragment in the URL are refused: the result
// becomes part of an identity string and must never carry a secret.
func normalizeEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("is not a URL; use http://host:port")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("must start with http:// or https://")
	}
	if u.User != nil {
		return "", errors.New("must not contain credentials; pass the key in GROK2API_API_KEY")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("must not have a query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("has no host; use http://host:port")
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	hostport := host
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		hostport = "[" + host + "]" // IPv6 literal
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	path = strings.TrimSuffix(path, "/v1")
	return scheme + "://" + hostport + path, nil
}

// identityEndpoint is endpoint as it goes into the admission key: the
// normalized spelling with every name of this machine's loopback
// (localhost, 127.0.0.1, ::1, ::ffff:127.0.0.1) written 127.0.0.1, so one
// local tunnel reached by two spellings is one slot. Requests still go to
// the host the user wrote: a tunnel may listen on only one of them.
func identityEndpoint(endpoint string) (string, error) {
	norm, err := normalizeEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(norm)
	if err != nil {
		return "", errors.New("is not a URL; use http://host:port")
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if isLoopbackName(host) {
		host = "127.0.0.1"
	} else if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String() // one spelling per address
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	} else {
		u.Host = host
	}
	return u.String(), nil
}

// isLoopbackName: the names every system gives its loopback interface.
// Only 127.0.0.1 of 127/8, which is where tunnels listen; another 127.x
// address can be another listener.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a == netip.MustParseAddr("127.0.0.1") || a == netip.IPv6Loopback()
}

// endpointIdentity is the web route's opaque shared_state identity for an
// explicit endpoint: the normalized endpoint plus an account marker, the
// sha256 of the admin key (two keys, two accounts, two keys in admission)
// or "default" when there is none. It never contains a key.
func endpointIdentity(endpoint, adminKey string) (string, error) {
	norm, err := identityEndpoint(endpoint)
	if err != nil {
		return "", err
	}
	admin := "default"
	if k := strings.TrimSpace(adminKey); k != "" {
		sum := sha256.Sum256([]byte(k))
		admin = hex.EncodeToString(sum[:])
	}
	return "endpoint=" + norm + ";admin=" + admin, nil
}

// webTarget is where the web route sends reviews and which fact guards it.
type webTarget struct {
	fact     sdk.Fact
	endpoint string // normalized, without /v1
	apiKey   string // GROK2API_API_KEY; "" sends no Authorization header
}

// errNoWebTarget explains why the web route is not offered.
var errNoWebTarget = errors.New("the web route needs a grok2api tunnel: set GROK2API_ENDPOINT (and list it in the provider's env in relay.hcl), or run a managed tunnel whose home is GROK2API_HOME (default ~/.grok2api)")

// resolveWeb picks the web route's tunnel and its admission fact (relay-host
// calls Configure before Describe, so a configured endpoint decides the key):
//   - the `endpoint` setting, else GROK2API_ENDPOINT: that endpoint, keyed
//     by endpointIdentity.
//   - else, the managed tunnel's home directory when it exists (the
//     directory is the account): keyed by the directory; the tunnel's
//     address is the first line of <home>/endpoint, else grok2api's
//     default http://127.0.0.1:8000.
//   - else no target: the route is not offered (never a made-up identity).
func resolveWeb(setting string) (webTarget, error) {
	apiKey := strings.TrimSpace(os.Getenv("GROK2API_API_KEY"))
	ep, from := strings.TrimSpace(setting), "setting endpoint"
	if ep == "" {
		ep, from = strings.TrimSpace(os.Getenv("GROK2API_ENDPOINT")), "GROK2API_ENDPOINT"
	}
	if ep != "" {
		id, err := endpointIdentity(ep, os.Getenv("GROK2API_ADMIN_KEY"))
		if err != nil {
			return webTarget{}, errors.New(from + " " + err.Error())
		}
		norm, _ := normalizeEndpoint(ep)
		return webTarget{fact: sdk.SharedStateIdentity(id), endpoint: norm, apiKey: apiKey}, nil
	}
	factDir, abs, err := managedHome()
	if err != nil {
		return webTarget{}, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		// The host would create a missing directory for the fact; a
		// tunnel home that does not exist means there is no tunnel.
		return webTarget{}, errNoWebTarget
	}
	endpoint := managedDefaultEndpoint
	if data, err := os.ReadFile(filepath.Join(abs, "endpoint")); err == nil {
		line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		if line = strings.TrimSpace(line); line != "" {
			endpoint = line
		}
	}
	norm, err := normalizeEndpoint(endpoint)
	if err != nil {
		return webTarget{}, errors.New("the managed tunnel's endpoint file " + err.Error())
	}
	return webTarget{fact: sdk.SharedStateDir(factDir), endpoint: norm, apiKey: apiKey}, nil
}

// managedHome is GROK2API_HOME (made absolute) else ~/.grok2api, as the
// fact spells it and as an absolute path.
func managedHome() (fact, abs string, err error) {
	home := strings.TrimSpace(os.Getenv("GROK2API_HOME"))
	userHome, herr := os.UserHomeDir()
	switch {
	case home == "":
		if herr != nil {
			return "", "", errNoWebTarget
		}
		return "~/.grok2api", filepath.Join(userHome, ".grok2api"), nil
	case home == "~" || strings.HasPrefix(home, "~/"):
		if herr != nil {
			return "", "", errors.New("cannot expand ~ in GROK2API_HOME: make it absolute")
		}
		home = filepath.Join(userHome, home[1:])
	}
	abs, err = filepath.Abs(home)
	if err != nil {
		return "", "", errors.New("cannot make GROK2API_HOME absolute: use an absolute path")
	}
	return abs, abs, nil
}

// Package relay holds what the relay-host module ships at its root: the
// documented default configuration, embedded so that relay-host works with
// no config file at all.
package relay

import _ "embed"

// DefaultConfig is the documented default configuration (relay.hcl at the
// repository root). host/config parses it when no config file is found by
// the lookup order (--config, ./relay.hcl, $XDG_CONFIG_HOME/relay/relay.hcl).
//
//go:embed relay.hcl
var DefaultConfig []byte

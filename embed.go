// Package relay holds what the relay-host module ships at its root: the
// documented default configuration, embedded so that relay-host works with
// no config file at all.
package relay

import _ "embed"

// DefaultConfig is the documented default configuration (relay.hcl at the
// repository root): the first of host/config's layers, under the user's
// file, --config and a trusted repository file.
//
//go:embed relay.hcl
var DefaultConfig []byte

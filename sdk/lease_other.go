//go:build !unix

package sdk

import "github.com/hashicorp/go-hclog"

func holdLease(hclog.Logger) {}

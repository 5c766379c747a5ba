//go:build !unix

package sdk

import "os"

func stopProcess(code int) { os.Exit(code) }

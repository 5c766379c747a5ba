//go:build !unix

package sdk

import "os/exec"

// isolate keeps exec's default Cancel (kill the child) where process groups
// do not exist.
func isolate(*exec.Cmd) {}

package review

import (
	"fmt"

	"github.com/relay-host/relay-host/host/config"
)

// Exit codes of `relay-host review` (SPEC §8).
const (
	ExitOK             = 0
	ExitRequestChanges = 1  // --fail-on request_changes and that verdict
	ExitUsage          = 2  // usage or configuration error
	ExitProvider       = 3  // the plugin or provider failed
	ExitIOErr          = 74 // the job store could not be written (EX_IOERR)
	ExitBlocked        = 75 // admission blocked (EX_TEMPFAIL)
)

// Error codes the host itself records (plugin failures keep the SDK's codes).
const (
	CodeWorkloadBlocked    = "provider_workload_blocked"
	CodePluginNotFound     = "plugin_not_found"
	CodePluginUnsafe       = "plugin_unsafe"
	CodeChecksumMismatch   = "plugin_checksum_mismatch"
	CodePluginStartFailed  = "plugin_start_failed"
	CodePluginInvalid      = "plugin_invalid"
	CodePluginCrashed      = "plugin_crashed"
	CodePluginProtocol     = "plugin_protocol_error"
	CodeConfigInvalid      = "config_invalid"
	CodeAdmissionFailed    = "admission_unavailable"
	CodeAdmissionLost      = "admission_lost"
	CodeTimeout            = "timeout"
	CodeCancelled          = "cancelled"
	CodeInternal           = "internal"
	CodeWorkerLost         = "worker_lost"
	CodeJobStoreFailed     = "job_store_failed"
	CodeUnknownRoute       = "unknown_route"
	CodeInvalidRequest     = "invalid_request"
	CodeSharedStateLimit   = "limit_on_shared_state"
	CodeResendConfirmation = "resend_confirmation_required"
)

// Error is a review that did not complete. Msg is one line naming the
// problem and the fix; it holds no secret, state-dir path or holder
// identity. Diag, when set, is an HCL diagnostic the CLI renders in full.
type Error struct {
	Code string
	Msg  string
	Exit int
	Diag *config.DiagError
}

func (e *Error) Error() string { return e.Msg }

func errorf(code string, exit int, format string, args ...any) *Error {
	return &Error{Code: code, Exit: exit, Msg: fmt.Sprintf(format, args...)}
}

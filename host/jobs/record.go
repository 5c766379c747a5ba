// Package jobs is the job store: one JSON record per review job, and the
// resend guard that reads those records.
//
// Invariants: a record file is only ever replaced whole (temp file, fsync,
// rename, fsync of the directory), so a reader sees the previous or the next
// version of a record and never a torn one, and a crash never leaves a
// half-written record. There is no shared index: each job owns its own file,
// so concurrent writers in any number of processes never lose each other's
// records. The store directory is private (0700, owned by the user, not a
// symlink) and every file in it is 0600. A record holds no process identity:
// the pid, start time and argv0 of the process running a job live in its
// <id>.lock file (older background jobs: an <id>.worker sidecar).
//
// Liveness: the process running a job holds a flock on <id>.lock from before
// the record first appears until its outcome is written (see Lock), so a
// queued or running record whose lock is free belongs to a dead worker, and
// Settle records it as failed/worker_lost.
package jobs

import (
	"encoding/json"
	"time"
)

// Status is a job's lifecycle state.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Transmission says whether the source packet has left the machine.
type Transmission string

const (
	// NotSent: the source certainly did not leave (e.g. admission blocked,
	// packet too large, or a plugin's documented pre-send error).
	NotSent Transmission = "not_sent"
	// Sent: the plugin reported the transmission event.
	Sent Transmission = "sent"
	// MayBeSent: the Review call started and no result came back (crash,
	// timeout, transport error). The pipeline should persist this before it
	// starts the Review call, so that a host crash leaves a record that gates.
	MayBeSent Transmission = "may_be_sent"
)

// Capacity is an admission count, never a holder's identity.
type Capacity struct {
	ActiveCount int `json:"active_count"`
	Limit       int `json:"limit"`
}

// Workload is why admission blocked a job, in counts only.
type Workload struct {
	Reason   string   `json:"reason"`
	Capacity Capacity `json:"capacity"`
	// Cooldown and RetryAfterS, for reason cooling_down: why the route
	// cools down and the whole seconds that were left.
	Cooldown    string `json:"cooldown,omitempty"`
	RetryAfterS int64  `json:"retry_after_s,omitempty"`
}

// Diagnostics are the non-secret details of a job's outcome.
type Diagnostics struct {
	ProviderWorkload *Workload `json:"provider_workload,omitempty"`
	// RetryAfterS is the wait in whole seconds the provider asked for
	// before a retry (HTTP Retry-After) when a review failed; absent when
	// it gave none. relay-host never waits on it or retries by itself:
	// a retry resends the source.
	RetryAfterS int64 `json:"retry_after_s,omitempty"`
}

// KindFanout is the Kind of a fan-out's parent record: several reviewers
// of one packet, each its own ordinary job (Children).
const KindFanout = "fanout"

// Record is one review job as persisted in <dir>/<job_id>.json.
type Record struct {
	JobID string `json:"job_id"`
	// Kind is "" for one review, KindFanout for a fan-out's parent: its
	// Provider is the reviewers, comma-separated; Route, Review, Model and
	// Fingerprint stay empty (each child has its own, and the resend guard
	// reads the children); Merged is the merged result.
	Kind string `json:"kind,omitempty"`
	// Children are a fan-out's reviewer jobs, in reviewer order; Parent
	// is, in each of them, the fan-out's job.
	Children []string `json:"children,omitempty"`
	Parent   string   `json:"parent,omitempty"`
	// Merged is a finished fan-out's merged findings (package findings'
	// Result, as JSON).
	Merged       json.RawMessage `json:"merged,omitempty"`
	Provider     string          `json:"provider"`
	Route        string          `json:"route"`
	Status       Status          `json:"status"`
	ErrorCode    string          `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
	Transmission Transmission    `json:"source_content_transmission"`
	Verdict      string          `json:"verdict"` // approve|request_changes|missing, or "" before completion
	Review       string          `json:"review"`
	Model        string          `json:"model"`
	Fingerprint  string          `json:"fingerprint"`
	// SkippedFiles are the paths of Skipped. It is all that records written
	// before Skipped existed hold, and it stays for the readers of those:
	// older relay-host versions and scripts reading --json.
	SkippedFiles []string `json:"skipped_files"`
	// Skipped are the changed files the packet left out, each with its
	// reason; absent when none were, and in records older than it (use
	// LeftOut, which covers both).
	Skipped     []SkippedFile `json:"skipped,omitempty"`
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  time.Time     `json:"finished_at,omitzero"`
	Diagnostics Diagnostics   `json:"diagnostics"`
}

// SkippedFile is a changed file the packet left out and why: one of
// packet's Reason values (relayignore, excluded, secret_pattern,
// secret_content, binary), never anything of the file's content.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// LeftOut is the record's skipped files with their reasons. A record
// written before reasons were kept yields its paths with an empty Reason.
func (r *Record) LeftOut() []SkippedFile {
	if len(r.Skipped) > 0 || len(r.SkippedFiles) == 0 {
		return r.Skipped
	}
	out := make([]SkippedFile, len(r.SkippedFiles))
	for i, p := range r.SkippedFiles {
		out[i] = SkippedFile{Path: p}
	}
	return out
}

// CodeCorruptRecord is the ErrorCode List gives a record file that cannot
// be read back; such a record has an empty Status.
const CodeCorruptRecord = "corrupt_record"

// Corrupt reports whether r stands for an unreadable record file in a List
// result.
func (r *Record) Corrupt() bool {
	return r.Status == "" && r.ErrorCode == CodeCorruptRecord
}

package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// CooldownReason says why a key cools down.
type CooldownReason string

const (
	// CooldownRateLimited: a review on the key ended usage_limited (HTTP
	// 429, GLM 1302 and the like).
	CooldownRateLimited CooldownReason = "rate_limited"
	// CooldownInsufficientBalance: the provider's account has no credit.
	CooldownInsufficientBalance CooldownReason = "insufficient_balance"
	// CooldownCorrupt: the key's cooldown record cannot be read. It fails
	// closed: the key cools down until `relay-host admission clean`.
	CooldownCorrupt CooldownReason = "corrupt"
)

// Words is the reason as the blocked line says it ("cooling down after …").
func (r CooldownReason) Words() string {
	if r == CooldownInsufficientBalance {
		return "an insufficient balance"
	}
	return "a rate limit"
}

// Cooldown is a key's cooldown: no acquire of the key is admitted before
// Until. It holds no identity, only a time, a reason and a count.
type Cooldown struct {
	Until  time.Time
	Reason CooldownReason
	// Strikes counts the cooldowns in a row that led to this one (1 for
	// the first), so that the host can escalate.
	Strikes int
	// Keep is how long the record (and so its Strikes) is remembered after
	// Until; the etcd backend's lease lasts until Until+Keep. Local records
	// stay until overwritten or cleared.
	Keep time.Duration
}

// Active reports whether c refuses an acquire at now. A corrupt record is
// active whatever it says.
func (c Cooldown) Active(now time.Time) bool {
	return c.Reason == CooldownCorrupt || c.Reason != "" && now.Before(c.Until)
}

// Remaining is how long c still refuses at now, rounded up to whole
// seconds (0 when it is not active; a corrupt record has no end and
// reports 0).
func (c Cooldown) Remaining(now time.Time) time.Duration {
	if c.Reason == CooldownCorrupt || !now.Before(c.Until) {
		return 0
	}
	return (c.Until.Sub(now) + time.Second - 1).Truncate(time.Second)
}

// blocked is the refusal of an acquire while c is active at now.
func (c Cooldown) blocked(now time.Time, cp Capacity, waiting int) *BlockedError {
	return &BlockedError{Reason: ReasonCoolingDown, Scope: ScopeKey, Capacity: cp, Waiting: waiting,
		Cooldown: c.Reason, RetryAfterS: int64(c.Remaining(now) / time.Second)}
}

// The local backend keeps a key's cooldown in <key dir>/cooldown: a record
// of cooldownSize bytes, created complete (written to a temp file, then
// hard-linked into place, as slot files are), held open by every process
// that uses the key, and rewritten in place under the key's gate with one
// pwrite. Acquire reads it under the gate with one pread; the file of a key
// without a cooldown holds noCooldown, recognised byte for byte, so the
// common case costs that pread and a compare.
const (
	cooldownFile    = "cooldown"
	cooldownSize    = 128
	cooldownVersion = 1
)

// cooldownRecord is the cooldown file's content.
type cooldownRecord struct {
	V       int    `json:"v"`
	UntilMS int64  `json:"until_unix_ms,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Strikes int    `json:"strikes,omitempty"`
}

var noCooldown, _ = encodeCooldown(Cooldown{})

func encodeCooldown(c Cooldown) ([]byte, error) {
	b := make([]byte, 0, cooldownSize)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, cooldownVersion, 10)
	if c.Reason != "" {
		b = append(b, `,"until_unix_ms":`...)
		b = strconv.AppendInt(b, c.Until.UnixMilli(), 10)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, string(c.Reason))
		b = append(b, `,"strikes":`...)
		b = strconv.AppendInt(b, int64(c.Strikes), 10)
	}
	b = append(b, '}')
	if len(b) > cooldownSize-1 {
		return nil, fmt.Errorf("admission: cooldown record of %d bytes exceeds %d", len(b), cooldownSize-1)
	}
	for len(b) < cooldownSize-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

// parseCooldown reads a cooldown record. Anything it cannot vouch for is a
// corrupt cooldown, which refuses every acquire until cleaned: a record we
// cannot read might be a rate limit, and sending into it is what the
// cooldown exists to prevent.
func parseCooldown(b []byte) Cooldown {
	if bytes.Equal(b, noCooldown) {
		return Cooldown{}
	}
	corrupt := Cooldown{Reason: CooldownCorrupt}
	if len(b) != cooldownSize {
		return corrupt
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimRight(b, " \n")))
	dec.DisallowUnknownFields()
	var r cooldownRecord
	if dec.Decode(&r) != nil || dec.More() || r.V != cooldownVersion {
		return corrupt
	}
	switch CooldownReason(r.Reason) {
	case "":
		if r.UntilMS != 0 || r.Strikes != 0 {
			return corrupt
		}
		return Cooldown{}
	case CooldownRateLimited, CooldownInsufficientBalance:
	default:
		return corrupt
	}
	if r.UntilMS <= 0 || r.Strikes < 0 {
		return corrupt
	}
	return Cooldown{Until: time.UnixMilli(r.UntilMS), Reason: CooldownReason(r.Reason), Strikes: r.Strikes}
}

// openCooldown opens the key's cooldown file, creating it without a
// cooldown when it is missing. Called once per open of the key dir.
func (s *semaphore) openCooldown() error {
	f, err := openLockFile(s.dirfd, s.dir, cooldownFile)
	if err == nil {
		s.cooldown = lockFile{f: f, fd: int(f.Fd())}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := s.createFile(cooldownFile, noCooldown, false)
	if err != nil && !errors.Is(err, errExists) {
		return err
	}
	s.cooldown = l
	return nil
}

// readCooldown reads the key's cooldown. Runs under the gate.
func (s *semaphore) readCooldown() Cooldown {
	b := s.buf[:cooldownSize]
	n, err := unix.Pread(s.cooldown.fd, b, 0)
	if err != nil {
		return Cooldown{Reason: CooldownCorrupt}
	}
	return parseCooldown(b[:n])
}

// writeCooldown replaces the key's cooldown. Runs under the gate.
func (s *semaphore) writeCooldown(c Cooldown) error {
	b, err := encodeCooldown(c)
	if err != nil {
		return err
	}
	if _, err := unix.Pwrite(s.cooldown.fd, b, 0); err != nil {
		return fmt.Errorf("admission: write cooldown: %w", err)
	}
	return nil
}

// gated runs f on key's semaphore under its gate.
func (l *Local) gated(ctx context.Context, key string, f func(s *semaphore) error) error {
	if key == "" {
		return errEmptyKey
	}
	s, err := l.sem(KeySlug(key))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.lockGate(ctx); err != nil {
		return err
	}
	defer s.unlockGate()
	return f(s)
}

// Cooldown returns key's cooldown record as stored, expired or not; a
// corrupt one has Reason CooldownCorrupt.
func (l *Local) Cooldown(ctx context.Context, key string) (c Cooldown, err error) {
	err = l.gated(ctx, key, func(s *semaphore) error { c = s.readCooldown(); return nil })
	return c, err
}

// SetCooldown records c as key's cooldown, replacing any other.
func (l *Local) SetCooldown(ctx context.Context, key string, c Cooldown) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return l.gated(ctx, key, func(s *semaphore) error { return s.writeCooldown(c) })
}

// ClearCooldown ends key's cooldown, a corrupt record included.
func (l *Local) ClearCooldown(ctx context.Context, key string) error {
	return l.gated(ctx, key, func(s *semaphore) error { return s.writeCooldown(Cooldown{}) })
}

// Validate refuses a cooldown a backend would not store faithfully: one
// without a known reason or an end.
func (c Cooldown) Validate() error {
	switch {
	case c.Reason != CooldownRateLimited && c.Reason != CooldownInsufficientBalance:
		return fmt.Errorf("admission: cooldown reason %q is not rate_limited or insufficient_balance", c.Reason)
	case c.Until.IsZero() || c.Until.UnixMilli() <= 0:
		return fmt.Errorf("admission: cooldown without an end")
	case c.Strikes < 0 || c.Keep < 0:
		return fmt.Errorf("admission: negative cooldown strikes or keep")
	}
	return nil
}
